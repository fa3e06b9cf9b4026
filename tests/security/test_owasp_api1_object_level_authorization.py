"""OWASP API1:2023 Broken Object Level Authorization: another user's ids answer 404, on every
route that takes one, and change nothing.

The routes are read from the app's OpenAPI document, so a new route with an id parameter is
attacked without anyone remembering to add it: every path parameter must be classified below
(an id of something a user owns, a name inside such an object or in a public catalogue, or an
admin-only id), and a route built on an unclassified parameter fails
`test_every_path_parameter_is_classified`. Routes without path parameters (a new `/metrics`,
say) are not object routes and are not this file's business (API5 and API9 hold them).

Also covered elsewhere: tests/sessions, tests/files and tests/tasks check the 404 of a foreign
session, file or task on their own routes; tests/realtime checks that a foreign session's
WebSocket ticket is refused; tests/auth/test_api_keys.py a foreign key's revocation.
"""

from __future__ import annotations

import io
import re
import tarfile
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from roo.testing.fake_llm import FakeLLM
from tests.tasks.conftest import (
    Api,
    MakeApi,
    api,
    auth,
    llm,
    make_api,
    make_user,
    question,
    resources,
    settings,
    sign_in,
)

__all__ = ["api", "auth", "llm", "make_api", "make_user", "resources", "settings", "sign_in"]

# Ids of objects a user owns: a foreign one is 404, as if it did not exist.
OWNED = {"session_id", "task_id", "key_id", "checkpoint_id"}
# Names, not ids: a path inside an owned session, a tool of the public catalogue, an MCP server
# of an owned session, a provider
# (the credentials under `/auth/providers/{provider}` are the caller's own, looked up by the
# caller's id: see test_provider_credentials_are_per_user).
NAMES = {"path", "tool_name", "provider", "server"}
# Ids only an admin may use (API5 checks that nobody else gets past the 403).
ADMIN = {"user_id"}

PARAM = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")


def operations(app: FastAPI) -> list[tuple[str, str, set[str]]]:
    """(method, path template, path parameter names) of every operation in the document."""
    found = []
    for path, item in app.openapi()["paths"].items():
        for method in item:
            found.append((method.upper(), path, set(PARAM.findall(path))))
    return found


def empty_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("planted.txt")
        info.size = 3
        archive.addfile(info, io.BytesIO(b"bad"))
    return buffer.getvalue()


# A body each write route would accept from the owner: the 404 must not hide behind a 422.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PUT", "/api/v1/sessions/{session_id}"): {"json": {"name": "taken over"}},
    ("POST", "/api/v1/sessions/{session_id}/workspace/import"): {
        "content": empty_tar(),
        "headers": {"Content-Type": "application/x-tar"},
    },
    ("POST", "/api/v1/sessions/{session_id}/workspace/clone"): {
        "json": {"url": "https://example.com/repo.git"}
    },
    ("PUT", "/api/v1/sessions/{session_id}/files/{path}"): {
        "content": b"overwritten",
        "headers": {"Content-Type": "application/octet-stream"},
    },
    ("POST", "/api/v1/sessions/{session_id}/files/{path}"): {
        "content": b"new",
        "headers": {"Content-Type": "application/octet-stream"},
    },
    ("POST", "/api/v1/sessions/{session_id}/tools/{tool_name}"): {"json": {"path": "notes.txt"}},
    ("POST", "/api/v1/sessions/{session_id}/tasks"): {"json": {"input": "steal"}},
    ("PUT", "/api/v1/sessions/{session_id}/tasks/{task_id}"): {
        "json": {"action": "answer", "text": "y"}
    },
    (
        "POST",
        "/api/v1/sessions/{session_id}/tasks/{task_id}/checkpoints/{checkpoint_id}/restore",
    ): {"json": {"conversation": False}},
}


async def send(caller: Api, method: str, path: str, url: str) -> httpx.Response:
    """`method url` as `caller`, with the route's body from BODIES."""
    spec = dict(BODIES.get((method, path), {}))
    headers = {**caller.user.headers, **spec.pop("headers", {})}
    return await caller.client.request(method, url, headers=headers, **spec)


