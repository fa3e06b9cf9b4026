"""What a task run writes to start and to end: each is one UPDATE of the task's row and one
insert of its events (the `task.state` event and the one that follows it numbered and inserted
together), the statements the PostgreSQL load test spends most of its database time on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from roo.api.state import Resources
from roo.testing.fake_llm import Reply, ToolCall
from tests.tasks.conftest import Api, FakeLLM


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[tuple[str, str]]]:
    """(statement, its parameters as text) for every statement sent meanwhile."""
    sent: list[tuple[str, str]] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        sent.append((" ".join(statement.split()), repr(parameters)))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def one_carrying(sent: list[tuple[str, str]], prefix: str, marker: str) -> tuple[str, str]:
    found = [s for s in sent if s[0].startswith(prefix) and marker in s[1]]
    assert len(found) == 1, f"{len(found)} statements {prefix!r} carry {marker!r}"
    return found[0]


async def test_a_run_starts_and_ends_with_one_update_and_one_event_insert_each(
    api: Api, llm: FakeLLM, resources: Resources
) -> None:
    session = await api.session()
    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "done"})]))

    with statements(resources.engine) as sent:
        task = await api.start(session)
        await api.wait(session, task["id"], "completed")

    # The start: the state and the run's heartbeat in one UPDATE, the next one a checkpoint
    # (the liveness loop's periodic beat of every running task, `tasks.id IN (...)`, may come
    # between them on a busy machine: it is not the run's)
    updates = [s for s, _ in sent if s.startswith("UPDATE tasks SET") and "tasks.id IN" not in s]
    start = next(i for i, s in enumerate(updates) if "started_at=" in s)
    assert "heartbeat_at=" in updates[start]
    assert "engine_state=" in updates[start + 1]
    # `task.state` (to running) and `task.started` in one insert; the end's two in one too
    _, started = one_carrying(sent, "INSERT INTO task_events", "'task.started'")
    assert "'task.state'" in started
    assert '"to": "running"' in started
    _, ended = one_carrying(sent, "INSERT INTO task_events", "'task.complete'")
    assert "'task.state'" in ended
    assert '"to": "completed"' in ended

    events = [e for e in await api.events(session) if e.get("taskId") == task["id"]]
    names = [e["event"] for e in events]
    at = names.index("task.started")
    assert names[at - 1] == "task.state"
    assert events[at - 1]["data"]["to"] == "running"
    assert names[-2:] == ["task.state", "task.complete"]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)


async def test_a_checkpoint_locks_and_writes_the_task_row_in_one_update(
    api: Api, llm: FakeLLM, resources: Resources
) -> None:
    """A checkpoint writes the task's row where the lease is still the run's (no locking read
    of the row before it), and the run reads its task's mode and session in one SELECT."""
    session = await api.session()
    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "done"})]))

    with statements(resources.engine) as sent:
        task = await api.start(session)
        await api.wait(session, task["id"], "completed")

    assert not [s for s, _ in sent if s.startswith("SELECT tasks.runner_id")]
    saves = [s for s, _ in sent if s.startswith("UPDATE tasks SET") and "engine_state=" in s]
    assert saves
    assert all("tasks.runner_id =" in s and "tasks.state IN" in s for s in saves), saves
    setup = [s for s, _ in sent if s.startswith("SELECT tasks.mode, sessions.id")]
    assert len(setup) == 1, setup
