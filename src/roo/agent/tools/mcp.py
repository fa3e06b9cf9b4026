"""MCP tools as the engine sees them: `use_mcp_tool`, `access_mcp_resource`, and one native
function per server tool, named `mcp--<server>--<tool>` as current Roo names them
(`src/utils/mcp-name.ts`). Pure: the servers are reached through `McpAccess`, which the host
binds (`roo.mcp`); nothing here imports the SDK, the web or the database.

An answer's text longer than the session's `maxOutputBytes` (`McpAccess.max_output_bytes`) is
cut in the middle as a command's output is (its head and its tail kept, the cut marked); inside
a task the whole text is kept as an artifact for `read_command_output`, named in the answer.
(Roo gives the model an MCP answer whole, however long; the cap is this service's.)
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from pydantic import ConfigDict, Field

from roo.agent.tools.base import (
    ApprovalCategory,
    ContentBlock,
    TextBlock,
    Tool,
    ToolContext,
    ToolParams,
    ToolResult,
)
from roo.agent.tools.execute_command import artifact_note
from roo.agent.tools.read_command_output import ArtifactWriter, CommandOutputs
from roo.sandbox.result import OutputCapture

MCP_PREFIX = "mcp"
MCP_SEPARATOR = "--"
MAX_FUNCTION_NAME = 64  # Gemini's limit, which Roo applies to every provider


def sanitize_name(name: str) -> str:
    """Roo's `sanitizeMcpName`: blanks to `_`, only `[A-Za-z0-9_-]`, no `--` inside, starts
    with a letter or `_`."""
    if not name:
        return "_"
    text = re.sub(r"\s+", "_", name)
    text = re.sub(r"[^a-zA-Z0-9_\-]", "", text)
    text = re.sub(r"--+", "-", text)
    if text and not re.match(r"[a-zA-Z_]", text):
        text = "_" + text
    return text or "_unnamed"


def function_name(server: str, tool: str) -> str:
    """Roo's `buildMcpToolName`: `mcp--<server>--<tool>`, sanitised, at most 64 characters."""
    full = MCP_SEPARATOR.join((MCP_PREFIX, sanitize_name(server), sanitize_name(tool)))
    return full[:MAX_FUNCTION_NAME]


def is_function_name(name: str) -> bool:
    """Whether a tool name is an MCP function (`mcp--...`, or `mcp__...` as some models write
    it: Roo accepts both)."""
    return name.lower().replace("-", "_").startswith(MCP_PREFIX + "__")


def normalize_function_name(name: str) -> str:
    """Roo's `normalizeMcpToolName`: `mcp__server__tool` (or a mix of `__` and `--`) as
    `mcp--server--tool`; other names unchanged."""
    parts = re.split(r"__|--", name)
    if len(parts) >= 3 and parts[0].lower() == MCP_PREFIX:
        return MCP_SEPARATOR.join((MCP_PREFIX, parts[1], MCP_SEPARATOR.join(parts[2:])))
    return name


def invalid_argument_error(server: str, tool: str) -> str:
    """Roo's `invalidMcpToolArgumentError`."""
    return json.dumps(
        {
            "status": "error",
            "type": "invalid_argument",
            "message": "Invalid JSON argument",
            "server": server,
            "tool": tool,
            "suggestion": "Please retry with a properly formatted JSON argument",
        }
    )


class McpAccess(Protocol):
    """The MCP servers of one session, as the tools reach them (`roo.mcp.hub.SessionMcp`).
    Calls never raise for a server's failure (start, crash, timeout): the result says so."""

    def always_allowed(self, server: str, tool: str) -> bool:
        """Whether the server's config marks `tool` always allowed (Roo's `alwaysAllow`)."""
        ...

    def resolve_function(self, name: str) -> tuple[str, str] | None:
        """(server, tool) of an `mcp--server--tool` function name, or None."""
        ...

    async def call_tool(
        self, server: str, tool: str, arguments: Mapping[str, Any] | None
    ) -> ToolResult: ...

    async def read_resource(self, server: str, uri: str) -> ToolResult: ...

    @property
    def max_output_bytes(self) -> int | None:
        """The longest answer text the model gets (the session's `maxOutputBytes`; None: all)."""
        ...


def _no_access() -> ToolResult:
    return ToolResult.error("MCP servers are not available here.")


async def bounded(result: ToolResult, ctx: ToolContext) -> ToolResult:
    """`result` with each text longer than the cap cut in the middle; the whole text kept for
    `read_command_output` when the context keeps outputs."""
    cap = ctx.mcp.max_output_bytes if ctx.mcp is not None else None
    if cap is None:
        return result
    blocks: list[ContentBlock] = []
    omitted_total = 0
    for block in result.content:
        raw = block.text.encode() if isinstance(block, TextBlock) else b""
        if len(raw) <= cap:
            blocks.append(block)
            continue
        capture = OutputCapture(cap)
        capture.feed(raw)
        text = capture.value().decode("utf-8", errors="replace")
        omitted_total += capture.omitted
        if ctx.command_outputs is not None:
            artifact = await asyncio.to_thread(_kept, ctx.command_outputs, raw)
            text += artifact_note(artifact.artifact_id, artifact.size, artifact.cut)
        else:
            text += f"\n(Output truncated: {capture.omitted} bytes were omitted from the middle.)"
        blocks.append(TextBlock(text))
    if not omitted_total:
        return result
    data = {**result.data, "truncated": True, "omittedBytes": omitted_total}
    return ToolResult(tuple(blocks), result.is_error, data)


