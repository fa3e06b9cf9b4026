"""Deleting a session whose task runs in another process (as `roo serve --workers 2` runs):
the delete asks that process through the task's inbox to stop, waits for it without holding a
connection, then deletes; the run ends quietly and its command is stopped."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from roo.api.state import Resources
from roo.db.engine import unit_of_work
from roo.db.models import Task
from roo.testing.fake_llm import Reply, ToolCall
from tests.support.waiting import eventually
from tests.tasks.conftest import RUN_ANYTHING, Api, FakeLLM, is_command_event

# Production-like heartbeats: the test is about the inbox, not the sweep.
pytestmark = pytest.mark.task_settings(task_heartbeat_seconds=5)


async def test_deleting_a_session_whose_task_runs_in_another_process(
    api: Api, other: Api, llm: FakeLLM, resources: Resources
) -> None:
    session = await api.session(approvalPolicy=RUN_ANYTHING)
    llm.script(Reply(tool_calls=[ToolCall("execute_command", {"command": "sleep 30"})]))
    task = await api.start(session)  # run by the first process
    await other.wait_event(session, is_command_event)  # its command is running

    response = await other.request("DELETE", f"/api/v1/sessions/{session}")

    assert response.status_code == 204, response.text
    assert (await other.request("GET", f"/api/v1/sessions/{session}")).status_code == 404
    runner = resources.tasks.runner

    await eventually(lambda: not runner.runs_here(uuid.UUID(task["id"])), within=10)
    async with unit_of_work(resources.db_sessions) as db:
        left = await db.scalar(
            select(func.count()).select_from(Task).where(Task.session_id == uuid.UUID(session))
        )
    assert left == 0
