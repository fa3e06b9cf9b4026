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
from roo.agent.tools.read_command_output import ReadCommandOutputTool
from roo.agent.tools.read_file import ReadFileTool
from roo.agent.tools.rooignore import RooIgnore
from roo.agent.tools.search_files import SearchFilesTool
from roo.agent.tools.write_to_file import WriteToFileTool


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        self._aliases: dict[str, str] = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool) -> None:
        if tool.name in self._tools or tool.name in self._aliases:
            raise ValueError(f"tool {tool.name!r} registered twice")
        self._tools[tool.name] = tool
        for alias in tool.aliases:
            self._aliases[alias] = tool.name

    def get(self, name: str) -> Tool | None:
        """The tool called `name` or one of its aliases."""
        return self._tools.get(self._aliases.get(name, name))

    def all(self) -> list[Tool]:
        return sorted(self._tools.values(), key=lambda t: t.name)


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
        ]
    )


def workspace_ignore_rules(workspace: Path) -> IgnoreRules:
    """The `.rooignore` rules of a workspace (read when a tool call starts)."""
    return RooIgnore.load(workspace)
