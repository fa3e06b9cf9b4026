"""SQLite for SQLAlchemy's asyncio engine without a thread hop per call.

SQLAlchemy's `sqlite+aiosqlite` dialect runs every DBAPI call through aiosqlite, which gives
each connection a thread and sends it every call: a statement is four hops (open a cursor,
execute, fetch, close), each a thread wake-up, a GIL hand-over and an event-loop turn. For the
small statements of this service a hop costs far more than the statement, and a transaction
spans several loop turns: under load, writers queue behind a write lock held across all of
them.

`connect` gives the dialect an object with aiosqlite's interface whose coroutines do the
`sqlite3` call right away and never suspend, so a unit of work's statements run in the event
loop's own thread. The price: a statement blocks the loop while it runs (tenths of a millisecond
for what the service does; the slow ones, workspace walks and the like, are not SQL), and
SQLite's busy wait would too, which is why only one process writes a database file (the
embedded mode) and the writers of that process take turns on `roo.db.write_gate` before SQLite's
lock could ever make them wait. docs/architecture.md says why.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Self


class InlineCursor:
    """aiosqlite's Cursor interface over a `sqlite3.Cursor`, each call done at once."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Self:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Self:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    """aiosqlite's Connection interface over a `sqlite3.Connection`, each call done at once.

    `_conn` and `_connection` are the names SQLAlchemy's aiosqlite adapter reads.
    `on_transaction_end` registers a callback run once the open transaction has ended (commit,
    rollback or close): the write gate gives the write turn back there, not when the connection
    returns to the pool, which for a Core connection is a loop iteration later (SQLAlchemy
    closes it in a task of its own)."""

    __slots__ = ("_conn", "_connection", "_on_end")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._connection: sqlite3.Connection | None = conn
        self._on_end: Callable[[], None] | None = None

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._live().cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        cursor = self.cursor()
        return await cursor.execute(sql, parameters)

    async def commit(self) -> None:
        self._live().commit()
        self._ended()

    async def rollback(self) -> None:
        self._live().rollback()
        self._ended()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's terminate of an invalidated connection)."""
        if self._connection is not None:
            self._connection = None
            self._conn.close()  # rolls back what is open (roo.db.engine._SQLiteConnection)
        self._ended()

    def on_transaction_end(self, callback: Callable[[], None]) -> None:
        """Run `callback` (once) when the open transaction ends."""
        self._on_end = callback

    def _ended(self) -> None:
        callback, self._on_end = self._on_end, None
        if callback is not None:
            callback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._live().create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: Any) -> None:
        self._conn.isolation_level = value

    def _live(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("Connection closed")
        return self._connection


def connector(path: str, factory: type[sqlite3.Connection]) -> Callable[[], Any]:
    """An `async_creator` for `create_async_engine`: connections to the file at `path`."""

    async def connect() -> InlineConnection:
        # check_same_thread off: the garbage collector may close an abandoned connection from
        # another thread; the service itself only ever uses a connection from the loop's thread
        conn = sqlite3.connect(path, factory=factory, check_same_thread=False)
        return InlineConnection(conn)

    return connect
