"""Anthropic's extended thinking (Roo's reasoning budget), against the fake LLM speaking
Anthropic's wire protocol, which refuses what Anthropic refuses: a tool loop whose last
assistant turn lacks its signed thinking block, a changed signature, a temperature but 1."""

from __future__ import annotations

import dataclasses

import pytest

from roo.agent.engine import THINKING_MAX_TOKENS
from roo.agent.pricing import ModelInfo, model_info
from roo.testing import Reply, ToolCall
from roo.testing.fake_llm import thinking_signature

from .conftest import Harness, complete

pytestmark = pytest.mark.parametrize("protocol", ["anthropic"])


def claude() -> ModelInfo:
    info = model_info("anthropic", "claude-sonnet-4-5")
    assert info is not None
    assert info.supports_reasoning_budget
    return info


async def test_thinking_blocks_go_back_with_the_tool_results(harness: Harness) -> None:
    listing = ToolCall("list_files", {"path": "."}, id="ls")
    harness.llm.script(
        Reply(reasoning="I should look at the files.", tool_calls=[listing]),
        Reply(
            reasoning="Now I can finish.",
            tool_calls=[ToolCall("list_files", {"path": "src"}, id="ls2")],
        ),
        complete("Listed."),
    )
    outcome = await harness.run(
        model="claude-sonnet-4-5", model_info=claude(), reasoning_budget=2048
    )
    assert outcome.status == "completed", outcome
    first, second, third = harness.llm.requests
    for request in (first, second, third):
        assert request.body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
        assert request.body["temperature"] == 1  # Roo's, and the only one the API takes
        assert request.body["max_tokens"] == THINKING_MAX_TOKENS
    # the signed block comes back first in its assistant turn, unchanged
    assistant = second.body["messages"][-2]
    assert assistant["role"] == "assistant"
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": "I should look at the files.",
        "signature": thinking_signature("I should look at the files."),
    }
    assert assistant["content"][1]["type"] == "tool_use"
    turns = [m for m in third.body["messages"] if m["role"] == "assistant"]
    assert [t["content"][0]["type"] for t in turns] == ["thinking", "thinking"]
    # the history keeps them (no separate reasoning copy)
    kinds = [b["type"] for b in harness.state.history[1]["content"]]
    assert kinds == ["thinking", "tool_use"]
    # the text was streamed as reasoning events
    deltas = "".join(e["delta"] for e in harness.events.of("message") if e["kind"] == "reasoning")
    assert "I should look at the files." in deltas
    assert not [r for r in harness.llm.requests if r.outcome == "bad_request"]


async def test_budget_kept_within_roos_bounds(harness: Harness) -> None:
    harness.llm.script(complete())
    await harness.run(model="claude-sonnet-4-5", model_info=claude(), reasoning_budget=50_000)
    assert harness.llm.requests[0].body["thinking"]["budget_tokens"] == 13_107  # 80 % of 16,384


async def test_models_without_thinking_get_none(harness: Harness) -> None:
    harness.llm.script(
        Reply(reasoning="hidden", tool_calls=[ToolCall("list_files", {"path": "."})]),
        complete(),
    )
    plain = dataclasses.replace(claude(), supports_reasoning_budget=False)
    outcome = await harness.run(model="claude-3-5-haiku", model_info=plain, reasoning_budget=2048)
    assert outcome.status == "completed"
    for request in harness.llm.requests:
        assert "thinking" not in request.body
        assert request.body["temperature"] == 0
        assert request.body["max_tokens"] == 8192
    # without thinking on, the signed block stays home (kept as it came in the history)
    assert harness.llm.requests[1].body["messages"][1]["content"][0]["type"] == "tool_use"
