"""The async engine and session factory, built from settings and owned by the app lifespan."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from roo.config import Settings


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for memory databases and other backends."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


class _SQLiteConnection(sqlite3.Connection):
    """A SQLite connection that rolls back its open transaction when it is closed.

    When a statement is cancelled (a task cancelled while it waits on the database), SQLAlchemy
    closes the connection without a rollback, and `sqlite3` only asks SQLite to close it: while
    a prepared statement of it is still referenced (by the cancelled call's traceback), SQLite
    keeps it open as a zombie, transaction and write lock included, until the garbage collector
    happens to free that statement. Every other writer waits out its busy timeout meanwhile.
    """

    def close(self) -> None:
        if self.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.rollback()
        super().close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers work while a writer commits; foreign keys are off by default in SQLite;
    # busy_timeout makes concurrent writers wait instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(settings: Settings) -> AsyncEngine:
    """Create the engine for `settings.db_url`.

    PostgreSQL: a queue pool keeping `db_pool_min` connections and growing to `db_pool_max`.
    SQLite: the file's directory is created; pool sizes do not apply (one file, WAL mode).
    """
    url = settings.db_url
    kwargs: dict[str, Any] = {"echo": settings.db_echo}
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"factory": _SQLiteConnection}
    else:
        kwargs.update(
            pool_size=max(settings.db_pool_min, 1),
            max_overflow=max(settings.db_pool_max - max(settings.db_pool_min, 1), 0),
            pool_pre_ping=True,
            pool_recycle=1800,
        )
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


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


@asynccontextmanager
async def unit_of_work(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A short-lived session that commits on success and rolls back on error.

    Request handlers get one per request (`roo.api.deps.DbSession`); long-running work (agent
    runs, WebSockets) opens one per unit of work and never holds one for its lifetime.
    """
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            session.info.pop(_AFTER_COMMIT, None)
            raise
        for callback in session.info.pop(_AFTER_COMMIT, []):
            await callback()
