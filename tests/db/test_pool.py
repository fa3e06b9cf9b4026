"""The connection pool and, on SQLite, the write gate: writers of a process take turns on an
asyncio lock (first come, first served), readers never wait for them, a locking read counts as
a write, a unit of work declared to write waits for its turn holding no connection, an
impossible wait ends in DatabaseBusy (not a hang), and the hold watch says who holds a
connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select, text, update
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine
from structlog.testing import capture_logs

from roo.config import load_settings
from roo.db.engine import (
    DatabaseBusy,
    IdlePing,
    background_work,
    create_engine,
    create_session_factory,
    log_connection_holders,
    release_connection,
    unit_of_work,
)
from roo.db.reads import Reads
from roo.db.write_gate import SQLiteWriteGate

counter = Table("counter", MetaData(), Column("n", Integer, nullable=False))


async def _engine(url: str, **settings: object) -> AsyncEngine:
    engine = create_engine(load_settings(env="test", database_url=url, **settings))
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS counter"))
        await conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        await conn.execute(text("INSERT INTO counter VALUES (0)"))
    return engine


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await _engine(f"sqlite:///{tmp_path / 'gate.db'}", db_pool_timeout=1.0)
    yield engine
    await engine.dispose()


async def test_locking_reads_take_turns_so_no_increment_is_lost(
    sqlite_engine: AsyncEngine,
) -> None:
    """Read-modify-write under `FOR UPDATE` (which SQLite cannot express): without the gate two
    units of work read the same value and one increment is lost."""
    factory = create_session_factory(sqlite_engine)

    async def increment() -> None:
        async with unit_of_work(factory) as db:
            n = (await db.execute(select(counter.c.n).with_for_update())).scalar_one()
            await asyncio.sleep(0.01)  # the other one reads meanwhile, without the gate
            await db.execute(update(counter).values(n=n + 1))

    await asyncio.gather(*(increment() for _ in range(10)))

    async with unit_of_work(factory) as db:
        assert (await db.execute(select(counter.c.n))).scalar_one() == 10


async def test_readers_do_not_wait_for_a_writer(sqlite_engine: AsyncEngine) -> None:
    factory = create_session_factory(sqlite_engine)
    wrote, done = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with unit_of_work(factory) as db:
            await db.execute(update(counter).values(n=1))
            wrote.set()
            await done.wait()

    job = asyncio.create_task(writer())
    await wrote.wait()
    async with unit_of_work(factory) as db:  # the writer holds the gate; a read goes through
        assert (await db.execute(select(counter.c.n))).scalar_one() == 0
    done.set()
    await job


async def test_a_writer_waiting_on_itself_gets_database_busy_not_a_hang(
    sqlite_engine: AsyncEngine,
) -> None:
    """A unit of work that writes, then waits on a second one of its own that writes: with
    SQLite's lock alone that is a 5 s busy wait; with an asyncio lock alone, a hang."""
    factory = create_session_factory(sqlite_engine)
    async with unit_of_work(factory) as outer:
        await outer.execute(update(counter).values(n=1))
        with pytest.raises(DatabaseBusy):
            async with unit_of_work(factory) as inner:
                await inner.execute(update(counter).values(n=2))
    async with unit_of_work(factory) as db:  # and the gate was given back
        await db.execute(update(counter).values(n=3))
        assert (await db.execute(select(counter.c.n))).scalar_one() == 3


async def test_a_core_connection_gives_the_write_turn_back_at_its_commit(
    sqlite_engine: AsyncEngine,
) -> None:
    """The turn ends with the transaction, not with the connection: SQLAlchemy returns a Core
    connection (`engine.begin()`, the audit sealer's) to the pool a loop iteration after its
    commit, and a turn held over that iteration queued every writer arriving meanwhile. Here a
    unit of work of the same task writes while the committed connection is still open (it was
    DatabaseBusy: the task's own turn)."""
    factory = create_session_factory(sqlite_engine)
    async with sqlite_engine.connect() as conn:
        await conn.execute(update(counter).values(n=1))
        await conn.commit()
        async with unit_of_work(factory) as db:
            await db.execute(update(counter).values(n=2))
        await conn.execute(update(counter).values(n=3))  # its next transaction takes it again
        with pytest.raises(DatabaseBusy):
            async with unit_of_work(factory) as db:
                await db.execute(update(counter).values(n=4))
        await conn.rollback()  # a rollback gives it back too
        async with unit_of_work(factory) as db:
            await db.execute(update(counter).values(n=5))
    async with unit_of_work(factory) as db:
        assert (await db.execute(select(counter.c.n))).scalar_one() == 5


