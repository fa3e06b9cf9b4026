"""Verifying the audit trail's hash chain (`roo.security.audit_chain` builds it).

`verify_chain` walks the chain by position, a page at a time, and names the first position that
does not hold: an edited row (its hash), a deleted or reordered one (a gap, or a `prev_hash` that
is not the previous row's hash), a truncated tail (the head names positions that are gone), rows
sealed past the head, an anchor no retention cut in the chain records.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from roo.db.models.audit import GENESIS_HASH
from roo.security.audit_chain import HEAD_ID, RETENTION_CUT, chain, events, hashed_columns, row_hash

VERIFY_PAGE = 1000


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What `verify_chain` found. `bad_seq` is the first position that does not hold."""

    ok: bool
    checked: int
    first_seq: int
    last_seq: int
    last_hash: str
    unsealed: int
    bad_seq: int | None = None
    problem: str | None = None


async def _head(engine: AsyncEngine) -> RowMapping | None:
    async with engine.connect() as conn:
        return (await conn.execute(select(chain).where(chain.c.id == HEAD_ID))).mappings().first()


async def _anchor_vouched(engine: AsyncEngine, anchor_seq: int, anchor_hash: str) -> bool:
    """Whether the last retention cut sealed after the anchor records this anchor."""
    async with engine.connect() as conn:
        detail = await conn.scalar(
            select(events.c.detail)
            .where(events.c.action == RETENTION_CUT, events.c.chain_seq > anchor_seq)
            .order_by(events.c.chain_seq.desc())
            .limit(1)
        )
    return (
        isinstance(detail, dict)
        and detail.get("through_seq") == anchor_seq
        and detail.get("anchor_hash") == anchor_hash
    )


async def verify_chain(engine: AsyncEngine, page: int = VERIFY_PAGE) -> ChainReport:
    """Walk the chain from its anchor to its head, `page` rows per statement (memory bounded
    by one page), and report the first position that does not hold. Rows sealed while it runs
    (past the head it read first) are left for the next verification; a retention cut made
    while it runs (the anchor moved) makes it start over once."""
    report, anchor = await _verify(engine, page)
    if not report.ok:
        now = await _head(engine)
        if now is not None and int(now["anchor_seq"]) != anchor:
            report, _ = await _verify(engine, page)
    return report


async def _verify(engine: AsyncEngine, page: int) -> tuple[ChainReport, int]:
    """One walk (`verify_chain`), and the anchor position it started from."""
    head = await _head(engine)
    report = await _walk(engine, page, head)
    return report, int(head["anchor_seq"]) if head is not None else 0


async def _walk(engine: AsyncEngine, page: int, head: RowMapping | None) -> ChainReport:
    async with engine.connect() as conn:
        unsealed = int(
            await conn.scalar(
                select(func.count()).select_from(events).where(events.c.chain_seq.is_(None))
            )
            or 0
        )
    if head is None:
        async with engine.connect() as conn:
            any_sealed = await conn.scalar(select(func.max(events.c.chain_seq)))
        if any_sealed is None:
            return ChainReport(True, 0, 1, 0, GENESIS_HASH, unsealed)
        return ChainReport(
            False, 0, 1, 0, GENESIS_HASH, unsealed, 1, "the chain's head row is missing"
        )
    last_seq, last_hash = int(head["last_seq"]), str(head["last_hash"])
    first = int(head["anchor_seq"]) + 1
    expected, prev = first, str(head["anchor_hash"])
    checked = 0

    def broken(position: int, problem: str) -> ChainReport:
        return ChainReport(False, checked, first, last_seq, last_hash, unsealed, position, problem)

    while expected <= last_seq:
        async with engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        select(
                            *hashed_columns, events.c.chain_seq, events.c.prev_hash, events.c.hash
                        )
                        .where(events.c.chain_seq >= expected, events.c.chain_seq <= last_seq)
                        .order_by(events.c.chain_seq)
                        .limit(page)
                    )
                )
                .mappings()
                .all()
            )
        if not rows:
            return broken(
                expected,
                f"positions {expected} to {last_seq} are missing: the chain's head names "
                f"position {last_seq} (the tail was truncated)",
            )
        for row in rows:
            seq = int(row["chain_seq"])
            if seq != expected:
                return broken(
                    expected, f"position {expected} is missing (a row was deleted or moved)"
                )
            if row["prev_hash"] != prev:
                return broken(
                    expected,
                    "its prev_hash is not the hash of the row before "
                    "(a row was deleted, reordered or inserted)",
                )
            if row_hash(row, seq, prev) != row["hash"]:
                return broken(expected, "its hash does not match its content (the row was edited)")
            prev = str(row["hash"])
            expected += 1
            checked += 1
    if prev != last_hash:
        return broken(last_seq, "the chain's head records another hash for its last position")
    if first > 1 and not await _anchor_vouched(engine, first - 1, str(head["anchor_hash"])):
        return broken(
            first,
            f"the chain starts after position {first - 1}, but no retention cut in it "
            "records that position and hash (rows were deleted from the start)",
        )
    async with engine.connect() as conn:
        past = await conn.scalar(
            select(func.min(events.c.chain_seq)).where(events.c.chain_seq > last_seq)
        )
    if past is not None:
        now = await _head(engine)
        if now is not None and int(now["last_seq"]) < int(past):
            return broken(int(past), "a row is sealed past the chain's head")
    return ChainReport(True, checked, first, last_seq, last_hash, unsealed)
