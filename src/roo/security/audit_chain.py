"""The audit trail's hash chain: sealing rows into it, and verifying it.

Requests insert audit rows unsealed and take no lock for them (`roo.security.audit`), so an
audited request costs one plain INSERT. The *sealer* then gives every unsealed row, in insertion
order (`at`, then `id`), the next position of the chain (`chain_seq` 1, 2, ..., gap-free),
the previous row's hash (`prev_hash`) and its own: SHA-256 over the row's fields and
`prev_hash`, serialised as sorted-key JSON (`row_hash`). The chain's head (`audit_chain`, one
row: last position and hash) moves in the same transaction.

One sealer at a time, across every process on the database: on PostgreSQL its transaction
starts with `pg_advisory_xact_lock`, so a second sealer (another worker) waits, then sees the
first one's commit (READ COMMITTED: each statement reads what is committed when it starts). On
SQLite it starts with a write to the head, which takes the process's write gate and SQLite's
own write lock. Requests never wait on that lock: they do not touch sealed rows or the head.

The app runs the sealer every `ROO_AUDIT_SEAL_INTERVAL` seconds, and once more at a clean
shutdown after everything else has stopped, so that no row is left unsealed; rows a crash left
unsealed are sealed by the next sealer to run (any process, or `roo audit seal`).

`roo.security.audit_verify` walks the chain and names the first position that does not hold.

A retention cut (`cut_before`) deletes the oldest positions and keeps their last hash as the
chain's anchor, from which verification starts; the cut is itself an audit row
(`audit.retention_cut`, naming the position and hash), sealed into the chain in the same
transaction, and verification checks that the last cut in the chain records the anchor.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from roo.db.models.audit import GENESIS_HASH, AuditChain, AuditEvent
from roo.db.types import utcnow
from roo.kit.logs import get_logger
from roo.kit.loops import wait_or_stop
from roo.observability.metrics import AUDIT_WRITE

log = get_logger("roo.audit")

events = cast(Table, AuditEvent.__table__)
chain = cast(Table, AuditChain.__table__)

HEAD_ID = 1
# Any constant of our own: the key of the sealer's PostgreSQL advisory lock ("roo audit").
ADVISORY_LOCK_KEY = 0x726F6F_6175646974
SEAL_BATCH = 500
RETENTION_CUT = "audit.retention_cut"

# The fields a row's hash covers, besides its position and the previous hash: all of them.
HASHED_FIELDS = (
    "id",
    "at",
    "action",
    "actor_id",
    "target",
    "outcome",
    "ip",
    "user_agent",
    "request_id",
    "session_id",
    "detail",
)
# Fields added later, covered only when set: rows sealed before they existed keep their hash.
OPTIONAL_HASHED_FIELDS = ("credential",)
hashed_columns = [events.c[name] for name in (*HASHED_FIELDS, *OPTIONAL_HASHED_FIELDS)]


class ChainHeadMissing(Exception):
    """The chain's head row is gone while sealed rows remain: nothing is sealed until an
    operator looks (`roo audit verify`)."""

    def __str__(self) -> str:
        return "the audit chain's head row is missing while sealed rows remain"


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def canonical(row: Mapping[Any, Any], chain_seq: int, prev_hash: str) -> bytes:
    """The bytes a row's hash is taken over: its fields, position and previous hash as JSON with
    sorted keys and no spaces (the same on every backend: ids as text, times as UTC ISO 8601
    with microseconds, `detail` as the JSON it was stored as)."""
    data = {name: _plain(row[name]) for name in HASHED_FIELDS}
    for name in OPTIONAL_HASHED_FIELDS:
        if row[name] is not None:
            data[name] = _plain(row[name])
    data["chain_seq"] = chain_seq
    data["prev_hash"] = prev_hash
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def row_hash(row: Mapping[Any, Any], chain_seq: int, prev_hash: str) -> str:
    return hashlib.sha256(canonical(row, chain_seq, prev_hash)).hexdigest()


async def _lock_and_head(conn: AsyncConnection) -> RowMapping:
    """Take the sealer's turn (module docstring) and return the chain's head, created if the
    database has none and no row is sealed yet (a schema made without the migration). A head
    that is gone while sealed rows remain is not recreated (that would restart the chain over
    them): `ChainHeadMissing`, and verification names it."""
    if conn.dialect.name == "postgresql":
        await conn.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))
    else:
        await conn.execute(
            update(chain).where(chain.c.id == HEAD_ID).values(last_seq=chain.c.last_seq)
        )
    head = (await conn.execute(select(chain).where(chain.c.id == HEAD_ID))).mappings().first()
    if head is None:
        if await conn.scalar(select(func.max(events.c.chain_seq))) is not None:
            raise ChainHeadMissing()
        await conn.execute(
            chain.insert().values(
                id=HEAD_ID,
                last_seq=0,
                last_hash=GENESIS_HASH,
                anchor_seq=0,
                anchor_hash=GENESIS_HASH,
                updated_at=utcnow(),
            )
        )
        head = (await conn.execute(select(chain).where(chain.c.id == HEAD_ID))).mappings().one()
    return head


async def _seal_rows(
    conn: AsyncConnection, head: RowMapping, rows: Sequence[RowMapping]
) -> tuple[int, str]:
    """Give `rows` the next positions after `head` and move the head; its new position and
    hash. The caller holds the sealer's turn."""
    seq, prev = int(head["last_seq"]), str(head["last_hash"])
    sealed = []
    for row in rows:
        seq += 1
        digest = row_hash(row, seq, prev)
        sealed.append({"row_id": row["id"], "seq": seq, "prev": prev, "row_hash": digest})
        prev = digest
    await conn.execute(_SEAL, sealed)
    await conn.execute(
        update(chain)
        .where(chain.c.id == HEAD_ID)
        .values(last_seq=seq, last_hash=prev, updated_at=utcnow())
    )
    return seq, prev


