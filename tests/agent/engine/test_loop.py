"""The agent loop alone: tool dispatch, approvals, mistakes, retries, streaming, resume,
modes and checkpoints, against the fake LLM through the official SDKs."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import Any

import pytest

from roo.agent import messages as m
from roo.agent.approval import ApprovalPolicy
from roo.agent.context import ContextSettings
from roo.agent.engine import AgentLimits
from roo.agent.prompts import responses as r
from roo.agent.state import Answer, Ask, EngineState, Outcome
from roo.testing import Failure, Reply, ToolCall, Usage
from roo.testing.fake_llm import thinking_signature
from tests.agent.engine.conftest import (
    FAST,
    KEY,
    Harness,
    body_text,
    calls,
    complete,
    gpt_4o,
    tool_errors,
    tool_names,
    tool_results,
    user_texts,
)

BOTH = pytest.mark.parametrize("protocol", ["openai", "anthropic"])
AUTO_WRITE = ApprovalPolicy(auto_approve_write=True, auto_approve_subtasks=True)


def executed(harness: Harness) -> list[str]:
    """The tools that actually ran, in order."""
    return [d["tool"] for d in harness.events.of("tool.execution") if d["phase"] == "start"]


def write(path: str, content: str = "x\n", call_id: str | None = None) -> ToolCall:
    return ToolCall("write_to_file", {"path": path, "content": content}, id=call_id)


async def test_an_auto_approved_write_to_rooignore_still_asks(harness: Harness) -> None:
    """Roo's protected files: with writes auto-approved, rewriting .rooignore (which would
    unhide files from the agent) waits for the user."""
    (harness.workspace / ".rooignore").write_text("secrets/\n")
    harness.policy = AUTO_WRITE
    harness.llm.script(calls(write("notes.txt", "ok\n"), write(".rooignore", "")), complete())
    harness.interaction.answer(Answer("deny"))

    await harness.run()

    assert executed(harness) == ["write_to_file"]  # notes.txt ran at once; .rooignore asked
    (asked,) = harness.interaction.asked
    assert (asked.kind, asked.tool, asked.params["path"]) == ("tool", "write_to_file", ".rooignore")
    assert (harness.workspace / ".rooignore").read_text() == "secrets/\n"


# ---- several calls per reply --------------------------------------------------------------------


@BOTH
async def test_calls_of_one_reply_run_in_order_and_results_pair_with_their_ids(
    harness: Harness,
) -> None:
    harness.commands = True
    harness.policy = ApprovalPolicy(
        auto_approve_write=True, auto_approve_execute=True, allowed_commands=("cat",)
    )
    harness.llm.script(
        calls(
            write("notes.txt", "first line\n", "call_write"),
            ToolCall("execute_command", {"command": "cat notes.txt"}, id="call_cat"),
            ToolCall("read_file", {"path": "notes.txt"}, id="call_read"),
            text="I'll write, then check.",
        ),
        complete(),
    )

    outcome = await harness.run()

    assert outcome == Outcome("completed", result="Done.")
    assert executed(harness) == ["write_to_file", "execute_command", "read_file"]
    results = tool_results(harness.llm.requests[1])
    assert [call_id for call_id, _ in results] == ["call_write", "call_cat", "call_read"]
    assert json.loads(results[0][1])["operation"] == "created"
    assert "first line" in results[1][1]  # the command ran after the write
    assert "first line" in results[2][1]
    if harness.protocol == "anthropic":
        assert tool_errors(harness.llm.requests[1]) == [False, False, False]
    # the assistant turn went back with its text and its three calls
    sent = body_text(harness.llm.requests[1])
    assert "I'll write, then check." in sent
    assert all(call_id in sent for call_id in ("call_write", "call_cat", "call_read"))


@BOTH
@pytest.mark.parametrize("feedback", [None, "Not that file."])
async def test_a_denied_tool_skips_the_later_calls_of_the_same_reply(
    harness: Harness, feedback: str | None
) -> None:
    harness.llm.script(
        calls(
            write("a.txt", call_id="call_a"),
            write("b.txt", call_id="call_b"),
            ToolCall("list_files", {"path": "."}, id="call_list"),  # auto-approved read
        ),
        complete(),
    )
    harness.interaction.answer(Answer("deny", feedback))

    outcome = await harness.run()

    assert outcome.status == "completed"
    assert [q.tool for q in harness.interaction.asked] == ["write_to_file"]
    assert harness.interaction.asked[0].call_id == "call_a"
    assert executed(harness) == []
    assert not (harness.workspace / "a.txt").exists()
    assert not (harness.workspace / "b.txt").exists()
    results = tool_results(harness.llm.requests[1])
    assert [call_id for call_id, _ in results] == ["call_a", "call_b", "call_list"]
    denied = r.tool_denied_with_feedback(feedback) if feedback else r.tool_denied()
    assert results[0][1] == denied
    for (_, text), tool in zip(results[1:], ("write_to_file", "list_files"), strict=True):
        assert text.startswith(f"Skipping tool [{tool}")
        assert text.endswith("due to user rejecting a previous tool.")
    if harness.protocol == "anthropic":
        assert tool_errors(harness.llm.requests[1]) == [True, True, True]


async def test_skipped_call_text_names_the_call_like_roo(harness: Harness) -> None:
    """Roo's text is `Skipping tool ${toolDescription()} ...`, whose description carries the
    call's main argument: "[write_to_file for 'b.txt']" (responses.tool_description)."""
    harness.llm.script(
        calls(write("a.txt", call_id="call_a"), write("b.txt", call_id="call_b")), complete()
    )
    harness.interaction.answer(Answer("deny"))

    await harness.run()

    results = dict(tool_results(harness.llm.requests[1]))
    assert results["call_b"] == (
        "Skipping tool [write_to_file for 'b.txt'] due to user rejecting a previous tool."
    )
    assert results["call_b"] == r.skipped_after_rejection(
        "write_to_file", {"path": "b.txt", "content": "x\n"}
    )


