"""Modes: Roo's built-in modes, the tools each offers, and the tool checks."""

from __future__ import annotations

import pytest

from roo.agent.modes import (
    ALWAYS_AVAILABLE_TOOLS,
    CUSTOM_TOOLS,
    DEFAULT_MODE,
    MODES,
    TOOL_GROUPS,
    check_tool_allowed,
    get_mode,
    is_tool_in_mode,
    tools_for_mode,
)
from roo.agent.tools.registry import default_registry

READ = ["list_code_definition_names", "list_files", "read_file", "search_files"]
EDIT = ["apply_diff", "write_to_file"]  # Roo's edit group; edit, insert_content opt-in
ALWAYS = sorted(ALWAYS_AVAILABLE_TOOLS)
COMMAND = ["execute_command", "read_command_output"]  # Roo's command group


def test_builtin_modes() -> None:
    assert list(MODES) == ["architect", "code", "ask", "debug", "orchestrator"]
    assert DEFAULT_MODE == "code"
    assert get_mode("code") is MODES["code"]
    assert get_mode("nope") is None
    assert [m.name for m in MODES.values()] == [
        "🏗️ Architect",
        "💻 Code",
        "❓ Ask",
        "🪲 Debug",
        "🪃 Orchestrator",
    ]
    assert MODES["code"].role_definition.startswith("You are Roo, a highly skilled software")
    for mode in MODES.values():
        assert mode.role_definition.startswith("You are Roo")
        assert mode.when_to_use


def test_roo_groups() -> None:
    assert MODES["architect"].groups == ("read", ("edit", r"\.md$", "Markdown files only"), "mcp")
    assert MODES["code"].groups == ("read", "edit", "command", "mcp")
    assert MODES["ask"].groups == ("read", "mcp")
    assert MODES["debug"].groups == ("read", "edit", "command", "mcp")
    assert MODES["orchestrator"].groups == ()


def test_every_registered_tool_is_in_a_group() -> None:
    grouped = {t for tools in TOOL_GROUPS.values() for t in tools} | set(ALWAYS_AVAILABLE_TOOLS)
    grouped |= {t for tools in CUSTOM_TOOLS.values() for t in tools}
    assert {t.name for t in default_registry().all()} == grouped


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        ("code", sorted([*READ, *EDIT, *COMMAND, *ALWAYS])),
        ("debug", sorted([*READ, *EDIT, *COMMAND, *ALWAYS])),
        ("architect", sorted([*READ, *EDIT, *ALWAYS])),
        ("ask", sorted([*READ, *ALWAYS])),
        ("orchestrator", ALWAYS),
    ],
)
def test_tools_for_mode(slug: str, expected: list[str]) -> None:
    tools = tools_for_mode(MODES[slug], default_registry())
    assert [t.name for t in tools] == expected


@pytest.mark.parametrize(
    ("slug", "tool", "allowed"),
    [
        ("ask", "write_to_file", False),
        ("ask", "execute_command", False),
        ("ask", "read_file", True),
        ("ask", "attempt_completion", True),
        ("orchestrator", "read_file", False),
        ("orchestrator", "new_task", True),
        ("code", "write_file", True),  # alias of write_to_file
        ("code", "search_and_replace", False),  # alias of edit: opt-in per model
        ("ask", "search_and_replace", False),
        ("code", "use_mcp_tool", True),  # the mcp group
        ("code", "mcp--github--create_issue", True),  # a server tool is in the mcp group
        ("orchestrator", "mcp--github--create_issue", False),
    ],
)
def test_is_tool_in_mode(slug: str, tool: str, allowed: bool) -> None:
    assert is_tool_in_mode(MODES[slug], tool) is allowed


