"""The interaction tools: schemas the model sees, validation, and "handled by the engine"."""

from __future__ import annotations

from typing import Any

import pytest

from roo.agent.tools.base import ApprovalCategory, ToolContext
from roo.agent.tools.interaction import (
    INTERACTION_TOOLS,
    AskFollowupQuestionTool,
    AttemptCompletionTool,
    NewTaskTool,
    SwitchModeTool,
    UpdateTodoListTool,
)

VALID: dict[str, dict[str, Any]] = {
    "ask_followup_question": {
        "question": "Which database?",
        "follow_up": [{"text": "PostgreSQL", "mode": None}, {"text": "SQLite", "mode": "code"}],
    },
    "attempt_completion": {"result": "Done: the tests pass."},
    "switch_mode": {"mode_slug": "code", "reason": "Need to edit files."},
    "new_task": {"mode": "code", "message": "Implement X.", "todos": "- [ ] step"},
    "update_todo_list": {"todos": "- [x] one\n- [-] two\n- [ ] three"},
}


def test_names_categories_and_direct_flag() -> None:
    names = {tool.name for tool in INTERACTION_TOOLS}
    assert names == set(VALID)
    for tool in INTERACTION_TOOLS:
        assert tool.category is ApprovalCategory.INTERACTION
        assert tool.direct is False
        assert tool.description


@pytest.mark.parametrize("tool_class", INTERACTION_TOOLS)
async def test_execute_says_engine_handled(tool_class: Any, ctx: ToolContext) -> None:
    tool = tool_class()
    result = await tool.run(VALID[tool.name], ctx)
    assert result.is_error
    assert "handled by the agent engine" in result.text_content
    assert result.data["engine_handled"] is True


def test_schemas() -> None:
    schema = AskFollowupQuestionTool.parameters_schema()
    assert schema["required"] == ["question", "follow_up"]
    follow_up = schema["properties"]["follow_up"]
    assert follow_up["minItems"] == 1
    assert follow_up["maxItems"] == 4
    assert schema["additionalProperties"] is False
    assert set(AttemptCompletionTool.parameters_schema()["required"]) == {"result"}
    assert set(SwitchModeTool.parameters_schema()["required"]) == {"mode_slug", "reason"}
    assert set(NewTaskTool.parameters_schema()["required"]) == {"mode", "message"}
    assert set(UpdateTodoListTool.parameters_schema()["required"]) == {"todos"}


@pytest.mark.parametrize(
    ("tool_class", "params", "expected"),
    [
        (
            AskFollowupQuestionTool,
            {"question": "Q?", "follow_up": [{"text": str(i)} for i in range(5)]},
            "follow_up",
        ),
        (AskFollowupQuestionTool, {"question": "Q?", "follow_up": []}, "follow_up"),
        (AskFollowupQuestionTool, {"follow_up": [{"text": "a"}]}, "'question'"),
        (
            AskFollowupQuestionTool,
            {"question": "Q?", "follow_up": [{"text": "a", "extra": 1}]},
            "extra",
        ),
        (AttemptCompletionTool, {}, "Missing value for required parameter 'result'"),
        (AttemptCompletionTool, {"result": "ok", "command": "ls"}, "command"),
        (SwitchModeTool, {"mode_slug": "code"}, "'reason'"),
        (NewTaskTool, {"mode": "code"}, "'message'"),
        (UpdateTodoListTool, {"todos": 3}, "todos"),
    ],
)
async def test_invalid_parameters(
    tool_class: Any, params: dict[str, Any], expected: str, ctx: ToolContext
) -> None:
    result = await tool_class().run(params, ctx)
    assert result.is_error
    assert result.data.get("invalid_parameters") is True
    assert expected in result.text_content
