"""The tool registry: every tool by name (aliases resolve to the canonical tool)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from roo.agent.tools import interaction
from roo.agent.tools.apply_diff import ApplyDiffTool
from roo.agent.tools.base import IgnoreRules, Tool
from roo.agent.tools.edit import EditTool
from roo.agent.tools.execute_command import ExecuteCommandTool
from roo.agent.tools.insert_content import InsertContentTool
from roo.agent.tools.list_code_definition_names import ListCodeDefinitionNamesTool
from roo.agent.tools.list_files import ListFilesTool
from roo.agent.tools.mcp import (
    AccessMcpResourceTool,
    UseMcpToolTool,
    is_function_name,
    normalize_function_name,
)
from roo.agent.tools.read_command_output import ReadCommandOutputTool
from roo.agent.tools.read_file import ReadFileTool
from roo.agent.tools.rooignore import RooIgnore
from roo.agent.tools.search_files import SearchFilesTool
from roo.agent.tools.write_to_file import WriteToFileTool


class ToolRegistry:
    """`hidden`: tools that can be called but are not offered to the model (`offered`)."""

    def __init__(self, tools: Iterable[Tool] = (), hidden: Iterable[str] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        self._aliases: dict[str, str] = {}
        self.hidden = frozenset(hidden)
        for tool in tools:
            self.add(tool)

    def extended(self, tools: Iterable[Tool], *, show: Iterable[str] = ()) -> ToolRegistry:
        """A new registry: these tools plus `tools` (a run's MCP functions; the first of two
        with one name wins, as in Roo), with `show` no longer hidden."""
        extra = ToolRegistry(hidden=self.hidden - frozenset(show))
        extra._tools, extra._aliases = dict(self._tools), dict(self._aliases)
        for tool in tools:
            if tool.name not in extra._tools and tool.name not in extra._aliases:
                extra.add(tool)
        return extra

    def add(self, tool: Tool) -> None:
        if tool.name in self._tools or tool.name in self._aliases:
            raise ValueError(f"tool {tool.name!r} registered twice")
        self._tools[tool.name] = tool
        for alias in tool.aliases:
            self._aliases[alias] = tool.name

    def get(self, name: str) -> Tool | None:
        """The tool called `name` or one of its aliases (an MCP function also as `mcp__...`,
        as some models write it)."""
        tool = self._tools.get(self._aliases.get(name, name))
        if tool is None and is_function_name(name):
            tool = self._tools.get(normalize_function_name(name))
        return tool

    def all(self) -> list[Tool]:
        return sorted(self._tools.values(), key=lambda t: t.name)

    def offered(self) -> list[Tool]:
        """The tools the model is offered (all but the hidden ones)."""
        return [t for t in self.all() if t.name not in self.hidden]


def default_registry() -> ToolRegistry:
    """Every built-in tool."""
    return ToolRegistry(
        [
            ReadFileTool(),
            WriteToFileTool(),
            ApplyDiffTool(),
            EditTool(),
            InsertContentTool(),
            ListFilesTool(),
            SearchFilesTool(),
            ListCodeDefinitionNamesTool(),
            ExecuteCommandTool(),
            ReadCommandOutputTool(),
            interaction.AskFollowupQuestionTool(),
            interaction.AttemptCompletionTool(),
            interaction.SwitchModeTool(),
            interaction.NewTaskTool(),
            interaction.UpdateTodoListTool(),
            # Called by models that use them; offered only where a session's MCP servers are
            # (access_mcp_resource when one has resources; use_mcp_tool never: each server
            # tool is its own mcp--server--tool function, as in current Roo)
            UseMcpToolTool(),
            AccessMcpResourceTool(),
        ],
        hidden=(UseMcpToolTool.name, AccessMcpResourceTool.name),
    )


def workspace_ignore_rules(workspace: Path) -> IgnoreRules:
    """The `.rooignore` rules of a workspace (read when a tool call starts)."""
    return RooIgnore.load(workspace)
