"""The traversal suite: hostile paths, planted links and a swap race, all refused or kept inside.

Paths are sent raw (see `raw` in conftest): httpx would otherwise resolve `..` before sending.
Each test snapshots everything outside the workspace (the other workspaces, the data dir, a
directory of secrets, /etc/passwd) and checks it unchanged afterwards, and checks that no
response ever carried a secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.files.conftest import MakeWorkspace, RawRequest, Workspace

SECRET = b"SECRET-0b9f3c"
PASSWD = Path("/etc/passwd")

HOSTILE = [
    "../x",
    "..%2fx",
    "..%2Fx",
    "%2e%2e/x",
    "%2e%2e%2fx",
    "%2E%2E%2Fx",
    ".%2e/x",
    "%2e./x",
    "%252e%252e%252fx",
    "%252e%252e/x",
    "..%252fx",
    "%25%32%65%25%32%65/x",
    "..\\x",
    "..%5cx",
    "..%5c..%5cx",
    "/etc/passwd",
    "//etc/passwd",
    "%2fetc%2fpasswd",
    "%2f%2fetc/passwd",
    "x%00.txt",
    "%00",
    "a/../../x",
    "a/./../../x",
    "a/%2e%2e/%2e%2e/x",
    "..",
    "a/..",
    "%c0%ae%c0%ae/x",
    "%c0%af",
    "%e0%80%ae%e0%80%ae/x",
    "%ed%a0%80",
    "%ff%fe",
    "C:%5cWindows%5cwin.ini",
    "C:/Windows/win.ini",
    "c:",
    "%5c%5cserver%5cshare",
    "~/.ssh/id_rsa",
    "%7e/.ssh/authorized_keys",
    "file:///etc/passwd",
    "....//....//etc/passwd",
    "a//b",
    "a%0ab",
    "a%0d%0aSet-Cookie:x",
    "a%0db",
    "a%09b",
    "a%1bb",
    "%e2%80%aeexe.txt",
    "x" * 256,
    "/".join(["d" * 250] * 17),
]

# (raw URL suffix, where it must land): odd-looking but ordinary names on Linux.
LOOKALIKES = [
    (quote("\uff0e\uff0e/x"), "\uff0e\uff0e/x"),  # fullwidth full stops: not '..'
    ("%EF%BC%8E%EF%BC%8E%EF%BC%8F", "\uff0e\uff0e\uff0f"),  # fullwidth solidus: not '/'
    (".../x", ".../x"),
    ("..%20/x", ".. /x"),
    ("%u002e%u002e/x", "%u002e%u002e/x"),
    ("a%2520b", "a%20b"),
    ("%2e/y", "y"),
    ("ab:c", "ab:c"),
]

ATTEMPTS = [
    ("GET", ""),
    ("GET", "format=json"),
    ("GET", "recursive=true"),
    ("PUT", "parents=true"),
    ("POST", "parents=true"),
    ("POST", "type=directory&parents=true"),
    ("DELETE", "recursive=true"),
]


def snapshot(root: Path, skip: Path) -> dict[str, str]:
    """Every path under `root` but `skip`, with its content hash, link target or 'dir'."""
    state: dict[str, str] = {}
    for current, dirs, files in os.walk(root):
        here = Path(current)
        dirs[:] = [d for d in dirs if here / d != skip]
        for name in dirs + files:
            path = here / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                state[key] = "link:" + os.readlink(path)
            elif path.is_dir():
                state[key] = "dir"
            else:
                state[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    state["/etc/passwd"] = hashlib.sha256(PASSWD.read_bytes()).hexdigest()
    return state


@dataclass
class Outside:
    """Secrets around the workspace: above it, beside it, in another user's workspace."""

    root: Path
    secrets: Path  # a directory holding `secret`
    other: Workspace
    before: dict[str, str]
    ws: Workspace

    def unchanged(self) -> None:
        assert snapshot(self.root, self.ws.path) == self.before


@pytest.fixture
async def outside(tmp_path: Path, ws: Workspace, make_workspace: MakeWorkspace) -> Outside:
    other = await make_workspace()
    (other.path / "secret").write_bytes(SECRET)
    secrets = tmp_path / "outside"
    secrets.mkdir()
    (secrets / "secret").write_bytes(SECRET)
    (secrets / "x").write_bytes(SECRET)
    for level in (ws.path.parent, ws.path.parent.parent, tmp_path):
        (level / "x").write_bytes(SECRET)
    return Outside(tmp_path, secrets, other, snapshot(tmp_path, ws.path), ws)


