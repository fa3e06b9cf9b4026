"""Waking the task inbox of another process: the push that tells the process running a task
that mail (an answer, a message, a cancel) was left in the task's inbox.

The row stays the record (`roo.tasks.inbox`): a wake-up carries no mail, only "read your
inboxes now" (`roo.tasks.liveness.Liveness.wake`), and the owner still reads them every
`ROO_TASK_INBOX_POLL` seconds (0.5) whether woken or not, which catches a wake-up that was lost.

- `send(runner_id)` is called by the task control once the transaction that posted the mail
  committed (`after_commit`); it never blocks and never raises: the send runs in the
  background and a failure is logged.
- `listen(runner_id, wake)`: this process's listener, one connection, reconnecting with backoff
  (0.1 s doubling to 5 s). Each time it (re)connects it calls `wake()` once: what was sent while
  it was not listening is lost, and the read it triggers finds that mail in the rows.

Three kinds, chosen by `roo.realtime.wiring.build_inbox_wakes`:

- `RedisInboxWakes` (`REDIS_URL`): PUBLISH on `<ROO_REDIS_PREFIX>inbox:<runner id>`; the channel
  is listened to on the event bus's own subscription connection (`RedisEventBus.listen`), so a
  process still has one Redis subscription connection.
- `PostgresInboxWakes` (PostgreSQL without Redis): `NOTIFY` on `roo_inbox_<runner id>`, sent
  by a short unit of work of the pool (`SELECT pg_notify(...)`); sends to one process coalesce
  while one waits for its connection (the pending one goes out after the latest commit, so it
  covers it), so a burst of mail costs one pool checkout per process, not one per mail.
  LISTEN needs a session that stays open and idle between notifications, which the pool's
  discipline (a connection is checked out for one short unit of work) does not allow: the
  listener is one dedicated asyncpg connection per process, outside the pool (not counted in
  `DATABASE_POOL_MAX`; count one more connection per process against PostgreSQL's
  `max_connections`). It runs no transaction, only the LISTEN and a `SELECT 1` every 5 s to
  notice a dead connection.
- `InboxWakes` (SQLite): one process serves the database (`docs/architecture.md`): there is no
  other process to wake; nothing is sent, nothing listened to.

The same wake-ups serve other mailboxes of a process (`signal(topic, process_id)`,
`on_signal(topic, process_id, wake)`: the MCP servers' restart requests, `roo.mcp.cluster`), on
channels of their own (`<prefix><topic>:<id>`, `roo_<topic>_<id>`) over the same connection: the
inbox is the topic `inbox`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.db.engine import unit_of_work
from roo.kit.cache import HEALTH_CHECK_SECONDS
from roo.kit.logs import get_logger
from roo.kit.loops import cancel_listener
from roo.realtime.bus import RedisEventBus

log = get_logger("roo.realtime")

MAX_SENDS_IN_FLIGHT = 1000  # NOTIFYs waiting at once; beyond, dropped (logged): the poll remains
CONNECT_TIMEOUT_SECONDS = 10.0
PG_CHANNEL_BYTES = 63  # PostgreSQL's longest identifier (a channel name is one)
INBOX = "inbox"  # the topic of the task inboxes' wake-ups


class InboxWakes:
    """Nothing to wake: one process (SQLite)."""

    @property
    def live(self) -> bool:
        """Whether this process's listener is connected (wake-ups reach it)."""
        return False

    def send(self, runner_id: str) -> None:
        """Tell the process `runner_id` that one of its tasks' inboxes has mail. Never blocks,
        never raises."""
        self.signal(INBOX, runner_id)

    async def listen(self, runner_id: str, wake: Callable[[], None]) -> None:
        """Call `wake()` (never blocking) when a wake-up for `runner_id` (this process) arrives,
        and each time the listener (re)connects. Returns once listening or after a moment:
        until the listener is up, the poll alone finds the mail."""
        await self.on_signal(INBOX, runner_id, wake)

    def signal(self, topic: str, process_id: str) -> None:
        """Wake the `topic` mailbox of the process `process_id`. Never blocks, never raises."""

    async def on_signal(self, topic: str, process_id: str, wake: Callable[[], None]) -> None:
        """As `listen`, for the `topic` mailbox of this process (`process_id`)."""

    async def aclose(self) -> None:
        """Stop listening; wait a moment for the sends in flight."""


class RedisInboxWakes(InboxWakes):
    """Over Redis pub/sub, on the event bus's connections (`RedisEventBus.send`/`listen`)."""

    def __init__(self, bus: RedisEventBus, prefix: str) -> None:
        self._bus = bus
        self._prefix = prefix
        self._channels: list[str] = []

    def channel(self, runner_id: str, topic: str = INBOX) -> str:
        return f"{self._prefix}{topic}:{runner_id}"

    @property
    def live(self) -> bool:
        return bool(self._channels) and self._bus.live

    def signal(self, topic: str, process_id: str) -> None:
        try:
            self._bus.send(self.channel(process_id, topic), b"")
        except Exception:  # a bug here must not fail the request that posted the mail
            log.exception("realtime.inbox_wake_failed")

    async def on_signal(self, topic: str, process_id: str, wake: Callable[[], None]) -> None:
        channel = self.channel(process_id, topic)
        self._channels.append(channel)
        await self._bus.listen(channel, wake)

    async def aclose(self) -> None:
        channels, self._channels = self._channels, []
        for channel in channels:
            self._bus.unlisten(channel)


