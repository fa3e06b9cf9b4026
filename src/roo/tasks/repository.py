"""The tasks' queries, in one place: the tasks service, the runner and liveness share them.

Two kinds. Reads that serve a request on their own (one task with its conversation, for `GET
.../tasks/{id}` and the answers of the actions) are Core statements run through
`roo.db.reads.Reads`: no ORM objects and no unit of work (as `roo.sessions.repository`). The
rest take the caller's unit of work (`db`): they lock, or load rows the caller changes.

The event log's own statements stay with it (`roo.tasks.events.EventStore`): numbering an
event is part of appending it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from roo.db.models import Session, Task
from roo.db.reads import Reads
from roo.tasks.schemas import ACTIVE_STATES
from roo.tasks.state_store import ALL_MESSAGES, legacy_marks

# -- counts -----------------------------------------------------------------------------------


async def active_count(
    db: AsyncSession,
    session_id: uuid.UUID,
    *,
    top_level: bool = False,
    excluding: uuid.UUID | None = None,
) -> int:
    """How many tasks of the session are active; `top_level`: not counting subtasks (they run
    in their parent's place: the session's `maxConcurrentTasks` counts these)."""
    conditions: list[Any] = [Task.session_id == session_id, Task.state.in_(ACTIVE_STATES)]
    if top_level:
        conditions.append(Task.parent_id.is_(None))
    if excluding is not None:
        conditions.append(Task.id != excluding)
    count = await db.scalar(select(func.count()).select_from(Task).where(*conditions))
    return int(count or 0)


# -- rows in a unit of work -------------------------------------------------------------------


async def get(db: AsyncSession, task_id: uuid.UUID) -> Task | None:
    return await db.get(Task, task_id)


async def lock(db: AsyncSession, task_id: uuid.UUID) -> Task | None:
    """The task's row, locked until the unit of work ends (fresh from the database)."""
    return await db.get(Task, task_id, with_for_update=True, populate_existing=True)


async def state_of(db: AsyncSession, task_id: uuid.UUID) -> str | None:
    state: str | None = await db.scalar(select(Task.state).where(Task.id == task_id))
    return state


async def remove(db: AsyncSession, task_id: uuid.UUID) -> None:
    await db.execute(delete(Task).where(Task.id == task_id))