async def test_background_work_waits_past_the_timeout_for_another_tasks_write_turn(
    sqlite_engine: AsyncEngine,
) -> None:
    """The gate's timeout (1 s here) answers a request 503; background work waits its turn."""
    factory = create_session_factory(sqlite_engine)
    wrote, done = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with unit_of_work(factory) as db:
            await db.execute(update(counter).values(n=1))
            wrote.set()
            await asyncio.sleep(1.5)
        done.set()

    async def background() -> bool:
        background_work(30.0)
        async with unit_of_work(factory) as db:
            await db.execute(update(counter).values(n=2))
        return done.is_set()

    job = asyncio.create_task(holder())
    await wrote.wait()
    with pytest.raises(DatabaseBusy):  # a request's unit of work gives up after 1 s
        async with unit_of_work(factory) as db:
            await db.execute(update(counter).values(n=3))
    assert await asyncio.create_task(background())  # wrote after the holder let go
    await job
    async with unit_of_work(factory) as db:
        assert (await db.execute(select(counter.c.n))).scalar_one() == 2


async def test_background_work_waiting_on_its_own_write_turn_fails_at_once(
    sqlite_engine: AsyncEngine,
) -> None:
    """Patience must not turn a self-deadlock into a long hang."""
    factory = create_session_factory(sqlite_engine)

    async def nested() -> float:
        background_work(300.0)
        loop = asyncio.get_running_loop()
        async with unit_of_work(factory) as outer:
            await outer.execute(update(counter).values(n=1))
            started = loop.time()
            with pytest.raises(DatabaseBusy):
                async with unit_of_work(factory) as inner:
                    await inner.execute(update(counter).values(n=2))
            return loop.time() - started

    assert await asyncio.wait_for(asyncio.create_task(nested()), 10) < 1.0


async def test_background_writers_waiting_for_the_turn_leave_the_pool_to_readers(
    tmp_path: Path,
) -> None:
    """Background writers wait long for the write turn; a declared one (`writes=True`) waits
    for it before it takes a connection, so however many wait, a read finds one. Waiting at
    their first write, connection in hand, two of them took this pool of three and the read
    timed out."""
    engine = await _engine(f"sqlite:///{tmp_path / 'turns.db'}", db_pool_max=3, db_pool_timeout=0.5)
    factory = create_session_factory(engine)
    gate = SQLiteWriteGate.of(engine)
    assert gate is not None
    wrote, done = asyncio.Event(), asyncio.Event()

    async def holder() -> None:  # holds the turn (and one connection) for long
        async with unit_of_work(factory, writes=True) as db:
            await db.execute(update(counter).values(n=counter.c.n + 1))
            wrote.set()
            await done.wait()

    async def background_writer() -> None:
        background_work(30.0)
        async with unit_of_work(factory, writes=True) as db:
            n = (await db.execute(select(counter.c.n).with_for_update())).scalar_one()
            await db.execute(update(counter).values(n=n + 1))

    try:
        hold = asyncio.create_task(holder())
        await wrote.wait()
        writers = [asyncio.create_task(background_writer()) for _ in range(4)]
        async with asyncio.timeout(10):  # as many as the pool has connections left, or more
            while True:
                if gate.waiting() >= 2:
                    break
                await asyncio.sleep(0.01)
        async with unit_of_work(factory) as db:  # a request that reads gets a connection
            assert (await db.execute(select(counter.c.n))).scalar_one() == 0
        assert await Reads(engine).dicts(select(counter.c.n)) == [{"n": 0}]
        done.set()
        await asyncio.gather(hold, *writers)
        async with unit_of_work(factory) as db:
            assert (await db.execute(select(counter.c.n))).scalar_one() == 5
    finally:
        done.set()
        await engine.dispose()


async def test_a_declared_writer_finding_the_pool_full_gives_the_turn_back(
    tmp_path: Path,
) -> None:
    """Holding the turn while waiting for a connection would deadlock with a unit of work that
    holds the connection and waits for the turn at its first write (here until the pool
    timeout, then DatabaseBusy): the declared writer gives the turn back and waits for a
    connection as any unit of work does."""
    engine = await _engine(f"sqlite:///{tmp_path / 'full.db'}", db_pool_max=1, db_pool_timeout=1.0)
    factory = create_session_factory(engine)
    gate = SQLiteWriteGate.of(engine)
    assert gate is not None
    connected = asyncio.Event()

    async def declared() -> None:
        background_work(30.0)
        async with unit_of_work(factory, writes=True) as db:
            connected.set()
            await db.execute(update(counter).values(n=counter.c.n + 10))

    try:
        async with unit_of_work(factory) as db:  # the only connection
            assert (await db.execute(select(counter.c.n))).scalar_one() == 0
            job = asyncio.create_task(declared())
            await asyncio.sleep(0.05)  # it found the turn free and the pool empty
            assert not gate.taken()  # and gave the turn back
            assert not connected.is_set()
            await db.execute(update(counter).values(n=counter.c.n + 1))  # the turn is free
        await job
        async with unit_of_work(factory) as db:
            assert (await db.execute(select(counter.c.n))).scalar_one() == 11
    finally:
        await engine.dispose()


