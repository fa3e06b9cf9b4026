"""Real-time tests: the tasks fixtures (fake LLM, signed-in users), the app served by uvicorn on
a loopback port, and a small server-sent events client over httpx streaming."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from roo.realtime.ws import websocket_options
from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
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
        app, lifespan="off", log_config=None, access_log=False,
        timeout_graceful_shutdown=2, **websocket_options(app.state.settings),
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


class WS:
    """A WebSocket client of the live server (the `websockets` library), reading JSON."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def recv(self, within: float = 10.0) -> Json:
        raw = await asyncio.wait_for(self.connection.recv(), within)
        value: Json = json.loads(raw)
        return value

    async def send(self, **message: Any) -> None:
        await self.connection.send(json.dumps(message))

    async def request(self, within: float = 10.0, **message: Any) -> tuple[Json, list[Json]]:
        """Send `message` with an id; its reply (ack or error), and the events before it."""
        message.setdefault("id", uuid.uuid4().hex)
        await self.send(**message)
        events: list[Json] = []
        while True:
            received = await self.recv(within)
            replied = received.get("type") in ("ack", "error", "pong")
            if replied and received.get("id") == message["id"]:
                return received, events
            events.append(received)

    async def until(self, seq: int, within: float = 20.0) -> list[Json]:
        """The events up to and including `seq` (control messages are not events)."""
        received: list[Json] = []
        async with asyncio.timeout(within):
            while True:
                message = await self.recv(within)
                if "seq" not in message:
                    continue
                received.append(message)
                if message["seq"] >= seq:
                    return received

    async def closed(self, within: float = 10.0) -> tuple[int | None, str]:
        """Wait for the server to close: (code, reason), reading what comes before."""
        try:
            async with asyncio.timeout(within):
                async for _ in self.connection:
                    pass
        except ConnectionClosed:
            pass
        await self.connection.wait_closed()
        close = self.connection.protocol.close_rcvd
        return (close.code, close.reason) if close else (None, "")


def ws_url(base: str, session_id: str, **params: Any) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{base.replace('http', 'ws', 1)}/api/v1/sessions/{session_id}/ws" + (
        f"?{query}" if query else ""
    )


@asynccontextmanager
async def ws_connect(
    base: str, session_id: str, *, token: str | None = None, **params: Any
) -> AsyncIterator[WS]:
    """A socket on `session_id`: with `token`, the first message authenticates (`lastSeq` from
    params goes with it); otherwise the URL carries what `params` say (e.g. a ticket)."""
    last_seq = params.pop("lastSeq", None) if token is not None else None
    options: dict[str, Any] = params.pop("options", {})
    async with connect(ws_url(base, session_id, **params), open_timeout=10, **options) as conn:
        socket = WS(conn)
        if token is not None:
            auth: Json = {"type": "auth", "token": token}
            if last_seq is not None:
                auth["lastSeq"] = last_seq
            with contextlib.suppress(ConnectionClosed):  # refused at once (a URL it rejects)
                await socket.send(**auth)
        yield socket


async def ticket(http: httpx.AsyncClient, base: str, headers: dict[str, str], session: str) -> str:
    response = await http.post(f"{base}/api/v1/sessions/{session}/ws-ticket", headers=headers)
    assert response.status_code == 200, response.text
    body: Json = response.json()
    assert body["expiresIn"] == 30
    return str(body["ticket"])


def run_a_command_then_finish(llm: FakeLLM) -> None:
    """The model's script of most real-time tests: text and a command, then completion."""
    llm.script(
        Reply(
            text="Let me run it.",
            tool_calls=[ToolCall("execute_command", {"command": "echo one; echo two"})],
        ),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Done."})]),
    )
