"""The engine's behaviour under cancellation: a unit of work cancelled inside its transaction
must not leave the transaction (and on SQLite the file's write lock) behind."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from roo.config import load_settings
from roo.db.engine import create_engine, create_session_factory, unit_of_work


@pytest.fixture
def no_gc() -> Iterator[None]:
    """The garbage collector would free an abandoned connection at some random later time,
    hiding a leak; with it off, what the engine does itself is what the test sees."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(
        load_settings(env="test", database_url=f"sqlite:///{tmp_path / 'cancel.db'}")
    )
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        await conn.execute(text("INSERT INTO counter VALUES (0)"))
    yield engine
    await engine.dispose()


def _write_lock_is_free(path: Path) -> bool:
    """Whether another connection can take SQLite's write lock right now (no waiting)."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return False
    finally:
        conn.close()


@pytest.mark.usefixtures("no_gc")
async def test_a_unit_of_work_cancelled_inside_its_transaction_releases_the_sqlite_write_lock(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    factory = create_session_factory(sqlite_engine)
    wrote = asyncio.Event()

    async def work() -> None:
        async with unit_of_work(factory) as db:
            await db.execute(text("UPDATE counter SET n = n + 1"))  # takes the write lock
            wrote.set()
            await asyncio.Event().wait()  # cancelled while its transaction is open

    job = asyncio.create_task(work())
    await wrote.wait()
    assert not await asyncio.to_thread(_write_lock_is_free, tmp_path / "cancel.db")
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job

    assert await asyncio.to_thread(_write_lock_is_free, tmp_path / "cancel.db")
    # and its write was rolled back, not committed
    async with unit_of_work(factory) as db:
        assert (await db.execute(text("SELECT n FROM counter"))).scalar_one() == 0
