"""Two service processes on one database (as `roo serve --workers 2` runs): an action may reach
the process that does not run the task; it goes through the task's inbox."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from roo.api.state import Resources
from roo.db.engine import unit_of_work
from roo.db.models import Task
from roo.testing.fake_llm import Reply, ToolCall
from tests.tasks.conftest import RUN_ANYTHING, Api, FakeLLM, is_command_event, tool_results_of

# Heartbeats of a few seconds, as in production (10 s): with the suite's 0.2 s, a slow CI machine
# delayed the running process's beat past 3 x 0.2 s and the other process swept its live task as
# `runner_lost` (seen once). Actions still reach the runner at the inbox poll (0.5 s).
pytestmark = pytest.mark.task_settings(task_heartbeat_seconds=5)


async def test_approval_given_to_another_process(
    api: Api, other: Api, llm: FakeLLM, resources: Resources
) -> None:
    session = await api.session()
    llm.script(
        Reply(tool_calls=[ToolCall("execute_command", {"command": "echo far"}, id="c1")]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]),
    )
    task = await api.start(session)  # run by the first process
    waiting = await other.wait(session, task["id"], "awaiting_approval")
    response = await other.act(
        session,
        task["id"],
        action="approve",
        approvalId=waiting["pending"]["id"],
        feedback="from afar",
    )
    assert response.status_code == 200, response.text
    done = await other.wait(session, task["id"], "completed")
    assert done["result"] == "ok"
    result = json.dumps(tool_results_of(llm)[-1]["content"])
    assert "far" in result
    assert "from afar" in result
    # the inbox was emptied to SQL NULL: the runner's poll finds no task with mail
    async with unit_of_work(resources.db_sessions) as db:
        with_mail = await db.scalar(
            select(func.count()).select_from(Task).where(Task.inbox.is_not(None))
        )
    assert with_mail == 0


async def test_message_and_cancel_through_another_process(
    api: Api, other: Api, llm: FakeLLM
) -> None:
    session = await api.session(approvalPolicy=RUN_ANYTHING)
    llm.script(
        Reply(tool_calls=[ToolCall("list_files", {"path": "."})], first_byte_delay=1.0),
        Reply(tool_calls=[ToolCall("execute_command", {"command": "sleep 30"})]),
    )
    task = await api.start(session)
    await other.wait(session, task["id"], "running")
    response = await other.act(session, task["id"], action="message", text="remote note")
    assert response.status_code == 200, response.text
    # the command starts once the message has joined the next turn
    await other.wait_event(session, is_command_event)
    assert "remote note" in json.dumps(llm.requests[-1].body["messages"])
    response = await other.request("DELETE", f"/api/v1/sessions/{session}/tasks/{task['id']}")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "cancelled"
    assert response.json()["failure"]["reason"] == "user_cancelled"
