"""MCP servers across the processes of a deployment: with `ROO_TASK_RUNNER=queue` a task's
servers run in the `roo worker` that runs it, and with `roo serve --workers N` in whichever API
process needed them; `GET .../mcp` and `restart` may reach any process.

- Each process publishes the state of the servers it holds (what `GET .../mcp` shows: status,
  tools, resources, last error; never an env or header value) on the board (`roo.mcp.board`),
  one entry per session, written when it changes and refreshed every `REFRESH_SECONDS`; an
  entry lives `STATE_SECONDS`, so a process that died is forgotten soon after. A process that
  no longer holds a session's servers deletes its entry.
- `GET .../mcp` merges the entries of the other processes with its own view: for each server,
  the best status wins (connected, then starting, then failed).
- A restart asked of a process that does not hold the server is a request on the board for
  each process that does, and a wake-up (`InboxWakes.signal`, topic `mcp`: Redis pub/sub, or
  PostgreSQL NOTIFY); the holder reloads the session's config, restarts the server, publishes
  its new state and leaves its answer for the asker (woken the same way). The asker waits at
  most `answer_seconds`; the board is also read every `POLL_SECONDS`, in case a wake-up was lost.

Nothing here holds a database connection while waiting for an MCP server: every board access
is one short unit of work (or one Redis command).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.config import Settings
from roo.kit.logs import get_logger
from roo.mcp.board import Board, Entry, PostgresBoard, RedisBoard
from roo.mcp.hub import McpHub, ResourceEntry, ServerView, SessionMcp, ToolEntry
from roo.realtime.wake import InboxWakes

log = get_logger("roo.mcp")

TOPIC = "mcp"  # the wake-ups' topic (`InboxWakes.signal`)
STATE, REQUEST, ANSWER = "state", "request", "answer"  # the board's kinds of entries
STATE_SECONDS = 30.0  # a published state lives this long unless refreshed
REFRESH_SECONDS = 10.0  # an unchanged state is written again this often
TICK_SECONDS = 1.0  # how often this process compares its servers with what it published
POLL_SECONDS = 5.0  # requests and answers are read this often without a wake-up
SWEEP_SECONDS = 60.0
RANK = {"connected": 3, "starting": 2, "failed": 1, "stopped": 0, "disabled": 0}

Reload = Callable[[uuid.UUID], Awaitable[SessionMcp | None]]


def view_entry(view: ServerView) -> Entry:
    """A server's state as published (JSON; what `GET .../mcp` shows, never a secret)."""
    return {
        "name": view.name,
        "status": view.status,
        "error": view.error,
        "startedAt": view.started_at.isoformat() if view.started_at else None,
        "tools": [
            {"name": t.name, "description": t.description, "inputSchema": t.input_schema}
            for t in view.tools
        ],
        "resources": [
            {
                "uri": x.uri,
                "name": x.name,
                "mimeType": x.mime_type,
                "description": x.description,
                "template": x.template,
            }
            for x in view.resources
        ],
    }


def entry_view(entry: Entry, local: ServerView, mcp: SessionMcp) -> ServerView:
    """A published state seen through this process's config of the server (its source, type,
    timeout, disabled and always-allowed tools are the session's current ones)."""
    config = mcp.servers[local.name].config
    allow = config.always_allow
    started = entry.get("startedAt")
    return ServerView(
        name=local.name,
        source=local.source,
        type=local.type,
        status=entry["status"],
        error=entry.get("error"),
        tools=[
            ToolEntry(
                name=t["name"],
                description=t.get("description") or "",
                input_schema=dict(t.get("inputSchema") or {}),
                enabled=t["name"] not in config.disabled_tools,
                always_allow=t["name"] in allow or "*" in allow,
            )
            for t in entry.get("tools", [])
        ],
        resources=[
            ResourceEntry(
                x["uri"],
                x["name"],
                x.get("mimeType"),
                x.get("description"),
                x.get("template", False),
            )
            for x in entry.get("resources", [])
        ],
        started_at=datetime.fromisoformat(started) if started else None,
        timeout=local.timeout,
        disabled=local.disabled,
    )


