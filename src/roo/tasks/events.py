"""The session event log: every event a task emits, numbered gap-free per session.

`append` takes the next number from `sessions.event_seq` in the same transaction as the insert
(`UPDATE ... SET event_seq = event_seq + 1 RETURNING event_seq`): the update's row lock
serialises writers of one session on PostgreSQL, SQLite has one writer at a time, and a rolled
back insert gives its number back. So a session's events commit in `seq` order: once an event
is committed, every event before it is too.

Readers poll with `after=<seq>`, or follow the log live: once the transaction that appended a
batch commits, the batch goes to `publish` (the real-time bus, `roo.realtime.bus`; registered
with the unit of work's `after_commit`, so a rolled back batch is never published).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.db.engine import after_commit, unit_of_work
from roo.db.models import Session, TaskEvent
from roo.db.types import utcnow
from roo.kit.logs import get_logger
from roo.observability.metrics import EVENTS_APPENDED

log = get_logger("roo.tasks.events")


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored; `roo.tasks.schemas.EventOut` is its wire shape (the seed's
    `{event, sessionId, taskId, seq, data, timestamp}`)."""

    event: str
    session_id: uuid.UUID
    task_id: uuid.UUID | None
    seq: int
    data: dict[str, Any]
    timestamp: datetime


class SessionGone(LookupError):
    """The session was deleted (its events and tasks with it): nothing more can be logged."""


def _stored(row: TaskEvent) -> StoredEvent:
    return StoredEvent(row.event, row.session_id, row.task_id, row.seq, row.data, row.created_at)


# Called with each committed batch (one session's events, in order); must not block or raise.
Publish = Callable[[Sequence[StoredEvent]], None]

_BATCHES = "roo.events.committed"  # the unit of work's batches waiting for its commit

_SESSIONS = cast(Table, Session.__table__)
# The session's next `count` numbers: its counter moved on, its row locked until the end of the
# transaction (PostgreSQL); the last number taken is returned.
_TAKE_NUMBERS = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("for_session"))
    .values(event_seq=_SESSIONS.c.event_seq + bindparam("count"))
    .returning(_SESSIONS.c.event_seq)
)
_INSERT = insert(cast(Table, TaskEvent.__table__))


class EventStore:
    def __init__(
        self, db_sessions: async_sessionmaker[AsyncSession], publish: Publish | None = None
    ) -> None:
        self._db_sessions = db_sessions
        self._publish = publish

    async def append(
        self,
        session_id: uuid.UUID,
        task_id: uuid.UUID | None,
        event: str,
        data: dict[str, Any],
        *,
        db: AsyncSession | None = None,
    ) -> StoredEvent:
        """Store one event with its session's next number. With `db`, it joins that
        transaction (committed by the caller); otherwise it commits on its own."""
        stored = await self.append_many(session_id, task_id, [(event, data, utcnow())], db=db)
        return stored[0]

    async def append_many(
        self,
        session_id: uuid.UUID,
        task_id: uuid.UUID | None,
        items: Sequence[tuple[str, dict[str, Any], datetime]],
        *,
        db: AsyncSession | None = None,
        guard: Callable[[AsyncSession], Awaitable[bool]] | None = None,
    ) -> list[StoredEvent]:
        """Store (event, data, emitted at) items in order, with consecutive numbers taken in
        one statement. Without `db`, in a unit of work of its own, first asking `guard`
        (e.g. whether the run still holds its task): nothing is stored when it says no."""
        if db is not None:
            return await self._insert(db, session_id, task_id, items)
        async with unit_of_work(self._db_sessions, writes=True) as own:
            if guard is not None and not await guard(own):
                return []
            return await self._insert(own, session_id, task_id, items)

    async def _insert(
        self,
        db: AsyncSession,
        session_id: uuid.UUID,
        task_id: uuid.UUID | None,
        items: Sequence[tuple[str, dict[str, Any], datetime]],
    ) -> list[StoredEvent]:
        if not items:
            return []
        # Core statements built once: through the ORM (a bulk UPDATE, objects flushed by the unit
        # of work) an append took about twice the CPU (bench/event_append.py). A Core statement
        # does not flush the unit of work's pending objects first, as an ORM one would: flushed
        # here, so that a session or task added just before is written first.
        await db.flush()
        last = (
            await db.execute(_TAKE_NUMBERS, {"for_session": session_id, "count": len(items)})
        ).scalar_one_or_none()
        if last is None:
            raise SessionGone(session_id)
        first = last - len(items) + 1
        stored = [
            StoredEvent(event, session_id, task_id, first + i, data, emitted)
            for i, (event, data, emitted) in enumerate(items)
        ]
        await db.execute(
            _INSERT,
            [
                {
                    "session_id": e.session_id,
                    "seq": e.seq,
                    "task_id": e.task_id,
                    "event": e.event,
                    "data": e.data,
                    "created_at": e.timestamp,
                }
                for e in stored
            ],
        )
        EVENTS_APPENDED.inc(len(stored))
        self._publish_after_commit(db, stored)
        return stored

    def _publish_after_commit(self, db: AsyncSession, batch: list[StoredEvent]) -> None:
        """Publish `batch` once `db`'s unit of work has committed (with the other batches of
        the same unit of work, in the order they were appended)."""
        publish = self._publish
        if publish is None:
            return
        batches: list[list[StoredEvent]] | None = db.info.get(_BATCHES)
        if batches is None:
            batches = db.info[_BATCHES] = []

            async def committed() -> None:
                for each in db.info.pop(_BATCHES, []):
                    try:
                        publish(each)
                    except Exception:  # never the run's problem: subscribers read the log
                        log.exception("tasks.events_publish_failed")

            after_commit(db, committed)
        batches.append(batch)

    async def after(
        self, db: AsyncSession, session_id: uuid.UUID, after: int, limit: int
    ) -> Sequence[StoredEvent]:
        rows = await db.scalars(
            select(TaskEvent)
            .where(TaskEvent.session_id == session_id, TaskEvent.seq > after)
            .order_by(TaskEvent.seq)
            .limit(limit)
        )
        return [_stored(row) for row in rows]