async def children(db: AsyncSession, task_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await db.scalars(
        select(Task.id).where(Task.parent_id == task_id).order_by(Task.created_at)
    )
    return list(rows)


async def page(
    db: AsyncSession, session_id: uuid.UUID, *, state: str | None, limit: int, offset: int
) -> tuple[Sequence[Task], dict[uuid.UUID, list[uuid.UUID]], int]:
    """A page of the session's tasks, newest first, their children's ids, and how many match."""
    conditions: list[Any] = [Task.session_id == session_id]
    if state is not None:
        conditions.append(Task.state == state)
    total = await db.scalar(select(func.count()).select_from(Task).where(*conditions))
    rows = (
        await db.scalars(
            select(Task)
            .where(*conditions)
            .order_by(Task.created_at.desc(), Task.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return rows, await children_of(db, rows), int(total or 0)


async def children_of(db: AsyncSession, rows: Sequence[Task]) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The children's ids of each of `rows` (oldest first), in one statement."""
    by_parent: dict[uuid.UUID, list[uuid.UUID]] = {}
    if rows:
        pairs = await db.execute(
            select(Task.parent_id, Task.id)
            .where(Task.parent_id.in_([r.id for r in rows]))
            .order_by(Task.created_at)
        )
        for parent_id, child_id in pairs:
            if parent_id is not None:
                by_parent.setdefault(parent_id, []).append(child_id)
    return by_parent


async def active_in_session(db: AsyncSession, session_id: uuid.UUID) -> Sequence[Task]:
    """The session's active tasks, locked."""
    rows = await db.scalars(
        select(Task)
        .where(Task.session_id == session_id, Task.state.in_(ACTIVE_STATES))
        .with_for_update()
    )
    return rows.all()


async def unfinished(db: AsyncSession, session_id: uuid.UUID) -> Sequence[Task]:
    """The session's active tasks, oldest first (not locked: for reading)."""
    rows = await db.scalars(
        select(Task)
        .where(Task.session_id == session_id, Task.state.in_(ACTIVE_STATES))
        .order_by(Task.created_at, Task.id)
    )
    return rows.all()


async def with_mail(db: AsyncSession, task_ids: Collection[uuid.UUID]) -> Sequence[Task]:
    """Those of `task_ids` whose inbox holds something, locked."""
    rows = await db.scalars(
        select(Task).where(Task.id.in_(list(task_ids)), Task.inbox.is_not(None)).with_for_update()
    )
    return rows.all()


async def beat(
    db: AsyncSession, task_ids: Collection[uuid.UUID], runner_id: str, now: datetime
) -> set[uuid.UUID]:
    """Refresh the heartbeat of those of `task_ids` that are still active and still held by
    `runner_id` (an ended task is not touched: its `updatedAt` is when it ended); the ids
    refreshed. A task swept `interrupted` meanwhile, or taken over by another runner, is not
    refreshed: its run has lost the lease."""
    rows = await db.scalars(
        update(Task)
        .where(
            Task.id.in_(list(task_ids)),
            Task.state.in_(ACTIVE_STATES),
            Task.runner_id == runner_id,
        )
        .values(heartbeat_at=now)
        .returning(Task.id)
    )
    return set(rows.all())


async def holds(db: AsyncSession, task_id: uuid.UUID, runner_id: str) -> bool:
    """Whether `runner_id` still holds the lease of the active task `task_id` (its row locked
    in `db` until the unit of work ends: the lease cannot change hands before the caller's
    writes commit)."""
    row = (
        await db.execute(
            select(Task.runner_id, Task.state).where(Task.id == task_id).with_for_update()
        )
    ).one_or_none()
    return row is not None and row.runner_id == runner_id and row.state in ACTIVE_STATES


async def stale(db: AsyncSession, before: datetime) -> Sequence[Task]:
    """Active tasks whose heartbeat is older than `before`, locked (skipping those another
    sweep holds). A queued task nobody has claimed yet waits in the job queue (queue mode),
    not for a runner: it is not stale."""
    rows = await db.scalars(
        select(Task)
        .where(
            Task.state.in_(ACTIVE_STATES),
            Task.heartbeat_at < before,
            or_(Task.runner_id.is_not(None), Task.state != "queued"),
        )
        .with_for_update(skip_locked=True)
    )
    return rows.all()


# -- reads without a unit of work --------------------------------------------------------------

# What a task's view needs (roo.tasks.service.task_view)
COLUMNS = (
    Task.id,
    Task.session_id,
    Task.parent_id,
    Task.state,
    Task.mode,
    Task.provider,
    Task.model,
    Task.input,
    Task.result,
    Task.engine_state,
    Task.pending,
    Task.failure_reason,
    Task.failure_message,
    Task.created_at,
    Task.updated_at,
    Task.started_at,
    Task.finished_at,
)

_tasks = Task.__table__
_child = _tasks.alias("child")

# The user's session, the task in it and its children's ids, in one statement: a row per child
# (at least one), the session's id even when no such task is in it (so the two 404s differ).
_ONE = (
    select(
        Session.id.label("session_found"),
        *COLUMNS,
        _child.c.id.label("child_id"),
    )
    .select_from(Session)
    .outerjoin(Task, and_(Task.id == bindparam("task_id"), Task.session_id == Session.id))
    .outerjoin(_child, _child.c.parent_id == Task.id)
    .where(Session.id == bindparam("session_id"), Session.user_id == bindparam("user_id"))
    .order_by(_child.c.created_at, _child.c.id)
)


@dataclass(frozen=True, slots=True)
class TaskRead:
    """A task as the API shows it: its columns (`COLUMNS`) and its children's ids."""

    row: RowMapping
    child_ids: list[uuid.UUID]


class SessionMissing(LookupError):
    """No such session of this user."""


async def one(
    reads: Reads, user_id: uuid.UUID, session_id: uuid.UUID, task_id: uuid.UUID
) -> TaskRead | None:
    """Task `task_id` of the user's session `session_id`, None when the session has no such
    task; raises SessionMissing when the user has no such session."""
    rows = await reads.all(_ONE, {"session_id": session_id, "user_id": user_id, "task_id": task_id})
    if not rows:
        raise SessionMissing(session_id)
    if rows[0]["id"] is None:
        return None
    children = [r["child_id"] for r in rows if r["child_id"] is not None]
    return TaskRead(rows[0], children)


async def messages(reads: Reads, task_id: uuid.UUID, hidden: int) -> list[dict[str, Any]]:
    """The task's whole conversation, condensed and hidden messages included (marked), as
    `state_store.load_state` reads it (`hidden`: the older count, `legacy_marks`)."""
    rows = await reads.all(ALL_MESSAGES, {"task_id": task_id})
    marked = legacy_marks([(r["position"], r["message"]) for r in rows], hidden, fill=False)
    return [dict(m) for m in marked]