async def test_the_deny_list_refuses_a_command_without_asking(harness: Harness) -> None:
    harness.commands = True
    harness.policy = ApprovalPolicy(auto_approve_execute=True, denied_commands=("rm",))
    (harness.workspace / "victim.txt").write_text("precious\n")
    harness.llm.script(
        calls(
            ToolCall("execute_command", {"command": "rm victim.txt"}, id="call_rm"),
            ToolCall("list_files", {"path": "."}, id="call_list"),
        ),
        complete(),
    )

    outcome = await harness.run()

    assert outcome.status == "completed"
    assert harness.interaction.asked == []
    assert executed(harness) == []
    assert (harness.workspace / "victim.txt").read_text() == "precious\n"
    results = tool_results(harness.llm.requests[1])
    assert results[0] == ("call_rm", r.tool_denied())
    assert results[1][1].startswith("Skipping tool [list_files")


async def test_new_task_must_be_the_last_call_of_a_reply(harness: Harness) -> None:
    harness.policy = AUTO_WRITE
    harness.llm.script(
        calls(
            ToolCall("new_task", {"mode": "code", "message": "Write the tests."}, id="call_new"),
            write("after.txt", call_id="call_after"),
        ),
        complete(),
    )

    outcome = await harness.run()

    assert outcome.status == "completed"
    assert harness.subtasks == [("code", "Write the tests.", None)]
    assert not (harness.workspace / "after.txt").exists()
    assert executed(harness) == []
    assert tool_results(harness.llm.requests[1]) == [
        ("call_new", r.subtask_result("child-1", "summary")),
        ("call_after", r.not_executed_after("write_to_file", "new_task")),
    ]


async def test_an_earlier_failure_in_the_reply_refuses_the_completion(harness: Harness) -> None:
    harness.llm.script(
        calls(
            ToolCall("read_file", {"path": "missing.txt"}, id="call_read"),
            ToolCall("attempt_completion", {"result": "All good."}, id="call_done"),
        ),
        complete("Really done."),
    )

    outcome = await harness.run()

    assert outcome == Outcome("completed", result="Really done.")
    results = dict(tool_results(harness.llm.requests[1]))
    assert results["call_done"] == r.completion_refused()
    assert len(harness.events.of("task.result")) == 1


# ---- approvals ----------------------------------------------------------------------------------


async def test_approve_with_feedback_puts_the_feedback_before_the_result(
    harness: Harness,
) -> None:
    harness.llm.script(calls(write("a.txt", "hello\n", "call_a")), complete())
    harness.interaction.answer(Answer("approve", "Use tabs next time."))

    await harness.run()

    (question,) = harness.interaction.asked
    assert (question.kind, question.tool, question.call_id) == ("tool", "write_to_file", "call_a")
    assert question.params == {"path": "a.txt", "content": "hello\n"}
    assert (harness.workspace / "a.txt").read_text() == "hello\n"
    ((call_id, text),) = tool_results(harness.llm.requests[1])
    assert call_id == "call_a"
    head, _, rest = text.partition("\n")
    assert head == r.tool_approved_with_feedback("Use tabs next time.")
    assert json.loads(rest)["path"] == "a.txt"
    assert harness.policy_changes == []


