"""The tasks API end to end: HTTP API -> runner -> engine -> official SDK -> fake LLM server over
a real socket -> tools in the session's sandbox -> events in the database."""

from __future__ import annotations

import json

import pytest

from roo.testing.fake_llm import Failure, Reply, ToolCall, Usage
from tests.tasks.conftest import (
    RUN_ANYTHING,
    Api,
    FakeLLM,
    is_command_event,
    question,
    tool_results_of,
)

DIFF = """<<<<<<< SEARCH
:start_line:1
-------
print("hello")
=======
print("hello, world")
>>>>>>> REPLACE"""


async def test_read_diff_approved_command_then_completion(api: Api, llm: FakeLLM) -> None:
    session = await api.session(approvalPolicy={"autoApproveWrite": True})
    await api.write(session, "app.py", 'print("hello")\n')
    llm.script(
        Reply(
            text="Let me look at the file.",
            tool_calls=[ToolCall("read_file", {"path": "app.py"}, id="call_read")],
            usage=Usage(input_tokens=1000, output_tokens=50),
        ),
        Reply(
            tool_calls=[ToolCall("apply_diff", {"path": "app.py", "diff": DIFF}, id="call_diff")]
        ),
        Reply(
            tool_calls=[ToolCall("execute_command", {"command": "python3 app.py"}, id="call_run")]
        ),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Greets the world now."})]),
    )
    task = await api.start(session, "Make app.py greet the world")
    assert task["state"] in ("queued", "running")
    task_id = task["id"]

    waiting = await api.wait(session, task_id, "awaiting_approval")
    pending = waiting["pending"]
    assert pending["kind"] == "command"
    assert pending["text"] == "python3 app.py"
    # The diff was applied without asking (write auto-approval), the command waits for us.
    assert await api.read(session, "app.py") == 'print("hello, world")\n'

    response = await api.act(session, task_id, action="approve", approvalId=pending["id"])
    assert response.status_code == 200, response.text
    done = await api.wait(session, task_id, "completed")
    assert done["result"] == "Greets the world now."
    assert done["usage"]["requests"] == 4
    assert done["usage"]["inputTokens"] >= 1000
    assert done["usage"]["cost"] > 0  # gpt-4o has a price in the table

    # What the model was sent: the file's content, then the command's output, paired by call id.
    results = tool_results_of(llm)
    by_id = {r["tool_call_id"]: r["content"] for r in results}
    assert "hello" in json.dumps(by_id["call_read"])
    assert "hello, world" in json.dumps(by_id["call_run"])
    assert llm.requests[0].body["model"] == "gpt-4o"
    assert "Make app.py greet the world" in json.dumps(llm.requests[0].body["messages"])

    events = await api.events(session)
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1))  # gap-free, in order
    names = [e["event"] for e in events]
    for expected in (
        "task.created",
        "task.started",
        "message",
        "tool.execution",
        "approval.required",
        "approval.resolved",
        "task.progress",
        "task.complete",
    ):
        assert expected in names, expected
    assert all(e["taskId"] == task_id for e in events)
    outputs = "".join(
        e["data"].get("output", "")
        for e in events
        if e["event"] == "tool.execution" and e["data"]["phase"] == "output"
    )
    assert "hello, world" in outputs
    states = [e["data"]["to"] for e in events if e["event"] == "task.state"]
    assert states == ["running", "awaiting_approval", "running", "completed"]

    # Paging the log: after=N returns what follows.
    tail = await api.events(session, after=seqs[-3])
    assert [e["seq"] for e in tail] == seqs[-2:]


async def test_deny_with_feedback_reaches_the_model(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(
        Reply(tool_calls=[ToolCall("execute_command", {"command": "rm -rf build"}, id="c1")]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Left build alone."})]),
    )
    task = await api.start(session)
    waiting = await api.wait(session, task["id"], "awaiting_approval")
    response = await api.act(session, task["id"], action="deny", feedback="Do not delete anything.")
    assert response.status_code == 200, response.text
    await api.wait(session, task["id"], "completed")
    result = tool_results_of(llm, request=1)[0]
    assert result["tool_call_id"] == "c1"
    assert "Do not delete anything." in json.dumps(result["content"])
    assert '\\"status\\":\\"denied\\"' in json.dumps(result["content"])
    # A stale or wrong approval id is refused, not applied.
    assert waiting["pending"]["id"]


async def test_action_that_does_not_fit_the_state_is_409(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "done"})]))
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    response = await api.act(session, task["id"], action="approve")
    assert response.status_code == 409
    assert "completed" in response.json()["detail"]
    response = await api.act(session, task["id"], action="answer", text="x")
    assert response.status_code == 409