def _kept(outputs: CommandOutputs, raw: bytes) -> ArtifactWriter:
    artifact = outputs.writer()
    artifact.write(raw)
    artifact.keep()
    return artifact


class UseMcpToolParams(ToolParams):
    server_name: str = Field(description="The name of the MCP server providing the tool")
    tool_name: str = Field(description="The name of the tool to execute")
    arguments: dict[str, Any] | str | None = Field(
        None, description="The tool's input parameters, following the tool's input schema"
    )


class UseMcpToolTool(Tool):
    name = "use_mcp_tool"
    description = (
        "Request to use a tool provided by a connected MCP server. Each MCP server can provide "
        "multiple tools with different capabilities. Tools have defined input schemas that "
        "specify required and optional parameters."
    )
    Params = UseMcpToolParams
    category = ApprovalCategory.MCP

    async def execute(self, params: UseMcpToolParams, ctx: ToolContext) -> ToolResult:
        if ctx.mcp is None:
            return _no_access()
        arguments = params.arguments
        if isinstance(arguments, str):  # the XML era's JSON text
            try:
                arguments = json.loads(arguments) if arguments.strip() else None
            except ValueError:
                arguments = None
                return ToolResult.error(
                    invalid_argument_error(params.server_name, params.tool_name),
                    invalid_parameters=True,
                )
            if arguments is not None and not isinstance(arguments, dict):
                return ToolResult.error(
                    invalid_argument_error(params.server_name, params.tool_name),
                    invalid_parameters=True,
                )
        result = await ctx.mcp.call_tool(params.server_name, params.tool_name, arguments)
        return await bounded(result, ctx)


class AccessMcpResourceParams(ToolParams):
    server_name: str = Field(description="The name of the MCP server providing the resource")
    uri: str = Field(description="The URI identifying the specific resource to access")


class AccessMcpResourceTool(Tool):
    name = "access_mcp_resource"
    description = (
        "Request to access a resource provided by a connected MCP server. Resources represent "
        "data sources that can be used as context, such as files, API responses, or system "
        "information."
    )
    Params = AccessMcpResourceParams
    category = ApprovalCategory.MCP

    async def execute(self, params: AccessMcpResourceParams, ctx: ToolContext) -> ToolResult:
        if ctx.mcp is None:
            return _no_access()
        return await bounded(await ctx.mcp.read_resource(params.server_name, params.uri), ctx)


class AnyArguments(ToolParams):
    """A server tool's arguments: the server validates them against its own schema."""

    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True, slots=True)
class McpToolInfo:
    """One tool of a connected server, as the model is offered it."""

    server: str
    name: str
    description: str
    input_schema: Mapping[str, Any]


class McpFunctionTool(Tool):
    """One server tool as a native function (`mcp--server--tool`). Built per run from the
    session's connected servers; its schema is the server's (Roo sends it non-strict)."""

    Params = AnyArguments
    category = ApprovalCategory.MCP
    dynamic: ClassVar[bool] = True

    def __init__(self, info: McpToolInfo) -> None:
        self.info = info
        self.name = function_name(info.server, info.name)  # type: ignore[misc]
        self.description = info.description or f"{info.name} (MCP server {info.server})"  # type: ignore[misc]

    def parameters_schema(self) -> dict[str, Any]:  # type: ignore[override]
        schema = dict(self.info.input_schema) or {"type": "object", "properties": {}}
        schema.setdefault("type", "object")
        return schema

    async def execute(self, params: AnyArguments, ctx: ToolContext) -> ToolResult:
        if ctx.mcp is None:
            return _no_access()
        result = await ctx.mcp.call_tool(self.info.server, self.info.name, params.model_extra or {})
        return await bounded(result, ctx)


def mcp_target(tool: Tool, arguments: Mapping[str, Any]) -> tuple[str, str | None]:
    """(server, tool name, None for a resource) an MCP-category call is about."""
    if isinstance(tool, McpFunctionTool):
        return tool.info.server, tool.info.name
    server = arguments.get("server_name")
    server = server if isinstance(server, str) else ""
    if tool.name == "access_mcp_resource":
        return server, None
    name = arguments.get("tool_name")
    return server, name if isinstance(name, str) else ""


def mcp_ask_params(tool: Tool, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Roo's `use_mcp_server` ask: `{type, serverName, toolName, arguments}` for a tool,
    `{type, serverName, uri}` for a resource."""
    server, name = mcp_target(tool, arguments)
    if name is None:
        return {"type": "access_mcp_resource", "serverName": server, "uri": arguments.get("uri")}
    args = arguments.get("arguments") if not isinstance(tool, McpFunctionTool) else arguments
    return {"type": "use_mcp_tool", "serverName": server, "toolName": name, "arguments": args}