async def test_approve_always_updates_the_policy_and_stops_asking(harness: Harness) -> None:
    harness.llm.script(
        calls(write("a.txt", call_id="call_a")),
        calls(write("b.txt", call_id="call_b")),
        complete(),
    )
    harness.interaction.answer(Answer("approve_always"))

    agent = harness.make_agent()
    await agent.run("Write two files.")

    assert [q.call_id for q in harness.interaction.asked] == ["call_a"]
    assert (harness.workspace / "a.txt").exists()
    assert (harness.workspace / "b.txt").exists()
    assert agent.setup.policy == ApprovalPolicy(auto_approve_write=True)
    assert harness.policy_changes == [agent.setup.policy]


async def test_approve_always_for_a_command_allows_its_prefix_only(harness: Harness) -> None:
    harness.commands = True
    harness.llm.script(
        calls(ToolCall("execute_command", {"command": "echo hi"}, id="call_1")),
        calls(ToolCall("execute_command", {"command": "echo hi again"}, id="call_2")),
        calls(ToolCall("execute_command", {"command": "ls"}, id="call_3")),
        complete(),
    )
    harness.interaction.answer(Answer("approve_always"), Answer("deny"))

    agent = harness.make_agent()
    outcome = await agent.run("Greet.")

    assert outcome.status == "completed"
    asked = [(q.kind, q.text) for q in harness.interaction.asked]
    assert asked == [("command", "echo hi"), ("command", "ls")]
    assert agent.setup.policy.auto_approve_execute is True
    assert agent.setup.policy.allowed_commands == ("echo hi",)
    assert harness.policy_changes == [agent.setup.policy]
    assert "hi again" in tool_results(harness.llm.requests[2])[0][1]
    assert tool_results(harness.llm.requests[3]) == [("call_3", r.tool_denied())]


# ---- replies without tools; mistakes ------------------------------------------------------------


async def test_a_reply_without_tools_gets_roos_reminder(harness: Harness) -> None:
    harness.llm.script(Reply(text="Let me think."), Reply(text="Still thinking."), complete())

    outcome = await harness.run()

    assert outcome.status == "completed"
    for request in harness.llm.requests[1:]:
        assert user_texts(request)[0] == r.no_tools_used()
    assert "Let me think." in body_text(harness.llm.requests[1])
    step_ends = {
        s["step"]: s
        for s in harness.checkpoints.saved
        if s["history"][-1]["role"] == "user" and s["step"] > 0
    }
    # the first tool-less reply is not a mistake, the second in a row is
    assert (step_ends[1]["mistakes"], step_ends[1]["noToolReplies"]) == (0, 1)
    assert (step_ends[2]["mistakes"], step_ends[2]["noToolReplies"]) == (1, 2)


async def test_a_tool_call_between_tool_less_replies_resets_the_streak(harness: Harness) -> None:
    harness.llm.script(
        Reply(text="Hmm."),
        calls(ToolCall("list_files", {"path": "."})),
        Reply(text="Hmm again."),
        complete(),
    )

    await harness.run()

    step_ends = {
        s["step"]: s
        for s in harness.checkpoints.saved
        if s["history"][-1]["role"] == "user" and s["step"] > 0
    }
    assert step_ends[3]["mistakes"] == 0
    assert step_ends[3]["noToolReplies"] == 1


def read_a() -> ToolCall:
    return ToolCall("read_file", {"path": "a.txt"})


async def test_repeating_the_same_call_is_refused_and_the_answer_reaches_the_model(
    harness: Harness,
) -> None:
    (harness.workspace / "a.txt").write_text("alpha\n")
    harness.llm.script(*(calls(read_a()) for _ in range(4)), complete())
    harness.interaction.answer(Answer("answer", "Read b.txt instead."))

    outcome = await harness.run()

    assert outcome.status == "completed"
    assert executed(harness) == ["read_file"] * 3  # the fourth was refused, as in Roo
    refused = harness.llm.requests[4]
    ((_, text),) = tool_results(refused)
    assert text == r.tool_error(r.tool_repetition_limit("read_file"))
    assert harness.interaction.asked == [
        Ask(kind="mistake_limit", text=r.repetition_guidance("read_file"))
    ]
    assert r.repetition_feedback("Read b.txt instead.") in user_texts(refused)