def best(views: list[ServerView]) -> ServerView:
    """The view that says most: connected over starting over failed; then the latest start
    (the first of equals: this process's own)."""
    return max(
        views,
        key=lambda v: (RANK.get(v.status, 0), v.started_at.timestamp() if v.started_at else 0.0),
    )


@dataclass(slots=True)
class RestartOutcome:
    answered: list[Entry | None]  # each answering holder's server state (None: no longer held)
    missing: int  # holders that did not answer in time


class McpCluster:
    """This process's part: publishing its servers, answering restart requests, asking others."""

    def __init__(
        self, hub: McpHub, board: Board, wakes: InboxWakes, *, answer_seconds: float
    ) -> None:
        self.hub = hub
        self.board = board
        self.wakes = wakes
        self.answer_seconds = answer_seconds
        self.process_id = uuid.uuid4().hex
        self._reload: Reload | None = None
        self._published: dict[uuid.UUID, tuple[list[Entry], float]] = {}
        self._woken = asyncio.Event()
        self._waiters: set[asyncio.Event] = set()
        self._loop: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[None]] = set()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, reload: Reload) -> None:
        """`reload(session_id)`: the session's servers configured from its current row (None:
        the session is gone)."""
        self._reload = reload
        await self.wakes.on_signal(TOPIC, self.process_id, self._wake)
        self._loop = asyncio.create_task(self._run(), name="mcp-cluster")

    async def aclose(self) -> None:
        """Stop publishing and answering; forget what this process published."""
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        for task in list(self._handling):
            task.cancel()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                for session_id in list(self._published):
                    await self.board.delete(STATE, str(session_id), self.process_id)
        self._published.clear()

    def _wake(self) -> None:
        self._woken.set()
        for waiter in self._waiters:
            waiter.set()

    async def _run(self) -> None:
        polled = swept = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), TICK_SECONDS)
            woken, now = self._woken.is_set(), time.monotonic()
            self._woken.clear()
            try:
                await self._publish_all()
                if woken or (now - polled >= POLL_SECONDS and self._published):
                    polled = now
                    await self._take_requests()
                if now - swept >= SWEEP_SECONDS:
                    swept = now
                    await self.board.sweep()
            except Exception as exc:  # the board is away for a moment: next round
                log.warning("mcp.cluster_round_failed", error=f"{type(exc).__name__}: {exc}")

    # -- publishing ------------------------------------------------------------------------

    async def _publish_all(self) -> None:
        held = {sid: mcp for sid, mcp in self.hub.sessions() if mcp.connections}
        for session_id, mcp in held.items():
            await self.publish(session_id, mcp)
        for session_id in [s for s in self._published if s not in held]:
            del self._published[session_id]
            await self.board.delete(STATE, str(session_id), self.process_id)

    async def publish(self, session_id: uuid.UUID, mcp: SessionMcp, *, now: bool = False) -> None:
        """Write the state of the session's servers held here, if it changed or is due."""
        servers = [view_entry(v) for v in mcp.views() if v.name in mcp.connections]
        last = self._published.get(session_id)
        if not now and last is not None and last[0] == servers:
            if time.monotonic() - last[1] < REFRESH_SECONDS:
                return
        data = {"servers": servers}
        await self.board.put(STATE, str(session_id), self.process_id, data, STATE_SECONDS)
        self._published[session_id] = (servers, time.monotonic())

    # -- what the others hold --------------------------------------------------------------

    async def states(self, session_id: uuid.UUID) -> dict[str, dict[str, Entry]]:
        """The other processes' states of the session's servers: server -> process -> state
        (none while the board cannot be read: this process's view alone, logged)."""
        found: dict[str, dict[str, Entry]] = {}
        try:
            entries = await self.board.read(STATE, str(session_id))
        except Exception as exc:
            log.warning("mcp.board_unreadable", error=f"{type(exc).__name__}: {exc}")
            return found
        for process, entry in entries.items():
            if process == self.process_id:
                continue
            for server in entry.get("servers", []):
                found.setdefault(str(server.get("name")), {})[process] = server
        return found

    async def restart(
        self, session_id: uuid.UUID, server: str, holders: list[str]
    ) -> RestartOutcome:
        """Ask each holder to restart the server; their answers within `answer_seconds`."""
        asked: dict[str, str] = {}
        request = {"session": str(session_id), "server": server, "from": self.process_id}
        for holder in holders:
            request_id = uuid.uuid4().hex
            try:
                await self.board.put(REQUEST, holder, request_id, request, self.answer_seconds)
            except Exception as exc:  # not asked: counted as not answering
                log.warning("mcp.restart_request_failed", error=f"{type(exc).__name__}: {exc}")
                return RestartOutcome([], len(holders))
            asked[request_id] = holder
            self.wakes.signal(TOPIC, holder)
        answered: list[Entry | None] = []
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        deadline = time.monotonic() + self.answer_seconds
        try:
            while asked:
                try:
                    answers = await self.board.read(ANSWER, self.process_id)
                    for request_id in [r for r in asked if r in answers]:
                        del asked[request_id]
                        answered.append(answers[request_id].get("server"))
                        await self.board.delete(ANSWER, self.process_id, request_id)
                except Exception as exc:  # the board is away for a moment: read again
                    log.warning("mcp.board_unreadable", error=f"{type(exc).__name__}: {exc}")
                left = deadline - time.monotonic()
                if not asked or left <= 0:
                    break
                waiter.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.wait(), min(left, POLL_SECONDS))
        finally:
            self._waiters.discard(waiter)
        return RestartOutcome(answered, len(asked))

    # -- answering the others --------------------------------------------------------------

    async def _take_requests(self) -> None:
        for request_id, request in (await self.board.take(REQUEST, self.process_id)).items():
            task = asyncio.create_task(self._answer(request_id, request), name="mcp-restart")
            self._handling.add(task)
            task.add_done_callback(self._handling.discard)

    async def _answer(self, request_id: str, request: dict[str, Any]) -> None:
        try:
            session_id, name = uuid.UUID(str(request["session"])), str(request["server"])
            asker = str(request["from"])
            state = await self._restart_here(session_id, name)
            answer = {"server": state}
            await self.board.put(ANSWER, asker, request_id, answer, STATE_SECONDS)
            self.wakes.signal(TOPIC, asker)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the asker's wait ends with a clear status
            log.warning("mcp.restart_request_failed", error=f"{type(exc).__name__}: {exc}")

    async def _restart_here(self, session_id: uuid.UUID, name: str) -> Entry | None:
        """Restart the server if this process holds it (with the session's current config);
        its new state, published first. None: not held here (any more)."""
        held = self.hub.peek(session_id)
        if held is None or name not in held.connections or self._reload is None:
            return None
        mcp = await self._reload(session_id)
        if mcp is None or name not in mcp.servers:
            return None
        log.info("mcp.restart_requested", session_id=str(session_id), server=name)
        await mcp.restart(name)
        await self.publish(session_id, mcp, now=True)
        view = next(v for v in mcp.views() if v.name == name)
        return view_entry(view)


def build_cluster(
    settings: Settings,
    hub: McpHub,
    db_sessions: async_sessionmaker[AsyncSession],
    redis: Redis | None,
    wakes: InboxWakes,
) -> McpCluster | None:
    """None with SQLite (one process); the board over Redis with `REDIS_URL`, else over
    PostgreSQL. Start it with `await cluster.start(service.reload)` once `wakes` listen."""
    if settings.is_sqlite:
        return None
    board: Board = (
        RedisBoard(redis, settings.redis_prefix)
        if redis is not None and settings.redis_url
        else PostgresBoard(db_sessions)
    )
    # a holder may take its stop (10 s) and its start timeout before it answers
    answer = settings.mcp_start_timeout_seconds + 15.0
    return McpCluster(hub, board, wakes, answer_seconds=answer)
