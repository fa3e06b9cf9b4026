"""Modes: a role for the model plus the tool groups it may use (Roo's `DEFAULT_MODES`, reference
section 3), and the checks the engine runs before a tool call.

The five built-in modes keep Roo's slugs, names and current groups; the role texts are ours,
written in Roo's spirit. Tool groups map Roo's groups onto the tools our registry has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from roo.agent.tools.base import Tool
from roo.agent.tools.mcp import is_function_name
from roo.agent.tools.registry import ToolRegistry

ModeSource = Literal["builtin", "session", "workspace"]
# A group name, or (group name, file regex, description) for a group restricted to some files.
GroupEntry = str | tuple[str, str, str]

TOOL_GROUPS: Mapping[str, tuple[str, ...]] = {
    "read": ("read_file", "search_files", "list_files", "list_code_definition_names"),
    "edit": ("apply_diff", "write_to_file"),
    "command": ("execute_command", "read_command_output"),
    # plus every MCP server tool as its own `mcp--server--tool` function (`_group_of`)
    "mcp": ("use_mcp_tool", "access_mcp_resource"),
}
# Roo's `customTools` of a group: offered only to models whose table entry includes them
# (`ModelInfo.included_tools`), and only in modes that have the group.
CUSTOM_TOOLS: Mapping[str, tuple[str, ...]] = {"edit": ("edit", "insert_content")}
ALWAYS_AVAILABLE_TOOLS: tuple[str, ...] = (
    "ask_followup_question",
    "attempt_completion",
    "switch_mode",
    "new_task",
    "update_todo_list",
)
TOOL_ALIASES: Mapping[str, str] = {"write_file": "write_to_file", "search_and_replace": "edit"}
# Parameters that make a call an actual edit (Roo's EDIT_OPERATION_PARAMS).
EDIT_OPERATION_PARAMS: tuple[str, ...] = (
    "diff",
    "content",
    "operations",
    "search",
    "replace",
    "args",
    "line",
    "patch",
    "old_string",
    "new_string",
)


@dataclass(frozen=True, slots=True)
class Mode:
    slug: str
    name: str
    role_definition: str
    when_to_use: str
    groups: tuple[GroupEntry, ...]
    custom_instructions: str | None = None
    description: str | None = None
    # where the definition comes from: builtin, session (its config) or workspace (.roomodes)
    source: ModeSource = "builtin"


def group_name(entry: GroupEntry) -> str:
    return entry if isinstance(entry, str) else entry[0]


ARCHITECT = Mode(
    slug="architect",
    name="🏗️ Architect",
    role_definition=(
        "You are Roo, an experienced technical lead who is inquisitive and an excellent "
        "planner. You gather information and context, then work out a detailed, actionable "
        "plan for the user's task, which the user reviews and approves before switching to "
        "another mode to implement it."
    ),
    when_to_use=(
        "Use this mode to plan, design or strategize before implementing: breaking down complex "
        "problems, writing specifications, designing architecture."
    ),
    groups=("read", ("edit", r"\.md$", "Markdown files only"), "mcp"),
    custom_instructions=(
        "1. Gather information with the tools to understand the task and its context.\n"
        "2. Ask the user clarifying questions when something important is unclear.\n"
        "3. Break the task into clear, actionable steps and record them with the "
        "update_todo_list tool. Each item should be specific, in the order it will be done, "
        "and small enough to finish in one go.\n"
        "4. Update the todo list as your understanding of the task grows.\n"
        "5. Ask the user whether they are happy with the plan, and refine it with them.\n"
        "6. Add Mermaid diagrams where they make a workflow or architecture clearer (avoid "
        "double quotes and parentheses inside square brackets).\n"
        "7. Once the plan is agreed, use the switch_mode tool to hand over to another mode "
        "(usually code) for the implementation.\n\n"
        "Prefer a clear todo list to long documents. When a written plan helps, save it as a "
        "Markdown file under plans/ (this mode may only edit Markdown files). Do not give "
        "time estimates."
    ),
)

CODE = Mode(
    slug="code",
    name="💻 Code",
    role_definition=(
        "You are Roo, a highly skilled software engineer with extensive knowledge in many "
        "programming languages, frameworks, design patterns, and best practices."
    ),
    when_to_use=(
        "Use this mode to write, change or refactor code: implementing features, fixing bugs, "
        "creating files."
    ),
    groups=("read", "edit", "command", "mcp"),
)

ASK = Mode(
    slug="ask",
    name="❓ Ask",
    role_definition=(
        "You are Roo, a knowledgeable technical assistant who answers questions about software "
        "development, technology and related topics clearly and accurately."
    ),
    when_to_use=(
        "Use this mode for explanations and answers to technical questions, or to analyze "
        "code, without making changes."
    ),
    groups=("read", "mcp"),
    custom_instructions=(
        "Answer questions thoroughly and analyze code when it helps, but do not implement "
        "changes unless the user explicitly asks for them. Add Mermaid diagrams when they make "
        "an answer clearer."
    ),
)

DEBUG = Mode(
    slug="debug",
    name="🪲 Debug",
    role_definition=(
        "You are Roo, an expert software debugger who diagnoses and resolves problems "
        "systematically."
    ),
    when_to_use=(
        "Use this mode to troubleshoot issues, investigate errors and find the root causes of bugs."
    ),
    groups=("read", "edit", "command", "mcp"),
    custom_instructions=(
        "Reflect on 5-7 possible sources of the problem, narrow them down to the 1-2 most "
        "likely ones, then add logs (or run targeted commands) to validate your assumptions. "
        "Explicitly ask the user to confirm the diagnosis before fixing the problem."
    ),
)

ORCHESTRATOR = Mode(
    slug="orchestrator",
    name="🪃 Orchestrator",
    role_definition=(
        "You are Roo, a strategic workflow orchestrator who coordinates complex tasks by "
        "delegating them to the specialized modes best suited to each part. You know what "
        "each mode can and cannot do, and you break large problems into subtasks they can "
        "solve."
    ),
    when_to_use=(
        "Use this mode for complex, multi-step projects that need coordination across "
        "specialties, split into subtasks for other modes."
    ),
    groups=(),
    custom_instructions=(
        "1. Break the task into logical subtasks that specialized modes can carry out.\n"
        "2. Delegate each subtask with the new_task tool, in the mode that fits it best. Give "
        "the subtask everything it needs in its message: the context from earlier work, a "
        "precise scope, an instruction to do only that work and to finish with "
        "attempt_completion whose result summarizes what was done, and a note that these "
        "instructions take precedence over the mode's general ones.\n"
        "3. Track the subtasks. When one completes, analyze its result and decide the next "
        "step.\n"
        "4. Tell the user how the subtasks fit together and why you delegate as you do.\n"
        "5. When everything is done, synthesize the results into an overview of what was "
        "accomplished.\n"
        "6. Ask clarifying questions when needed, and suggest workflow improvements based on "
        "the results."
    ),
)

MODES: Mapping[str, Mode] = {m.slug: m for m in (ARCHITECT, CODE, ASK, DEBUG, ORCHESTRATOR)}
DEFAULT_MODE = "code"


def get_mode(slug: str, modes: Mapping[str, Mode] = MODES) -> Mode | None:
    """The mode `slug` among `modes` (default: the built-in ones)."""
    return modes.get(slug)


def canonical_tool_name(name: str) -> str:
    return TOOL_ALIASES.get(name, name)


def _group_of(mode: Mode, tool: str, included: Sequence[str] = ()) -> GroupEntry | None:
    """The mode's group entry that offers `tool`: a group's own tools, an MCP server's
    function for the `mcp` group, or its custom tools when the model includes them (Roo's
    `isToolAllowedForMode`)."""
    included_tools = {canonical_tool_name(t) for t in included}
    mcp_function = is_function_name(tool)
    for entry in mode.groups:
        name = group_name(entry)
        if tool in TOOL_GROUPS.get(name, ()) or (mcp_function and name == "mcp"):
            return entry
        if tool in CUSTOM_TOOLS.get(name, ()) and tool in included_tools:
            return entry
    return None


def is_tool_in_mode(mode: Mode, tool_name: str, included: Sequence[str] = ()) -> bool:
    """Whether the mode offers the tool at all (ignoring file restrictions); `included`: the
    model's opt-in tools (`ModelInfo.included_tools`)."""
    tool = canonical_tool_name(tool_name)
    return tool in ALWAYS_AVAILABLE_TOOLS or _group_of(mode, tool, included) is not None