async def test_repetition_then_deny_fails_the_task(harness: Harness) -> None:
    (harness.workspace / "a.txt").write_text("alpha\n")
    harness.llm.script(*(calls(read_a()) for _ in range(4)), complete())
    harness.interaction.answer(Answer("deny"))

    outcome = await harness.run()

    assert (outcome.status, outcome.reason) == ("failed", "mistake_limit_reached")
    assert len(harness.llm.requests) == 4
    assert harness.llm.pending == 1


async def test_repetition_limit_follows_the_mistake_limit(harness: Harness) -> None:
    (harness.workspace / "a.txt").write_text("alpha\n")
    harness.llm.script(*(calls(read_a()) for _ in range(5)), complete())

    await harness.run(limits=AgentLimits(retry_base_delay=0.001, mistake_limit=5))

    assert executed(harness) == ["read_file"] * 5
    assert harness.interaction.asked == []


async def test_invalid_calls_up_to_the_limit_ask_and_pass_the_guidance_on(
    harness: Harness,
) -> None:
    bad = ToolCall("read_file", '{"path": ')
    harness.llm.script(calls(bad), calls(bad), calls(bad), complete())
    harness.interaction.answer(Answer("answer", "Send valid JSON."))

    outcome = await harness.run()

    assert outcome.status == "completed"
    assert harness.interaction.asked == [Ask(kind="mistake_limit", text=r.MISTAKE_LIMIT_GUIDANCE)]
    assert r.too_many_mistakes("Send valid JSON.") in user_texts(harness.llm.requests[3])
    assert len(harness.llm.requests) == 4


@BOTH
async def test_invalid_json_arguments_get_roos_invalid_tool_call_error(harness: Harness) -> None:
    harness.llm.script(
        calls(ToolCall("read_file", '{"path": "a.t', id="call_bad")),
        complete(),
    )

    outcome = await harness.run()

    assert outcome.status == "completed"
    assert executed(harness) == []
    assert tool_results(harness.llm.requests[1]) == [
        ("call_bad", r.tool_error(r.invalid_tool_call("read_file")))
    ]
    assert "missing nativeArgs" in tool_results(harness.llm.requests[1])[0][1]


async def test_an_unknown_tool_gets_the_list_of_available_tools(harness: Harness) -> None:
    harness.llm.script(
        calls(ToolCall("browser_action", {"action": "launch"}, id="call_browse")),
        complete(),
    )

    await harness.run()

    offered = tool_names(harness.llm.requests[0])
    assert "execute_command" in offered
    ((call_id, text),) = tool_results(harness.llm.requests[1])
    assert call_id == "call_browse"
    assert text == r.tool_error(r.unknown_tool("browser_action", offered))
    assert 'Unknown tool \\"browser_action\\"' in text


async def test_a_tool_outside_the_mode_is_refused(harness: Harness) -> None:
    harness.policy = AUTO_WRITE
    harness.llm.script(calls(write("a.txt", call_id="call_a")), complete())

    await harness.run(state=EngineState(mode="ask"))

    assert not (harness.workspace / "a.txt").exists()
    assert executed(harness) == []
    assert tool_results(harness.llm.requests[1]) == [
        ("call_a", r.tool_error('Tool "write_to_file" is not allowed in ask mode.'))
    ]


async def test_architect_writes_markdown_only(harness: Harness) -> None:
    harness.policy = AUTO_WRITE
    harness.llm.script(
        calls(write("plan.py", call_id="call_py"), write("plans/plan.md", "# Plan\n", "call_md")),
        complete(),
    )

    await harness.run(state=EngineState(mode="architect"))

    assert not (harness.workspace / "plan.py").exists()
    assert (harness.workspace / "plans" / "plan.md").read_text() == "# Plan\n"
    results = dict(tool_results(harness.llm.requests[1]))
    assert results["call_py"] == r.tool_error(
        "Tool 'write_to_file' in mode '🏗️ Architect' can only edit files matching pattern: "
        "\\.md$ (Markdown files only). Got: plan.py"
    )
    assert json.loads(results["call_md"])["operation"] == "created"


# ---- provider errors and retries ----------------------------------------------------------------


async def test_an_empty_reply_is_retried(harness: Harness) -> None:
    harness.llm.script(Reply(text=""), complete())

    outcome = await harness.run()

    assert outcome.status == "completed"
    assert len(harness.llm.requests) == 2
    assert len(harness.events.of("api.retry")) == 1
    # nothing of the empty reply was recorded: the retry sends the same conversation
    assert harness.llm.requests[1].messages == harness.llm.requests[0].messages


