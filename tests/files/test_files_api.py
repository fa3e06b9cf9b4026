"""The files API over HTTP: CRUD, formats, listings, conditions, ranges, quotas, access."""

from __future__ import annotations

import asyncio
import base64
import fcntl
import hashlib
import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from roo.api.state import Resources
from roo.auth.permissions import Role
from roo.db.engine import unit_of_work
from roo.db.models import AuditEvent, Session
from roo.db.types import new_id, utcnow
from roo.files.exceptions import UploadTooLarge
from roo.files.service import Budget
from roo.pathguard import writer as writer_module
from roo.sessions.exceptions import InsufficientStorage
from roo.sessions.quotas import QUOTAS, stored_config
from roo.sessions.schemas import SessionConfigIn
from roo.sessions.service import ACTIVITY_RESOLUTION
from roo.sessions.workspace import workspace_name
from tests.auth.conftest import SignIn
from tests.files.conftest import MakeWorkspace, Workspace

ALL_BYTES = bytes(range(256)) * 4
OCTETS = {"Content-Type": "application/octet-stream"}


def etag(data: bytes) -> str:
    return f'"{hashlib.sha256(data).hexdigest()}"'


async def put(
    client: httpx.AsyncClient, ws: Workspace, path: str, data: bytes, **params: str
) -> httpx.Response:
    return await client.put(
        ws.url(path), headers={**ws.owner.headers, **OCTETS}, content=data, params=params
    )


def leftovers(ws: Workspace) -> list[str]:
    return sorted(str(p.relative_to(ws.path)) for p in ws.path.rglob("*"))


