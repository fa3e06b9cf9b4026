"""The audit hash chain on a real database: sealing under concurrent writers and sealers (two
engines, as two app instances or processes would have), and verification catching an edited,
deleted, reordered or truncated row written with plain SQL."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from roo.config import load_settings
from roo.db.engine import create_engine, create_session_factory
from roo.db.models import AuditChain, AuditEvent
from roo.security.audit import AuditWriter, ClientInfo
from roo.security.audit_chain import AuditSealer, ChainHeadMissing, seal_loop
from roo.security.audit_verify import ChainReport, verify_chain


async def write_rows(engine: AsyncEngine, count: int, **fields: object) -> None:
    writer = AuditWriter(create_session_factory(engine))
    for i in range(count):
        await writer.write(
            "test.action",
            target=f"thing:{i}",
            client=ClientInfo("192.0.2.1", "pytest"),
            n=i,
            **fields,
        )


async def count(engine: AsyncEngine, *where: object) -> int:
    async with engine.connect() as conn:
        return int(
            await conn.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
        )


async def sealed_chain(engine: AsyncEngine, rows: int = 10) -> ChainReport:
    await write_rows(engine, rows)
    assert await AuditSealer(engine).seal_all() == rows
    report = await verify_chain(engine)
    assert report.ok, report
    assert (report.checked, report.last_seq, report.unsealed) == (rows, rows, 0)
    return report


async def sql(engine: AsyncEngine, *statements: str) -> None:
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def test_rows_are_sealed_in_order_with_linked_hashes(chain_engine: AsyncEngine) -> None:
    await sealed_chain(chain_engine, 5)
    async with chain_engine.connect() as conn:
        rows = (
            await conn.execute(
                select(AuditEvent.chain_seq, AuditEvent.prev_hash, AuditEvent.hash).order_by(
                    AuditEvent.chain_seq
                )
            )
        ).all()
        head = (await conn.execute(select(AuditChain))).one()
    assert [r.chain_seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == "0" * 64
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash
    assert (head.last_seq, head.last_hash) == (5, rows[-1].hash)
    # Nothing left: sealing again changes nothing
    assert await AuditSealer(chain_engine).seal_all() == 0


async def test_concurrent_writers_and_sealers_of_two_engines_keep_one_valid_chain(
    chain_url: str, chain_engine: AsyncEngine
) -> None:
    other = create_engine(load_settings(env="test", database_url=chain_url))
    try:
        stop = asyncio.Event()

        async def keep_sealing(engine: AsyncEngine) -> None:
            sealer = AuditSealer(engine, batch=7)  # small batches: many turns to interleave
            while not stop.is_set():
                await sealer.seal_all()
                await asyncio.sleep(0)

        sealers = [
            asyncio.create_task(keep_sealing(e)) for e in (chain_engine, other, chain_engine)
        ]
        await asyncio.gather(
            *(write_rows(e, 15, writer=w) for w, e in enumerate([chain_engine, other] * 4))
        )
        stop.set()
        await asyncio.gather(*sealers)
        await AuditSealer(other).seal_all()
    finally:
        await other.dispose()
    report = await verify_chain(chain_engine)
    assert report.ok, report
    assert report.checked == report.last_seq == 120
    assert report.unsealed == 0
    assert await count(chain_engine, AuditEvent.chain_seq.is_(None)) == 0


async def test_an_edited_row_is_named(chain_engine: AsyncEngine) -> None:
    await sealed_chain(chain_engine)
    await sql(chain_engine, "UPDATE audit_events SET outcome = 'failure' WHERE chain_seq = 4")
    report = await verify_chain(chain_engine)
    assert not report.ok
    assert report.bad_seq == 4
    assert "edited" in (report.problem or "")


async def test_an_edited_detail_is_named(chain_engine: AsyncEngine) -> None:
    await sealed_chain(chain_engine)
    async with chain_engine.begin() as conn:
        await conn.execute(
            update(AuditEvent).where(AuditEvent.chain_seq == 7).values(detail={"n": 70})
        )
    report = await verify_chain(chain_engine)
    assert (report.ok, report.bad_seq) == (False, 7)


async def test_a_deleted_row_is_named(chain_engine: AsyncEngine) -> None:
    await sealed_chain(chain_engine)
    await sql(chain_engine, "DELETE FROM audit_events WHERE chain_seq = 5")
    report = await verify_chain(chain_engine)
    assert (report.ok, report.bad_seq) == (False, 5)
    assert "missing" in (report.problem or "")


async def test_a_deleted_row_renumbered_away_is_named(chain_engine: AsyncEngine) -> None:
    await sealed_chain(chain_engine)
    await sql(
        chain_engine,
        "DELETE FROM audit_events WHERE chain_seq = 5",
        # through negative numbers: PostgreSQL checks the unique index row by row, in the
        # heap's order, so a one-step shift collides whenever a later row comes first
        "UPDATE audit_events SET chain_seq = 1 - chain_seq WHERE chain_seq > 5",
        "UPDATE audit_events SET chain_seq = -chain_seq WHERE chain_seq < 0",
        "UPDATE audit_chain SET last_seq = last_seq - 1",
    )
    report = await verify_chain(chain_engine)
    assert (report.ok, report.bad_seq) == (False, 5)
    assert "prev_hash" in (report.problem or "")


async def test_reordered_rows_are_named(chain_engine: AsyncEngine) -> None:
    await sealed_chain(chain_engine)
    await sql(
        chain_engine,
        "UPDATE audit_events SET chain_seq = -1 WHERE chain_seq = 3",
        "UPDATE audit_events SET chain_seq = 3 WHERE chain_seq = 6",
        "UPDATE audit_events SET chain_seq = 6 WHERE chain_seq = -1",
    )
    report = await verify_chain(chain_engine)
    assert (report.ok, report.bad_seq) == (False, 3)


async def test_a_truncated_tail_is_named(chain_engine: AsyncEngine) -> None:
    await sealed_chain(chain_engine)
    await sql(chain_engine, "DELETE FROM audit_events WHERE chain_seq >= 8")
    report = await verify_chain(chain_engine)
    assert (report.ok, report.bad_seq) == (False, 8)
    assert "truncated" in (report.problem or "")


async def test_an_unsealed_row_is_sealed_after_the_chain_and_a_gap_stays(
    chain_engine: AsyncEngine,
) -> None:
    """Un-sealing a row (chain_seq back to NULL) to have it sealed again elsewhere leaves its
    position empty."""
    await sealed_chain(chain_engine)
    await sql(
        chain_engine,
        "UPDATE audit_events SET chain_seq = NULL, prev_hash = NULL, hash = NULL "
        "WHERE chain_seq = 2",
    )
    assert await AuditSealer(chain_engine).seal_all() == 1
    report = await verify_chain(chain_engine)
    assert (report.ok, report.bad_seq) == (False, 2)


async def test_a_row_sealed_past_the_head_is_named(chain_engine: AsyncEngine) -> None:
    await sealed_chain(chain_engine)
    await sql(chain_engine, "UPDATE audit_chain SET last_seq = 9")
    report = await verify_chain(chain_engine)
    assert not report.ok
    # the head's hash is the 10th row's, not the 9th's
    assert report.bad_seq == 9


async def test_retention_cut_keeps_a_verifiable_rest(chain_engine: AsyncEngine) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    writer = AuditWriter(create_session_factory(chain_engine))
    async with writer.unit() as db:
        for i in range(6):
            db.add(AuditEvent(id=uuid.uuid4(), at=old + timedelta(seconds=i), action="old.row"))
    await write_rows(chain_engine, 4)
    sealer = AuditSealer(chain_engine)
    assert await sealer.seal_all() == 10
    assert await sealer.cut_before(datetime.now(UTC) - timedelta(days=30)) == 6
    assert await sealer.seal_all() == 0  # the cut's own row was sealed with the cut
    assert await count(chain_engine, AuditEvent.action == "old.row") == 0
    report = await verify_chain(chain_engine)
    assert report.ok, report
    assert (report.first_seq, report.last_seq, report.checked) == (7, 11, 5)
    async with chain_engine.connect() as conn:
        cut = (
            await conn.execute(
                select(AuditEvent.detail, AuditEvent.chain_seq).where(
                    AuditEvent.action == "audit.retention_cut"
                )
            )
        ).one()
        anchor = await conn.scalar(select(AuditChain.anchor_hash))
    assert cut.chain_seq == 11
    assert cut.detail["through_seq"] == 6
    assert cut.detail["anchor_hash"] == anchor
    # Nothing more to cut; tampering after the cut is still caught
    assert await sealer.cut_before(datetime.now(UTC) - timedelta(days=30)) is None
    await sql(chain_engine, "DELETE FROM audit_events WHERE chain_seq = 7")
    assert (await verify_chain(chain_engine)).bad_seq == 7


async def test_rows_deleted_from_the_start_with_a_moved_anchor_are_named(
    chain_engine: AsyncEngine,
) -> None:
    """Deleting the oldest rows and pointing the anchor past them, as a cut would, without a
    retention cut in the chain that records it."""
    await sealed_chain(chain_engine)
    async with chain_engine.begin() as conn:
        third = await conn.scalar(select(AuditEvent.hash).where(AuditEvent.chain_seq == 3))
        await conn.execute(text("DELETE FROM audit_events WHERE chain_seq <= 3"))
        await conn.execute(update(AuditChain).values(anchor_seq=3, anchor_hash=third))
    report = await verify_chain(chain_engine)
    assert (report.ok, report.bad_seq) == (False, 4)
    assert "retention cut" in (report.problem or "")


async def test_verification_reads_in_pages(chain_engine: AsyncEngine) -> None:
    await sealed_chain(chain_engine, 25)
    report = await verify_chain(chain_engine, page=4)
    assert report.ok
    assert report.checked == 25
    await sql(chain_engine, "UPDATE audit_events SET action = 'x' WHERE chain_seq = 22")
    assert (await verify_chain(chain_engine, page=4)).bad_seq == 22


async def test_the_seal_loop_outlives_failing_rounds_and_seals_when_stopped(
    chain_engine: AsyncEngine,
) -> None:
    await write_rows(chain_engine, 3)
    calls = 0
    recovered = asyncio.Event()

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls <= 3:
            raise RuntimeError("database away")
        recovered.set()

    stop = asyncio.Event()
    loop = asyncio.create_task(seal_loop(AuditSealer(chain_engine), 0.001, stop, before_seal=flaky))
    await asyncio.wait_for(recovered.wait(), 30)
    await write_rows(chain_engine, 2)
    stop.set()
    await asyncio.wait_for(loop, 30)
    report = await verify_chain(chain_engine)
    assert report.ok, report
    assert (report.checked, report.unsealed) == (5, 0)


async def test_a_deleted_head_is_named_and_not_recreated_over_sealed_rows(
    chain_engine: AsyncEngine,
) -> None:
    await sealed_chain(chain_engine, 3)
    await sql(chain_engine, "DELETE FROM audit_chain")
    report = await verify_chain(chain_engine)
    assert (report.ok, report.bad_seq) == (False, 1)
    assert "head" in (report.problem or "")
    await write_rows(chain_engine, 1)
    with pytest.raises(ChainHeadMissing):
        await AuditSealer(chain_engine).seal_all()
    assert await count(chain_engine, AuditEvent.chain_seq.is_(None)) == 1


async def test_the_seal_loop_cuts_rows_past_retention(chain_engine: AsyncEngine) -> None:
    old = datetime.now(UTC) - timedelta(days=3)
    async with AuditWriter(create_session_factory(chain_engine)).unit() as db:
        for i in range(4):
            db.add(AuditEvent(id=uuid.uuid4(), at=old + timedelta(seconds=i), action="old.row"))
    await write_rows(chain_engine, 2)
    stop = asyncio.Event()
    rounds = 0

    async def count_rounds() -> None:
        nonlocal rounds
        rounds += 1
        if rounds == 2:  # the first round sealed and cut; stop after the second
            stop.set()

    await asyncio.wait_for(
        seal_loop(
            AuditSealer(chain_engine), 0.001, stop, retention_days=1, before_seal=count_rounds
        ),
        30,
    )
    assert await count(chain_engine, AuditEvent.action == "old.row") == 0
    report = await verify_chain(chain_engine)
    assert report.ok, report
    assert (report.first_seq, report.checked) == (5, 3)  # 2 rows kept, and the cut's row
