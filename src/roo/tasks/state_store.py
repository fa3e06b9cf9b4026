"""Where a task's engine state lives, and how a checkpoint saves only what changed.

The conversation is stored one message a row (`task_messages`, keyed by task and position);
the rest of `EngineState` (mode, usage, counters, todos, the results of the step in progress,
how many messages the sliding window hid) is `tasks.engine_state`, a small JSON value.

A checkpoint inserts the messages appended since the previous one, rewrites the few the engine
changed in place (`EngineState.edited`) and the small state, in one transaction: so a step costs
the same at step 300 as at step 3, and a run that stops anywhere resumes from its last complete
checkpoint. Messages hidden by the sliding window keep their rows; what the engine (and the
task's detail) sees is the first message and those after the hidden ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from roo.agent.messages import Message
from roo.agent.state import EngineState
from roo.db.engine import after_commit
from roo.db.models import Task, TaskMessage
from roo.db.types import utcnow

# The conversation as the engine continues it: the first message, then those after the
# `hidden` ones, in order (bound: task_id, hidden).
VISIBLE_MESSAGES = (
    select(TaskMessage.message)
    .where(
        TaskMessage.task_id == bindparam("task_id"),
        or_(TaskMessage.position == 0, TaskMessage.position > bindparam("hidden")),
    )
    .order_by(TaskMessage.position)
)


async def visible_messages(db: AsyncSession, task_id: uuid.UUID, hidden: int) -> list[Message]:
    """The conversation as the engine continues it (`VISIBLE_MESSAGES`)."""
    rows = await db.scalars(VISIBLE_MESSAGES, {"task_id": task_id, "hidden": hidden})
    return list(rows)


def hidden_in(engine_state: Mapping[str, Any] | None) -> int:
    """How many messages after the first the sliding window hid, from a task's `engine_state`."""
    return int((engine_state or {}).get("hidden") or 0)


def hidden_of(task: Task) -> int:
    return hidden_in(task.engine_state)


async def load_state(db: AsyncSession, task: Task) -> EngineState:
    """The task's saved `EngineState` (an empty one for a task that never ran)."""
    scalars = task.engine_state or {}
    if not scalars:
        return EngineState()
    history = await visible_messages(db, task.id, hidden_of(task))
    return EngineState.from_dict({**scalars, "history": history})


class StateWriter:
    """Saves the checkpoints of one run of a task; it knows how far the stored conversation
    goes (`stored`: the rows at positions below it are saved)."""

    def __init__(self, task_id: uuid.UUID, state: EngineState) -> None:
        self.task_id = task_id
        self.stored = state.end()  # the state was loaded from the rows, or is new

    async def write(self, db: AsyncSession, state: EngineState, **row: Any) -> int:
        """Stage what changed since the last commit in `db`'s transaction, with the task row's
        `engine_state` and the other `row` values; `stored` moves on when it commits. Returns
        the number of messages written."""
        end = state.end()
        history, hidden, now = state.history, state.hidden, utcnow()

        def visible(position: int) -> bool:
            return position == 0 or position > hidden

        def message(position: int) -> Message:
            return history[position - hidden if position else 0]

        # positions in (0, hidden] that were never stored were hidden before any checkpoint
        # saw them: nothing the engine or a reader looks at again
        new = [p for p in range(self.stored, end) if visible(p)]
        changed = sorted(p for p in state.edited if p < self.stored and visible(p))
        if new:
            await db.execute(
                insert(TaskMessage),
                [
                    {
                        "task_id": self.task_id,
                        "position": p,
                        "message": message(p),
                        "created_at": now,
                    }
                    for p in new
                ],
            )
        for p in changed:
            await db.execute(
                update(TaskMessage)
                .where(TaskMessage.task_id == self.task_id, TaskMessage.position == p)
                .values(message=message(p))
            )
        await db.execute(
            update(Task).where(Task.id == self.task_id).values(engine_state=state.scalars(), **row)
        )

        async def committed() -> None:
            self.stored = max(self.stored, end)

        after_commit(db, committed)
        return len(new) + len(changed)
