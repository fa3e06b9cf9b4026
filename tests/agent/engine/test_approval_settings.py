"""Roo's remaining auto-approve settings in the engine: mode switches and subtasks ask unless
allowed, follow-up questions carry their automatic answer, and the request and cost limits
pause the task with Roo's texts."""

from __future__ import annotations

import json

from roo.agent.approval import ApprovalPolicy
from roo.agent.prompts import responses as r
from roo.agent.state import Answer
from roo.testing import ToolCall, Usage

from .conftest import Harness, calls, complete, tool_results

SWITCH = ToolCall("switch_mode", {"mode_slug": "ask", "reason": "questions"}, id="sw")


async def test_switch_mode_asks_by_default_and_a_denial_keeps_the_mode(harness: Harness) -> None:
    harness.llm.script(
        calls(SWITCH, ToolCall("list_files", {"path": "."}, id="after")),
        complete(),
    )
    harness.interaction.answer(Answer("deny", "Stay in code mode."))

    outcome = await harness.run()

    assert outcome.status == "completed"
    (asked,) = harness.interaction.asked
    assert (asked.kind, asked.tool) == ("tool", "switch_mode")
    assert asked.params == {"mode_slug": "ask", "reason": "questions"}
    assert harness.state.mode == "code"
    results = dict(tool_results(harness.llm.requests[1]))
    assert json.loads(results["sw"]) == {"status": "denied", "feedback": "Stay in code mode."}
    # Roo: a denied tool skips the rest of the reply
    assert results["after"].startswith("Skipping tool [list_files for '.']")


async def test_switch_mode_approve_always_allows_the_next_switches(harness: Harness) -> None:
    back = ToolCall("switch_mode", {"mode_slug": "code", "reason": "edit"}, id="sw2")
    harness.llm.script(calls(SWITCH), calls(back), complete())
    harness.interaction.answer(Answer("approve_always", "Go ahead."))

    outcome = await harness.run()

    assert outcome.status == "completed"
    assert len(harness.interaction.asked) == 1  # the second switch did not ask
    assert harness.policy_changes[-1].auto_approve_mode_switch
    assert harness.state.mode == "code"
    first = dict(tool_results(harness.llm.requests[1]))["sw"]
    assert first.startswith('{"status":"approved","feedback":"Go ahead."}')
    assert "Successfully switched from 💻 Code mode to ❓ Ask mode because: questions." in first


async def test_mode_switch_allowed_does_not_ask(harness: Harness) -> None:
    harness.policy = ApprovalPolicy(auto_approve_mode_switch=True)
    harness.llm.script(calls(SWITCH), complete())
    assert (await harness.run()).status == "completed"
    assert harness.interaction.asked == []
    assert harness.state.mode == "ask"


async def test_new_task_asks_unless_subtasks_are_allowed(harness: Harness) -> None:
    new = ToolCall("new_task", {"mode": "ask", "message": "Explain it."}, id="nt")
    harness.llm.script(calls(new), calls(new), complete())
    harness.interaction.answer(Answer("deny"), Answer("approve"))

    outcome = await harness.run()

    assert outcome.status == "completed"
    assert [(a.kind, a.tool) for a in harness.interaction.asked] == [("tool", "new_task")] * 2
    assert harness.interaction.asked[0].params == {"mode": "ask", "message": "Explain it."}
    assert json.loads(dict(tool_results(harness.llm.requests[1]))["nt"]) == {
        "status": "denied",
        "message": "The user denied this operation.",
    }
    assert harness.subtasks == [("ask", "Explain it.", None)]  # only the approved one ran


async def test_a_subtask_asks_before_returning_to_its_parent(harness: Harness) -> None:
    harness.llm.script(complete("first try", call_id="c1"), complete("second try"))
    harness.interaction.answer(Answer("deny", "Check the tests too."), Answer("approve"))

    outcome = await harness.run(is_subtask=True)

    assert outcome.status == "completed"
    assert outcome.result == "second try"
    assert [(a.tool, dict(a.params)) for a in harness.interaction.asked] == [
        ("finish_task", {"result": "first try"}),
        ("finish_task", {"result": "second try"}),
    ]
    assert json.loads(dict(tool_results(harness.llm.requests[1]))["c1"]) == {
        "status": "denied",
        "feedback": "Check the tests too.",
    }
    # with subtasks allowed, it returns at once
    harness.policy = ApprovalPolicy(auto_approve_subtasks=True)
    harness.interaction.asked.clear()
    harness.llm.script(complete("done"))
    assert (await harness.run(is_subtask=True)).result == "done"
    assert harness.interaction.asked == []