def tools_for_mode(
    mode: Mode,
    registry: ToolRegistry,
    included: Sequence[str] = (),
    excluded: Sequence[str] = (),
) -> list[Tool]:
    """The registry's tools the mode may use, sorted by name (what the model is offered):
    Roo's `filterNativeToolsForMode` with `applyModelToolCustomization`. The model's
    `excluded` tools are left out, its `included` custom tools added when the mode has their
    group."""
    left_out = {canonical_tool_name(t) for t in excluded}
    return sorted(
        (
            t
            for t in registry.offered()
            if is_tool_in_mode(mode, t.name, included) and t.name not in left_out
        ),
        key=lambda t: t.name,
    )


def _js_regex(pattern: str) -> str:
    """A JavaScript regex as Python's `re` reads it: `$` only matches at the very end."""
    translated: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            translated.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        translated.append(r"\Z" if c == "$" and not in_class else c)
        i += 1
    return "".join(translated)


def js_regex_valid(pattern: str) -> bool:
    """Whether a mode's fileRegex compiles (Roo refuses an invalid one in its schema)."""
    try:
        re.compile(_js_regex(pattern))
    except re.error:
        return False
    return True


def _js_regex_test(pattern: str, text: str) -> bool:
    """JavaScript `new RegExp(pattern).test(text)`: like `re.search`, except that `$` only
    matches at the very end. An invalid pattern matches nothing (as in Roo)."""
    try:
        return re.search(_js_regex(pattern), text) is not None
    except re.error:
        return False


def check_tool_allowed(
    mode: Mode, tool_name: str, params: Mapping[str, Any], included: Sequence[str] = ()
) -> str | None:
    """Roo's `validateToolUse` for a known tool: None when the call may go ahead, else the error
    text for the model (the engine wraps it in `responses.tool_error`). Unknown tools are the
    caller's business (`responses.unknown_tool`). A custom tool (`CUSTOM_TOOLS`) is allowed
    only when the model includes it; as in Roo, a model's excluded tools are not refused here
    (they are only not offered)."""
    tool = canonical_tool_name(tool_name)
    if tool in ALWAYS_AVAILABLE_TOOLS:
        return None
    entry = _group_of(mode, tool, included)
    if entry is None:
        return f'Tool "{tool_name}" is not allowed in {mode.slug} mode.'
    if isinstance(entry, tuple) and entry[0] == "edit":
        _, file_regex, description = entry
        path = params.get("path") or params.get("file_path")
        edit_tools = (*TOOL_GROUPS["edit"], *CUSTOM_TOOLS["edit"])
        edits = tool in edit_tools or any(params.get(p) for p in EDIT_OPERATION_PARAMS)
        if isinstance(path, str) and path and edits and not _js_regex_test(file_regex, path):
            details = f" ({description})" if description else ""
            return (
                f"Tool '{tool_name}' in mode '{mode.name}' can only edit files matching "
                f"pattern: {file_regex}{details}. Got: {path}"
            )
    return None
