"""The task state machine (`roo.tasks.states`): allowed and refused transitions, what a
transition writes, and the end-of-run mapping. No database: a transient task and a recording
event store."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import pytest

from roo.agent.state import Outcome
from roo.db.models import Task
from roo.tasks import states
from roo.tasks.events import EventStore
from roo.tasks.schemas import ACTIVE_STATES, FINISHED_STATES

ALL_STATES = (*ACTIVE_STATES, *FINISHED_STATES)


class Recorder:
    """An event store that keeps what is appended: the events, and each append's batch."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.batches: list[list[str]] = []

    async def append_many(
        self,
        _session: uuid.UUID,
        _task: uuid.UUID | None,
        items: Sequence[tuple[str, dict[str, Any], datetime]],
        **_: Any,
    ) -> None:
        self.events.extend((event, data) for event, data, _at in items)
        self.batches.append([event for event, _data, _at in items])


def task_in(state: str, **values: Any) -> Task:
    return Task(id=uuid.uuid4(), session_id=uuid.uuid4(), state=state, **values)


async def move(task: Task, to: str, **kwargs: Any) -> Recorder:
    recorder = Recorder()
    await states.transition(cast(EventStore, recorder), cast(Any, None), task, to, **kwargs)
    return recorder


EXPECTED_ALLOWED = {
    ("queued", "running"),
    ("running", "awaiting_approval"),
    ("running", "awaiting_input"),
    ("awaiting_approval", "running"),
    ("awaiting_input", "running"),
    *((active, end) for active in ACTIVE_STATES for end in FINISHED_STATES),
    *((end, "queued") for end in FINISHED_STATES),
}


@pytest.mark.parametrize("current", ALL_STATES)
@pytest.mark.parametrize("to", ALL_STATES)
async def test_transitions_are_allowed_by_the_table_only(current: str, to: str) -> None:
    task = task_in(current, pending={"id": "q"})
    if (current, to) in EXPECTED_ALLOWED:
        recorder = await move(task, to)
        assert task.state == to
        assert recorder.events == [("task.state", {"from": current, "to": to})]
        return
    with pytest.raises(states.TransitionRefused):
        await move(task, to)
    assert task.state == current  # nothing written
    assert task.pending == {"id": "q"}


async def test_a_question_is_pending_until_the_next_transition() -> None:
    task = task_in("running")
    await move(task, "awaiting_input", pending={"id": "q1"})
    assert task.pending == {"id": "q1"}
    assert task.started_at is None  # it never went to running through the machine
    recorder = await move(task, "running")
    assert task.pending is None
    assert task.started_at is not None
    assert recorder.events[0][1] == {"from": "awaiting_input", "to": "running"}


async def test_an_end_records_the_failure_and_a_resume_clears_it() -> None:
    task = task_in("running")
    recorder = await move(task, "failed", reason="cost_limit", message="too dear", action="x")
    assert (task.failure_reason, task.failure_message) == ("cost_limit", "too dear")
    assert task.finished_at is not None
    assert recorder.events == [
        ("task.state", {"from": "running", "to": "failed", "action": "x", "reason": "cost_limit"})
    ]
    await move(task, "queued")
    await move(task, "running")
    assert task.failure_reason is None
    assert task.finished_at is None


async def test_record_end_rejects_the_pending_question_and_says_how_it_ended() -> None:
    task = task_in("awaiting_approval", pending={"id": "q7"})
    recorder = Recorder()
    end = states.cancelled_end(by_user=True)
    assert await states.record_end(cast(EventStore, recorder), cast(Any, None), task, end)
    assert [name for name, _ in recorder.events] == [
        "task.state",
        "approval.resolved",
        "task.cancelled",
    ]
    assert recorder.events[1][1] == {
        "approvalId": "q7",
        "action": "rejected",
        "reason": "user_cancelled",
    }
    # one append: one numbering, one insert
    assert recorder.batches == [["task.state", "approval.resolved", "task.cancelled"]]
    # an ended task is left alone
    assert not await states.record_end(cast(EventStore, recorder), cast(Any, None), task, end)
    assert len(recorder.events) == 3


def test_the_end_of_a_run_maps_to_a_state_and_an_event() -> None:
    done = states.outcome_end(Outcome("completed", result="ok"), {"inputTokens": 3})
    assert (done.to, done.event()) == (
        "completed",
        ("task.complete", {"result": "ok", "usage": {"inputTokens": 3}}),
    )
    failed = states.outcome_end(Outcome("failed", reason="cost_limit", message="m"), {})
    assert (failed.to, failed.event()) == (
        "failed",
        ("error.occurred", {"reason": "cost_limit", "message": "m"}),
    )
    shutdown = states.cancelled_end(by_user=False)
    assert shutdown.to == "interrupted"
    assert shutdown.event()[0] == "task.interrupted"
    assert shutdown.reason == "shutdown"
    timeout = states.wait_timeout_end(0.5)
    assert (timeout.to, timeout.reason) == ("cancelled", "wait_timeout")
    assert "0.5 s" in (timeout.message or "")
    crashed = states.failed_end(ValueError("boom"))
    assert (crashed.to, crashed.reason, crashed.message) == (
        "failed",
        "internal_error",
        "ValueError: boom",
    )