def leftovers(ws: Workspace) -> list[str]:
    return sorted(str(p.relative_to(ws.path)) for p in ws.path.rglob("*"))


def test_the_suite_is_large_enough() -> None:
    assert len(HOSTILE) >= 30
    assert len(set(HOSTILE)) == len(HOSTILE)


async def test_hostile_paths_are_refused(raw: RawRequest, ws: Workspace, outside: Outside) -> None:
    for suffix in HOSTILE:
        for method, query in ATTEMPTS:
            body = SECRET if method in ("PUT", "POST") else b""
            response = await raw(method, ws.url(suffix), who=ws.owner, query=query, body=body)
            where = (method, suffix, query)
            problem = response.json()
            if "%0a" in suffix:
                # The router's `{path:path}` (`.*`) does not match a line feed: no handler runs.
                assert response.status == 404, (where, response.body)
                assert str(problem["detail"]).startswith("No resource at"), where
                continue
            assert response.status == 400, (where, response.body)
            assert problem["type"] == "urn:roo:problem:invalid-path", where
            assert str(problem["detail"]).startswith("Invalid path: "), where
            assert SECRET not in response.body, where
            assert b"root:" not in response.body, where
    assert leftovers(ws) == []
    outside.unchanged()


async def test_lookalikes_are_ordinary_names_inside(
    raw: RawRequest, ws: Workspace, outside: Outside
) -> None:
    for suffix, expected in LOOKALIKES:
        put = await raw("PUT", ws.url(suffix), who=ws.owner, query="parents=true", body=b"in")
        assert put.status == 201, (suffix, put.body)
        assert put.json()["path"] == expected
        assert (ws.path / expected).read_bytes() == b"in", suffix
        got = await raw("GET", ws.url(suffix), who=ws.owner)
        assert (got.status, got.body) == (200, b"in"), suffix
        gone = await raw("DELETE", ws.url(suffix), who=ws.owner)
        assert gone.status == 204, suffix
        assert not (ws.path / expected).exists()
    outside.unchanged()


@pytest.fixture
def planted(ws: Workspace, outside: Outside) -> Iterator[dict[str, str]]:
    """Links a sandboxed command could plant, each pointing out of the workspace."""
    sub = ws.path / "sub"
    sub.mkdir()
    links = {
        "passwd": str(PASSWD),
        "canary": str(outside.secrets / "secret"),
        "up": "..",
        "upup": "../../..",
        "other": f"../{outside.other.path.name}",
        "other_abs": str(outside.other.path),
        "outdir": os.path.relpath(outside.secrets, ws.path),
        "sub/esc": "../../" + outside.other.path.name,
        "dangling_out": "../../nowhere",
        "chain1": "chain2",
        "chain2": "sub/chain3",
        "sub/chain3": "../../" + outside.other.path.name + "/secret",
        "loop1": "loop2",
        "loop2": "loop1",
        "self_abs": str(ws.path),  # absolute, even to the workspace itself
    }
    for name, target in links.items():
        (ws.path / name).symlink_to(target)
    yield links
    outside.unchanged()


async def test_planted_links_are_never_followed_out(
    raw: RawRequest, ws: Workspace, outside: Outside, planted: dict[str, str]
) -> None:
    for link in planted:
        for method, suffix, query in [
            ("GET", link, ""),
            ("GET", link, "format=json"),
            ("GET", f"{link}/secret", ""),
            ("GET", f"{link}/x", ""),
            ("GET", f"{link}/", "recursive=true"),
            ("PUT", link, ""),
            ("PUT", f"{link}/secret", ""),
            ("PUT", f"{link}/new/file", "parents=true"),
            ("POST", f"{link}/new", "type=directory&parents=true"),
            ("DELETE", f"{link}/secret", ""),
            ("DELETE", f"{link}/x", "recursive=true"),
        ]:
            body = b"PWNED" if method in ("PUT", "POST") else b""
            response = await raw(method, ws.url(suffix), who=ws.owner, query=query, body=body)
            where = (method, suffix, query)
            assert response.status == 400, (where, response.body)
            assert response.json()["type"] == "urn:roo:problem:invalid-path", where
            assert SECRET not in response.body, where
            assert b"root:" not in response.body, where
    listing = await raw("GET", ws.url(""), who=ws.owner, query="recursive=true")
    entries = listing.json()["entries"]
    assert isinstance(entries, list)
    types = {e["path"]: e["type"] for e in entries}
    assert all(types[link] == "symlink" for link in planted)
    outside.unchanged()
    for link in planted:  # deleting a link removes the link, never what it points to
        assert (await raw("DELETE", ws.url(link), who=ws.owner)).status == 204, link
        assert not (ws.path / link).is_symlink()
    assert leftovers(ws) == ["sub"]


