"""Condensing as Roo does it, against the fake LLM over both wire protocols: the summary request
(Roo's prompts, tool blocks as text), the summary as the model's fresh start, the history kept
and marked, the fallback to the sliding window, the context-window error path, the user's
request, and the summary's usage in the task's."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from roo.agent import context as ctx
from roo.agent.context import ContextSettings
from roo.agent.pricing import ModelInfo
from roo.agent.pricing import Usage as Priced
from roo.agent.prompts import condense_instructions, condense_system_prompt
from roo.agent.state import EngineState
from roo.testing import Failure, RecordedRequest, Reply, ToolCall, Usage
from tests.agent.engine.conftest import Harness, body_text, calls, complete, gpt_4o

BOTH = pytest.mark.parametrize("protocol", ["openai", "anthropic"])
TODOS = "- [x] look around\n- [ ] summarise"
SUMMARY = "1. Primary Request and Intent: look around the workspace."


def small() -> ModelInfo:
    """A 100k window with a 10k reserve: what the prompt may take is 100k x 0.9 - 10k = 80k."""
    return replace(gpt_4o(), context_window=100_000, max_tokens=10_000)


def steps(last_input: int) -> list[Reply]:
    """Three tool steps (a todo list among them); the third reports `last_input` prompt
    tokens, which the engine takes as the context size before the next request."""
    return [
        calls(ToolCall("list_files", {"path": "."}, id="call_1"), usage=Usage(1_000, 10)),
        calls(
            ToolCall("update_todo_list", {"todos": TODOS}, id="call_2"),
            text="Planning.",
            usage=Usage(2_000, 10),
        ),
        calls(ToolCall("read_file", {"path": "a.txt"}, id="call_3"), usage=Usage(last_input, 10)),
    ]


def system(request: RecordedRequest) -> str:
    """The request's system prompt as text (Anthropic sends it as blocks)."""
    value = request.system
    if isinstance(value, list):
        return "".join(b["text"] for b in value)
    return str(value)


def texts(request: RecordedRequest) -> list[str]:
    """Every text of the request's messages but the system prompt, in order (either
    protocol)."""
    out: list[str] = []
    for message in without_system(request):
        content = message.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out += [b["text"] for b in content if b.get("type") == "text"]
    return out


def tool_blocks(request: RecordedRequest) -> list[Any]:
    """The request's tool calls and results in the protocol's own shape."""
    if request.protocol == "openai":
        return [m for m in request.messages if m.get("tool_calls") or m["role"] == "tool"]
    return [
        b
        for m in request.messages
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") in ("tool_use", "tool_result")
    ]


def without_system(request: RecordedRequest) -> list[dict[str, Any]]:
    return [m for m in request.messages if m["role"] != "system"]


@BOTH
async def test_a_long_conversation_is_condensed_before_the_request(harness: Harness) -> None:
    (harness.workspace / "a.txt").write_text("alpha\n")
    harness.llm.script(
        *steps(85_000), Reply(text=SUMMARY, usage=Usage(6_000, 400)), complete(usage=Usage(900, 5))
    )

    outcome = await harness.run("Look around.", model_info=small())

    assert outcome.status == "completed"
    before, summary_request, after = harness.llm.requests[2:5]
    # the summary request: Roo's prompts, the conversation with its tool blocks as text
    assert system(summary_request) == condense_system_prompt()
    assert texts(summary_request)[-1] == condense_instructions()
    assert summary_request.tools == []
    assert tool_blocks(summary_request) == []
    sent = "\n".join(texts(summary_request))
    assert "[Tool Use: list_files]\npath: ." in sent
    assert "[Tool Use: update_todo_list]\ntodos: " + TODOS in sent
    assert "[Tool Result]\n" in sent
    assert "Look around." in sent
    assert "Planning." in sent
    assert tool_blocks(before) != []  # the requests of the task itself keep them
    # the next request starts afresh from the summary: one user message
    (fresh,) = without_system(after)
    assert fresh["role"] == "user"
    assert texts(after)[0] == f"## Conversation Summary\n{SUMMARY}"
    summary_text = "\n".join(texts(after))
    assert TODOS in summary_text
    assert "<environment_details>" in summary_text
    assert "call_1" not in body_text(after)
    assert system(after) == system(before)  # the task's own system prompt again
    # nothing deleted: the older messages are marked, the summary is marked
    history = harness.state.history
    (event,) = harness.events.of("context.condensed")
    summary_index = next(i for i, m in enumerate(history) if m.get("isSummary"))
    assert summary_index == 7  # the task, 3 steps, then the summary
    assert history[summary_index]["condenseId"] == event["condenseId"]
    assert all(m["condenseParent"] == event["condenseId"] for m in history[:summary_index])
    assert "call_1" in json.dumps(history[:summary_index])
    assert harness.events.of("context.truncated") == []


