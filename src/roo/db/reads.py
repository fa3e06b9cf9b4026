"""Hot reads: one Core statement on a pooled connection, outside any unit of work.

The request paths that only read (a profile, a page of sessions, one session) make up most of
what clients ask for. Through the ORM and a unit of work, one primary-key read cost ~400 us of
CPU (a Session and its transaction, identity map, instance loading, events), several times the
statement itself (bench/db_path.py); a Core `select` built once, run on a connection taken
just for it, costs well under half of that and returns plain rows. Writes, and reads that must
see a unit of work's own changes or lock what they read, stay in units of work.

On PostgreSQL the connection runs in autocommit (no BEGIN/ROLLBACK round trips around a single
SELECT); SQLite reads outside a transaction anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Executable, RowMapping
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

T = TypeVar("T")


class Reads:
    def __init__(self, engine: AsyncEngine) -> None:
        sync_engine = engine.sync_engine
        self._engine = (
            sync_engine
            if engine.dialect.name == "sqlite"
            else sync_engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    def _all(self, statement: Executable, params: Mapping[str, Any] | None) -> list[RowMapping]:
        with self._engine.connect() as conn:
            return list(conn.execute(statement, params).mappings())

    def _dicts(
        self, statement: Executable, params: Mapping[str, Any] | None
    ) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            result = conn.execute(statement, params)
            keys = tuple(result.keys())
            return [dict(zip(keys, row, strict=True)) for row in result]

    @staticmethod
    async def _read(fetch: Callable[[], T]) -> T:
        # One hand-over to SQLAlchemy's greenlet for connect, execute, fetch and close
        # (AsyncEngine.connect takes three).
        try:
            return await greenlet_spawn(fetch)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            # The database dropped the connection (a restart): a read is safe to run again, on
            # a fresh one (roo.db.engine.IdlePing pings only connections idle for a while).
            return await greenlet_spawn(fetch)

    async def all(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[RowMapping]:
        return await self._read(lambda: self._all(statement, params))

    async def dicts(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The rows as plain dicts, for pydantic to validate a response from: it reads a dict
        natively, where a `RowMapping` costs it several times more (bench/db_path.py)."""
        return await self._read(lambda: self._dicts(statement, params))

    async def first(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> RowMapping | None:
        rows = await self.all(statement, params)
        return rows[0] if rows else None