async def test_crud_round_trip_with_binary_content(
    client: httpx.AsyncClient, ws: Workspace, resources: Resources
) -> None:
    created = await client.post(
        ws.url("bin/all.bytes"),
        headers={**ws.owner.headers, **OCTETS},
        content=ALL_BYTES,
        params={"parents": "true"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["path"] == "bin/all.bytes"
    assert body["size"] == len(ALL_BYTES)
    assert body["sha256"] == hashlib.sha256(ALL_BYTES).hexdigest()
    assert body["created"] is True
    assert created.headers["etag"] == body["etag"] == etag(ALL_BYTES)
    assert created.headers["location"].endswith(f"/sessions/{ws.id}/files/bin/all.bytes")
    assert (ws.path / "bin" / "all.bytes").read_bytes() == ALL_BYTES

    got = await client.get(ws.url("bin/all.bytes"), headers=ws.owner.headers)
    assert got.status_code == 200
    assert got.content == ALL_BYTES
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["etag"] == etag(ALL_BYTES)

    as_json = await client.get(
        ws.url("bin/all.bytes"), headers=ws.owner.headers, params={"format": "json"}
    )
    data = as_json.json()
    assert data["encoding"] == "base64"
    assert base64.b64decode(data["text"]) == ALL_BYTES
    assert data["sha256"] == hashlib.sha256(ALL_BYTES).hexdigest()
    assert data["size"] == len(ALL_BYTES)

    replaced = await put(client, ws, "bin/all.bytes", b"short")
    assert replaced.status_code == 200
    assert replaced.json()["created"] is False
    assert (ws.path / "bin" / "all.bytes").read_bytes() == b"short"

    deleted = await client.delete(ws.url("bin/all.bytes"), headers=ws.owner.headers)
    assert deleted.status_code == 204
    assert not (ws.path / "bin" / "all.bytes").exists()
    again = await client.delete(ws.url("bin/all.bytes"), headers=ws.owner.headers)
    assert again.status_code == 404
    assert again.json()["type"] == "urn:roo:problem:file-not-found"
    assert (await client.get(ws.url("bin/all.bytes"), headers=ws.owner.headers)).status_code == 404

    async with unit_of_work(resources.db_sessions) as db:
        rows = (
            await db.execute(
                select(AuditEvent.action, AuditEvent.detail).where(
                    AuditEvent.target == f"session:{ws.id}", AuditEvent.action.like("files.%")
                )
            )
        ).all()
    assert [action for action, _ in rows].count("files.write") == 2
    assert ("files.delete", {"path": "bin/all.bytes", "kind": "file", "recursive": False}) in [
        (action, detail) for action, detail in rows
    ]


async def test_json_format_of_text(client: httpx.AsyncClient, ws: Workspace) -> None:
    text = "héllo\nwörld ✓\n"
    assert (await put(client, ws, "notes.md", text.encode())).status_code == 201
    got = await client.get(ws.url("notes.md"), headers=ws.owner.headers, params={"format": "json"})
    assert got.status_code == 200
    data = got.json()
    assert data["text"] == text
    assert data["encoding"] == "utf-8"
    assert data["contentType"] == "text/markdown"
    assert data["path"] == "notes.md"
    assert data["mtime"].endswith("Z")
    assert got.headers["etag"] == data["etag"] == etag(text.encode())
    empty = await put(client, ws, "empty", b"")
    assert empty.json()["size"] == 0
    got = await client.get(ws.url("empty"), headers=ws.owner.headers, params={"format": "json"})
    assert got.json()["text"] == ""


async def test_directory_listings(client: httpx.AsyncClient, ws: Workspace) -> None:
    for path in ("b.txt", "a/1.txt", "a/2.txt", "a/deep/3.txt", "c/4.txt"):
        assert (await put(client, ws, path, b"x" * 3, parents="true")).status_code == 201
    (ws.path / "link").symlink_to("a")

    for url in (f"/api/v1/sessions/{ws.id}/files", ws.url(""), ws.url(".")):
        root = await client.get(url, headers=ws.owner.headers)
        assert root.status_code == 200, url
        listing = root.json()
        assert listing["path"] == ""
        assert listing["truncated"] is False
        assert [(e["name"], e["type"]) for e in listing["entries"]] == [
            ("a", "dir"),
            ("b.txt", "file"),
            ("c", "dir"),
            ("link", "symlink"),
        ]
    entries = {e["name"]: e for e in listing["entries"]}
    assert entries["b.txt"]["size"] == 3
    assert entries["a"]["size"] is None
    assert entries["link"]["target"] == "a"

    tree = await client.get(ws.url(), headers=ws.owner.headers, params={"recursive": "true"})
    assert [e["path"] for e in tree.json()["entries"]] == [
        "a",
        "a/1.txt",
        "a/2.txt",
        "a/deep",
        "a/deep/3.txt",
        "b.txt",
        "c",
        "c/4.txt",
        "link",  # listed, never entered
    ]
    sub = await client.get(ws.url("a/"), headers=ws.owner.headers, params={"recursive": "true"})
    assert [e["path"] for e in sub.json()["entries"]] == [
        "a/1.txt",
        "a/2.txt",
        "a/deep",
        "a/deep/3.txt",
    ]
    through_link = await client.get(ws.url("link"), headers=ws.owner.headers)
    assert [e["path"] for e in through_link.json()["entries"]] == [
        "link/1.txt",
        "link/2.txt",
        "link/deep",
    ]

    limited = await client.get(
        ws.url(), headers=ws.owner.headers, params={"recursive": "true", "limit": "3"}
    )
    assert limited.json()["truncated"] is True
    assert [e["path"] for e in limited.json()["entries"]] == ["a", "a/1.txt", "a/2.txt"]
    exact = await client.get(
        ws.url(), headers=ws.owner.headers, params={"recursive": "true", "limit": "9"}
    )
    assert exact.json()["truncated"] is False
    for bad in ("0", "10001", "many"):
        response = await client.get(ws.url(), headers=ws.owner.headers, params={"limit": bad})
        assert response.status_code == 422, bad


async def test_etag_and_if_none_match(client: httpx.AsyncClient, ws: Workspace) -> None:
    await put(client, ws, "f.txt", b"version 1")
    got = await client.get(ws.url("f.txt"), headers=ws.owner.headers)
    tag = got.headers["etag"]
    assert tag == etag(b"version 1")
    for header in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        cached = await client.get(
            ws.url("f.txt"), headers={**ws.owner.headers, "If-None-Match": header}
        )
        assert cached.status_code == 304, header
        assert cached.content == b""
        assert cached.headers["etag"] == tag
    await put(client, ws, "f.txt", b"version 2")
    fresh = await client.get(ws.url("f.txt"), headers={**ws.owner.headers, "If-None-Match": tag})
    assert fresh.status_code == 200
    assert fresh.content == b"version 2"


async def test_if_match_gives_optimistic_concurrency(
    client: httpx.AsyncClient, ws: Workspace
) -> None:
    first = await put(client, ws, "doc.txt", b"one")
    tag = first.headers["etag"]
    second = await client.put(
        ws.url("doc.txt"),
        headers={**ws.owner.headers, **OCTETS, "If-Match": tag},
        content=b"two",
    )
    assert second.status_code == 200
    stale = await client.put(
        ws.url("doc.txt"),
        headers={**ws.owner.headers, **OCTETS, "If-Match": tag},
        content=b"three",
    )
    assert stale.status_code == 412
    assert stale.json()["type"] == "urn:roo:problem:precondition-failed"
    assert (ws.path / "doc.txt").read_bytes() == b"two"

    for header, path in (
        ("*", "missing.txt"),
        ('"whatever"', "missing.txt"),
        ("not-quoted", "doc.txt"),
        (f"W/{second.headers['etag']}", "doc.txt"),  # weak tags never match If-Match
    ):
        refused = await client.put(
            ws.url(path), headers={**ws.owner.headers, **OCTETS, "If-Match": header}, content=b"x"
        )
        assert refused.status_code == 412, header
    assert not (ws.path / "missing.txt").exists()
    exists = await client.put(
        ws.url("doc.txt"), headers={**ws.owner.headers, **OCTETS, "If-Match": "*"}, content=b"4"
    )
    assert exists.status_code == 200
    only_new = await client.put(
        ws.url("doc.txt"),
        headers={**ws.owner.headers, **OCTETS, "If-None-Match": "*"},
        content=b"5",
    )
    assert only_new.status_code == 412
    assert (ws.path / "doc.txt").read_bytes() == b"4"
    assert leftovers(ws) == ["doc.txt"]


async def test_ranges(client: httpx.AsyncClient, ws: Workspace) -> None:
    data = bytes(range(100))
    await put(client, ws, "r.bin", data)
    tag = etag(data)

    async def get_range(value: str, **extra: str) -> httpx.Response:
        return await client.get(
            ws.url("r.bin"), headers={**ws.owner.headers, "Range": value, **extra}
        )

    for value, start, end in (
        ("bytes=0-9", 0, 9),
        ("bytes=90-", 90, 99),
        ("bytes=-5", 95, 99),
        ("bytes=95-1000", 95, 99),
        ("bytes=-1000", 0, 99),
        ("BYTES=10-10", 10, 10),
    ):
        response = await get_range(value)
        if (start, end) == (0, 99):
            assert response.status_code == 200, value
        else:
            assert response.status_code == 206, value
            assert response.headers["content-range"] == f"bytes {start}-{end}/100"
        assert response.content == data[start : end + 1], value
        assert response.headers["content-length"] == str(end - start + 1)
        assert response.headers["accept-ranges"] == "bytes"

    for ignored in ("bytes=0-1,5-6", "items=0-5", "bytes=9-2", "bytes=x-y", "bytes=" + "9" * 30):
        response = await get_range(ignored)
        assert response.status_code == 200, ignored
        assert response.content == data

    for unsatisfiable in ("bytes=100-", "bytes=500-600", "bytes=-0"):
        response = await get_range(unsatisfiable)
        assert response.status_code == 416, unsatisfiable
        assert response.headers["content-range"] == "bytes */100"

    matching = await get_range("bytes=0-1", **{"If-Range": tag})
    assert matching.status_code == 206
    stale = await get_range("bytes=0-1", **{"If-Range": '"old"'})
    assert stale.status_code == 200
    assert stale.content == data


SERVED_AS = [
    ("page.html", "text/html; charset=utf-8", "attachment"),
    ("logo.svg", "image/svg+xml", "attachment"),
    ("feed.xml", "text/xml; charset=utf-8", "attachment"),
    ("app.js", "application/javascript", "attachment"),
    ("doc.pdf", "application/pdf", "attachment"),
    ("style.css", "text/css; charset=utf-8", "attachment"),
    ("blob.unknownext", "application/octet-stream", "attachment"),
    ("notes.txt", "text/plain; charset=utf-8", "inline"),
    ("main.ts", "text/plain; charset=utf-8", "inline"),
    ("README.md", "text/markdown; charset=utf-8", "inline"),
    ("Makefile", "text/plain; charset=utf-8", "inline"),
    ("data.json", "application/json; charset=utf-8", "inline"),
    ("pic.png", "image/png", "inline"),
    ("résumé.txt", "text/plain; charset=utf-8", "inline"),
]


async def test_raw_responses_are_served_safely(client: httpx.AsyncClient, ws: Workspace) -> None:
    """Active content (html, svg, xml, js, pdf...) is an attachment; every raw response is
    nosniff and sandboxed by its CSP."""
    for name, content_type, disposition in SERVED_AS:
        body = b"<script>alert(1)</script>"
        if name == "pic.png":
            body = b"\x89PNG\r\n\x1a\n\x00"
        elif name == "blob.unknownext":
            body = b"\x00\x01\x02binary"
        assert (await put(client, ws, name, body)).status_code == 201, name
        got = await client.get(ws.url(name), headers=ws.owner.headers)
        assert got.status_code == 200, name
        assert got.content == body
        assert got.headers["content-type"] == content_type, name
        assert got.headers["content-disposition"].startswith(f"{disposition}; "), name
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["content-security-policy"] == "sandbox; default-src 'none'"
        assert got.headers["cache-control"] == "private, no-cache"
    accented = await client.get(ws.url("résumé.txt"), headers=ws.owner.headers)
    assert accented.headers["content-disposition"] == (
        "inline; filename=\"r_sum_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt"
    )


async def test_post_refuses_existing_and_creates_directories(
    client: httpx.AsyncClient, ws: Workspace
) -> None:
    first = await client.post(ws.url("a.txt"), headers={**ws.owner.headers, **OCTETS}, content=b"1")
    assert first.status_code == 201
    again = await client.post(ws.url("a.txt"), headers={**ws.owner.headers, **OCTETS}, content=b"2")
    assert again.status_code == 409
    assert again.json()["type"] == "urn:roo:problem:file-exists"
    assert (ws.path / "a.txt").read_bytes() == b"1"

    made = await client.post(ws.url("src"), headers=ws.owner.headers, params={"type": "directory"})
    assert made.status_code == 201
    assert made.json()["type"] == "dir"
    assert (ws.path / "src").is_dir()
    twice = await client.post(ws.url("src"), headers=ws.owner.headers, params={"type": "directory"})
    assert twice.status_code == 409
    over_file = await client.post(
        ws.url("a.txt"), headers={**ws.owner.headers, **OCTETS}, content=b"3"
    )
    assert over_file.status_code == 409
    on_dir = await put(client, ws, "src", b"x")
    assert on_dir.status_code == 409
    assert on_dir.json()["type"] == "urn:roo:problem:is-a-directory"


async def test_parents_are_created_only_when_asked(
    client: httpx.AsyncClient, ws: Workspace
) -> None:
    missing = await put(client, ws, "x/y/z.txt", b"data")
    assert missing.status_code == 409
    assert missing.json()["type"] == "urn:roo:problem:parent-missing"
    assert "'x'" in missing.json()["detail"]
    assert leftovers(ws) == []
    dir_missing = await client.post(
        ws.url("p/q"), headers=ws.owner.headers, params={"type": "directory"}
    )
    assert dir_missing.status_code == 409
    made = await put(client, ws, "x/y/z.txt", b"data", parents="true")
    assert made.status_code == 201
    assert (ws.path / "x" / "y" / "z.txt").read_bytes() == b"data"
    deep_dir = await client.post(
        ws.url("p/q"), headers=ws.owner.headers, params={"type": "directory", "parents": "true"}
    )
    assert deep_dir.status_code == 201
    through_file = await put(client, ws, "x/y/z.txt/w", b"data", parents="true")
    assert through_file.status_code == 409
    assert through_file.json()["type"] == "urn:roo:problem:not-a-directory"


async def test_delete_directories(client: httpx.AsyncClient, ws: Workspace) -> None:
    await put(client, ws, "tree/a/b/c.txt", b"c", parents="true")
    (ws.path / "empty").mkdir()
    assert (await client.delete(ws.url("empty"), headers=ws.owner.headers)).status_code == 204
    full = await client.delete(ws.url("tree"), headers=ws.owner.headers)
    assert full.status_code == 409
    assert full.json()["type"] == "urn:roo:problem:directory-not-empty"
    assert (ws.path / "tree" / "a" / "b" / "c.txt").exists()
    gone = await client.delete(
        ws.url("tree"), headers=ws.owner.headers, params={"recursive": "true"}
    )
    assert gone.status_code == 204
    assert leftovers(ws) == []
    for root in ("", "./"):
        refused = await client.delete(
            ws.url(root), headers=ws.owner.headers, params={"recursive": "true"}
        )
        assert refused.status_code == 400, root
        assert refused.json()["type"] == "urn:roo:problem:invalid-path"
    assert ws.path.is_dir()


async def test_disk_quota_gives_507_and_writes_nothing(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace(limits={"maxDiskMB": 1})
    mib = 1024 * 1024
    big = await put(client, ws, "big.bin", b"x" * (mib + 1))
    assert big.status_code == 507
    assert big.json()["type"] == "urn:roo:problem:insufficient-storage"
    assert leftovers(ws) == []

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"y" * (300 * 1024)

    streamed = await client.put(
        ws.url("streamed.bin"), headers={**ws.owner.headers, **OCTETS}, content=chunked()
    )
    assert streamed.status_code == 507
    assert leftovers(ws) == []

    assert (await put(client, ws, "a.bin", b"a" * (600 * 1024))).status_code == 201
    second = await put(client, ws, "b.bin", b"b" * (600 * 1024))
    assert second.status_code == 507
    assert leftovers(ws) == ["a.bin"]
    # Replacing a file counts only the difference.
    assert (await put(client, ws, "a.bin", b"c" * (900 * 1024))).status_code == 200
    assert (ws.path / "a.bin").read_bytes() == b"c" * (900 * 1024)


async def test_body_limits(client: httpx.AsyncClient, ws: Workspace) -> None:
    # A JSON Content-Type is held to the JSON body limit; files should be sent as octets.
    payload = b'{"k": "' + b"v" * (1024 * 1024) + b'"}'
    as_json = await client.put(
        ws.url("big.json"),
        headers={**ws.owner.headers, "Content-Type": "application/json"},
        content=payload,
    )
    assert as_json.status_code == 413
    as_octets = await put(client, ws, "big.json", payload)
    assert as_octets.status_code == 201
    small_json = await client.put(
        ws.url("small.json"),
        headers={**ws.owner.headers, "Content-Type": "application/json"},
        content=b'{"a": 1}',
    )
    assert small_json.status_code == 201
    assert (ws.path / "small.json").read_bytes() == b'{"a": 1}'


async def test_other_users_sessions_are_404(
    client: httpx.AsyncClient, ws: Workspace, sign_in: SignIn
) -> None:
    await put(client, ws, "mine.txt", b"private")
    bob = await sign_in()
    for method, path in [
        ("GET", "mine.txt"),
        ("GET", ""),
        ("PUT", "mine.txt"),
        ("POST", "new.txt"),
        ("DELETE", "mine.txt"),
    ]:
        response = await client.request(
            method, ws.url(path), headers={**bob.headers, **OCTETS}, content=b"bob"
        )
        assert response.status_code == 404, (method, path)
        assert response.json()["type"] == "urn:roo:problem:session-not-found"
    unknown = await client.get(f"/api/v1/sessions/{uuid.uuid4()}/files/x", headers=ws.owner.headers)
    assert unknown.status_code == 404
    assert (ws.path / "mine.txt").read_bytes() == b"private"
    assert leftovers(ws) == ["mine.txt"]


async def test_viewer_reads_but_never_writes(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    viewer = await sign_in("viewer")
    sid = new_id()  # viewers cannot create sessions; an admin could have made this one
    async with unit_of_work(resources.db_sessions) as db:
        db.add(
            Session(
                id=sid,
                user_id=viewer.user_id,
                name="shared",
                state="active",
                config=stored_config(SessionConfigIn(), QUOTAS[Role.VIEWER]),
                workspace_dir=workspace_name(sid),
            )
        )
    path = await resources.sessions_manager.workspaces.create(workspace_name(sid))
    (path / "readme.txt").write_text("read me")
    url = f"/api/v1/sessions/{sid}/files/readme.txt"
    assert (await client.get(url, headers=viewer.headers)).content == b"read me"
    for method in ("PUT", "POST", "DELETE"):
        response = await client.request(
            method, url, headers={**viewer.headers, **OCTETS}, content=b"x"
        )
        assert response.status_code == 403, method
        assert response.json()["permission"] == "files:write"
    assert (path / "readme.txt").read_text() == "read me"
    anonymous = await client.get(url)
    assert anonymous.status_code == 401


async def test_archived_sessions_are_read_only(client: httpx.AsyncClient, ws: Workspace) -> None:
    await put(client, ws, "kept.txt", b"kept")
    archived = await client.put(
        f"/api/v1/sessions/{ws.id}", headers=ws.owner.headers, json={"state": "archived"}
    )
    assert archived.status_code == 200
    assert (await client.get(ws.url("kept.txt"), headers=ws.owner.headers)).content == b"kept"
    for method, path in [("PUT", "kept.txt"), ("POST", "new.txt"), ("DELETE", "kept.txt")]:
        response = await client.request(
            method, ws.url(path), headers={**ws.owner.headers, **OCTETS}, content=b"x"
        )
        assert response.status_code == 409, method
        assert response.json()["type"] == "urn:roo:problem:session-archived"
    assert leftovers(ws) == ["kept.txt"]
    assert (ws.path / "kept.txt").read_bytes() == b"kept"


async def test_writes_mark_activity_and_deleted_workspaces_are_409(
    client: httpx.AsyncClient, ws: Workspace, resources: Resources
) -> None:
    long_ago = utcnow() - timedelta(days=2)
    sid = uuid.UUID(ws.id)
    async with unit_of_work(resources.db_sessions) as db:
        await db.execute(
            update(Session).where(Session.id == sid).values(state="idle", last_active_at=long_ago)
        )
    await put(client, ws, "touch.txt", b"x")
    session = await client.get(f"/api/v1/sessions/{ws.id}", headers=ws.owner.headers)
    assert session.json()["state"] == "active"

    async with unit_of_work(resources.db_sessions) as db:
        await db.execute(
            update(Session).where(Session.id == sid).values(workspace_deleted_at=utcnow())
        )
    for method in ("GET", "PUT"):
        response = await client.request(
            method, ws.url("touch.txt"), headers={**ws.owner.headers, **OCTETS}, content=b"y"
        )
        assert response.status_code == 409, method
        assert response.json()["type"] == "urn:roo:problem:workspace-deleted"


async def test_activity_is_written_to_its_resolution(
    client: httpx.AsyncClient, ws: Workspace, resources: Resources
) -> None:
    """A write within ACTIVITY_RESOLUTION of the last recorded activity writes no UPDATE of the
    session's row; one after it moves `last_active_at` forward."""
    sid = uuid.UUID(ws.id)

    async def set_and_write(ago: timedelta) -> tuple[datetime, datetime]:
        before = utcnow() - ago
        async with unit_of_work(resources.db_sessions) as db:
            await db.execute(update(Session).where(Session.id == sid).values(last_active_at=before))
        await put(client, ws, "touch.txt", b"x")
        async with unit_of_work(resources.db_sessions) as db:
            after = await db.scalar(select(Session.last_active_at).where(Session.id == sid))
        assert after is not None
        return before, after

    before, after = await set_and_write(ACTIVITY_RESOLUTION / 5)
    assert after == before
    before, after = await set_and_write(ACTIVITY_RESOLUTION * 2)
    assert after > before + ACTIVITY_RESOLUTION


async def test_workspace_missing_on_disk_is_409(client: httpx.AsyncClient, ws: Workspace) -> None:
    ws.path.rmdir()
    response = await client.get(ws.url(""), headers=ws.owner.headers)
    assert response.status_code == 409
    assert response.json()["type"] == "urn:roo:problem:workspace-deleted"


async def test_special_files_and_json_size(client: httpx.AsyncClient, ws: Workspace) -> None:
    os.mkfifo(ws.path / "pipe")
    server = socket.socket(socket.AF_UNIX)
    short = Path(tempfile.mkdtemp(dir="/tmp")) / "s"  # AF_UNIX paths must be short
    server.bind(str(short))
    short.rename(ws.path / "sock")
    short.parent.rmdir()
    try:
        for name in ("pipe", "sock"):
            for method in ("GET", "PUT"):
                response = await client.request(
                    method, ws.url(name), headers={**ws.owner.headers, **OCTETS}, content=b"x"
                )
                assert response.status_code == 409, (name, method)
                assert response.json()["type"] == "urn:roo:problem:not-a-regular-file"
    finally:
        server.close()
    (ws.path / "huge.bin").write_bytes(b"\x00" * (8 * 1024 * 1024 + 1))
    too_big = await client.get(
        ws.url("huge.bin"), headers=ws.owner.headers, params={"format": "json"}
    )
    assert too_big.status_code == 400
    assert too_big.json()["type"] == "urn:roo:problem:too-large-for-json"
    raw = await client.get(ws.url("huge.bin"), headers={**ws.owner.headers, "Range": "bytes=-4"})
    assert raw.status_code == 206
    assert raw.content == b"\x00" * 4


async def test_no_descriptor_leaks(client: httpx.AsyncClient, ws: Workspace) -> None:
    """Every way a GET can end (200, 206, 304, 416, JSON, listing, errors) closes its fds."""
    await put(client, ws, "f.bin", ALL_BYTES)
    tag = etag(ALL_BYTES)
    variants: list[dict[str, str]] = [
        {},
        {"Range": "bytes=0-9"},
        {"Range": "bytes=99999-"},
        {"If-None-Match": tag},
    ]

    async def every_variant() -> None:
        for extra in variants:
            await client.get(ws.url("f.bin"), headers={**ws.owner.headers, **extra})
        await client.get(ws.url("f.bin"), headers=ws.owner.headers, params={"format": "json"})
        await client.get(ws.url(""), headers=ws.owner.headers, params={"recursive": "true"})
        await client.get(ws.url("missing/x"), headers=ws.owner.headers)

    await every_variant()  # warm up: connections, caches
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        await every_variant()
    assert len(os.listdir("/proc/self/fd")) <= before


async def test_delete_under_a_missing_parent_is_404(
    client: httpx.AsyncClient, ws: Workspace
) -> None:
    response = await client.delete(ws.url("no/such/file"), headers=ws.owner.headers)
    assert response.status_code == 404
    assert response.json()["type"] == "urn:roo:problem:file-not-found"


def test_budget() -> None:
    budget = Budget(
        max_request_bytes=100, quota_bytes=1000, used_bytes=950, max_files=10, used_files=0
    )
    budget.check(0, 50)
    budget.check(40, 90)  # replacing 40 bytes with 90 stays within the quota
    with pytest.raises(UploadTooLarge):
        budget.check(0, 101)
    with pytest.raises(InsufficientStorage):
        budget.check(0, 51)
    over = Budget(
        max_request_bytes=100, quota_bytes=1000, used_bytes=2000, max_files=10, used_files=0
    )
    over.check(80, 10)  # over quota already: shrinking a file is still allowed
    with pytest.raises(InsufficientStorage):
        over.check(10, 11)


async def test_a_directory_lock_held_by_a_command_refuses_writes_in_time(
    client: httpx.AsyncClient, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session's command can `flock` a directory of its workspace for as long as it runs;
    the files API's writer, which takes the same advisory lock, gives up after its wait (409,
    retry) instead of holding a worker thread until the command lets go."""
    monkeypatch.setattr(writer_module, "LOCK_WAIT_SECONDS", 0.3)
    (ws.path / "src").mkdir()
    # what `flock src sleep 60` in the session does (--close: the lock goes with flock itself)
    holder = await asyncio.create_subprocess_exec(
        "flock", "--close", str(ws.path / "src"), "sleep", "60"
    )
    try:
        for _ in range(200):  # until the lock is taken
            probe = os.open(ws.path / "src", os.O_RDONLY | os.O_DIRECTORY)
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(probe, fcntl.LOCK_UN)
            except BlockingIOError:
                break
            finally:
                os.close(probe)
            await asyncio.sleep(0.05)
        refused = await put(client, ws, "src/a.txt", b"new")
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"] == "urn:roo:problem:workspace-changed"
        assert not (ws.path / "src/a.txt").exists()
        assert leftovers(ws) == ["src"]
    finally:
        holder.kill()
        await holder.wait()
    written = await put(client, ws, "src/a.txt", b"new")
    assert written.status_code == 201, written.text
    assert (ws.path / "src/a.txt").read_bytes() == b"new"
