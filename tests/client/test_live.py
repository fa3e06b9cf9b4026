"""The SDK over real sockets (uvicorn on a loopback port, in this process): the sync client,
and following a session's events over the WebSocket and over SSE, across a service restart
(1012) without a gap or a duplicate."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import pytest
from fastapi import FastAPI

from roo.client import AsyncRooClient, RooClient
from roo.client.models import EventOut
from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.auth.conftest import PASSWORD, SignedIn
from tests.client.conftest import serving

HOST = "127.0.0.1"
ASK_FOR_COMMANDS = {"approvalPolicy": {"autoApproveExecute": False}}


def _command_then_done(llm: FakeLLM) -> None:
    llm.script(
        Reply(
            text="Let me run it.", tool_calls=[ToolCall("execute_command", {"command": "echo hi"})]
        ),
        Reply(text="All good.", tool_calls=[ToolCall("attempt_completion", {"result": "Done."})]),
    )


def _bind(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    return sock


async def _log(roo: AsyncRooClient, session_id: Any) -> list[EventOut]:
    return [e async for e in roo.iter_events(session_id)]


async def test_the_sync_client(live: str, user: SignedIn) -> None:
    def use() -> tuple[bytes, list[str]]:
        with RooClient(live) as roo:
            roo.login(user.email, PASSWORD)
            session = roo.create_session("sync")
            roo.upload_file(session.id, "notes.txt", b"sync\n")
            names = [s.name for s in roo.iter_sessions(page_size=1)]
            return roo.download_file(session.id, "notes.txt").content, names

    content, names = await asyncio.to_thread(use)
    assert content == b"sync\n"
    assert names == ["sync"]


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_follow_yields_the_log_then_live_events(
    live: str, user: SignedIn, llm: FakeLLM, transport: Any
) -> None:
    _command_then_done(llm)
    async with AsyncRooClient(live) as roo:
        await roo.login(user.email, PASSWORD)
        session = await roo.create_session("follow", config=ASK_FOR_COMMANDS)
        task = await roo.create_task(session.id, "run it")
        seen: list[EventOut] = []
        async with asyncio.timeout(30):
            async for event in roo.follow(session.id, transport=transport):
                seen.append(event)
                if event.event == "approval.required":
                    await roo.approve(session.id, task.id, event.data["approvalId"])
                if event.event == "task.complete":
                    break
        log = await _log(roo, session.id)
    assert [e.seq for e in seen] == [e.seq for e in log]
    assert [e.model_dump() for e in seen] == [e.model_dump() for e in log]


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_follow_resumes_after_a_restart_without_gaps_or_duplicates(
    app: FastAPI, user: SignedIn, llm: FakeLLM, transport: Any
) -> None:
    _command_then_done(llm)
    first = _bind()
    port = first.getsockname()[1]
    stopping, stopped = asyncio.Event(), asyncio.Event()

    async def serve(sock: socket.socket) -> None:
        async with serving(app, sock):
            await stopping.wait()  # uvicorn then closes the open socket with 1012
        stopped.set()

    server = asyncio.create_task(serve(first))
    base = f"http://{HOST}:{port}"
    seen: list[EventOut] = []
    asked = asyncio.Event()
    try:
        async with AsyncRooClient(base) as roo:
            await roo.login(user.email, PASSWORD)
            session = await roo.create_session("restart", config=ASK_FOR_COMMANDS)
            task = await roo.create_task(session.id, "run it")

            async def consume() -> None:
                async for event in roo.follow(session.id, transport=transport):
                    seen.append(event)
                    if event.event == "approval.required":
                        asked.set()
                    if event.event == "task.complete":
                        return

            consumer = asyncio.create_task(consume())
            async with asyncio.timeout(60):
                await asked.wait()
                stopping.set()
                await stopped.wait()
                # approved while the service is away from this client: through the app itself
                approval = next(e for e in seen if e.event == "approval.required")
                before = len(seen)
                stopping.clear()
                stopped.clear()
                server = asyncio.create_task(serve(_bind(port)))
                await roo.approve(session.id, task.id, approval.data["approvalId"])
                await consumer
            log = await _log(roo, session.id)
    finally:
        stopping.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server, 15)
    assert before < len(seen)  # events came after the restart
    assert [e.seq for e in seen] == [e.seq for e in log] == list(range(1, len(log) + 1))


class NoWebSockets:
    """The app behind something that refuses WebSocket handshakes (a proxy without them)."""

    def __init__(self, app: FastAPI) -> None:
        self.app, self.state = app, app.state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)


async def test_follow_falls_back_to_sse_when_the_websocket_is_refused(
    app: FastAPI, user: SignedIn, llm: FakeLLM
) -> None:
    llm.script(Reply(text="Hi.", tool_calls=[ToolCall("attempt_completion", {"result": "Done."})]))
    async with serving(NoWebSockets(app)) as base, AsyncRooClient(base) as roo:  # type: ignore[arg-type]
        await roo.login(user.email, PASSWORD)
        session = await roo.create_session("sse")
        await roo.create_task(session.id, "hello")
        seen = []
        async with asyncio.timeout(30):
            async for event in roo.follow(session.id):
                seen.append(event.seq)
                if event.event == "task.complete":
                    break
        assert seen == [e.seq for e in await _log(roo, session.id)]