async def test_provider_500_then_success(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(
        Failure(500, "boom"),
        Failure(429, "slow down", retry_after=0.01),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]),
    )
    task = await api.start(session)
    done = await api.wait(session, task["id"], "completed")
    assert done["result"] == "ok"
    retries = [e for e in await api.events(session) if e["event"] == "api.retry"]
    assert [r["data"]["attempt"] for r in retries] == [1, 2]


async def test_provider_down_fails_with_api_req_failed_then_resumes(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(*[Failure(503, "down")] * 4)  # first attempt + 3 retries
    task = await api.start(session)
    # past the retries the user is asked (Roo's api_req_failed ask); deny fails the task
    waiting = await api.wait(session, task["id"], "awaiting_approval")
    assert waiting["pending"]["kind"] == "api_retry"
    assert "503" in waiting["pending"]["text"]
    response = await api.act(session, task["id"], action="deny")
    assert response.status_code == 200, response.text
    failed = await api.wait(session, task["id"], "failed")
    assert failed["failure"]["reason"] == "api_req_failed"
    errors = [e for e in await api.events(session) if e["event"] == "error.occurred"]
    assert errors[-1]["data"]["reason"] == "api_req_failed"

    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "back"})]))
    response = await api.act(session, task["id"], action="resume")
    assert response.status_code == 200, response.text
    done = await api.wait(session, task["id"], "completed")
    assert done["result"] == "back"
    # The resumed request carries the original task, not a fresh conversation.
    assert "do it" in json.dumps(llm.requests[-1].body["messages"])


async def test_invalid_tool_call_three_times_asks_then_stops(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(*[Reply(tool_calls=[ToolCall("read_file", "{not json")])] * 3)
    task = await api.start(session)
    waiting = await api.wait(session, task["id"], "awaiting_input")
    assert waiting["pending"]["kind"] == "mistake_limit"
    invalid = tool_results_of(llm, request=2)
    assert "Invalid tool call" in json.dumps(invalid)
    response = await api.act(session, task["id"], action="deny")
    assert response.status_code == 200, response.text
    failed = await api.wait(session, task["id"], "failed")
    assert failed["failure"]["reason"] == "mistake_limit_reached"


async def test_mistake_limit_answer_lets_the_model_try_again(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(
        *[Reply(tool_calls=[ToolCall("no_such_tool", {})])] * 3,
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "recovered"})]),
    )
    task = await api.start(session)
    await api.wait(session, task["id"], "awaiting_input")
    response = await api.act(session, task["id"], action="answer", text="Use read_file.")
    assert response.status_code == 200, response.text
    await api.wait(session, task["id"], "completed")
    assert "Use read_file." in json.dumps(llm.requests[-1].body["messages"])


@pytest.mark.task_settings(task_max_cost=0.01)
async def test_cost_limit_fails_the_task(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    big = Usage(input_tokens=10_000, output_tokens=1_000)  # gpt-4o: $0.035
    llm.script(
        Reply(tool_calls=[ToolCall("list_files", {"path": "."})], usage=big),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "never"})]),
    )
    task = await api.start(session)
    failed = await api.wait(session, task["id"], "failed")
    assert failed["failure"]["reason"] == "cost_limit"
    assert len(llm.requests) == 1


async def test_cancel_during_a_command_stops_it(api: Api, llm: FakeLLM) -> None:
    session = await api.session(approvalPolicy=RUN_ANYTHING)
    llm.script(
        Reply(tool_calls=[ToolCall("execute_command", {"command": "echo started; sleep 30"})])
    )
    task = await api.start(session)
    await api.wait_event(session, lambda e: is_command_event(e) and e["data"]["phase"] == "output")
    response = await api.request("DELETE", f"/api/v1/sessions/{session}/tasks/{task['id']}")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "cancelled"
    names = [e["event"] for e in await api.events(session)]
    assert "task.cancelled" in names
    # Deleting the finished task now removes it.
    response = await api.request("DELETE", f"/api/v1/sessions/{session}/tasks/{task['id']}")
    assert response.status_code == 204
    response = await api.request("GET", f"/api/v1/sessions/{session}/tasks/{task['id']}")
    assert response.status_code == 404


async def test_followup_question_waits_for_an_answer(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(
        Reply(
            tool_calls=[
                ToolCall(
                    "ask_followup_question",
                    {"question": "Which file?", "follow_up": [{"text": "a.py"}]},
                )
            ]
        ),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "used b.py"})]),
    )
    task = await api.start(session)
    waiting = await api.wait(session, task["id"], "awaiting_input")
    assert waiting["pending"]["text"] == "Which file?"
    assert waiting["pending"]["suggestions"] == [{"text": "a.py"}]
    response = await api.act(session, task["id"], action="answer", text="b.py")
    assert response.status_code == 200
    await api.wait(session, task["id"], "completed")
    assert "<user_message>\\nb.py\\n</user_message>" in json.dumps(
        llm.requests[-1].body["messages"]
    )


