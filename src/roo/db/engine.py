"""The async engine and session factory, built from settings and owned by the app lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
import sysconfig
import time
import traceback
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import greenlet
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from roo.config import Settings
from roo.db.sqlite_inline import connector
from roo.db.write_gate import DatabaseBusy as DatabaseBusy
from roo.db.write_gate import SQLiteWriteGate, background_wait
from roo.kit.logs import get_logger
from roo.kit.request_context import current_request_id

log = get_logger("roo.db")


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for memory databases and other backends."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


class _SQLiteConnection(sqlite3.Connection):
    """A SQLite connection that rolls back its open transaction when it is closed.

    When a unit of work is cancelled while its transaction is open, SQLAlchemy may close the
    connection without a rollback, and `sqlite3` only asks SQLite to close it: while a
    prepared statement of it is still referenced (by a traceback), SQLite keeps it open as a
    zombie, transaction and write lock included, until the garbage collector frees that
    statement. Every other writer would wait meanwhile.
    """

    def close(self) -> None:
        if self.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.rollback()
        super().close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers work while a writer commits; foreign keys are off by default in SQLite;
    # busy_timeout: another process (`roo user create`, a migration) may be writing just then
    # (within this process the write gate keeps writers from ever meeting SQLite's lock).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(settings: Settings) -> AsyncEngine:
    """Create the engine for `settings.db_url`.

    Both backends: a queue pool of at most `db_pool_max` connections, kept once opened (a
    connection returned to the pool stays open for the next unit of work: PostgreSQL forks a
    backend per connection). A unit of work waits at most `db_pool_timeout` seconds for one,
    then `PoolTimeout` (503 service-overloaded). `warm_pool` opens `db_pool_min` at start-up.
    SQLite: a file (its directory is created); statements run in the event loop's thread
    (`roo.db.sqlite_inline`), and writers take turns in the process (`SQLiteWriteGate`) instead
    of waiting out SQLite's busy timeout.
    """
    url = settings.db_url
    kwargs: dict[str, Any] = {
        "echo": settings.db_echo,
        # SQLAlchemy's QueuePool has no minimum: it keeps up to pool_size connections open.
        # Overflow connections are closed on return, so the ceiling is all pool_size.
        "pool_size": settings.db_pool_max,
        "max_overflow": 0,
        "pool_timeout": settings.db_pool_timeout,
    }
    path = sqlite_path(url)
    if url.startswith("sqlite"):
        if path is None:
            raise ValueError("SQLite needs a database file: the service's connections share it")
        path.parent.mkdir(parents=True, exist_ok=True)
        # statements run in the event loop's thread: roo.db.sqlite_inline says why
        kwargs["async_creator"] = connector(str(path), _SQLiteConnection)
    else:
        kwargs.update(pool_recycle=1800)
        if settings.db_idle_in_transaction_timeout > 0 and "+asyncpg" in url.split("://")[0]:
            timeout_ms = int(settings.db_idle_in_transaction_timeout * 1000)
            kwargs["connect_args"] = {
                "server_settings": {"idle_in_transaction_session_timeout": str(timeout_ms)}
            }
    engine = create_async_engine(url, **kwargs)
    if path is None:
        IdlePing(IDLE_PING_SECONDS).install(engine)
    if path is not None:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        SQLiteWriteGate(path, settings.db_pool_timeout).install(engine)
    if settings.db_hold_warn_seconds > 0:
        ConnectionWatch(settings.db_hold_warn_seconds).install(engine)
    return engine


async def warm_pool(engine: AsyncEngine, count: int) -> None:
    """Open `count` connections now (the pool keeps them), so that the first requests after
    start-up do not each pay for a new connection."""
    count = min(count, engine.pool.size())  # type: ignore[attr-defined]
    if count <= 0:
        return
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(count):
            conn = await stack.enter_async_context(engine.connect())
            await conn.execute(text("SELECT 1"))


# A pooled connection unused for longer than this is pinged before it is handed out.
IDLE_PING_SECONDS = 1.0


class IdlePing:
    """SQLAlchemy's `pool_pre_ping`, for connections that sat idle in the pool only.

    The pre-ping checks every connection as it leaves the pool; with asyncpg, outside a
    transaction, that is three round trips (BEGIN, an empty statement, ROLLBACK) before every
    request's first statement: on PostgreSQL it cost `GET /auth/profile` more than its own
    SELECT did (bench/db_path.py). A connection in use moments ago is alive as surely as a
    ping could tell, so only one returned more than `idle_seconds` ago is pinged (SQLAlchemy's
    own ping); a failed ping raises `DisconnectionError`, on which the pool discards that
    connection and checks out another (the documented "pessimistic" handling). A connection
    the database dropped within the last `idle_seconds` fails its statement instead; SQLAlchemy
    then invalidates the pool, and `roo.db.reads.Reads` retries its read once.
    """

    _KEY = "roo.returned_at"

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds

    def install(self, engine: AsyncEngine) -> None:
        self._dialect = engine.sync_engine.dialect
        event.listen(engine.sync_engine.pool, "checkin", self._checkin)
        event.listen(engine.sync_engine.pool, "checkout", self._checkout)

    def _checkin(self, _dbapi_connection: Any, record: Any) -> None:
        record.info[self._KEY] = time.monotonic()

    def _checkout(self, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(self._KEY)
        if returned is None or time.monotonic() - returned < self.idle_seconds:
            return  # just opened, or in use moments ago
        try:
            self._dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError(f"pooled connection failed its ping: {error!r}") from error


def _caller_stack() -> traceback.StackSummary:
    """Where the running code is: inside SQLAlchemy's greenlet, the awaiting coroutine's frames
    are those of the parent greenlet."""
    current = greenlet.getcurrent()
    frame = current.parent.gr_frame if current.parent is not None else sys._getframe(1)
    return traceback.extract_stack(frame, limit=60)


_ROO = str(Path(__file__).resolve().parents[1])
_LIBRARIES = (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"], "<")


def _own_frames(stack: traceback.StackSummary) -> list[str]:
    """The frames of the service's own code (and its tests'), innermost last."""
    return [
        f"{f.filename}:{f.lineno} {f.name}"
        for f in stack
        if f.filename != __file__
        and (f.filename.startswith(_ROO) or not f.filename.startswith(_LIBRARIES))
    ][-12:]


class ConnectionWatch:
    """A debug aid (`ROO_DB_HOLD_WARN_SECONDS`): remembers where each pooled connection was
    checked out; logs a connection held longer than the threshold when it comes back, and
    every holder when a unit of work times out waiting for one (`log_holders`)."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._held: dict[int, tuple[float, str | None, traceback.StackSummary]] = {}

    def install(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine.pool, "checkout", self._checkout)
        event.listen(engine.sync_engine.pool, "checkin", self._checkin)
        _WATCHES.add(self)

    def _checkout(self, _dbapi: Any, record: Any, _proxy: Any) -> None:
        self._held[id(record)] = (time.monotonic(), current_request_id(), _caller_stack())

    def _checkin(self, _dbapi: Any, record: Any) -> None:
        held = self._held.pop(id(record), None)
        if held is None:
            return
        seconds = time.monotonic() - held[0]
        if seconds >= self.threshold:
            log.warning(
                "db.connection_held",
                seconds=round(seconds, 3),
                holder_request_id=held[1],
                checked_out_at=_own_frames(held[2]),
            )

    def log_holders(self) -> None:
        now = time.monotonic()
        for since, request_id, stack in list(self._held.values()):
            log.warning(
                "db.connection_holder",
                seconds=round(now - since, 3),
                holder_request_id=request_id,
                checked_out_at=_own_frames(stack),
            )