def test_model_tool_customisation_as_roos() -> None:
    """Roo's applyModelToolCustomization: excluded tools are not offered, included custom
    tools are, but only in modes that have their group."""
    registry = default_registry()
    names = [
        t.name
        for t in tools_for_mode(
            MODES["code"], registry, included=["search_and_replace"], excluded=["apply_diff"]
        )
    ]
    assert "edit" in names  # the alias resolved
    assert "apply_diff" not in names
    assert {"write_to_file", "execute_command"} <= set(names)
    assert "insert_content" not in names
    ask = [t.name for t in tools_for_mode(MODES["ask"], registry, included=["edit"])]
    assert "edit" not in ask  # no edit group in ask mode
    # calling an opt-in tool the model was not given is refused as not allowed (Roo's
    # validateToolUse); an excluded tool is only not offered
    params = {"file_path": "a.py", "old_string": "x", "new_string": "y"}
    assert check_tool_allowed(MODES["code"], "edit", params) == (
        'Tool "edit" is not allowed in code mode.'
    )
    assert check_tool_allowed(MODES["code"], "edit", params, included=["edit"]) is None
    assert check_tool_allowed(MODES["code"], "apply_diff", {"path": "a", "diff": "d"}) is None


def test_not_allowed_text() -> None:
    assert (
        check_tool_allowed(MODES["ask"], "write_to_file", {"path": "a.md", "content": "x"})
        == 'Tool "write_to_file" is not allowed in ask mode.'
    )
    assert (
        check_tool_allowed(MODES["orchestrator"], "execute_command", {"command": "ls"})
        == 'Tool "execute_command" is not allowed in orchestrator mode.'
    )
    assert check_tool_allowed(MODES["code"], "execute_command", {"command": "ls"}) is None
    assert check_tool_allowed(MODES["orchestrator"], "update_todo_list", {}) is None


ARCHITECT = MODES["architect"]


@pytest.mark.parametrize(
    ("tool", "params"),
    [
        ("write_to_file", {"path": "plans/plan.md", "content": "# Plan"}),
        ("apply_diff", {"path": "README.md", "diff": "..."}),
        ("read_file", {"path": "src/app.py"}),
        ("search_files", {"path": ".", "regex": "x"}),
        ("list_files", {"path": "src", "recursive": True}),
    ],
)
def test_architect_may_edit_markdown_and_read_anything(
    tool: str, params: dict[str, object]
) -> None:
    assert check_tool_allowed(ARCHITECT, tool, params, OPT_IN) is None


OPT_IN = ("edit", "insert_content")  # a model whose table entry includes both


@pytest.mark.parametrize(
    ("tool", "params"),
    [
        ("edit", {"file_path": "docs/a.md", "old_string": "a", "new_string": "b"}),
        ("insert_content", {"path": "notes.md", "line": 0, "content": "x"}),
    ],
)
def test_architect_opt_in_edit_tools_for_models_that_include_them(
    tool: str, params: dict[str, object]
) -> None:
    assert check_tool_allowed(ARCHITECT, tool, params, OPT_IN) is None
    assert check_tool_allowed(ARCHITECT, tool, params) is not None


def test_architect_refuses_other_files_with_roos_text() -> None:
    refusal = check_tool_allowed(ARCHITECT, "write_to_file", {"path": "src/app.py", "content": ""})
    assert refusal == (
        "Tool 'write_to_file' in mode '🏗️ Architect' can only edit files matching pattern: "
        r"\.md$ (Markdown files only). Got: src/app.py"
    )
    refusal = check_tool_allowed(
        ARCHITECT, "edit", {"file_path": "a.py", "old_string": "x", "new_string": "y"}, OPT_IN
    )
    assert refusal is not None
    assert refusal.endswith("Got: a.py")
    # the alias is reported as called
    refusal = check_tool_allowed(ARCHITECT, "write_file", {"path": "x.txt", "content": "a"})
    assert refusal is not None
    assert refusal.startswith("Tool 'write_file' in mode")


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("a.md", True),
        ("dir/b.md", True),
        ("a.MD", False),  # JavaScript RegExp is case-sensitive too
        ("a.md.py", False),
        ("a.md\n", False),  # JS `$` does not match before a final newline
        ("amd", False),
    ],
)
def test_markdown_pattern_is_tested_like_javascript(path: str, ok: bool) -> None:
    refusal = check_tool_allowed(ARCHITECT, "write_to_file", {"path": path, "content": "x"})
    assert (refusal is None) is ok


def test_missing_path_is_left_to_parameter_validation() -> None:
    assert check_tool_allowed(ARCHITECT, "write_to_file", {"content": "x"}) is None
