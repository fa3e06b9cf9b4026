"""`AuditWriter.write` on a real database: rows written at the same moment share one INSERT and
one commit; every writer returns once its own row is committed; a row that cannot be written
costs no other writer its own; a writer holding SQLite's write turn is refused at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncEngine

from roo.db.engine import create_session_factory, unit_of_work
from roo.db.models import AuditEvent
from roo.db.write_gate import DatabaseBusy, SQLiteWriteGate
from roo.security.audit import AuditWriter, ClientInfo, drain_writes
from roo.security.audit_chain import AuditSealer
from roo.security.audit_verify import verify_chain


@contextmanager
def audit_inserts(engine: AsyncEngine) -> Iterator[list[int]]:
    """The number of rows of each INSERT into audit_events run meanwhile."""
    seen: list[int] = []

    def listener(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS"):
            seen.append(len(parameters) if many else 1)

    event.listen(engine.sync_engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listener)


async def targets(engine: AsyncEngine, prefix: str) -> list[str]:
    async with engine.connect() as conn:
        found = await conn.scalars(
            select(AuditEvent.target).where(AuditEvent.target.startswith(prefix))
        )
        return sorted(t for t in found if t is not None)


async def test_rows_written_at_once_share_one_insert(chain_engine: AsyncEngine) -> None:
    writer = AuditWriter(create_session_factory(chain_engine))
    names = [f"group:{i:02d}" for i in range(20)]
    with audit_inserts(chain_engine) as inserts:
        await asyncio.gather(
            *(
                writer.write("test.group", target=name, client=ClientInfo("192.0.2.7"))
                for name in names
            )
        )
    assert await targets(chain_engine, "group:") == names  # each committed when its call returned
    assert sum(inserts) == 20
    assert len(inserts) <= 2, inserts  # not one transaction a row
    # and they chain like any rows
    assert await AuditSealer(chain_engine).seal_all() == 20
    report = await verify_chain(chain_engine)
    assert report.ok, report
    assert report.checked == 20


async def test_rows_are_inserted_by_core_not_the_orm_s_bulk_insert(
    chain_engine: AsyncEngine,
) -> None:
    sessions = create_session_factory(chain_engine)
    through_the_orm: list[str] = []

    def orm_execute(state: Any) -> None:
        through_the_orm.append(str(state.statement))

    event.listen(sessions.class_.sync_session_class, "do_orm_execute", orm_execute)
    try:
        with audit_inserts(chain_engine) as inserts:
            await AuditWriter(sessions).write("test.core", target="core:1")
    finally:
        event.remove(sessions.class_.sync_session_class, "do_orm_execute", orm_execute)
    assert inserts == [1]
    assert through_the_orm == []
    assert await targets(chain_engine, "core:") == ["core:1"]


async def test_rows_written_one_after_the_other_are_one_insert_each(
    chain_engine: AsyncEngine,
) -> None:
    writer = AuditWriter(create_session_factory(chain_engine))
    with audit_inserts(chain_engine) as inserts:
        for i in range(3):
            await writer.write("test.alone", target=f"alone:{i}")
            assert await targets(chain_engine, "alone:") == [f"alone:{j}" for j in range(i + 1)]
    assert inserts == [1, 1, 1]


async def test_a_row_that_cannot_be_written_fails_only_its_writer(
    chain_engine: AsyncEngine,
) -> None:
    writer = AuditWriter(create_session_factory(chain_engine))
    good = [f"kept:{i}" for i in range(5)]
    results = await asyncio.gather(
        *(writer.write("test.good", target=name) for name in good[:2]),
        writer.write("test.bad", target="bad:0", unserialisable=object()),
        *(writer.write("test.good", target=name) for name in good[2:]),
        return_exceptions=True,
    )
    assert [type(r) for r in results] == [type(None)] * 2 + [StatementError] + [type(None)] * 3
    assert await targets(chain_engine, "kept:") == good
    assert await targets(chain_engine, "bad:") == []


async def test_a_cancelled_writer_s_row_is_committed_before_it_ends(
    chain_engine: AsyncEngine,
) -> None:
    sessions = create_session_factory(chain_engine)
    writer = AuditWriter(sessions)
    others = [
        asyncio.ensure_future(writer.write("test.other", target=f"other:{i}")) for i in range(3)
    ]
    cancelled = asyncio.ensure_future(writer.write("test.cancelled", target="cancelled:0"))
    await asyncio.sleep(0)  # every write has joined a batch
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await targets(chain_engine, "cancelled:") == ["cancelled:0"]
    await asyncio.gather(*others)
    await drain_writes(sessions)
    async with chain_engine.connect() as conn:
        total = await conn.scalar(select(func.count()).select_from(AuditEvent))
    assert total == 4


async def test_a_writer_inside_a_written_transaction_is_refused_at_once_on_sqlite(
    chain_engine: AsyncEngine,
) -> None:
    """On SQLite the caller's own unit of work holds the one write turn the row needs: refused at
    once, nothing written. PostgreSQL's writers take no turns: the row is written on a
    connection of its own while the caller's transaction stays open."""
    sessions = create_session_factory(chain_engine)
    writer = AuditWriter(sessions)
    sqlite = SQLiteWriteGate.of(chain_engine) is not None
    async with unit_of_work(sessions, writes=True) as db:
        await db.execute(AuditEvent.__table__.insert(), {"action": "test.first", "detail": {}})  # type: ignore[attr-defined]
        async with asyncio.timeout(5):  # in this task (wait_for would make one)
            if sqlite:
                with pytest.raises(DatabaseBusy):
                    await writer.write("test.second", target="turn:0")
            else:
                await writer.write("test.second", target="turn:0")
    assert await targets(chain_engine, "turn:") == ([] if sqlite else ["turn:0"])


@pytest.mark.parametrize("turns", [1, 3], ids=["before-it-runs", "while-it-runs"])
async def test_writers_are_not_left_waiting_when_the_flush_itself_is_cancelled(
    chain_engine: AsyncEngine, turns: int
) -> None:
    """The flush cancelled (the loop closing) before it ran or during its INSERT: every writer
    ends (its row written or the write cancelled), and the next write flushes again."""
    sessions = create_session_factory(chain_engine)
    writer = AuditWriter(sessions)
    writes = [asyncio.ensure_future(writer.write("test.w", target=f"w:{i}")) for i in range(3)]
    for _ in range(turns):
        await asyncio.sleep(0)
    flushes = [t for t in asyncio.all_tasks() if t.get_name() == "roo.audit.flush"]
    assert len(flushes) == 1
    flushes[0].cancel()
    async with asyncio.timeout(5):
        results = await asyncio.gather(*writes, return_exceptions=True)
    assert all(r is None or isinstance(r, asyncio.CancelledError) for r in results), results
    if turns == 1:
        assert all(isinstance(r, asyncio.CancelledError) for r in results), results
    # and the next write starts a flush of its own
    await writer.write("test.after", target="after:0")
    assert await targets(chain_engine, "after:") == ["after:0"]