async def test_one_running_task_per_session(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(question())
    first = await api.start(session)
    await api.wait(session, first["id"], "awaiting_input")
    response = await api.create(session)
    assert response.status_code == 409
    assert response.json()["type"].endswith("session-busy")
    other = await api.session()  # another session is free
    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]))
    second = await api.start(other)
    await api.wait(other, second["id"], "completed")


@pytest.mark.task_settings(openai_api_key=None, openai_base_url=None)
async def test_no_provider_configured_is_422(api: Api) -> None:
    session = await api.session()
    response = await api.create(session)
    assert response.status_code == 422
    assert "OPENAI_API_KEY" in response.json()["detail"]


async def test_unknown_models_run_and_unknown_providers_are_422(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    response = await api.create(session, config={"provider": "anthropic", "model": "no-such-model"})
    # Any model name is accepted (default model info, a task.warning); a provider is not.
    assert response.status_code == 202
    response = await api.create(session, config={"provider": "nope", "model": "x"})
    assert response.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"input": ""},
        {"input": "x" * 10001},
        {"input": "ok", "images": ["not a data url"]},
        {"input": "ok", "config": {"mode": "wizard"}},
        {"input": "ok", "unexpected": 1},
    ],
)
async def test_invalid_task_bodies_are_422(api: Api, body: dict[str, object]) -> None:
    session = await api.session()
    response = await api.request("POST", f"/api/v1/sessions/{session}/tasks", json=body)
    assert response.status_code == 422, response.text
    listed = await api.request("GET", f"/api/v1/sessions/{session}/tasks")
    assert listed.json()["total"] == 0  # nothing was created


async def test_viewer_reads_but_cannot_start_tasks(make_api: object, api: Api) -> None:
    viewer = await make_api("viewer")  # type: ignore[operator]
    session = await api.session()
    response = await viewer.create(session)
    assert response.status_code == 403


async def test_other_users_cannot_see_tasks(make_api: object, api: Api, llm: FakeLLM) -> None:
    other = await make_api()  # type: ignore[operator]
    session = await api.session()
    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "mine"})]))
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    response = await other.request("GET", f"/api/v1/sessions/{session}/tasks/{task['id']}")
    assert response.status_code == 404
    response = await other.request("GET", f"/api/v1/sessions/{session}/events")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "suffix", "body", "status"),
    [
        ("PUT", "/tasks/{task}", {"action": "explode"}, 422),
        ("PUT", "/tasks/{task}", {"action": "approve", "approvalId": "not-a-uuid"}, 422),
        ("PUT", "/tasks/{task}", {"action": "message", "text": "x" * 10001}, 422),
        ("PUT", "/tasks/{task}", {"action": "message"}, 422),  # no text
        ("PUT", "/tasks/{task}", {"action": "approve", "extra": True}, 422),
        ("PUT", "/tasks/{task}", [], 422),
        ("PUT", "/tasks/00000000-0000-0000-0000-000000000000", {"action": "resume"}, 404),
        ("GET", "/tasks/not-a-uuid", None, 422),
        ("GET", "/tasks?state=sleeping", None, 422),
        ("GET", "/tasks?limit=0", None, 422),
        ("GET", "/events?after=-1", None, 422),
        ("GET", "/events?limit=100000", None, 422),
        ("DELETE", "/tasks/00000000-0000-0000-0000-000000000000", None, 404),
    ],
)
async def test_bad_requests_get_problems_and_change_nothing(
    api: Api, llm: FakeLLM, method: str, suffix: str, body: object, status: int
) -> None:
    session = await api.session()
    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]))
    task = await api.start(session)
    done = await api.wait(session, task["id"], "completed")
    before = await api.events(session)
    url = f"/api/v1/sessions/{session}" + suffix.format(task=task["id"])
    response = (
        await api.request(method, url, json=body)
        if body is not None
        else (await api.request(method, url))
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await api.events(session) == before
    assert (await api.task(session, task["id"]))["updatedAt"] == done["updatedAt"]


async def test_first_request_lists_the_workspace_like_list_files(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    await api.write(session, "notes/todo.txt?parents=true", "x\n")
    await api.write(session, ".rooignore", "secret.txt\n")
    await api.write(session, "secret.txt", "hidden\n")
    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]))
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    first = json.dumps(llm.requests[0].body["messages"])
    assert "notes/\\nnotes/todo.txt" in first
    assert "secret.txt" not in first  # .rooignore'd, as for the agent's tools
