"""The engine's limits (requests, cost, wall time) and its usage and cost accounting."""

from __future__ import annotations

from typing import Any

import pytest

from roo.agent.context import ContextSettings
from roo.agent.engine import AgentLimits
from roo.agent.pricing import ApiProtocol, cost
from roo.testing import Reply, ToolCall, Usage
from tests.agent.engine.conftest import Harness, calls, complete, gpt_4o


def listing(usage: Usage | None = None, **reply: Any) -> Reply:
    return calls(ToolCall("list_files", {"path": "."}), usage=usage, **reply)


def limits(**values: Any) -> AgentLimits:
    return AgentLimits(retry_base_delay=0.001, **values)


async def test_max_requests_stops_before_the_next_request(harness: Harness) -> None:
    harness.llm.script(listing(), listing(), listing(), complete())

    outcome = await harness.run(limits=limits(max_requests=2))

    assert (outcome.status, outcome.reason) == ("failed", "request_limit")
    assert len(harness.llm.requests) == 2
    assert harness.state.requests == 2


async def test_a_task_may_complete_on_its_last_allowed_request(harness: Harness) -> None:
    harness.llm.script(listing(), complete())

    outcome = await harness.run(limits=limits(max_requests=2))

    assert outcome.status == "completed"


async def test_max_cost_stops_once_spent(harness: Harness) -> None:
    # 200k input + 10k output tokens of gpt-4o: $0.50 + $0.10 a request (more than the window
    # holds: condensing is off, or it would take the scripted replies)
    usage = Usage(input_tokens=200_000, output_tokens=10_000)
    harness.llm.script(listing(usage), listing(usage), listing(usage), complete())

    outcome = await harness.run(
        limits=limits(max_cost=1.0), context=ContextSettings(auto_condense=False)
    )

    assert (outcome.status, outcome.reason) == ("failed", "cost_limit")
    assert len(harness.llm.requests) == 2
    assert harness.state.usage.cost == pytest.approx(1.2)
    assert outcome.message is not None
    assert "$1.00" in outcome.message


async def test_max_wall_seconds_ends_a_slow_request(harness: Harness) -> None:
    harness.llm.script(Reply(text="late", first_byte_delay=5.0), complete())

    outcome = await harness.run(limits=limits(max_wall_seconds=0.3))

    # the 5 s reply was cut off (not waited out and retried): one request, the limit's reason
    assert (outcome.status, outcome.reason) == ("failed", "wall_time_limit")
    assert len(harness.llm.requests) == 1
    assert harness.llm.pending == 1


# ---- accounting ---------------------------------------------------------------------------------

# Usage in the fake's terms (input excludes the cache); each protocol reports it its own way.
FIRST = Usage(input_tokens=1_000, output_tokens=100, cache_read=3_000, cache_write=200)
SECOND = Usage(input_tokens=500, output_tokens=50, cache_read=4_000)


def reported(usage: Usage, protocol: str) -> tuple[int, int, int, int]:
    """(input, output, cache write, cache read) as the provider reports them: OpenAI's input
    includes the cached tokens, Anthropic's does not."""
    uncached = usage.input_tokens
    if protocol == "openai":
        uncached += usage.cache_read + usage.cache_write
    return uncached, usage.output_tokens, usage.cache_write, usage.cache_read


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
async def test_usage_and_cost_sum_over_requests(harness: Harness, protocol: ApiProtocol) -> None:
    harness.llm.script(listing(FIRST), complete(usage=SECOND))

    outcome = await harness.run()

    assert outcome.status == "completed"
    info = gpt_4o()
    counts = [reported(FIRST, protocol), reported(SECOND, protocol)]
    costs = [cost(info, protocol, *c) for c in counts]
    other: ApiProtocol = "anthropic" if protocol == "openai" else "openai"
    # the protocol's rule matters: the other one would price the same counts differently
    assert cost(info, other, *counts[0]) != pytest.approx(costs[0])

    usage = harness.state.usage
    assert usage.input_tokens == counts[0][0] + counts[1][0]
    assert usage.output_tokens == 150
    assert usage.cache_write_tokens == 200
    assert usage.cache_read_tokens == 7_000
    assert usage.cost == pytest.approx(sum(costs))

    progress = harness.events.of("task.progress")
    assert [p["requests"] for p in progress] == [1, 2]
    assert [p["step"] for p in progress] == [1, 2]
    assert [p["request"]["cost"] for p in progress] == pytest.approx(costs)
    assert [p["usage"]["cost"] for p in progress] == pytest.approx([costs[0], sum(costs)])
    assert progress[0]["request"]["input_tokens"] == counts[0][0]
    assert progress[1]["usage"]["cache_read_tokens"] == 7_000

    # the context the next request starts from: all prompt tokens of the latest one + output
    assert harness.state.context_tokens == 500 + 4_000 + 50
