"""The tool registry: every tool by name (aliases resolve to the canonical tool)."""

from __future__ import annotations

from collections.abc import Iterable

from roo.agent.tools.base import Tool


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
    """Every built-in tool. Tool modules register here as they are added."""
    return ToolRegistry()
