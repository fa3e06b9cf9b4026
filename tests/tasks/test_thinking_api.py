"""Extended thinking through the tasks API: a Claude task with `reasoningBudget` runs a tool
loop against the fake LLM speaking Anthropic's protocol (which refuses a tool loop without the
signed thinking blocks), and the task's conversation keeps them."""

from __future__ import annotations

import pytest

from roo.testing.fake_llm import Reply, ToolCall, thinking_signature
from tests.tasks.conftest import Api, FakeLLM


async def test_a_claude_task_thinks_through_a_tool_loop(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(
        Reply(reasoning="Look first.", tool_calls=[ToolCall("list_files", {"path": "."})]),
        Reply(reasoning="Done.", tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]),
    )
    config = {"provider": "anthropic", "model": "claude-sonnet-4-5", "reasoningBudget": 4096}
    task = await api.start(session, config=config)
    done = await api.wait(session, task["id"], "completed", "failed")
    assert done["state"] == "completed", done.get("failure")

    second = llm.requests[-1].body
    assert second["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert second["temperature"] == 1
    assistant = [m for m in second["messages"] if m["role"] == "assistant"][-1]
    assert assistant["content"][0]["signature"] == thinking_signature("Look first.")
    # the stored conversation has the signed blocks
    blocks = [b for m in done["messages"] for b in m["content"] if b["type"] == "thinking"]
    assert [b["thinking"] for b in blocks] == ["Look first.", "Done."]


@pytest.mark.parametrize("budget", [1000, 13_108, "lots", True])
async def test_bad_budgets_are_422(api: Api, budget: object) -> None:
    session = await api.session()
    response = await api.create(session, config={"reasoningBudget": budget})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
