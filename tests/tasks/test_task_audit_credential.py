"""A task created with an API key: the audit rows its run writes (its agent's commands, its
subtasks' too) carry the key's public prefix, as the rows of the key's own requests do; a task
created with an access token carries none. With ROO_TEST_TASK_RUNNER=queue the runs are taken
by a worker, far from the request that created them."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from roo.api.state import Resources
from roo.db.models import AuditEvent, Task
from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.auth.test_api_keys import create_key, key_headers
from tests.tasks.conftest import RUN_ANYTHING, Api


def command(text: str) -> Reply:
    return Reply(tool_calls=[ToolCall("execute_command", {"command": text})])


def done(result: str) -> Reply:
    return Reply(tool_calls=[ToolCall("attempt_completion", {"result": result})])


async def command_rows(resources: Resources, user_id: uuid.UUID) -> dict[str, str | None]:
    """`commands.execute` rows of the user: command text -> credential."""
    async with resources.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(AuditEvent).where(
                    AuditEvent.action == "commands.execute", AuditEvent.actor_id == user_id
                )
            )
        ).all()
    return {row.detail["command"]: row.credential for row in rows}


async def test_a_runs_audit_rows_carry_the_api_key_the_task_was_created_with(
    api: Api, llm: FakeLLM, client: httpx.AsyncClient, resources: Resources
) -> None:
    session = await api.session(approvalPolicy={**RUN_ANYTHING, "autoApproveSubtasks": True})
    created = await create_key(client, api.user, ["tasks:read", "tasks:write"])
    prefix = str(created["prefix"])
    by_key = key_headers(created["key"])

    llm.script(
        command("echo parent"),
        Reply(tool_calls=[ToolCall("new_task", {"mode": "code", "message": "do the child"})]),
        command("echo child"),  # the subtask's
        done("child done"),
        done("parent done"),
    )
    response = await client.post(
        f"/api/v1/sessions/{session}/tasks", headers=by_key, json={"input": "go"}
    )
    assert response.status_code == 202, response.text
    parent = response.json()
    finished = await api.wait(session, parent["id"], "completed", "failed")
    assert finished["state"] == "completed", finished
    (child_id,) = finished["childIds"]

    # the same user with an access token: no credential on its run's rows
    llm.script(command("echo token"), done("ok"))
    by_token = await api.start(session)
    assert (await api.wait(session, by_token["id"], "completed", "failed"))["state"] == "completed"

    assert await command_rows(resources, api.user.user_id) == {
        "echo parent": prefix,
        "echo child": prefix,
        "echo token": None,
    }
    async with resources.engine.connect() as conn:
        stored = dict(
            (
                await conn.execute(
                    select(Task.id, Task.credential).where(Task.session_id == uuid.UUID(session))
                )
            ).all()
        )
    assert stored == {
        uuid.UUID(parent["id"]): prefix,
        uuid.UUID(child_id): prefix,
        uuid.UUID(by_token["id"]): None,
    }