@BOTH
async def test_429_waits_what_retry_after_says_then_succeeds(harness: Harness) -> None:
    harness.llm.script(Failure(429, retry_after=0.3), complete())

    started = time.monotonic()
    outcome = await harness.run()

    assert outcome.status == "completed"
    assert time.monotonic() - started >= 0.3
    (retry,) = harness.events.of("api.retry")
    assert (retry["attempt"], retry["delaySeconds"]) == (1, 0.3)
    assert "rate_limit" in retry["error"]


async def test_server_errors_past_the_retries_fail_the_task_when_the_user_denies(
    harness: Harness,
) -> None:
    harness.llm.script(*(Failure(500) for _ in range(FAST.retry_attempts + 1)), complete())
    harness.interaction.answer(Answer("deny"))

    outcome = await harness.run()

    assert (outcome.status, outcome.reason) == ("failed", "api_req_failed")
    assert outcome.message is not None
    assert "500" in outcome.message
    assert len(harness.llm.requests) == FAST.retry_attempts + 1
    attempts = [e["attempt"] for e in harness.events.of("api.retry")]
    assert attempts == list(range(1, FAST.retry_attempts + 1))
    assert harness.llm.pending == 1


@BOTH
async def test_401_fails_at_once_without_leaking_the_key(harness: Harness) -> None:
    harness.llm.script(
        Failure(401, f"Incorrect API key provided: {KEY}. Find yours in the dashboard."),
        complete(),
    )

    outcome = await harness.run()

    assert (outcome.status, outcome.reason) == ("failed", "api_req_failed")
    assert len(harness.llm.requests) == 1
    assert harness.events.of("api.retry") == []
    assert outcome.message is not None
    assert "401" in outcome.message
    assert KEY not in outcome.message
    assert KEY not in json.dumps(harness.events.all)


@BOTH
async def test_a_wrong_key_is_not_retried(harness: Harness) -> None:
    harness.api_key = "sk-wrong-key-0000000000"
    harness.llm.script(complete())

    outcome = await harness.run()

    assert (outcome.status, outcome.reason) == ("failed", "api_req_failed")
    assert [req.outcome for req in harness.llm.requests] == ["unauthorized"]
    assert "sk-wrong-key-0000000000" not in (outcome.message or "")


async def test_cancellation_propagates_from_a_request_in_flight(harness: Harness) -> None:
    harness.llm.script(Reply(text="late", first_byte_delay=5.0), complete())
    agent = harness.make_agent()

    run = asyncio.create_task(agent.run("Do it."))
    await asyncio.wait_for(harness.events.wait_for("api.request"), 5)
    run.cancel()

    with pytest.raises(asyncio.CancelledError):
        await run
    assert harness.events.of("api.retry") == []
    assert harness.events.of("task.progress") == []
    assert harness.llm.pending >= 1  # the completion was never asked for


def orphan_results(messages: list[dict[str, Any]], protocol: str) -> list[str]:
    """Tool result ids without a tool call earlier in the same request."""
    seen: set[str] = set()
    orphans: list[str] = []
    for message in messages:
        if protocol == "openai":
            seen.update(c["id"] for c in message.get("tool_calls") or ())
            if message["role"] == "tool" and message["tool_call_id"] not in seen:
                orphans.append(message["tool_call_id"])
            continue
        if isinstance(message["content"], str):
            continue
        for block in message["content"]:
            if block.get("type") == "tool_use":
                seen.add(block["id"])
            elif block.get("type") == "tool_result" and block["tool_use_id"] not in seen:
                orphans.append(block["tool_use_id"])
    return orphans


def too_long(protocol: str) -> Failure:
    if protocol == "openai":
        return Failure(
            400,
            "This model's maximum context length is 128000 tokens. However, your messages "
            "resulted in 131000 tokens.",
            code="context_length_exceeded",
        )
    return Failure(400, "prompt is too long: 210000 tokens > 200000 maximum")


def four_steps() -> list[Reply]:
    """Four distinct tool steps: 1 + 8 messages of history before the next request."""
    return [
        calls(ToolCall("list_files", {"path": "."}, id="call_1")),
        calls(ToolCall("read_file", {"path": "a.txt"}, id="call_2")),
        calls(ToolCall("list_files", {"path": ".", "recursive": True}, id="call_3")),
        calls(ToolCall("read_file", {"path": "a.txt", "limit": 1}, id="call_4")),
    ]


