"""Texts that are Roo's word for word, as the model receives them through the service: the
completion feedback and the completion refused after a failed tool."""

from __future__ import annotations

from roo.testing.fake_llm import Reply, ToolCall
from tests.tasks.conftest import Api, FakeLLM, tool_results_of


async def test_a_message_on_a_completed_task_is_the_completions_result(
    api: Api, llm: FakeLLM
) -> None:
    session = await api.session()
    llm.script(
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "v1"}, id="done1")]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "v2"}, id="done2")]),
    )
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    response = await api.act(session, task["id"], action="message", text="Add tests too.")
    assert response.status_code == 200, response.text
    finished = await api.wait(session, task["id"], "completed")
    assert finished["result"] == "v2"

    (result,) = tool_results_of(llm)
    assert result["tool_call_id"] == "done1"
    assert result["content"] == "<user_message>\nAdd tests too.\n</user_message>"
    # the message is not repeated as a user text
    user = llm.requests[-1].body["messages"][-1]
    assert "Add tests too." not in str(user["content"])


async def test_completion_after_a_failed_tool_is_refused_with_roos_text(
    api: Api, llm: FakeLLM
) -> None:
    session = await api.session()
    llm.script(
        Reply(
            tool_calls=[
                ToolCall("read_file", {"path": "missing.txt"}, id="read"),
                ToolCall("attempt_completion", {"result": "too early"}, id="done"),
            ]
        ),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]),
    )
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    results = {r["tool_call_id"]: r["content"] for r in tool_results_of(llm)}
    assert results["done"] == (
        '{"status":"error","message":"The tool execution failed","error":"Cannot execute '
        "attempt_completion because a previous tool call failed in this turn. Please address the "
        'tool failure before attempting completion."}'
    )