@BOTH
async def test_the_summary_call_counts_in_the_usage(harness: Harness) -> None:
    (harness.workspace / "a.txt").write_text("alpha\n")
    harness.llm.script(
        *steps(85_000), Reply(text=SUMMARY, usage=Usage(6_000, 400)), complete(usage=Usage(900, 5))
    )

    await harness.run("Look around.", model_info=small())

    info, protocol = small(), harness.protocol
    summary_cost = Priced.priced(info, protocol, 6_000, 400, 0, 0)
    (event,) = harness.events.of("context.condensed")
    assert event["trigger"] == "auto"
    assert event["cost"] == pytest.approx(summary_cost.cost)
    assert event["cost"] > 0
    assert event["usage"]["input_tokens"] == 6_000
    assert event["prevContextTokens"] > 80_000
    assert 0 < event["newContextTokens"] < 20_000
    usage = harness.state.usage
    assert usage.input_tokens == 1_000 + 2_000 + 85_000 + 6_000 + 900
    assert usage.output_tokens == 10 + 10 + 10 + 400 + 5
    every = [(1_000, 10), (2_000, 10), (85_000, 10), (6_000, 400), (900, 5)]
    total = sum(Priced.priced(info, protocol, i, o, 0, 0).cost for i, o in every)
    assert usage.cost == pytest.approx(total)
    assert harness.state.requests == 4  # the task's own requests; the summary is not one
    saved = harness.checkpoints.saved[-1]
    assert saved["usage"]["input_tokens"] == usage.input_tokens


async def test_a_failed_summary_falls_back_to_the_sliding_window(harness: Harness) -> None:
    (harness.workspace / "a.txt").write_text("alpha\n")
    harness.llm.script(
        *steps(85_000), Failure(400, "the summary was refused"), complete(usage=Usage(900, 5))
    )

    outcome = await harness.run("Look around.", model_info=small())

    assert outcome.status == "completed"
    (failed,) = harness.events.of("context.condense_failed")
    assert failed["trigger"] == "auto"
    assert failed["error"].startswith("Condensing API call failed: ")
    (truncated,) = harness.events.of("context.truncated")
    assert truncated["messagesRemoved"] == 2  # half of the 6 after the task, whole pairs
    last = harness.llm.requests[4]
    assert "call_1" not in body_text(last)
    assert "call_2" in body_text(last)
    assert ctx.truncation_marker(2) in body_text(last)
    history = harness.state.history
    assert not any(m.get("isSummary") or m.get("condenseParent") for m in history)
    assert [bool(m.get("truncationParent")) for m in history[:4]] == [False, True, True, False]


async def test_an_empty_summary_is_a_failure(harness: Harness) -> None:
    (harness.workspace / "a.txt").write_text("alpha\n")
    harness.llm.script(*steps(85_000), Reply(text="   "), complete())

    outcome = await harness.run("Look around.", model_info=small())

    assert outcome.status == "completed"
    (failed,) = harness.events.of("context.condense_failed")
    assert failed["error"] == ctx.CONDENSE_FAILED
    assert len(harness.events.of("context.truncated")) == 1


async def test_condensing_off_leaves_only_the_sliding_window(harness: Harness) -> None:
    (harness.workspace / "a.txt").write_text("alpha\n")
    harness.llm.script(*steps(85_000), complete())

    outcome = await harness.run(
        "Look around.", model_info=small(), context=ContextSettings(auto_condense=False)
    )

    assert outcome.status == "completed"
    assert len(harness.llm.requests) == 4  # no summary request
    assert len(harness.events.of("context.truncated")) == 1


async def test_the_percentage_threshold_condenses_earlier(harness: Harness) -> None:
    """At 55k of a 100k window: under what the sliding window allows (80k), over 50 %."""
    (harness.workspace / "a.txt").write_text("alpha\n")
    harness.llm.script(*steps(55_000), Reply(text=SUMMARY), complete())

    await harness.run(
        "Look around.", model_info=small(), context=ContextSettings(condense_percent=50)
    )

    assert len(harness.events.of("context.condensed")) == 1
    assert system(harness.llm.requests[3]) == condense_system_prompt()


async def test_under_the_thresholds_nothing_happens(harness: Harness) -> None:
    (harness.workspace / "a.txt").write_text("alpha\n")
    harness.llm.script(*steps(55_000), complete())

    await harness.run("Look around.", model_info=small())

    assert len(harness.llm.requests) == 4
    assert harness.events.of("context.condensed") == []
    assert harness.events.of("context.truncated") == []


def too_long(protocol: str) -> Failure:
    if protocol == "openai":
        return Failure(400, "maximum context length exceeded", code="context_length_exceeded")
    return Failure(400, "prompt is too long: 210000 tokens > 200000 maximum")


