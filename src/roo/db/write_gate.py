"""SQLite's one write turn per database file, shared by the writers of this process.

`roo.db.engine` installs the gate on SQLite engines; `unit_of_work(..., writes=True)` takes the
turn before its connection (`SQLiteWriteGate.connect_writer`), any other unit of work at its
first write.
"""

from __future__ import annotations

import asyncio
import weakref
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import QueuePool

from roo.db.sqlite_inline import InlineConnection
from roo.kit.logs import get_logger

log = get_logger("roo.db")

# Set by `roo.db.engine.background_work`: how long this asyncio task's units of work wait for a
# connection and for the write turn
background_wait: ContextVar[float] = ContextVar("roo.db.background_wait", default=0.0)


class DatabaseBusy(Exception):
    """No connection (or, on SQLite, no turn to write) within the pool timeout: the service
    is overloaded. Answered 503 with Retry-After."""


@dataclass(eq=False)
class _Turn:
    """The write turn of one database file in one event loop."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    owner: asyncio.Task[Any] | None = None  # the asyncio task whose unit of work holds it
    waiting: int = 0  # units of work waiting for it


class SQLiteWriteGate:
    """SQLite has one writer at a time per file. Left to itself, a writer that finds the file
    locked polls it in SQLite's busy handler (sleeps of up to 100 ms between tries): unfair,
    late, and with statements run in the loop's thread (`roo.db.sqlite_inline`) it would stall
    the whole process. So the writers of this process take turns on an asyncio lock per
    database file instead: first come, first served, handed over the moment the previous
    writer's transaction ends; SQLite's own lock then never makes them wait.

    A connection takes the turn before its first write (INSERT, UPDATE, DELETE, DDL, or a
    `SELECT ... FOR UPDATE`, which SQLite cannot express but the gate can honour) and gives it
    back as soon as its transaction ends (commit or rollback; at the latest when it returns to
    the pool). Not later: SQLAlchemy returns a Core connection (`engine.begin()`) to the pool in
    a task of its own, a loop iteration after its commit; a turn held over that iteration made
    every writer arriving meanwhile queue behind it, each then handed the turn one iteration
    after the other, with its pooled connection held while it waited (bench/README.md,
    security_overhead: the audit sealer's transaction started such queues). Reads never take it
    (WAL: readers are not blocked by the writer). Engines of one process on one file share the
    gate. A wait longer than `timeout` (or, in background work, `background_wait`) raises
    DatabaseBusy; a unit of work that would wait for the turn its own asyncio task holds (a
    writer waiting on a second unit of work of its own) raises it at once.

    A unit of work that waits for the turn at its first write waits with its pooled connection
    checked out: many such waits (background work waits long) would take the whole pool from
    requests that only read. A unit of work known to write therefore takes the turn *before*
    its connection (`connect_writer`) and waits holding nothing.
    """

    _KEY = "roo.write_gate"
    _WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "ALTER", "DROP")
    # per event loop (tests run several), per database file
    _turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Turn]] = (
        weakref.WeakKeyDictionary()
    )
    # the gate of each SQLite engine
    _gates: weakref.WeakKeyDictionary[Engine, SQLiteWriteGate] = weakref.WeakKeyDictionary()

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = str(path.resolve())
        self.timeout = timeout

    def install(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "before_cursor_execute", self._before_execute)
        event.listen(engine.sync_engine.pool, "checkin", self._checkin)
        event.listen(engine.sync_engine.pool, "invalidate", self._checkin)
        self._gates[engine.sync_engine] = self

    @classmethod
    def of(cls, engine: AsyncEngine | None) -> SQLiteWriteGate | None:
        """The gate of `engine`; None for PostgreSQL (its writers do not take turns)."""
        return None if engine is None else cls._gates.get(engine.sync_engine)

    def waiting(self) -> int:
        """How many units of work of this event loop wait for the turn now."""
        return self._turn().waiting

    def taken(self) -> bool:
        """Whether a unit of work of this event loop holds the turn now."""
        return self._turn().lock.locked()

    def held_by_current_task(self) -> bool:
        """Whether a unit of work of the calling asyncio task holds the turn now: anything it
        waits for that needs the turn would wait for itself."""
        turn = self._turn()
        return turn.lock.locked() and turn.owner is asyncio.current_task()

    def _turn(self) -> _Turn:
        by_path = self._turns.setdefault(asyncio.get_running_loop(), {})
        turn = by_path.get(self.path)
        if turn is None:
            turn = by_path[self.path] = _Turn()
        return turn

    # -- a unit of work known to write: the turn first, then a connection -----------------------

    async def connect_writer(self, session: AsyncSession, patience: float) -> bool:
        """Take the write turn, then check out `session`'s connection, which holds the turn
        until its transaction ends. Waits for the turn up to `max(timeout, patience)`
        seconds (then DatabaseBusy), holding no connection meanwhile.

        When the pool has no connection free once the turn is ours, the turn is given back at
        once rather than held while waiting for one: the pool may be full of units of work
        that wait for the turn at their first write, which would then wait for each other.
        False then: nothing is checked out, the caller connects as any unit of work does and
        its first write takes the turn.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(self.timeout, patience)
        while True:
            turn = self._turn()
            await self._acquire(turn, max(deadline - loop.time(), 0.0))
            if not self._pool_has_room(session):
                self._release(turn)
                return False
            try:
                connection = await session.connection()
            except PoolTimeout:
                # another unit of work took the free connection first
                self._release(turn)
                await session.rollback()
                if loop.time() >= deadline:
                    raise
                continue
            except BaseException:
                self._release(turn)
                raise
            # the pooled connection's info: the turn goes back when its transaction ends, at the
            # latest with the connection (_checkin)
            raw = await connection.get_raw_connection()
            self._hold(connection.info, raw.driver_connection, turn)
            return True

    @staticmethod
    def _pool_has_room(session: AsyncSession) -> bool:
        pool = session.get_bind().engine.pool  # the pool now (disposing replaces it)
        # create_engine gives the pool no overflow: pool_size is the ceiling
        return not isinstance(pool, QueuePool) or pool.checkedout() < pool.size()

    # -- any other unit of work: the turn at its first write -------------------------------------

    @classmethod
    def _writes(cls, statement: str, context: Any) -> bool:
        if context is not None and (context.isinsert or context.isupdate or context.isdelete):
            return True
        compiled = getattr(context, "compiled", None)
        if getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None:
            return True
        return statement.lstrip()[:8].upper().startswith(cls._WRITES)

    def _before_execute(
        self,
        conn: Any,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        context: Any,
        _executemany: bool,
    ) -> None:
        info = conn.info  # the pooled connection's: it lives until the connection is returned
        if info.get(self._KEY) or not self._writes(statement, context):
            return
        turn = self._turn()
        timeout = max(self.timeout, background_wait.get())
        conn.connection.dbapi_connection.run_async(lambda _driver: self._acquire(turn, timeout))
        self._hold(info, conn.connection.driver_connection, turn)

    def _hold(self, info: dict[str, Any], driver: Any, turn: _Turn) -> None:
        """`turn`, just taken, is the connection's (`info`) until its transaction ends."""
        info[self._KEY] = turn
        if isinstance(driver, InlineConnection):
            driver.on_transaction_end(lambda: self._give_back(info))

    # -- taking and giving back ------------------------------------------------------------------

    async def _acquire(self, turn: _Turn, seconds: float) -> None:
        me = asyncio.current_task()
        if turn.lock.locked() and turn.owner is me:
            # a unit of work writing while another of the same asyncio task holds the turn
            # would wait for itself: fail at once (it would otherwise wait out the timeout,
            # which for background work is long)
            raise DatabaseBusy("a unit of work waits for the write turn its own task holds")
        turn.waiting += 1
        try:
            async with asyncio.timeout(seconds):
                await turn.lock.acquire()
        except TimeoutError:
            raise DatabaseBusy(
                f"no turn to write to the database within {seconds:g} s "
                f"({turn.waiting - 1} other units of work waiting)"
            ) from None
        finally:
            turn.waiting -= 1
        turn.owner = me

    @staticmethod
    def _release(turn: _Turn) -> None:
        turn.owner = None
        turn.lock.release()

    def _checkin(self, _dbapi_connection: Any, record: Any, *_exc: Any) -> None:
        if record is not None:
            self._give_back(record.info)

    def _give_back(self, info: dict[str, Any]) -> None:
        turn = info.pop(self._KEY, None)
        if turn is not None:
            self._release(turn)