_SEAL = (
    update(events)
    .where(events.c.id == bindparam("row_id"), events.c.chain_seq.is_(None))
    .values(chain_seq=bindparam("seq"), prev_hash=bindparam("prev"), hash=bindparam("row_hash"))
)


class AuditSealer:
    """Seals unsealed audit rows into the chain (module docstring)."""

    def __init__(self, engine: AsyncEngine, batch: int = SEAL_BATCH) -> None:
        self._engine = engine
        self._batch = batch

    async def seal_once(self) -> int:
        """Seal up to one batch of rows in one short transaction; how many were sealed."""
        started = time.perf_counter()
        async with self._engine.begin() as conn:
            head = await _lock_and_head(conn)
            rows = (
                (
                    await conn.execute(
                        select(*hashed_columns)
                        .where(events.c.chain_seq.is_(None))
                        .order_by(events.c.at, events.c.id)
                        .limit(self._batch)
                    )
                )
                .mappings()
                .all()
            )
            if not rows:
                return 0
            seq, prev = await _seal_rows(conn, head, rows)
        AUDIT_WRITE.labels("seal").observe(time.perf_counter() - started)
        # The head in the log too: a copy off the database that a rewrite of it cannot reach.
        log.info("audit.sealed", rows=len(rows), last_seq=seq, last_hash=prev)
        return len(rows)

    async def seal_all(self) -> int:
        """Seal every row unsealed when it is called (batch after batch); how many."""
        total = 0
        while True:
            sealed = await self.seal_once()
            total += sealed
            if sealed < self._batch:
                return total

    async def cut_before(self, before: datetime) -> int | None:
        """Retention: delete the chain's oldest positions, up to the last one before the first
        row at or after `before`; the last deleted row's hash becomes the anchor. Returns the
        position cut through, or None when nothing was old enough."""
        async with self._engine.begin() as conn:
            head = await _lock_and_head(conn)
            anchor_seq = int(head["anchor_seq"])
            first_kept = await conn.scalar(
                select(func.min(events.c.chain_seq)).where(
                    events.c.chain_seq > anchor_seq, events.c.at >= before
                )
            )
            through = int(head["last_seq"]) if first_kept is None else int(first_kept) - 1
            if through <= anchor_seq:
                return None
            anchor_hash = await conn.scalar(
                select(events.c.hash).where(events.c.chain_seq == through)
            )
            if anchor_hash is None:  # the chain is broken there: cutting would hide it
                log.error("audit.retention_refused", position=through, reason="row missing")
                return None
            deleted = (
                await conn.execute(
                    events.delete().where(
                        events.c.chain_seq > anchor_seq, events.c.chain_seq <= through
                    )
                )
            ).rowcount
            await conn.execute(
                update(chain)
                .where(chain.c.id == HEAD_ID)
                .values(anchor_seq=through, anchor_hash=anchor_hash, updated_at=utcnow())
            )
            # The cut's own row, sealed at once: whenever the anchor is visible, the chain
            # holds the row that vouches for it (verify_chain checks that they agree).
            cut_id = uuid.uuid4()
            await conn.execute(
                events.insert().values(
                    id=cut_id,
                    at=utcnow(),
                    action=RETENTION_CUT,
                    outcome="success",
                    target="audit_chain",
                    detail={
                        "through_seq": through,
                        "anchor_hash": anchor_hash,
                        "deleted": deleted,
                        "before": before.astimezone(UTC).isoformat(),
                    },
                )
            )
            cut_row = (
                (await conn.execute(select(*hashed_columns).where(events.c.id == cut_id)))
                .mappings()
                .all()
            )
            await _seal_rows(conn, head, cut_row)
        log.info("audit.retention_cut", through_seq=through, anchor_hash=anchor_hash)
        return through


