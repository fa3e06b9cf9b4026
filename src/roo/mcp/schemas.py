"""Bodies of the MCP endpoints and the `mcpServers` part of a session's config (never a
secret value: `envKeys` and `headerKeys` name what is stored)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from roo.kit.schema import ApiModel


class McpServerOut(ApiModel):
    """A server of a session's config as stored: secrets named, never shown."""

    type: Literal["stdio", "sse", "streamable-http"]
    command: str | None = None
    args: list[str] = []
    cwd: str | None = None
    url: str | None = None
    timeout: int = 60
    always_allow: list[str] = []
    disabled: bool = False
    disabled_tools: list[str] = []
    env_keys: list[str] = Field([], description="Names of the stored env variables")
    header_keys: list[str] = Field([], description="Names of the stored headers")


class McpToolOut(ApiModel):
    name: str
    function_name: str = Field(description="The native tool name the model sees")
    description: str
    input_schema: dict[str, Any]
    enabled: bool = Field(description="False for the server's disabledTools")
    always_allow: bool = Field(description="On the server's alwaysAllow list")


class McpResourceOut(ApiModel):
    uri: str = Field(description="A URI, or a URI template when `template`")
    name: str
    mime_type: str | None = None
    description: str | None = None
    template: bool = False


class McpServerStatusOut(ApiModel):
    name: str
    source: Literal["session", "workspace"] = Field(
        description="The session's config or the workspace's .roo/mcp.json"
    )
    type: Literal["stdio", "sse", "streamable-http"]
    status: Literal["stopped", "starting", "connected", "failed", "disabled"] = Field(
        description="Where it runs: in any process of the service (a worker running the "
        "session's task, an API process); servers start when a task or a call needs them"
    )
    error: str | None = Field(None, description="Why it failed (start, crash, refused URL)")
    tools: list[McpToolOut]
    resources: list[McpResourceOut]
    started_at: datetime | None = None
    timeout: int = Field(description="Seconds a call may take")


class McpStatusOut(ApiModel):
    servers: list[McpServerStatusOut]
    workspace_error: str | None = Field(
        None, description="Why the workspace's .roo/mcp.json was left out"
    )