_WATCHES: weakref.WeakSet[ConnectionWatch] = weakref.WeakSet()


def log_connection_holders() -> None:
    """Log who holds the pooled connections (when the hold watch is on): called when a unit
    of work timed out waiting for a connection."""
    for watch in list(_WATCHES):
        watch.log_holders()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


_AFTER_COMMIT = "roo.after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], Awaitable[object]]) -> None:
    """Run `callback` once the unit of work has committed (e.g. drop a cache entry that the
    commit made stale: dropping it earlier would let a concurrent reader cache the old row)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


T = TypeVar("T")


async def uninterrupted(work: Awaitable[T]) -> T:
    """Await `work` (a unit of work, or a future another task completes) to its end even when
    the caller is cancelled meanwhile: the cancellation reaches the caller once the work is
    done. A statement cut off mid-way costs its connection (closed instead of returned to the
    pool, with an error logged)."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # retrieved: the caller is cancelled either way
        raise


async def release_connection(db: AsyncSession) -> None:
    """End the unit of work's transaction so far (committing what it wrote) and give its
    connection back to the pool; its next statement takes a connection again.

    Call it before the unit of work waits on anything slow (a password hash, a task's
    cancellation, a command, an upload, a clone): nothing holds a database connection while
    it waits (docs/architecture.md). Objects read so far stay usable (sessions are made with
    `expire_on_commit=False`); `after_commit` callbacks still run at the unit's end.
    """
    await db.commit()