async def seal_at_start(sealer: AuditSealer) -> None:
    """One batch before the app serves (what a crash left unsealed goes first); the loop does
    the rest of a larger backlog. A database that is not up yet is logged, not raised."""
    try:
        await sealer.seal_once()
    except Exception as exc:
        log.warning("audit.seal_deferred", error=type(exc).__name__)


async def seal_loop(
    sealer: AuditSealer,
    interval: float,
    stop: asyncio.Event,
    retention_days: float = 0,
    retention_every: float = 3600,
    before_seal: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Seal every `interval` seconds until `stop`, then once more (a clean shutdown leaves
    nothing unsealed). `before_seal` writes rows counted in memory first (refusals:
    `roo.security.denials`). With `retention_days`, cut what is older about once an
    `retention_every` seconds. Errors are retried next round and logged with their traceback
    once, then as a one-line warning at most once a minute while they last (the database
    may be away for a while: one traceback a second would drown the log)."""
    loop = asyncio.get_running_loop()
    next_cut = loop.time()
    failing_since: float | None = None
    last_warned = 0.0
    while not await wait_or_stop(stop, interval):
        try:
            if before_seal is not None:
                await before_seal()
            await sealer.seal_all()
            if retention_days > 0 and loop.time() >= next_cut:
                next_cut = loop.time() + retention_every
                cutoff = utcnow() - timedelta(days=retention_days)
                await sealer.cut_before(cutoff)
        except Exception as exc:
            now = loop.time()
            if failing_since is None:
                failing_since = last_warned = now
                log.exception("audit.seal_failed")
            elif now - last_warned >= 60:
                last_warned = now
                log.warning(
                    "audit.seal_failing",
                    error=type(exc).__name__,
                    seconds=round(now - failing_since),
                )
            continue
        if failing_since is not None:
            log.info("audit.seal_recovered", seconds=round(loop.time() - failing_since))
            failing_since = None
    try:
        if before_seal is not None:
            await before_seal()
        await sealer.seal_all()
    except Exception:
        log.exception("audit.seal_failed", at="shutdown")
