"""Starting a workspace from an uploaded archive: the good case and every hostile one."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import stat
import tarfile
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from roo.api.state import Resources
from tests.auth.conftest import SignedIn, SignIn


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]], compress: bool = True) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return gzip.compress(raw.getvalue()) if compress else raw.getvalue()


def file_info(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    return info, data


def link_info(
    name: str, target: str, kind: bytes = tarfile.SYMTYPE
) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def zip_bytes(entries: list[tuple[str, bytes, int | None]]) -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return raw.getvalue()


async def new_session(client: httpx.AsyncClient, user: SignedIn, disk_mb: int = 5) -> str:
    r = await client.post(
        "/api/v1/sessions",
        headers=user.headers,
        json={"config": {"limits": {"maxDiskMB": disk_mb}}},
    )
    assert r.status_code == 201
    return str(r.json()["id"])


async def upload(
    client: httpx.AsyncClient, user: SignedIn, sid: str, body: bytes
) -> httpx.Response:
    return await client.post(
        f"/api/v1/sessions/{sid}/workspace/import",
        headers={**user.headers, "Content-Type": "application/octet-stream"},
        content=body,
    )


def workspace(resources: Resources, sid: str) -> Path:
    return resources.sessions_manager.workspaces.path(uuid.UUID(sid).hex)


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


async def test_tar_gz_import(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    sid = await new_session(client, user)
    body = tar_bytes(
        [
            file_info("proj/README.md", b"# hello\n"),
            file_info("proj/run.sh", b"#!/bin/sh\necho hi\n", 0o755),
            file_info("./proj/src/main.py", b"print('x')\n"),
        ]
    )
    response = await upload(client, user, sid, body)
    assert response.status_code == 200, response.text
    assert response.json() == {"files": 3, "directories": 0, "bytes": 8 + 18 + 11}
    root = workspace(resources, sid)
    assert (root / "proj/README.md").read_bytes() == b"# hello\n"
    assert (root / "proj/run.sh").stat().st_mode & stat.S_IXUSR
    assert not list(resources.sessions_manager.workspaces.root.glob(".import-*"))
    again = await upload(client, user, sid, body)
    assert again.status_code == 400
    assert "not empty" in again.json()["detail"]


@pytest.mark.parametrize(
    ("compress", "content_type"),
    [(bz2.compress, "application/x-bzip2"), (lzma.compress, "application/x-xz")],
    ids=["tar.bz2", "tar.xz"],
)
async def test_tar_bz2_and_tar_xz_import(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    resources: Resources,
    compress: Callable[[bytes], bytes],
    content_type: str,
) -> None:
    """The formats the route's document lists besides tar, gzip and zip, each with its type."""
    user = await sign_in()
    sid = await new_session(client, user)
    body = compress(
        tar_bytes([file_info("a/b.txt", b"bee\n"), file_info("c.txt", b"sea\n")], False)
    )
    response = await client.post(
        f"/api/v1/sessions/{sid}/workspace/import",
        headers={**user.headers, "Content-Type": content_type},
        content=body,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"files": 2, "directories": 0, "bytes": 8}
    root = workspace(resources, sid)
    assert listing(root) == ["a", "a/b.txt", "c.txt"]
    assert (root / "a/b.txt").read_bytes() == b"bee\n"


async def test_zip_import(client: httpx.AsyncClient, sign_in: SignIn, resources: Resources) -> None:
    user = await sign_in()
    sid = await new_session(client, user)
    body = zip_bytes(
        [("a/b.txt", b"bee", None), ("a/", b"", None), ("c.bin", bytes(range(256)), None)]
    )
    response = await upload(client, user, sid, body)
    assert response.status_code == 200, response.text
    root = workspace(resources, sid)
    assert (root / "c.bin").read_bytes() == bytes(range(256))
    assert listing(root) == ["a", "a/b.txt", "c.bin"]


HOSTILE_TARS: dict[str, list[tuple[tarfile.TarInfo, bytes | None]]] = {
    "absolute path": [file_info("/etc/evil", b"x")],
    "dot-dot": [file_info("../escape.txt", b"x")],
    "nested dot-dot": [file_info("a/../../escape.txt", b"x")],
    "backslash": [file_info("..\\escape.txt", b"x")],
    "symlink out": [link_info("passwd", "/etc/passwd")],
    "symlink relative out": [link_info("up", "../..")],
    "hard link": [file_info("a.txt", b"x"), link_info("b.txt", "a.txt", tarfile.LNKTYPE)],
    "device": [link_info("dev", "", tarfile.CHRTYPE)],
    "fifo": [link_info("pipe", "", tarfile.FIFOTYPE)],
}


@pytest.mark.parametrize("case", list(HOSTILE_TARS))
async def test_hostile_tars_write_nothing(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources, case: str, tmp_path: Path
) -> None:
    user = await sign_in()
    sid = await new_session(client, user)
    # Files placed first by a benign member must be rolled back too.
    body = tar_bytes([file_info("benign.txt", b"ok"), *HOSTILE_TARS[case]])
    response = await upload(client, user, sid, body)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "urn:roo:problem:archive-rejected"
    assert listing(workspace(resources, sid)) == []
    assert not (workspace(resources, sid).parent / "escape.txt").exists()


async def test_hostile_zips_write_nothing(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    cases: list[list[tuple[str, bytes, int | None]]] = [
        [("../escape.txt", b"x", None)],
        [("/abs.txt", b"x", None)],
        [("link", b"/etc/passwd", stat.S_IFLNK | 0o777)],
        [("ok.txt", b"fine", None), ("a\\..\\..\\x", b"x", None)],
    ]
    for entries in cases:
        sid = await new_session(client, user)
        response = await upload(client, user, sid, zip_bytes(entries))
        assert response.status_code == 400, (entries, response.text)
        assert listing(workspace(resources, sid)) == []


async def test_size_bombs_stop_at_the_quota(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    # 1 MiB quota; 50 MiB of zeros compresses to about 50 KiB.
    zeros = b"\0" * (50 * 1024 * 1024)
    tar_bomb = tar_bytes([file_info("zeros.bin", zeros)])
    assert len(tar_bomb) < 1024 * 1024
    sid = await new_session(client, user, disk_mb=1)
    response = await upload(client, user, sid, tar_bomb)
    assert response.status_code == 400
    assert "quota" in response.json()["detail"]
    assert listing(workspace(resources, sid)) == []

    zip_bomb = zip_bytes([("zeros.bin", zeros, None)])
    assert len(zip_bomb) < 1024 * 1024
    sid = await new_session(client, user, disk_mb=1)
    response = await upload(client, user, sid, zip_bomb)
    assert response.status_code == 400
    assert "quota" in response.json()["detail"]
    assert listing(workspace(resources, sid)) == []


async def test_upload_larger_than_quota_is_507(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    sid = await new_session(client, user, disk_mb=1)
    response = await upload(client, user, sid, b"\x01" * (1024 * 1024 + 10))
    assert response.status_code == 507
    assert not list(resources.sessions_manager.workspaces.root.glob(".import-*"))


@pytest.mark.parametrize("body", [b"", b"not an archive at all", gzip.compress(b"not a tar")])
async def test_garbage_is_400(client: httpx.AsyncClient, sign_in: SignIn, body: bytes) -> None:
    user = await sign_in()
    sid = await new_session(client, user)
    response = await upload(client, user, sid, body)
    assert response.status_code == 400


async def test_viewer_cannot_import(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    viewer = await sign_in("viewer")
    response = await upload(client, viewer, str(uuid.uuid4()), b"x")
    assert response.status_code == 403
