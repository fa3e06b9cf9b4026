"""Fixtures for the files API: the app with the files router, sessions with workspaces, raw
requests that reach the server exactly as sent (httpx would normalise `..` away)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI

from roo.api.state import Resources
from roo.app import create_app
from roo.config import Settings
from tests.auth.conftest import SignedIn, SignIn, auth, make_user, resources, sign_in
from tests.support.lifespan import app_lifespan

__all__ = ["auth", "make_user", "resources", "sign_in"]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The service, started."""
    application = create_app(settings)
    async with app_lifespan(application):
        yield application


@dataclass
class Workspace:
    """A session of `owner` and its workspace directory on the host."""

    id: str
    owner: SignedIn
    path: Path

    def url(self, path: str = "") -> str:
        return f"/api/v1/sessions/{self.id}/files/{path}"


MakeWorkspace = Callable[..., Awaitable[Workspace]]


@pytest.fixture
def make_workspace(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> MakeWorkspace:
    async def make(owner: SignedIn | None = None, **config: object) -> Workspace:
        owner = owner or await sign_in()
        body = {"name": "files", "config": config} if config else {"name": "files"}
        response = await client.post("/api/v1/sessions", headers=owner.headers, json=body)
        assert response.status_code == 201, response.text
        sid = response.json()["id"]
        path = resources.sessions_manager.workspaces.path(uuid.UUID(sid).hex)
        return Workspace(sid, owner, path)

    return make


@pytest.fixture
async def ws(make_workspace: MakeWorkspace) -> Workspace:
    return await make_workspace()


@dataclass
class RawResponse:
    status: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.body)
        return data


RawRequest = Callable[..., Awaitable[RawResponse]]


@pytest.fixture
def raw(app: FastAPI) -> RawRequest:
    """Send `raw_path` to the ASGI app untouched; `path` is decoded once, as uvicorn does."""

    async def send_request(
        method: str,
        raw_path: str | bytes,
        *,
        who: SignedIn,
        query: str = "",
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> RawResponse:
        target = raw_path.encode("latin-1") if isinstance(raw_path, str) else raw_path
        all_headers = {
            "host": "testserver",
            "content-length": str(len(body)),
            "content-type": "application/octet-stream",
            **who.headers,
            **(headers or {}),
        }
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote(target.decode("latin-1")),
            "raw_path": target,
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in all_headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "state": {},
        }
        sent = False
        status = 0
        response_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def receive() -> dict[str, object]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def send(message: dict[str, object]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])  # type: ignore[call-overload]
                response_headers.extend(message["headers"])  # type: ignore[arg-type]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))  # type: ignore[arg-type]

        await app(scope, receive, send)  # type: ignore[arg-type]
        return RawResponse(
            status,
            httpx.Headers([(k.decode(), v.decode("latin-1")) for k, v in response_headers]),
            b"".join(chunks),
        )

    return send_request
