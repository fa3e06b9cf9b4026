"""The task-control port: everything the tasks service asks of a task's run.

The service decides whether an action fits (state, ownership, limits) and records it for the
API (audit, the request's unit of work); what reaches the run goes through `TaskControl`: the
state transitions, starting a run, an answer or approval, a message, a condense request, a
cancel. The port hides
where the run is: in this process it is reached directly; in another process through the
task's inbox (`roo.tasks.inbox`), which that process polls. A bus that wakes the other
process's inbox at once (instead of its next poll) fits behind the same port.

Calls that take `db` stage their writes in the caller's unit of work and act on the run only
once it commits (an answer the request then fails to store never reaches the run); `cancel`
and `stop_session` wait for runs to stop and use short units of work of their own, holding no
connection while they wait.

`roo.tasks.local_control.LocalControl` implements it.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from roo.agent.state import Answer
from roo.db.models import Task


class AnswerNotAwaited(Exception):
    """The run does not wait for this answer (any more): its question changed or ended."""


class TaskControl(Protocol):
    async def transition(
        self, db: AsyncSession, task: Task, to: str, *, reason: str | None = None, **data: Any
    ) -> Task:
        """Move `task` (locked in `db`) to state `to`, logged as `task.state` (with `data`);
        `roo.tasks.states` refuses a transition it does not allow."""
        ...

    async def start(self, db: AsyncSession, task: Task, text: str | None = None) -> None:
        """Run `task` (queued: new, resumed or continued with the user's `text`) once `db`
        commits: in this process (the task is claimed for it now: its runner id and
        heartbeat on the row), or, with the job queue, on the worker that takes the job
        written in `db`. Mail left for an earlier run is dropped."""
        ...

    async def answer(self, db: AsyncSession, task: Task, answer: Answer) -> None:
        """Answer the question `task` waits for (`task.pending`) and move it to `running`.
        Raises AnswerNotAwaited when its run waits for no such question."""
        ...

    async def message(self, db: AsyncSession, task: Task, text: str) -> None:
        """Queue a message for the next user turn of `task` (running)."""
        ...

    async def condense(self, db: AsyncSession, task: Task) -> None:
        """Ask the run of `task` (running or waiting) to condense its context before its
        next model request."""
        ...

    async def cancel(self, task_id: uuid.UUID) -> None:
        """Cancel an active task and wait (a few seconds at most) until its end is recorded:
        its run stops (its command is killed); a task nobody runs any more is marked
        `cancelled` at once."""
        ...

    async def stop_session(self, session_id: uuid.UUID) -> None:
        """Stop every active task of a session (before it is deleted), all at once; waits a
        few seconds at most in all."""
        ...