def background_work(seconds: float) -> None:
    """Make the units of work of the calling asyncio task, and of the tasks it starts from now
    on, wait up to `seconds` for a pooled connection (and, on SQLite, for their turn to write)
    instead of the pool's timeout.

    For work that no client waits on and that must not be lost to a moment of overload: a task
    run, its event writes, the runner's heartbeat, a job's claim. A request keeps the pool's
    short timeout and is answered 503, so that the waiting happens where it costs nothing; a
    run waits its turn for a connection before anything is open, then holds it no longer than
    before.

    On SQLite the write turn is waited for the same way, and a unit of work must not wait for
    it with a pooled connection checked out: background work waits long, and a few such waits
    would take the whole pool, every request (even one that only reads) then answered 503.
    So background work that writes opens `unit_of_work(..., writes=True)`, which waits for the
    turn first, holding nothing, and only then takes a connection. A background unit of work
    not so declared takes the turn at its first write, connection in hand, as a request does.
    """
    background_wait.set(seconds)


async def _connect_patiently(session: AsyncSession, seconds: float) -> None:
    """Check out the session's connection, trying again for up to `seconds` while the pool
    has none to give. Nothing has run in the session yet, so trying again changes nothing."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    tries = 0
    while True:
        try:
            await session.connection()
            break
        except PoolTimeout:
            await session.rollback()
            tries += 1
            if loop.time() >= deadline:
                raise
    if tries:
        log.info("db.waited_for_connection", tries=tries)


async def _connect(session: AsyncSession, gate: SQLiteWriteGate | None, writes: bool) -> None:
    """What a unit of work does before its body runs: see `unit_of_work`."""
    patience = background_wait.get()
    if writes and gate is not None:
        started = asyncio.get_running_loop().time()
        if await gate.connect_writer(session, patience):
            return
        patience -= asyncio.get_running_loop().time() - started
    if patience > 0:
        await _connect_patiently(session, patience)


@asynccontextmanager
async def unit_of_work(
    factory: async_sessionmaker[AsyncSession], *, writes: bool = False
) -> AsyncIterator[AsyncSession]:
    """A short-lived session that commits on success and rolls back on error.

    Request handlers get one per request (`roo.api.deps.DbSession`); long-running work (agent
    runs, WebSockets) opens one per unit of work and never holds one for its lifetime. In
    background work (`background_work`) it first waits for a connection, patiently.

    `writes=True` says the unit of work will write (or lock rows). On SQLite it then waits for
    the database's write turn *before* it checks out its connection, so that the wait holds
    no connection, and keeps the turn until the connection returns to the pool; only if the
    pool has no connection free once the turn is its own does it give the turn back and
    connect as an undeclared unit of work does (the turn at its first write). A unit of work
    waiting for a turn its own asyncio task holds fails at once with `DatabaseBusy`: a declared
    one must not open inside another unit of work of the same task that has written (nor an
    undeclared one write there). After `release_connection` the turn is given back with the
    connection, and the unit's next write takes it again, at that write. On PostgreSQL
    `writes` changes nothing.
    """
    gate = SQLiteWriteGate.of(factory.kw.get("bind")) if writes else None
    async with factory() as session:
        try:
            await _connect(session, gate, writes)
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            session.info.pop(_AFTER_COMMIT, None)
            raise
        for callback in session.info.pop(_AFTER_COMMIT, []):
            await callback()