FOLLOWUP = ToolCall(
    "ask_followup_question",
    {
        "question": "Which mode?",
        "follow_up": [{"text": "Use ask mode", "mode": "ask"}, {"text": "Stay"}],
    },
    id="fq",
)


async def test_followup_questions_carry_the_automatic_answer_when_enabled(
    harness: Harness,
) -> None:
    harness.llm.script(calls(FOLLOWUP), complete())
    # off (the default): no automatic answer
    harness.interaction.answer(Answer("answer", "Stay"))
    harness.policy = ApprovalPolicy()
    await harness.run()
    assert harness.interaction.asked[0].auto_answer is None
    assert harness.interaction.asked[0].auto_after is None

    harness.policy = ApprovalPolicy(
        auto_approve_followup_questions=True, followup_auto_approve_timeout_ms=1500
    )
    harness.interaction.asked.clear()
    harness.llm.script(calls(FOLLOWUP), complete())
    # the host answered for the user: the first suggestion, without its mode switch (Roo's
    # timeout sends the text only)
    harness.interaction.answer(Answer("answer", "Use ask mode", auto=True))
    outcome = await harness.run()
    assert outcome.status == "completed"
    (asked,) = harness.interaction.asked
    assert (asked.auto_answer, asked.auto_after) == ("Use ask mode", 1.5)
    assert harness.state.mode == "code"
    assert dict(tool_results(harness.llm.requests[-1]))["fq"] == (
        "<user_message>\nUse ask mode\n</user_message>"
    )
    # a timeout of 0 never answers (Roo's `> 0` check)
    harness.policy = ApprovalPolicy(
        auto_approve_followup_questions=True, followup_auto_approve_timeout_ms=0
    )
    assert harness.policy.followup_timeout is None


async def test_request_limit_asks_with_roos_text_and_approval_resets_it(harness: Harness) -> None:
    harness.policy = ApprovalPolicy(auto_approve_read=True, allowed_max_requests=2)
    harness.llm.script(
        *(calls(ToolCall("list_files", {"path": ".", "recursive": i % 2 == 0})) for i in range(2)),
        *(calls(ToolCall("search_files", {"path": ".", "regex": f"x{i}"})) for i in range(2)),
        complete(),
    )
    harness.interaction.answer(Answer("approve"), Answer("approve"))

    outcome = await harness.run()

    assert outcome.status == "completed"
    asked = harness.interaction.asked
    assert [a.kind for a in asked] == ["auto_approval_limit"] * 2
    assert asked[0].text == (
        "Roo has reached the auto-approved limit of 2 API request(s). Would you like to reset "
        "the count and proceed with the task?"
    )
    assert asked[0].params["type"] == "requests"
    # asked before the 3rd and the 5th request: two requests per approval
    assert [a.params["requests"] for a in asked] == [2, 4]
    assert harness.state.requests == 5


async def test_request_limit_denied_fails_the_task(harness: Harness) -> None:
    harness.policy = ApprovalPolicy(allowed_max_requests=1)
    harness.llm.script(calls(ToolCall("list_files", {"path": "."})), complete())
    harness.interaction.answer(Answer("deny"))

    outcome = await harness.run()

    assert outcome.status == "failed"
    assert outcome.reason == "auto_approval_limit"
    assert outcome.message is not None
    assert outcome.message.startswith(r.AUTO_APPROVAL_LIMIT_DECLINED)
    assert len(harness.llm.requests) == 1


async def test_cost_limit_asks_with_roos_text(harness: Harness) -> None:
    harness.policy = ApprovalPolicy(allowed_max_cost=0.02)
    big = Usage(input_tokens=10_000, output_tokens=1_000)  # gpt-4o: $0.035
    harness.llm.script(calls(ToolCall("list_files", {"path": "."}), usage=big), complete())
    harness.interaction.answer(Answer("approve"))

    outcome = await harness.run()

    assert outcome.status == "completed"
    (asked,) = harness.interaction.asked
    assert asked.kind == "auto_approval_limit"
    assert asked.text == (
        "Roo has reached the auto-approved cost limit of $0.02. Would you like to reset the "
        "cost and proceed with the task?"
    )
    assert asked.params["type"] == "cost"
    assert harness.state.approval_reset_cost > 0.02
    # the reset point is saved with the state
    assert harness.checkpoints.saved[-1]["approvalReset"]["requests"] == 1