class PostgresInboxWakes(InboxWakes):
    """Over PostgreSQL LISTEN/NOTIFY. `dsn`: the database's URL as asyncpg takes it (for the
    listener's dedicated connection); `db_sessions`: the pool, for the short NOTIFYs."""

    def __init__(
        self,
        dsn: str,
        db_sessions: async_sessionmaker[AsyncSession],
        *,
        health_check_seconds: float = HEALTH_CHECK_SECONDS,
    ) -> None:
        self._dsn = dsn
        self._db_sessions = db_sessions
        self._health_check_seconds = health_check_seconds
        self._handlers: dict[str, Callable[[], None]] = {}  # channel -> its wake
        self._conn: Any = None  # the listener's connection, while connected
        self._setup = asyncio.Lock()  # one LISTEN at a time on the connection
        self._live = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self._pending: set[str] = set()  # channels whose NOTIFY has not gone out yet
        self.connections = 0  # how often the listener (re)connected
        self.dropped = 0  # wake-ups not sent (too many in flight)
        self.backend_pid: int | None = None  # the listener's server process, while connected

    @staticmethod
    def channel(runner_id: str, topic: str = INBOX) -> str:
        return f"roo_{topic}_{runner_id}"[:PG_CHANNEL_BYTES]

    @property
    def live(self) -> bool:
        return self._live.is_set()

    # -- sending ---------------------------------------------------------------------------------

    def signal(self, topic: str, process_id: str) -> None:
        channel = self.channel(process_id, topic)
        if channel in self._pending:
            return  # the NOTIFY waiting to go out is sent after this commit: it covers it
        if len(self._sends) >= MAX_SENDS_IN_FLIGHT:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("realtime.inbox_wake_dropped", dropped=self.dropped)
            return
        try:
            task = asyncio.get_running_loop().create_task(self._notify(channel))
        except Exception:  # a bug here must not fail the request that posted the mail
            log.exception("realtime.inbox_wake_failed")
            return
        self._pending.add(channel)
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _notify(self, channel: str) -> None:
        try:
            async with unit_of_work(self._db_sessions) as db:
                await db.connection()  # a connection first: the wait for one is the long part
                self._pending.discard(channel)  # a send from now on is after this NOTIFY
                await db.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})
        except Exception as exc:
            log.warning("realtime.inbox_wake_failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._pending.discard(channel)

    # -- listening -------------------------------------------------------------------------------

    async def listen(
        self, runner_id: str, wake: Callable[[], None], wait_seconds: float = 2.0
    ) -> None:
        await self.on_signal(INBOX, runner_id, wake, wait_seconds)

    async def on_signal(
        self, topic: str, process_id: str, wake: Callable[[], None], wait_seconds: float = 2.0
    ) -> None:
        channel = self.channel(process_id, topic)
        self._handlers[channel] = wake
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="realtime-inbox-listener")
        else:
            async with self._setup:  # the connection's LISTENs happen one at a time
                if self._conn is not None:
                    try:
                        await self._conn.add_listener(channel, self._woken)
                    except Exception as exc:  # the listener reconnects and listens again
                        log.warning("realtime.inbox_listen_failed", error=type(exc).__name__)
                    else:
                        self._wake_one(wake)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._live.wait(), wait_seconds)

    async def aclose(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None and not await cancel_listener(listener):
            log.warning("realtime.inbox_listener_did_not_stop")
        if self._sends:
            await asyncio.wait(set(self._sends), timeout=1.0)

    def _woken(self, _conn: Any, _pid: int, channel: str, _payload: str) -> None:
        wake = self._handlers.get(channel)
        if wake is not None:
            self._wake_one(wake)

    def _wake_all(self) -> None:
        for wake in list(self._handlers.values()):
            self._wake_one(wake)

    @staticmethod
    def _wake_one(wake: Callable[[], None]) -> None:
        try:
            wake()
        except Exception:  # a bug there must not end the listener
            log.exception("realtime.inbox_wake_handler_failed")

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            conn: Any = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT_SECONDS)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                async with self._setup:
                    for channel in list(self._handlers):
                        await conn.add_listener(channel, self._woken)
                    self._conn = conn
                self.backend_pid = conn.get_server_pid()
                self.connections += 1
                self._live.set()
                delay = 0.1
                self._wake_all()  # what was sent before the LISTEN was lost: read the rows
                await self._hold(conn, lost)
                log.warning("realtime.inbox_listener_lost", error="connection closed")
            except Exception as exc:  # refused, dropped, timed out: reconnect
                log.warning("realtime.inbox_listener_lost", error=f"{type(exc).__name__}: {exc}")
            finally:
                self._live.clear()
                self._conn = None
                self.backend_pid = None
                if conn is not None:
                    conn.terminate()  # closes the socket at once, never waits
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _hold(self, conn: Any, lost: asyncio.Event) -> None:
        """Until the connection ends; a `SELECT 1` now and then notices one that died without
        TCP noticing (raises)."""
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), self._health_check_seconds)
            if not lost.is_set():
                async with self._setup:  # not while a LISTEN is being added (one at a time)
                    await conn.fetchval("SELECT 1", timeout=self._health_check_seconds)