@BOTH
async def test_a_context_window_error_condenses_before_truncating(harness: Harness) -> None:
    """Roo's handleContextWindowExceededError: condense from 75 % of the window on."""
    (harness.workspace / "a.txt").write_text("alpha\n")
    harness.llm.script(*steps(76_000), too_long(harness.protocol), Reply(text=SUMMARY), complete())

    outcome = await harness.run("Look around.", model_info=small())

    assert outcome.status == "completed"
    failed, summary_request, retried = harness.llm.requests[3:6]
    assert system(failed) != condense_system_prompt()
    assert system(summary_request) == condense_system_prompt()
    (event,) = harness.events.of("context.condensed")
    assert event["trigger"] == "context_error"
    assert harness.events.of("context.truncated") == []
    assert f"## Conversation Summary\n{SUMMARY}" in texts(retried)
    assert "call_1" not in body_text(retried)


async def test_a_context_window_error_under_75_percent_truncates(harness: Harness) -> None:
    """Under 75 % the provider's word still counts: a quarter of the turns is hidden."""
    (harness.workspace / "a.txt").write_text("alpha\n")
    fourth = calls(ToolCall("list_files", {"path": "."}, id="call_4"), usage=Usage(60_000, 10))
    harness.llm.script(*steps(60_000), fourth, too_long("openai"), complete())

    outcome = await harness.run("Look around.", model_info=small())

    assert outcome.status == "completed"
    assert harness.events.of("context.condensed") == []
    (truncated,) = harness.events.of("context.truncated")
    assert truncated["messagesRemoved"] == 2  # a quarter of the 8 after the task
    assert "call_1" not in body_text(harness.llm.requests[5])
    assert "call_2" in body_text(harness.llm.requests[5])


@BOTH
async def test_the_user_asks_for_it(harness: Harness) -> None:
    """The user's request (Roo's condense button) condenses before the next request, whatever
    the context size; the summary carries no reply of the model's."""
    (harness.workspace / "a.txt").write_text("alpha\n")
    harness.llm.script(
        calls(ToolCall("list_files", {"path": "."}, id="call_1")),
        Reply(text=SUMMARY),
        calls(ToolCall("read_file", {"path": "a.txt"}, id="call_2")),
        complete(),
    )

    async def sink(event: str, data: dict[str, Any]) -> None:
        await harness.events(event, data)
        if event == "tool.execution" and data["phase"] == "end" and data["callId"] == "call_1":
            harness.interaction.condense_requested = True  # as the API's action does

    outcome = await harness.run("Look around.", sink=sink)

    assert outcome.status == "completed"
    summary_request = harness.llm.requests[1]
    assert system(summary_request) == condense_system_prompt()
    assert "[Tool Use: list_files]\npath: ." in "\n".join(texts(summary_request))
    (event,) = harness.events.of("context.condensed")
    assert event["trigger"] == "manual"
    after = harness.llm.requests[2]
    assert f"## Conversation Summary\n{SUMMARY}" in texts(after)
    assert "call_1" not in body_text(after)
    # the next step goes on from the summary, and is sent with it
    last = harness.llm.requests[3]
    assert f"## Conversation Summary\n{SUMMARY}" in texts(last)
    assert "call_2" in body_text(last)
    assert len(harness.llm.requests) == 4


async def test_a_request_with_nothing_to_condense_is_refused_and_the_task_goes_on(
    harness: Harness,
) -> None:
    harness.interaction.condense_requested = True
    harness.llm.script(complete())

    outcome = await harness.run("Do it.")

    assert outcome.status == "completed"
    (failed,) = harness.events.of("context.condense_failed")
    assert failed == {"trigger": "manual", "error": ctx.NOT_ENOUGH_MESSAGES}
    assert len(harness.llm.requests) == 1


async def test_a_resumed_task_continues_from_the_summary(harness: Harness) -> None:
    """The saved state holds the whole history with its marks; a run that starts from it
    sends the summary and what follows, not what was condensed."""
    (harness.workspace / "a.txt").write_text("alpha\n")
    harness.llm.script(*steps(85_000), Reply(text=SUMMARY), Failure(400, "stop here"))
    first = await harness.run("Look around.", model_info=small())
    assert first.status == "failed"
    saved = harness.checkpoints.saved[-1]

    harness.llm.script(complete())
    outcome = await harness.run("Go on.", state=EngineState.from_dict(saved), model_info=small())

    assert outcome.status == "completed"
    resumed = harness.llm.requests[-1]
    assert f"## Conversation Summary\n{SUMMARY}" in texts(resumed)
    assert "call_1" not in body_text(resumed)
    assert "Go on." in body_text(resumed)