@BOTH
async def test_a_context_window_error_truncates_and_retries(harness: Harness) -> None:
    (harness.workspace / "a.txt").write_text("alpha\n")
    harness.llm.script(*four_steps(), too_long(harness.protocol), complete())

    outcome = await harness.run("Look around.")

    assert outcome.status == "completed"
    failed, retried = harness.llm.requests[4], harness.llm.requests[5]
    (truncated,) = harness.events.of("context.truncated")
    removed = truncated["messagesRemoved"]
    assert removed > 0
    assert removed % 2 == 0
    assert len(retried.messages) < len(failed.messages)
    assert orphan_results(retried.messages, harness.protocol) == []
    sent = body_text(retried)
    assert "call_1" not in sent  # the oldest pair went
    assert "call_4" in sent  # the latest call kept its result
    assert "Look around." in sent  # the task stays
    assert r.truncation_marker(removed) in sent
    assert harness.state.history[0]["role"] == "user"


async def test_a_context_window_error_keeps_three_quarters_of_the_turns(
    harness: Harness,
) -> None:
    """Roo's forced reduction on a context-window error keeps 75 % of the conversation:
    `FORCED_CONTEXT_REDUCTION_PERCENT = 75 // Keep 75% of context (remove 25%)` in Task.ts, and
    reference 5.1 "forced reduction to 75 %". Of the 8 messages after the task, 2 go."""
    (harness.workspace / "a.txt").write_text("alpha\n")
    harness.llm.script(*four_steps(), too_long(harness.protocol), complete())

    await harness.run("Look around.")

    (truncated,) = harness.events.of("context.truncated")
    assert truncated["messagesRemoved"] == 2
    retried = body_text(harness.llm.requests[5])
    assert "call_1" not in retried
    assert "call_2" in retried


async def test_a_nearly_full_context_drops_the_oldest_half_before_the_request(
    harness: Harness,
) -> None:
    # 100k window: 90 % minus the 10k reply reserve leaves 80k for the prompt
    small = replace(gpt_4o(), context_window=100_000, max_tokens=10_000)
    (harness.workspace / "a.txt").write_text("alpha\n")
    harness.llm.script(
        calls(ToolCall("list_files", {"path": "."}, id="call_1"), usage=Usage(1_000, 10)),
        calls(ToolCall("read_file", {"path": "a.txt"}, id="call_2"), usage=Usage(2_000, 10)),
        calls(ToolCall("list_files", {"path": "sub"}, id="call_3"), usage=Usage(85_000, 10)),
        complete(),
    )

    # condensing off: the sliding window alone (condensing first: tests/agent/engine/test_condense)
    outcome = await harness.run(
        "Look around.", model_info=small, context=ContextSettings(auto_condense=False)
    )

    assert outcome.status == "completed"
    (truncated,) = harness.events.of("context.truncated")
    assert truncated["messagesRemoved"] == 2  # half of the 6 after the task, in whole pairs
    assert truncated["prevContextTokens"] > 80_000
    last = harness.llm.requests[3]
    sent = body_text(last)
    assert "call_1" not in sent
    assert "call_2" in sent
    assert "call_3" in sent
    assert orphan_results(last.messages, "openai") == []
    assert len(harness.llm.requests[2].messages) == len(last.messages)  # -2 +2


# ---- streaming ----------------------------------------------------------------------------------


async def test_streamed_text_reaches_the_sink_delta_by_delta(harness: Harness) -> None:
    """The engine hands each streamed delta over as it comes (the host coalesces them)."""
    text = " ".join(f"word{i}" for i in range(500))
    harness.llm.script(
        calls(ToolCall("list_files", {"path": "."}), text=text, chunk_size=5), complete()
    )

    await harness.run()

    deltas = [d["delta"] for d in harness.events.of("message") if d["kind"] == "text"]
    assert deltas == [text[i : i + 5] for i in range(0, len(text), 5)]
    assert text in body_text(harness.llm.requests[1])  # the text is part of the history


@BOTH
async def test_text_before_a_pause_in_the_stream_is_emitted_during_the_pause(
    harness: Harness,
) -> None:
    """A model that stops mid-reply: what it sent so far is with the sink while it waits,
    not held until its next delta."""
    text = "First part. Second part."
    harness.llm.script(
        calls(ToolCall("list_files", {"path": "."}), text=text, chunk_size=12, hold_after=1),
        complete(),
    )
    run = asyncio.create_task(harness.run())
    await asyncio.wait_for(harness.events.wait_for("message"), 10)
    assert harness.llm.held == 1  # the stream still waits
    assert harness.events.of("message") == [{"kind": "text", "delta": "First part. "}]
    harness.llm.release()
    outcome = await run

    assert outcome.status == "completed"
    deltas = [d["delta"] for d in harness.events.of("message") if d["kind"] == "text"]
    assert "".join(deltas) == text