def comparable(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    return {k: v for k, v in body.items() if k not in ("instance", "requestId")}


def test_every_path_parameter_is_classified(app: FastAPI) -> None:
    unknown = [
        f"{method} {path}: {sorted(params - OWNED - NAMES - ADMIN)}"
        for method, path, params in operations(app)
        if params - OWNED - NAMES - ADMIN
    ]
    assert unknown == [], "classify these path parameters in OWNED, NAMES or ADMIN"
    # Names alone identify nothing owned: only the catalogue, OAuth and credentials routes.
    names_only = sorted(
        f"{m} {p}" for m, p, params in operations(app) if params and params <= NAMES
    )
    assert names_only == [
        "DELETE /api/v1/auth/providers/{provider}",
        "GET /api/v1/auth/oauth/{provider}/authorize",
        "GET /api/v1/auth/oauth/{provider}/callback",
        "GET /api/v1/tools/{tool_name}",
        "PUT /api/v1/auth/providers/{provider}",
    ]


@pytest.mark.task_settings(allow_git_clone=True)  # else the clone route is 403 for everyone
async def test_another_user_gets_404_on_every_owned_id_route_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, make_api: MakeApi, llm: FakeLLM
) -> None:
    owner, intruder = await make_api(), await make_api()
    session = await owner.session()
    await owner.write(session, "notes.txt", "the owner's\n")
    llm.script(question("waiting for the owner"))
    task = await owner.start(session)
    await owner.wait(session, task["id"], "awaiting_input")
    key = await owner.request(
        "POST", "/api/v1/auth/api-keys", json={"name": "k", "scopes": ["sessions:read"]}
    )
    assert key.status_code == 201, key.text
    real = {
        "session_id": session,
        "task_id": task["id"],
        "key_id": key.json()["id"],
        "path": "notes.txt",
        "tool_name": "read_file",
        # the owner's task wrote nothing, so it has no checkpoint: the session decides first
        "checkpoint_id": str(uuid.uuid4()),
        "server": "owners-server",
    }

    attacked = []
    for method, path, params in operations(app):
        if not params & OWNED:
            continue
        url = PARAM.sub(lambda m: str(real[m.group(1)]), path)
        response = await send(intruder, method, path, url)
        attacked.append(f"{method} {path}")
        assert response.status_code == 404, f"{method} {path}: {response.text}"
        assert response.headers["content-type"].startswith("application/problem+json")
        # ... and the same answer as for an id that does not exist: no existence oracle
        made_up = {**real, **{name: str(uuid.uuid4()) for name in OWNED}}
        url = PARAM.sub(lambda m, ids=made_up: str(ids[m.group(1)]), path)  # type: ignore[misc]
        missing = await send(intruder, method, path, url)
        assert missing.status_code == 404
        assert comparable(response) == comparable(missing), f"{method} {path}"
    assert len(attacked) >= 15  # the walk saw the routes (sessions, files, tasks, keys, ...)

    # Nothing of the owner's changed.
    assert (await owner.read(session, "notes.txt")) == "the owner's\n"
    got = await owner.request("GET", f"/api/v1/sessions/{session}")
    assert got.status_code == 200
    assert got.json()["name"] == "tasks"
    assert got.json()["state"] == "active"
    assert (await owner.task(session, task["id"]))["state"] == "awaiting_input"
    keys = await owner.request("GET", "/api/v1/auth/api-keys")
    assert [k["id"] for k in keys.json() if k["revokedAt"] is None] == [real["key_id"]]
    listing = await owner.request("GET", f"/api/v1/sessions/{session}/files")
    assert sorted(e["name"] for e in listing.json()["entries"]) == ["notes.txt"]


async def test_list_routes_show_only_the_callers_objects(make_api: MakeApi) -> None:
    """Filters cannot widen a list to another user's rows (`?owner=`, `?userId=` are not
    parameters: ignored, never obeyed)."""
    owner, intruder = await make_api(), await make_api()
    session = await owner.session()
    for query in ("", f"?owner={owner.user.user_id}", f"?userId={owner.user.user_id}"):
        page = await intruder.request("GET", f"/api/v1/sessions{query}")
        assert page.status_code in (200, 422), page.text
        if page.status_code == 200:
            assert session not in page.text
    keys = await intruder.request("GET", "/api/v1/auth/api-keys")
    assert keys.json() == []
    trail = await intruder.request("GET", "/api/v1/auth/audit?limit=200")
    assert trail.status_code == 200
    assert session not in trail.text
    assert str(owner.user.user_id) not in trail.text


async def test_provider_credentials_are_per_user(make_api: MakeApi) -> None:
    owner, intruder = await make_api(), await make_api()
    stored = await owner.request(
        "PUT", "/api/v1/auth/providers/openai", json={"apiKey": "sk-owner-secret-0123456789"}
    )
    assert stored.status_code == 200, stored.text
    assert (await intruder.request("GET", "/api/v1/auth/providers")).json() == []
    removed = await intruder.request("DELETE", "/api/v1/auth/providers/openai")
    assert removed.status_code == 404, removed.text
    mine = await owner.request("GET", "/api/v1/auth/providers")
    assert [c["provider"] for c in mine.json()] == ["openai"]
