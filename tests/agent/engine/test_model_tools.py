"""The tools offered per model, as Roo's applyModelToolCustomization: the model table's
`included_tools` add the edit group's opt-in tools, `excluded_tools` leave tools out."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from roo.agent.approval import ApprovalPolicy
from roo.agent.pricing import load_price_table, model_info
from roo.testing import ToolCall

from .conftest import Harness, calls, complete, gpt_4o, tool_names, tool_results


async def test_default_models_get_apply_diff_and_write_to_file_only(harness: Harness) -> None:
    edit = ToolCall("edit", {"file_path": "a.txt", "old_string": "a", "new_string": "b"}, id="edit")
    harness.llm.script(calls(edit), complete())
    await harness.run()
    offered = tool_names(harness.llm.requests[0])
    assert {"apply_diff", "write_to_file"} <= set(offered)
    assert "edit" not in offered
    assert "insert_content" not in offered
    # a call to a tool the model was not offered is refused (Roo's validateToolUse)
    assert json.loads(dict(tool_results(harness.llm.requests[1]))["edit"])["error"] == (
        'Tool "edit" is not allowed in code mode.'
    )


async def test_a_models_table_entry_includes_and_excludes_tools(harness: Harness) -> None:
    harness.policy = ApprovalPolicy(auto_approve_write=True)
    (harness.workspace / "a.txt").write_text("hello\n")
    info = dataclasses.replace(
        gpt_4o(), included_tools=("search_and_replace",), excluded_tools=("apply_diff",)
    )
    edit = ToolCall(
        "edit", {"file_path": "a.txt", "old_string": "hello", "new_string": "bye"}, id="edit"
    )
    harness.llm.script(calls(edit), complete())
    outcome = await harness.run(model_info=info)
    assert outcome.status == "completed"
    offered = tool_names(harness.llm.requests[0])
    assert "edit" in offered
    assert "apply_diff" not in offered
    assert "write_to_file" in offered
    assert (harness.workspace / "a.txt").read_text() == "bye\n"
    # the system prompt still says the mode can edit files
    assert "create and edit files" in harness.llm.requests[0].system


def test_table_entries_take_tool_lists(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text(
        json.dumps(
            {"openai": {"my-model": {"included_tools": ["edit"], "excluded_tools": ["apply_diff"]}}}
        )
    )
    table = load_price_table(path, install=False)
    info = model_info("openai", "my-model", table)
    assert info is not None
    assert (info.included_tools, info.excluded_tools) == (("edit",), ("apply_diff",))
    path.write_text(json.dumps({"openai": {"bad": {"included_tools": "edit"}}}))
    with pytest.raises(ValueError, match="included_tools"):
        load_price_table(path, install=False)
