"""Real-time tests: the tasks fixtures (fake LLM, signed-in users), the app served by uvicorn on
a loopback port, and a small server-sent events client over httpx streaming."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from tests.auth.conftest import auth, make_user, resources, sign_in
from tests.support.github_double import bind_socket
from tests.tasks.conftest import Api, api, llm, make_api, settings

__all__ = ["api", "auth", "llm", "make_api", "make_user", "resources", "settings", "sign_in"]

Json = dict[str, Any]


@asynccontextmanager
async def serving(app: FastAPI, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Serve `app` (its lifespan already started by the `app` fixture) with uvicorn on a
    loopback port, on this test's event loop; yields its base URL."""
    sock = sock or bind_socket()
    config = uvicorn.Config(
        app, lifespan="off", log_config=None, access_log=False, ws="none",
        timeout_graceful_shutdown=2,
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


@pytest.fixture
async def live(app: FastAPI) -> AsyncIterator[str]:
    async with serving(app) as url:
        yield url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A client of the live server over a real socket."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0), trust_env=False) as client:
        yield client


@dataclass
class Message:
    """One server-sent event, or a comment."""

    id: str | None = None
    event: str | None = None
    data: str = ""
    comment: str | None = None

    def json(self) -> Json:
        value: Json = json.loads(self.data)
        return value


@dataclass
class SSE:
    """A server-sent events stream, read message by message (per the HTML standard's parsing
    rules for the fields used here)."""

    response: httpx.Response
    _lines: AsyncIterator[str] = field(init=False)

    def __post_init__(self) -> None:
        self._lines = self.response.aiter_lines()

    async def next(self, within: float = 10.0) -> Message | None:
        """The next message or comment; None when the stream ended."""
        message = Message()
        data: list[str] = []
        async with asyncio.timeout(within):
            async for line in self._lines:
                if line == "":
                    if message.comment is not None or data or message.event or message.id:
                        message.data = "\n".join(data)
                        return message
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "":
                    message.comment = value
                elif name == "data":
                    data.append(value)
                elif name == "id":
                    message.id = value
                elif name == "event":
                    message.event = value
        return None

    async def events(self, within: float = 10.0) -> AsyncIterator[Message]:
        """The events (comments skipped) until the stream ends."""
        while (message := await self.next(within)) is not None:
            if message.comment is None:
                yield message

    async def until(self, seq: int, within: float = 20.0) -> list[Json]:
        """The events' data up to and including `seq`."""
        received: list[Json] = []
        deadline = time.monotonic() + within
        async for message in self.events(max(deadline - time.monotonic(), 0.01)):
            event = message.json()
            assert message.id == str(event["seq"])
            assert message.event == event["event"]
            received.append(event)
            if event["seq"] >= seq:
                return received
        raise AssertionError(f"the stream ended before seq {seq}: {received}")


@asynccontextmanager
async def sse(
    http: httpx.AsyncClient,
    base: str,
    api: Api,
    session_id: str,
    *,
    headers: dict[str, str] | None = None,
    **params: Any,
) -> AsyncIterator[SSE]:
    """A stream of `session_id`'s events from the live server, as `api`'s user."""
    async with http.stream(
        "GET",
        f"{base}/api/v1/sessions/{session_id}/events",
        params=params,
        headers={**api.user.headers, "Accept": "text/event-stream", **(headers or {})},
    ) as response:
        assert response.status_code == 200, await response.aread()
        yield SSE(response)
