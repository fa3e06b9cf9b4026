"""Roo's remaining auto-approve settings through the tasks API: mode switches asking, the
follow-up question answered by the service after its timeout, the request and cost limits
pausing the task, and bad settings refused."""

from __future__ import annotations

import json

import pytest

from roo.testing.fake_llm import Reply, ToolCall, Usage
from tests.tasks.conftest import Api, FakeLLM, tool_results_of


def done(result: str = "done") -> Reply:
    return Reply(tool_calls=[ToolCall("attempt_completion", {"result": result})])


async def test_switch_mode_waits_for_approval_and_approve_always_is_saved(
    api: Api, llm: FakeLLM
) -> None:
    session = await api.session()
    switch = ToolCall("switch_mode", {"mode_slug": "ask", "reason": "questions"}, id="sw")
    llm.script(Reply(tool_calls=[switch]), done())
    task = await api.start(session)

    waiting = await api.wait(session, task["id"], "awaiting_approval")
    pending = waiting["pending"]
    assert (pending["kind"], pending["tool"]) == ("tool", "switch_mode")
    assert pending["params"] == {"mode_slug": "ask", "reason": "questions"}
    assert waiting["mode"] == "code"

    response = await api.act(session, task["id"], action="approve_always", approvalId=pending["id"])
    assert response.status_code == 200, response.text
    finished = await api.wait(session, task["id"], "completed")
    assert finished["mode"] == "ask"
    response = await api.request("GET", f"/api/v1/sessions/{session}")
    assert response.json()["config"]["approvalPolicy"]["autoApproveModeSwitch"] is True


@pytest.mark.task_settings(task_wait_timeout_seconds=30)
async def test_followup_is_answered_with_the_first_suggestion_after_the_timeout(
    api: Api, llm: FakeLLM
) -> None:
    session = await api.session(
        approvalPolicy={"autoApproveFollowupQuestions": True, "followupAutoApproveTimeoutMs": 300}
    )
    llm.script(
        Reply(
            tool_calls=[
                ToolCall(
                    "ask_followup_question",
                    {"question": "Which file?", "follow_up": [{"text": "a.py"}, {"text": "b"}]},
                    id="fq",
                )
            ]
        ),
        done(),
    )
    task = await api.start(session)
    finished = await api.wait(session, task["id"], "completed")
    assert finished["state"] == "completed"

    (result,) = tool_results_of(llm)
    assert result["tool_call_id"] == "fq"
    assert "<user_message>\\na.py\\n</user_message>" in json.dumps(result["content"])
    events = await api.events(session)
    (required,) = [e["data"] for e in events if e["event"] == "approval.required"]
    assert required["autoAnswer"] == {"text": "a.py", "afterMs": 300}
    (resolved,) = [e["data"] for e in events if e["event"] == "approval.resolved"]
    assert resolved == {
        "approvalId": required["approvalId"],
        "action": "answer",
        "text": "a.py",
        "auto": True,
    }
    states = [e["data"]["to"] for e in events if e["event"] == "task.state"]
    assert states == ["running", "awaiting_input", "running", "completed"]


async def test_followup_answered_by_the_user_before_the_timeout(api: Api, llm: FakeLLM) -> None:
    session = await api.session(
        approvalPolicy={
            "autoApproveFollowupQuestions": True,
            "followupAutoApproveTimeoutMs": 1_800_000,
        }
    )
    llm.script(
        Reply(
            tool_calls=[
                ToolCall("ask_followup_question", {"question": "?", "follow_up": [{"text": "a"}]})
            ]
        ),
        done(),
    )
    task = await api.start(session)
    waiting = await api.wait(session, task["id"], "awaiting_input")
    assert waiting["pending"]["autoAnswer"] == {"text": "a", "afterMs": 1_800_000}
    response = await api.act(session, task["id"], action="answer", text="mine")
    assert response.status_code == 200, response.text
    await api.wait(session, task["id"], "completed")
    assert "<user_message>\\nmine\\n</user_message>" in json.dumps(tool_results_of(llm))


async def test_request_limit_pauses_the_task_until_the_user_goes_on(api: Api, llm: FakeLLM) -> None:
    session = await api.session(approvalPolicy={"allowedMaxRequests": 1})
    llm.script(Reply(tool_calls=[ToolCall("list_files", {"path": "."})]), done())
    task = await api.start(session)

    waiting = await api.wait(session, task["id"], "awaiting_approval")
    pending = waiting["pending"]
    assert pending["kind"] == "auto_approval_limit"
    assert pending["text"] == (
        "Roo has reached the auto-approved limit of 1 API request(s). Would you like to reset "
        "the count and proceed with the task?"
    )
    assert pending["params"]["type"] == "requests"
    assert len(llm.requests) == 1

    response = await api.act(session, task["id"], action="approve", approvalId=pending["id"])
    assert response.status_code == 200, response.text
    await api.wait(session, task["id"], "completed")
    assert len(llm.requests) == 2


async def test_cost_limit_denied_fails_the_task(api: Api, llm: FakeLLM) -> None:
    session = await api.session(approvalPolicy={"allowedMaxCost": 0.01})
    big = Usage(input_tokens=10_000, output_tokens=1_000)  # gpt-4o: $0.035
    llm.script(Reply(tool_calls=[ToolCall("list_files", {"path": "."})], usage=big), done())
    task = await api.start(session)

    waiting = await api.wait(session, task["id"], "awaiting_approval")
    assert waiting["pending"]["text"] == (
        "Roo has reached the auto-approved cost limit of $0.01. Would you like to reset the "
        "cost and proceed with the task?"
    )
    response = await api.act(session, task["id"], action="deny")
    assert response.status_code == 200, response.text
    failed = await api.wait(session, task["id"], "failed")
    assert failed["failure"]["reason"] == "auto_approval_limit"
    assert len(llm.requests) == 1


@pytest.mark.parametrize(
    "policy",
    [
        {"allowedMaxRequests": -1},
        {"allowedMaxRequests": 1.5},
        {"allowedMaxCost": -0.5},
        {"allowedMaxCost": "lots"},
        {"followupAutoApproveTimeoutMs": -1},
        {"followupAutoApproveTimeoutMs": 86_400_001},
        {"autoApproveModeSwitch": [1]},
        {"autoApproveSubtasks": None},
    ],
)
async def test_bad_approval_settings_are_problems(api: Api, policy: dict[str, object]) -> None:
    response = await api.request(
        "POST", "/api/v1/sessions", json={"name": "x", "config": {"approvalPolicy": policy}}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    field = next(iter(policy))
    assert any(field in json.dumps(error) for error in response.json()["errors"])
