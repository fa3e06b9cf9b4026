"""Bodies of the tools API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from roo.kit.schema import ApiModel


class ToolOut(ApiModel):
    name: str
    description: str
    parameters: dict[str, Any] = Field(description="JSON Schema of the parameters")
    category: Literal["read", "write", "execute", "mcp", "interaction"]
    permissions: list[str] = Field(description="What a caller needs to run it directly")
    aliases: list[str]
    directly_executable: bool


class ContentBlockOut(ApiModel):
    type: Literal["text", "image"]
    text: str | None = None
    media_type: str | None = None
    data: str | None = None


class ToolResultOut(ApiModel):
    tool: str
    is_error: bool
    content: list[ContentBlockOut]
    data: dict[str, Any] = Field(description="Structured fields, e.g. exitCode, operation")