async def test_links_inside_stay_inside(raw: RawRequest, ws: Workspace, outside: Outside) -> None:
    real = ws.path / "real"
    real.mkdir()
    (real / "f.txt").write_bytes(b"inside")
    (ws.path / "dirlink").symlink_to("real")
    (ws.path / "filelink").symlink_to("real/f.txt")
    (ws.path / "self").symlink_to(".")
    (ws.path / "hop1").symlink_to("real/hop2")
    (real / "hop2").symlink_to("../filelink")
    (ws.path / "dangling").symlink_to("nothing/here")
    for suffix in ("dirlink/f.txt", "filelink", "self/self/real/f.txt", "hop1"):
        got = await raw("GET", ws.url(suffix), who=ws.owner)
        assert (got.status, got.body) == (200, b"inside"), suffix
    assert (await raw("GET", ws.url("dangling"), who=ws.owner)).status == 404
    written = await raw("PUT", ws.url("dirlink/g.txt"), who=ws.owner, body=b"via link")
    assert written.status == 201
    assert (real / "g.txt").read_bytes() == b"via link"
    # The last name of a write is never followed, even inside.
    assert (await raw("PUT", ws.url("filelink"), who=ws.owner, body=b"x")).status == 400
    assert (await raw("DELETE", ws.url("filelink"), who=ws.owner)).status == 204
    assert (real / "f.txt").read_bytes() == b"inside"
    outside.unchanged()


async def test_swap_race_never_reads_or_writes_outside(
    client: httpx.AsyncClient, ws: Workspace, outside: Outside
) -> None:
    """A command keeps swapping `d` (a directory / a link to the secrets) and `f` (a file /
    a link to a secret) while requests read, write and delete through them."""
    d, f = ws.path / "d", ws.path / "f"
    d.mkdir()
    (d / "secret").write_bytes(b"inside")
    f.write_bytes(b"inside")
    stop = threading.Event()

    def swap() -> None:
        real_d, real_f = ws.path / "d.real", ws.path / "f.real"
        new_d, new_f = ws.path / "d.link", ws.path / "f.link"
        while not stop.is_set():
            os.rename(d, real_d)
            os.symlink(outside.secrets, d)
            os.symlink(outside.secrets / "secret", new_f)
            os.rename(f, real_f)
            os.replace(new_f, f)
            time.sleep(0.0005)
            os.symlink(os.path.relpath(outside.secrets, ws.path), new_d)
            os.replace(new_d, d)
            time.sleep(0.0005)
            os.unlink(d)
            os.rename(real_d, d)
            os.replace(real_f, f)
            time.sleep(0.001)

    headers = {**ws.owner.headers, "Content-Type": "application/octet-stream"}

    async def attempt(i: int) -> httpx.Response:
        path = ("d/secret", "f")[i % 2]
        match i % 3:
            case 0:
                return await client.get(ws.url(path), headers=headers)
            case 1:
                return await client.put(ws.url(path), headers=headers, content=b"inside")
            case _:
                return await client.delete(ws.url("d/gone"), headers=headers)

    swapper = threading.Thread(target=swap)
    swapper.start()
    responses: list[httpx.Response] = []
    try:
        for batch in range(40):
            responses += await asyncio.gather(*(attempt(batch * 6 + i) for i in range(6)))
    finally:
        stop.set()
        swapper.join()
    statuses = {r.status_code for r in responses}
    assert statuses <= {200, 201, 400, 404, 409}, statuses
    assert {200, 400} <= statuses  # both sides of the race were seen
    for response in responses:
        assert SECRET not in response.content
        if response.status_code == 200 and response.request.method == "GET":
            assert response.content == b"inside"
    outside.unchanged()
    assert not (ws.path / "d" / "gone").exists()