@BOTH
async def test_reasoning_is_streamed_and_kept_but_not_sent_back(harness: Harness) -> None:
    thought = "The user wants a listing; list_files first, then finish."
    harness.llm.script(
        Reply(reasoning=thought, tool_calls=[ToolCall("list_files", {"path": "."})]), complete()
    )

    await harness.run()

    deltas = [d["delta"] for d in harness.events.of("message") if d["kind"] == "reasoning"]
    assert "".join(deltas) == thought
    assistant = harness.state.history[1]
    assert assistant["role"] == "assistant"
    if harness.protocol == "anthropic":  # Anthropic's signed block, kept as it came
        kept = {"type": "thinking", "thinking": thought, "signature": thinking_signature(thought)}
    else:
        kept = {"type": "reasoning", "text": thought}
    assert kept in assistant["content"]
    # sent back only when the request enables thinking (tests/agent/engine/test_thinking.py)
    assert "list_files first" not in body_text(harness.llm.requests[1])
    assert tool_names(harness.llm.requests[1])  # the request itself went out normally


@BOTH
async def test_message_events_keep_the_order_of_the_stream(harness: Harness) -> None:
    """A model that thinks first, then answers: a client following the events sees the
    reasoning before the text, in the order of the stream."""
    thought = "Short thought."
    text = " ".join(f"word{i}" for i in range(300))
    harness.llm.script(
        Reply(reasoning=thought, text=text, tool_calls=[ToolCall("list_files", {"path": "."})]),
        complete(),
    )

    await harness.run()

    kinds = [d["kind"] for d in harness.events.of("message")]
    assert kinds[0] == "reasoning"
    assert kinds == sorted(kinds, key=lambda kind: kind != "reasoning")
    texts = [d["delta"] for d in harness.events.of("message") if d["kind"] == "text"]
    assert "".join(texts) == text


# ---- resume -------------------------------------------------------------------------------------


@BOTH
async def test_resume_reuses_saved_results_and_marks_the_interrupted_call(
    harness: Harness,
) -> None:
    harness.policy = AUTO_WRITE
    state = EngineState(
        history=[
            m.user(m.text_block(r.user_message("Write two files."))),
            m.assistant(
                m.text_block("Writing both."),
                m.tool_use_block("call_a", "write_to_file", {"path": "a.txt", "content": "A"}),
                m.tool_use_block("call_b", "write_to_file", {"path": "b.txt", "content": "B"}),
            ),
        ],
        pending_results=[m.tool_result_block("call_a", [m.text_block("saved result of a")])],
        requests=1,
    )
    harness.llm.script(complete())

    outcome = await harness.run(None, state=state)

    assert outcome.status == "completed"
    request = harness.llm.requests[0]
    assert tool_results(request) == [
        ("call_a", "saved result of a"),
        ("call_b", r.interrupted_tool_result()),
    ]
    if harness.protocol == "anthropic":
        assert tool_errors(request) == [False, True]
    assert r.task_resumption() in user_texts(request)
    assert executed(harness) == []
    assert not (harness.workspace / "a.txt").exists()
    assert not (harness.workspace / "b.txt").exists()


async def test_resume_of_a_completed_task_with_a_message(harness: Harness) -> None:
    state = EngineState(
        history=[
            m.user(m.text_block(r.user_message("Fix the bug."))),
            m.assistant(m.tool_use_block("call_done", "attempt_completion", {"result": "Fixed."})),
        ],
        result="Fixed.",
        requests=1,
        step=1,
    )
    harness.llm.script(complete("Added a README too."))

    outcome = await harness.run("Please also add a README.", state=state)

    assert outcome == Outcome("completed", result="Added a README too.")
    request = harness.llm.requests[0]
    # Roo's AttemptCompletionTool: the feedback is the completion's tool result, word for word
    assert tool_results(request) == [
        ("call_done", "<user_message>\nPlease also add a README.\n</user_message>")
    ]
    texts = user_texts(request)
    assert r.user_message("Please also add a README.") not in texts  # not twice
    assert r.task_resumption() not in texts
    assert texts[-1].startswith("<environment_details>")


async def test_queued_messages_join_the_next_user_turn(harness: Harness) -> None:
    harness.interaction.queued.append("Also look at b.txt.")
    harness.llm.script(calls(ToolCall("list_files", {"path": "."})), complete())

    await harness.run()

    assert r.user_message("Also look at b.txt.") in user_texts(harness.llm.requests[1])
    assert harness.interaction.queued == []


