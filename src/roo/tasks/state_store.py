"""Where a task's engine state lives, and how a checkpoint saves only what changed.

The conversation is stored one message a row (`task_messages`, keyed by task and position);
the rest of `EngineState` (mode, usage, counters, todos, the results of the step in progress)
is `tasks.engine_state`, a small JSON value.

A checkpoint inserts the messages appended since the previous one, rewrites the few the engine
changed in place (`EngineState.edited`: the marks of condensing and of the sliding window, and
the notes added to a turn) and the small state, in one transaction: so a step costs the same at
step 300 as at step 3, and a run that stops anywhere resumes from its last complete checkpoint.
Nothing is deleted: condensed and hidden messages keep their rows, marked inside their JSON
(`roo.agent.messages`), and the engine and the API read them all.

Tasks saved before messages were marked kept a count instead, `engine_state["hidden"]`: the
messages at positions 1 to `hidden` were hidden by the sliding window (some of them may never
have been stored). `legacy_marks` reads such a task as if they had been marked.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from roo.agent.messages import Message
from roo.agent.state import EngineState, has_run
from roo.db.engine import after_commit
from roo.db.models import Task, TaskMessage
from roo.db.types import utcnow
from roo.tasks.schemas import ACTIVE_STATES

# A task's whole conversation, in order (bound: task_id).
ALL_MESSAGES = (
    select(TaskMessage.position, TaskMessage.message)
    .where(TaskMessage.task_id == bindparam("task_id"))
    .order_by(TaskMessage.position)
)
LEGACY_TRUNCATION = "legacy"  # the truncationParent of messages hidden by the older count
# A position that has no row (hidden before any checkpoint stored it, by the older code)
_LOST: Message = {"role": "user", "content": [], "truncationParent": LEGACY_TRUNCATION}


def hidden_in(engine_state: Mapping[str, Any] | None) -> int:
    """How many messages after the first the older sliding window hid (0 for newer tasks)."""
    return int((engine_state or {}).get("hidden") or 0)


def legacy_marks(
    rows: Sequence[tuple[int, Message]], hidden: int, *, fill: bool = True
) -> list[Message]:
    """The conversation of (position, message) rows in order, the positions 1 to `hidden`
    marked hidden by the sliding window; `fill`: a missing position gets a hidden stand-in
    (the engine's history is indexed by position). Returns marked copies; the rows' messages
    are not changed."""
    out: list[Message] = []
    for position, message in rows:
        while fill and len(out) < position:
            out.append(copy.deepcopy(_LOST))
        if 0 < position <= hidden and not message.get("truncationParent"):
            message = {**message, "truncationParent": LEGACY_TRUNCATION}
        out.append(message)
    return out


async def load_state(db: AsyncSession, task: Task) -> EngineState:
    """The task's saved `EngineState` (an empty one for a task that never ran). A task saved
    by the older code gets the marks of its hidden messages, saved by its next checkpoint."""
    scalars = task.engine_state or {}
    if not has_run(scalars):
        return EngineState(options=dict(scalars.get("options") or {}))
    result = await db.execute(ALL_MESSAGES, {"task_id": task.id})
    hidden = hidden_in(scalars)
    history = legacy_marks([(row.position, row.message) for row in result], hidden)
    state = EngineState.from_dict({**scalars, "history": history})
    state.edited.update(range(1, min(hidden, len(history) - 1) + 1))
    return state


class StateWriter:
    """Saves the checkpoints of one run of a task; it knows how far the stored conversation
    goes (`stored`: the rows at positions below it are saved)."""

    def __init__(self, task_id: uuid.UUID, state: EngineState) -> None:
        self.task_id = task_id
        self.stored = state.end()  # the state was loaded from the rows, or is new

    async def write(
        self, db: AsyncSession, state: EngineState, *, lease: str | None = None, **row: Any
    ) -> int | None:
        """Stage what changed since the last commit in `db`'s transaction, with the task row's
        `engine_state` and the other `row` values; `stored` moves on when it commits. Returns
        the number of messages written.

        With `lease` (a runner's id), the task's row is written first, and only if that runner
        still holds the active task's lease: the row stays locked until the transaction ends, so
        the lease cannot change hands before these writes commit. None, with nothing written,
        when it does not hold it (one statement where a locking read and then the write were
        two)."""
        end, history, now = state.end(), state.history, utcnow()
        task_row = update(Task).where(Task.id == self.task_id)
        if lease is not None:
            task_row = task_row.where(Task.runner_id == lease, Task.state.in_(ACTIVE_STATES))
        written = await db.execute(task_row.values(engine_state=state.scalars(), **row))
        if lease is not None and cast(CursorResult[Any], written).rowcount != 1:
            return None
        new = range(self.stored, end)
        changed = sorted(p for p in state.edited if p < self.stored)
        if new:
            await db.execute(
                insert(TaskMessage),
                [
                    {
                        "task_id": self.task_id,
                        "position": p,
                        "message": history[p],
                        "created_at": now,
                    }
                    for p in new
                ],
            )
        for p in changed:
            await db.execute(
                update(TaskMessage)
                .where(TaskMessage.task_id == self.task_id, TaskMessage.position == p)
                .values(message=history[p])
            )

        async def committed() -> None:
            self.stored = max(self.stored, end)

        after_commit(db, committed)
        return len(new) + len(changed)