async def test_a_declared_writer_waiting_on_its_own_write_turn_fails_at_once(
    sqlite_engine: AsyncEngine,
) -> None:
    factory = create_session_factory(sqlite_engine)

    async def nested() -> None:
        background_work(300.0)
        async with unit_of_work(factory, writes=True) as outer:
            await outer.execute(update(counter).values(n=1))
            with pytest.raises(DatabaseBusy):
                async with unit_of_work(factory, writes=True):
                    pass

    await asyncio.wait_for(asyncio.create_task(nested()), 10)
    async with unit_of_work(factory, writes=True) as db:  # and the turn was given back
        await db.execute(update(counter).values(n=2))


async def test_declaring_writes_changes_nothing_without_a_write_gate(
    database_url: str,
) -> None:
    """PostgreSQL has no write turn (nor does a session bound to nothing the gate knows): a
    declared unit of work is an ordinary one. On SQLite the run's database takes turns."""
    engine = create_engine(load_settings(env="test", database_url=database_url, db_pool_max=2))
    factory = create_session_factory(engine)
    try:
        assert (SQLiteWriteGate.of(engine) is None) == database_url.startswith("postgresql")
        async with unit_of_work(factory, writes=True) as db:
            assert (await db.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_release_gives_the_connection_back_before_a_wait(
    sqlite_engine: AsyncEngine,
) -> None:
    factory = create_session_factory(sqlite_engine)
    async with unit_of_work(factory) as db:
        await db.execute(update(counter).values(n=1))
        await release_connection(db)
        # committed, and another unit of work can write while this one waits on something
        async with unit_of_work(factory) as other:
            assert (await other.execute(select(counter.c.n))).scalar_one() == 1
            await other.execute(update(counter).values(n=2))
        assert (await db.execute(select(counter.c.n))).scalar_one() == 2


async def test_a_dry_pool_times_out_in_the_configured_time_and_the_watch_names_holders(
    tmp_path: Path,
) -> None:
    engine = await _engine(
        f"sqlite:///{tmp_path / 'pool.db'}",
        db_pool_max=1,
        db_pool_timeout=0.2,
        db_hold_warn_seconds=0.05,
    )
    factory = create_session_factory(engine)
    try:
        with capture_logs() as logs:
            async with unit_of_work(factory) as holder:
                await holder.execute(select(counter.c.n))  # takes the only connection
                with pytest.raises(PoolTimeout):
                    async with unit_of_work(factory) as db:
                        await db.execute(select(counter.c.n))
                log_connection_holders()
                await asyncio.sleep(0.06)
        holders = [entry for entry in logs if entry["event"] == "db.connection_holder"]
        held = [entry for entry in logs if entry["event"] == "db.connection_held"]
        assert holders, logs
        assert any("test_pool.py" in frame for frame in holders[0]["checked_out_at"]), holders
        assert held
        assert held[0]["seconds"] >= 0.05
    finally:
        await engine.dispose()


async def test_only_a_connection_idle_in_the_pool_is_pinged_and_a_failed_ping_replaces_it(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IdlePing (PostgreSQL's engines; installed here on the run's database, whichever): no
    ping for a connection used moments ago, one after it sat idle, and a connection whose ping
    fails is discarded for a fresh one, so the read still answers."""
    engine = create_engine(load_settings(env="test", database_url=database_url, db_pool_max=1))
    IdlePing(0.2).install(engine)
    dialect = engine.sync_engine.dialect
    pings: list[bool] = []
    failing = [False]
    real_ping = dialect.do_ping

    def ping(dbapi_connection: object) -> bool:
        pings.append(failing[0])
        if failing[0]:
            failing[0] = False
            raise ConnectionError("the database dropped it")
        return bool(real_ping(dbapi_connection))

    monkeypatch.setattr(dialect, "do_ping", ping)
    reads = Reads(engine)
    statement = select(text("1 AS n"))
    try:
        assert await reads.dicts(statement) == [{"n": 1}]  # a new connection: no ping
        assert await reads.dicts(statement) == [{"n": 1}]  # used moments ago: no ping
        assert pings == []
        await asyncio.sleep(0.25)
        assert await reads.dicts(statement) == [{"n": 1}]
        assert pings == [False]
        await asyncio.sleep(0.25)
        failing[0] = True
        assert await reads.dicts(statement) == [{"n": 1}]  # discarded, a fresh one answers
        assert pings == [False, True]
    finally:
        await engine.dispose()
