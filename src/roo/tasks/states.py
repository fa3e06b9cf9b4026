"""The task state machine: which transitions are allowed, what a transition writes, and how a
run's end maps to a state and its events.

```
queued -> running -> (awaiting_approval | awaiting_input) -> running -> completed | failed
any active state -> cancelled | interrupted (and failed or cancelled before it started)
completed | failed | cancelled | interrupted -> queued (resume; a message after completion)
```

Every transition is logged as a `task.state` event (`from`, `to`, `reason?` and what the caller
adds) in the caller's unit of work; a transition the table does not allow raises
`TransitionRefused` and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from roo.agent.state import Outcome
from roo.db.models import Task
from roo.db.types import utcnow
from roo.tasks.events import EventStore
from roo.tasks.schemas import ACTIVE_STATES, FINISHED_STATES

_ENDS = frozenset(FINISHED_STATES)

ALLOWED: dict[str, frozenset[str]] = {
    # started; or ended before it started (cancelled, the process stopped, it could not start)
    "queued": frozenset({"running"}) | _ENDS,
    "running": frozenset({"awaiting_approval", "awaiting_input"}) | _ENDS,
    # answered; or ended while it waited (cancelled, timed out, the process stopped)
    "awaiting_approval": frozenset({"running"}) | _ENDS,
    "awaiting_input": frozenset({"running"}) | _ENDS,
    # resumed (failed, cancelled, interrupted) or continued with a message (completed)
    **{state: frozenset({"queued"}) for state in FINISHED_STATES},
}


class TransitionRefused(Exception):
    """The state machine does not allow this transition."""

    def __init__(self, current: str, to: str) -> None:
        super().__init__(f"a task cannot go from {current} to {to}")
        self.current, self.to = current, to


def allowed(current: str, to: str) -> bool:
    return to in ALLOWED.get(current, frozenset())


async def transition(
    events: EventStore,
    db: AsyncSession,
    task: Task,
    to: str,
    *,
    reason: str | None = None,
    message: str | None = None,
    pending: dict[str, Any] | None = None,
    then: Sequence[tuple[str, dict[str, Any]]] = (),
    **data: Any,
) -> Task:
    """Move `task` (loaded, and locked, in `db`) to state `to` and log it as a `task.state`
    event, followed by the (event, data) pairs of `then`: one append, so one numbering and
    one insert for all of them. `pending` is what the task now waits for (cleared
    otherwise); `reason` and `message` are the failure's when `to` is an end other than
    `completed`."""
    previous = task.state
    if not allowed(previous, to):
        raise TransitionRefused(previous, to)
    now = utcnow()
    task.state = to
    task.pending = pending
    task.updated_at = now
    if to == "running" and task.started_at is None:
        task.started_at = now
    if to in FINISHED_STATES:
        task.finished_at = now
        task.failure_reason = reason if to != "completed" else None
        task.failure_message = message if to != "completed" else None
    elif to == "running":
        task.failure_reason = task.failure_message = None
        task.finished_at = None
    payload: dict[str, Any] = {"from": previous, "to": to, **data}
    if reason:
        payload["reason"] = reason
    items = [("task.state", payload, now), *((event, body, now) for event, body in then)]
    await events.append_many(task.session_id, task.id, items, db=db)
    return task


# -- the end of a run ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class End:
    """How a run ended: the state it leaves the task in and what the events say."""

    to: str
    reason: str | None = None
    message: str | None = None
    result: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)

    def event(self) -> tuple[str, dict[str, Any]]:
        """The event that says so, after the `task.state` one."""
        if self.to == "completed":
            return "task.complete", {"result": self.result, "usage": self.usage}
        if self.to == "cancelled":
            return "task.cancelled", {"reason": self.reason}
        if self.to == "failed":
            return "error.occurred", {"reason": self.reason, "message": self.message}
        return "task.interrupted", {"reason": self.reason, "message": self.message}


def outcome_end(outcome: Outcome, usage: dict[str, Any]) -> End:
    """The engine's outcome (`completed` or `failed`) as the run's end."""
    if outcome.status == "completed":
        return End("completed", result=outcome.result, usage=usage)
    return End("failed", reason=outcome.reason, message=outcome.message)


def cancelled_end(by_user: bool) -> End:
    """A run whose asyncio task was cancelled: by the user, or by this process stopping."""
    if by_user:
        return End("cancelled", reason="user_cancelled")
    return End(
        "interrupted",
        reason="shutdown",
        message="The service stopped while this task ran; resume it to continue",
    )


def wait_timeout_end(seconds: float) -> End:
    return End(
        "cancelled",
        reason="wait_timeout",
        message=f"Nobody answered within {seconds:g} s; the task was cancelled",
    )


def failed_end(exc: Exception) -> End:
    """An unexpected error of the host (not one the engine turned into an outcome)."""
    return End("failed", reason="internal_error", message=f"{type(exc).__name__}: {exc}")


RUNNER_LOST = End(
    "interrupted",
    reason="runner_lost",
    message="The process running this task stopped; resume it to continue",
)


async def record_end(events: EventStore, db: AsyncSession, task: Task, end: End) -> bool:
    """Record the end of `task`'s run (the row locked in `db`): its state, a question it
    waited for rejected, and the end's event. False when the task had already ended."""
    if task.state not in ACTIVE_STATES:
        return False  # e.g. cancelled before it started
    if end.to == "completed":
        task.result = end.result
    pending = task.pending
    then = []
    if pending:  # the question dies with the run: say so to whoever shows it
        then.append(
            (
                "approval.resolved",
                {"approvalId": pending.get("id"), "action": "rejected", "reason": end.reason},
            )
        )
    then.append(end.event())
    await transition(events, db, task, end.to, reason=end.reason, message=end.message, then=then)
    return True