# ---- modes --------------------------------------------------------------------------------------


async def test_switch_mode_changes_the_tools_of_the_next_request(harness: Harness) -> None:
    harness.policy = ApprovalPolicy(auto_approve_mode_switch=True)
    harness.llm.script(
        calls(
            ToolCall("switch_mode", {"mode_slug": "ask", "reason": "Only questions left"}, id="sw")
        ),
        complete(),
    )

    await harness.run()

    before, after = (tool_names(req) for req in harness.llm.requests)
    assert {"execute_command", "write_to_file"} <= set(before)
    assert "execute_command" not in after
    assert "write_to_file" not in after
    assert "read_file" in after
    assert harness.events.of("task.mode") == [
        {"from": "code", "to": "ask", "reason": "Only questions left"}
    ]
    assert tool_results(harness.llm.requests[1]) == [
        ("sw", r.mode_switched("💻 Code", "❓ Ask", "Only questions left"))
    ]
    assert harness.state.mode == "ask"


async def test_a_followup_answer_picking_a_mode_switches_to_it(harness: Harness) -> None:
    suggestions = [{"text": "Just explain it", "mode": "ask"}, {"text": "Fix it"}]
    harness.llm.script(
        calls(
            ToolCall(
                "ask_followup_question",
                {"question": "Explain or fix?", "follow_up": suggestions},
                id="call_q",
            )
        ),
        complete(),
    )
    harness.interaction.answer(Answer("answer", "Just explain it"))

    await harness.run()

    (question,) = harness.interaction.asked
    assert (question.kind, question.text, question.call_id) == (
        "followup",
        "Explain or fix?",
        "call_q",
    )
    assert list(question.suggestions) == suggestions
    assert tool_results(harness.llm.requests[1]) == [
        ("call_q", r.followup_answer("Just explain it"))
    ]
    assert [e["to"] for e in harness.events.of("task.mode")] == ["ask"]
    assert "execute_command" not in tool_names(harness.llm.requests[1])


async def test_update_todo_list_keeps_the_list(harness: Harness) -> None:
    todos = "[x] read the code\n[-] write the fix\n[ ] run the tests"
    harness.llm.script(
        calls(ToolCall("update_todo_list", {"todos": todos}, id="call_todo")), complete()
    )

    await harness.run()

    assert harness.state.todos == todos
    assert harness.events.of("task.todos") == [{"todos": todos}]
    assert tool_results(harness.llm.requests[1]) == [("call_todo", r.TODO_UPDATED)]
    assert harness.checkpoints.saved[-1]["todos"] == todos


# ---- checkpoints --------------------------------------------------------------------------------


async def test_checkpoints_after_the_reply_after_each_result_and_after_each_step(
    harness: Harness,
) -> None:
    (harness.workspace / "a.txt").write_text("alpha\n")
    harness.llm.script(
        calls(
            ToolCall("list_files", {"path": "."}, id="call_list"),
            ToolCall("read_file", {"path": "a.txt"}, id="call_read"),
        ),
        complete(call_id="call_done"),
    )

    await harness.run()

    saved = harness.checkpoints.saved
    shape = [
        (
            s["history"][-1]["role"],
            [b["tool_use_id"] for b in s["pendingResults"]],
            s["step"],
            s["result"],
        )
        for s in saved
    ]
    assert shape == [
        ("user", [], 0, None),  # the task
        ("assistant", [], 0, None),  # the reply, before any tool runs
        ("assistant", ["call_list"], 0, None),
        ("assistant", ["call_list", "call_read"], 0, None),
        ("user", [], 1, None),  # the step: the results are in the next user turn
        ("assistant", [], 1, None),
        ("assistant", [], 2, "Done."),  # the completion
    ]
    reply = saved[1]["history"][-1]
    assert [b["id"] for b in reply["content"] if b["type"] == "tool_use"] == [
        "call_list",
        "call_read",
    ]
    step = saved[4]["history"][-1]
    assert [b.get("tool_use_id") for b in step["content"][:2]] == ["call_list", "call_read"]
    assert saved[1]["requests"] == 1
    # the reply was saved before the first tool started
    timeline = harness.timeline
    reply_saved = next(
        i
        for i, (kind, item) in enumerate(timeline)
        if kind == "checkpoint" and item["history"][-1]["role"] == "assistant"
    )
    first_tool = timeline.index(("event", "tool.execution"))
    assert reply_saved < first_tool
