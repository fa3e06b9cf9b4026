"""Task lifecycle: restarts and resume, subtasks, approvals that stick, timeouts, messages."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import httpx
import pytest

from roo.api.state import Resources
from roo.app import create_app
from roo.config import Settings
from roo.db.engine import unit_of_work
from roo.db.models import Task
from roo.db.types import utcnow
from roo.tasks.liveness import Liveness
from roo.testing.fake_llm import Reply, ToolCall, Usage
from tests.auth.conftest import PASSWORD, SignedIn
from tests.conftest import started
from tests.tasks.conftest import Api, FakeLLM, MakeApi, question, tool_results_of


async def test_restart_mid_step_then_resume_runs_nothing_twice(
    settings: Settings, llm: FakeLLM
) -> None:
    """Two tool calls in one reply: the command runs, the question waits; the service stops.
    After the restart the task is `interrupted`; `resume` continues from the saved step: the
    command's result is kept (it does not run again), the question gets Roo's interrupted
    result, and the model finishes."""
    llm.script(
        Reply(
            tool_calls=[
                ToolCall("execute_command", {"command": "echo once | tee -a log.txt"}, id="c_cmd"),
                ToolCall(
                    "ask_followup_question",
                    {"question": "Go on?", "follow_up": [{"text": "yes"}]},
                    id="c_ask",
                ),
            ]
        )
    )
    policy = {"autoApproveExecute": True, "allowedCommands": ["echo", "tee"]}
    first = create_app(settings)
    async with started(first):
        resources: Resources = first.state.resources
        async with unit_of_work(resources.db_sessions) as db:
            await resources.auth.create_user(db, "restart@example.com", password=PASSWORD)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=first), base_url="http://first"
        ) as client:
            api = await _signed_in(client, "restart@example.com")
            session = await api.session(approvalPolicy=policy)
            task = await api.start(session)
            await api.wait(session, task["id"], "awaiting_input")
    # The service stopped: the task is interrupted, not lost and not cancelled.
    second = create_app(settings)
    async with started(second):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=second), base_url="http://second"
        ) as client:
            api = await _signed_in(client, "restart@example.com")
            interrupted = await api.task(session, task["id"])
            assert interrupted["state"] == "interrupted"
            assert interrupted["failure"]["reason"] == "shutdown"
            llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "done"})]))
            response = await api.act(session, task["id"], action="resume")
            assert response.status_code == 200, response.text
            done = await api.wait(session, task["id"], "completed")
            assert done["result"] == "done"
            assert await api.read(session, "log.txt") == "once\n"  # ran exactly once
    results = {r["tool_call_id"]: json.dumps(r["content"]) for r in tool_results_of(llm)}
    assert "Exit code: 0" in results["c_cmd"]
    assert "interrupted before this tool call could be completed" in results["c_ask"]
    assert "[TASK RESUMPTION]" in json.dumps(llm.requests[-1].body["messages"])
    assert len(llm.requests) == 2  # one request before the restart, one after


async def _signed_in(client: httpx.AsyncClient, email: str) -> Api:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    return Api(client, SignedIn(body["user"]["id"], email, body["token"], body["refreshToken"]))


@pytest.mark.task_settings(task_heartbeat_seconds=30)
async def test_a_heartbeat_leaves_an_ended_task_alone(
    api: Api, llm: FakeLLM, resources: Resources
) -> None:
    """A run stays in the runner's table for a moment after its task ended; a beat landing
    then must not touch the task (CI once saw its `updatedAt` move after completion)."""
    session = await api.session()
    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]))
    task = await api.start(session)
    done = await api.wait(session, task["id"], "completed")
    liveness = Liveness(
        db_sessions=resources.db_sessions,
        events=resources.tasks.events,
        runner_id=resources.tasks.runner.runner_id,
        heartbeat_seconds=30,
        running=lambda: [uuid.UUID(task["id"])],  # still registered, as a run is a moment
        receive=lambda _task_id, _mail: None,
    )
    await liveness.beat()
    assert (await api.task(session, task["id"]))["updatedAt"] == done["updatedAt"]


# A slow heartbeat: the runner's own periodic sweep must not take the row before the test does.
@pytest.mark.task_settings(task_heartbeat_seconds=30)
async def test_a_task_whose_runner_died_is_marked_interrupted(
    api: Api, resources: Resources
) -> None:
    """A crashed process leaves rows `running` with a heartbeat that stops; the sweep of any
    live runner marks them interrupted (and logs the transition)."""
    session = await api.session()
    async with unit_of_work(resources.db_sessions) as db:
        row = Task(
            session_id=uuid.UUID(session),
            user_id=api.user.user_id,
            state="running",
            mode="code",
            provider="openai",
            model="gpt-4o",
            input="lost",
            images=[],
            engine_state={},
            runner_id="dead",
            heartbeat_at=utcnow() - timedelta(seconds=600),  # older than 3 heartbeats
        )
        db.add(row)
    assert await resources.tasks.runner.liveness.sweep() == 1
    task = await api.task(session, str(row.id))
    assert task["state"] == "interrupted"
    assert task["failure"]["reason"] == "runner_lost"
    events = await api.events(session)
    assert events[-1]["data"] == {"from": "running", "to": "interrupted", "reason": "runner_lost"}


async def test_new_task_runs_a_child_and_returns_its_result(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(
        Reply(tool_calls=[ToolCall("new_task", {"mode": "ask", "message": "Explain x"})]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "x is 42"})]),  # the child
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "parent done"})]),
    )
    parent = await api.start(session)
    # Roo's alwaysAllowSubtasks is off by default: the subtask asks, and so does its return
    waiting = await api.wait(session, parent["id"], "awaiting_approval")
    assert (waiting["pending"]["tool"], waiting["pending"]["params"]) == (
        "new_task",
        {"mode": "ask", "message": "Explain x"},
    )
    response = await api.act(session, parent["id"], action="approve")
    assert response.status_code == 200, response.text
    created = await api.wait_event(
        session, lambda e: e["event"] == "task.created" and e["taskId"] != parent["id"]
    )
    child_id = created["taskId"]
    finishing = await api.wait(session, child_id, "awaiting_approval")
    assert finishing["pending"]["tool"] == "finish_task"
    assert finishing["pending"]["params"] == {"result": "x is 42"}
    response = await api.act(session, child_id, action="approve")
    assert response.status_code == 200, response.text
    done = await api.wait(session, parent["id"], "completed")
    assert len(done["childIds"]) == 1
    child = await api.task(session, done["childIds"][0])
    assert child["parentId"] == parent["id"]
    assert child["mode"] == "ask"
    assert child["state"] == "completed"
    assert child["result"] == "x is 42"
    # The child's request: ask mode's tools only (no edits, no commands).
    child_tools = {t["function"]["name"] for t in llm.requests[1].body["tools"]}
    assert "execute_command" not in child_tools
    assert "write_to_file" not in child_tools
    assert "read_file" in child_tools
    assert "x is 42" in json.dumps(tool_results_of(llm)[-1]["content"])


async def test_approve_always_adds_a_rule_to_the_session(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(
        Reply(tool_calls=[ToolCall("execute_command", {"command": "echo hello"})]),
        Reply(tool_calls=[ToolCall("execute_command", {"command": "echo hello again"})]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]),
    )
    task = await api.start(session)
    await api.wait(session, task["id"], "awaiting_approval")
    response = await api.act(session, task["id"], action="approve_always")
    assert response.status_code == 200, response.text
    await api.wait(session, task["id"], "completed")  # `echo hello again` did not ask
    asked = [e for e in await api.events(session) if e["event"] == "approval.required"]
    assert len(asked) == 1
    config = (await api.request("GET", f"/api/v1/sessions/{session}")).json()["config"]
    assert "echo hello" in config["approvalPolicy"]["allowedCommands"]


@pytest.mark.task_settings(task_wait_timeout_seconds=0.3)
async def test_unanswered_approval_cancels_the_task(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(Reply(tool_calls=[ToolCall("execute_command", {"command": "make"})]))
    task = await api.start(session)
    cancelled = await api.wait(session, task["id"], "cancelled")
    assert cancelled["failure"]["reason"] == "wait_timeout"
    assert cancelled["pending"] is None
    resolved = [e for e in await api.events(session) if e["event"] == "approval.resolved"]
    assert resolved[-1]["data"]["action"] == "rejected"
    assert resolved[-1]["data"]["approvalId"] is not None


async def test_message_continues_a_completed_task(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "first"})]))
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "second"})]))
    response = await api.act(session, task["id"], action="message", text="Also do y")
    assert response.status_code == 200, response.text
    done = await api.wait(session, task["id"], "completed")
    assert done["result"] == "second"
    sent = json.dumps(llm.requests[-1].body["messages"])
    assert "Also do y" in sent
    assert "first" in sent  # the conversation continued


async def test_message_during_an_approval_approves_with_feedback(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(
        Reply(tool_calls=[ToolCall("execute_command", {"command": "echo hi"}, id="c1")]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]),
    )
    task = await api.start(session)
    await api.wait(session, task["id"], "awaiting_approval")
    response = await api.act(session, task["id"], action="message", text="Fine, go ahead")
    assert response.status_code == 200, response.text
    await api.wait(session, task["id"], "completed")
    result = json.dumps(tool_results_of(llm)[-1]["content"])
    assert "Fine, go ahead" in result
    assert "hi" in result  # the command ran


async def test_architect_mode_writes_only_markdown(api: Api, llm: FakeLLM) -> None:
    session = await api.session(approvalPolicy={"autoApproveWrite": True})
    llm.script(
        Reply(tool_calls=[ToolCall("write_to_file", {"path": "main.py", "content": "x = 1\n"})]),
        Reply(tool_calls=[ToolCall("write_to_file", {"path": "PLAN.md", "content": "# Plan\n"})]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "planned"})]),
    )
    task = await api.start(session, config={"mode": "architect"})
    await api.wait(session, task["id"], "completed")
    listing = await api.request("GET", f"/api/v1/sessions/{session}/files")
    names = {entry["name"] for entry in listing.json()["entries"]}
    assert "PLAN.md" in names
    assert "main.py" not in names
    refusal = json.dumps(tool_results_of(llm, request=1)[0]["content"])
    assert "can only edit files matching pattern" in refusal


async def test_anthropic_provider_end_to_end(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(
        Reply(
            text="Listing.",
            tool_calls=[ToolCall("list_files", {"path": "."}, id="toolu_1")],
            usage=Usage(input_tokens=100, output_tokens=10, cache_read=1000, cache_write=200),
        ),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "listed"})]),
    )
    task = await api.start(session, config={"provider": "anthropic", "model": "claude-haiku-4-5"})
    done = await api.wait(session, task["id"], "completed")
    assert done["usage"]["cacheReadTokens"] >= 1000
    assert done["usage"]["cost"] > 0
    second = llm.requests[1].body
    assert second["model"] == "claude-haiku-4-5"
    results = [
        block
        for message in second["messages"]
        for block in (message["content"] if isinstance(message["content"], list) else [])
        if block.get("type") == "tool_result"
    ]
    assert results[0]["tool_use_id"] == "toolu_1"


@pytest.mark.task_settings(task_create_limit="2/minute")
async def test_task_creation_is_rate_limited_per_user(
    api: Api, llm: FakeLLM, make_api: MakeApi
) -> None:
    sessions = [await api.session() for _ in range(3)]
    llm.script(*[Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})])] * 3)
    for session in sessions[:2]:
        assert (await api.create(session)).status_code == 202
    response = await api.create(sessions[2])
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    other = await make_api()  # the limit is per user
    assert (await other.create(await other.session())).status_code == 202


@pytest.mark.task_settings(task_create_limit="2/minute")
async def test_refused_creations_cost_none_of_the_rate_budget(api: Api, llm: FakeLLM) -> None:
    busy, free, other = await api.session(), await api.session(), await api.session()
    llm.script(question())
    await api.wait(busy, (await api.start(busy))["id"], "awaiting_input")  # 1 of 2
    for _ in range(3):  # the session is busy: 409, and the budget is untouched
        assert (await api.create(busy)).status_code == 409
    assert (await api.create(free, config={"mode": "no-such-mode"})).status_code == 422
    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]))
    assert (await api.create(free)).status_code == 202  # 2 of 2
    assert (await api.create(other)).status_code == 429


async def test_message_while_running_joins_the_next_turn(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(
        Reply(tool_calls=[ToolCall("list_files", {"path": "."})], first_byte_delay=0.5),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]),
    )
    task = await api.start(session)
    await api.wait(session, task["id"], "running")
    response = await api.act(session, task["id"], action="message", text="Prefer tabs")
    assert response.status_code == 200, response.text
    await api.wait(session, task["id"], "completed")
    assert "<user_message>\\nPrefer tabs\\n</user_message>" in json.dumps(
        llm.requests[-1].body["messages"]
    )
    assert "Prefer tabs" not in json.dumps(llm.requests[0].body["messages"])


@pytest.mark.task_settings(max_running_tasks=1)
async def test_tasks_beyond_the_process_limit_wait_queued(api: Api, llm: FakeLLM) -> None:
    first_session, second_session = await api.session(), await api.session()
    llm.script(question())
    first = await api.start(first_session)
    await api.wait(first_session, first["id"], "awaiting_input")
    second = await api.start(second_session)
    assert (await api.task(second_session, second["id"]))["state"] == "queued"
    llm.script(
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "first"})]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "second"})]),
    )
    assert (await api.task(second_session, second["id"]))["state"] == "queued"
    response = await api.act(first_session, first["id"], action="answer", text="y")
    assert response.status_code == 200
    await api.wait(first_session, first["id"], "completed")
    done = await api.wait(second_session, second["id"], "completed")
    assert done["result"] == "second"


async def test_cancel_while_awaiting_approval_rejects_it(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(Reply(tool_calls=[ToolCall("execute_command", {"command": "make"})]))
    task = await api.start(session)
    waiting = await api.wait(session, task["id"], "awaiting_approval")
    response = await api.request("DELETE", f"/api/v1/sessions/{session}/tasks/{task['id']}")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "cancelled"
    assert response.json()["pending"] is None
    events = await api.events(session)
    resolved = [e for e in events if e["event"] == "approval.resolved"]
    assert resolved[-1]["data"] == {
        "approvalId": waiting["pending"]["id"],
        "action": "rejected",
        "reason": "user_cancelled",
    }
    # approving the dead question now is a state conflict, not a 500
    response = await api.act(
        session, task["id"], action="approve", approvalId=waiting["pending"]["id"]
    )
    assert response.status_code == 409
