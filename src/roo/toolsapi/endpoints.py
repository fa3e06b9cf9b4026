"""`/api/v1/tools` and `/api/v1/sessions/{id}/tools/{name}`: routes only.

A tool run is three steps: the session is loaded and marked active in a short unit of work, the
tool runs (a command may take minutes) with no database connection held, and its audit row is
written by an `AuditWriter` (a short unit of work of its own, finished even when the client
has gone meanwhile; a command tool's row carries the command's text, bounded and redacted).
Each run counts against the session's tool budget, and each command it starts against the
session's command budget (`roo.security.session_limits`): past either, 429.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Body, Request, Response
from pydantic import ValidationError

from roo.agent.tools.base import ApprovalCategory, ImageBlock, Tool, ToolContext, ToolResult
from roo.agent.tools.mcp import is_function_name
from roo.agent.tools.registry import ToolRegistry
from roo.api.deps import get_resources
from roo.api.routing import api_router
from roo.auth.deps import Client, require
from roo.auth.exceptions import PermissionDenied
from roo.auth.identity import Principal
from roo.auth.permissions import Permission
from roo.db.engine import unit_of_work
from roo.kit.errors import BadRequest, NotFound, Unprocessable
from roo.kit.inputs import SafeName
from roo.mcp.hub import BoundMcp
from roo.security.audit import AuditWriter, audit_command
from roo.security.session_limits import SessionRateLimited
from roo.toolsapi.schemas import ContentBlockOut, ToolOut, ToolResultOut

router = api_router("/tools", tags=["tools"])
session_router = api_router("/sessions", tags=["tools"])


class ToolNotFound(NotFound):
    slug, title = "tool-not-found", "Tool not found"


class ToolNotDirect(BadRequest):
    slug, title = "tool-not-directly-executable", "Tool not directly executable"


def permissions_for_tool(tool: Tool) -> list[Permission]:
    needed = [Permission.TOOLS_EXECUTE]
    if tool.category is ApprovalCategory.EXECUTE:
        needed.append(Permission.COMMANDS_EXECUTE)
    return needed


def tool_category(tool: Tool | None) -> str | None:
    return tool.category.value if tool is not None else None


def registry(request: Request) -> ToolRegistry:
    tools: ToolRegistry = get_resources(request).tools
    return tools


def describe(tool: Tool) -> ToolOut:
    return ToolOut(
        name=tool.name,
        description=tool.description,
        parameters=tool.parameters_schema(),
        category=tool.category.value,
        permissions=[p.value for p in permissions_for_tool(tool)],
        aliases=list(tool.aliases),
        directly_executable=tool.direct,
    )


def lookup(request: Request, name: str) -> Tool:
    tool = registry(request).get(name)
    if tool is None:
        known = ", ".join(t.name for t in registry(request).all())
        raise ToolNotFound(f"No tool named {name!r}; known tools: {known}")
    return tool


@router.get("", summary="Every tool the agent can use")
async def list_tools(
    request: Request, _: Annotated[Principal, require(Permission.SESSIONS_READ)]
) -> list[ToolOut]:
    return [describe(t) for t in registry(request).all()]


@router.get("/{tool_name}", summary="One tool", responses={404: {"description": "Unknown tool"}})
async def get_tool(
    request: Request,
    tool_name: SafeName,
    _: Annotated[Principal, require(Permission.SESSIONS_READ)],
) -> ToolOut:
    return describe(lookup(request, tool_name))


def result_out(name: str, result: ToolResult) -> ToolResultOut:
    blocks = [
        ContentBlockOut(type="image", media_type=b.media_type, data=b.data)
        if isinstance(b, ImageBlock)
        else ContentBlockOut(type="text", text=b.text)
        for b in result.content
    ]
    return ToolResultOut(
        tool=name, is_error=result.is_error, content=blocks, data=dict(result.data)
    )


@session_router.post(
    "/{session_id}/tools/{tool_name}",
    summary="Run a tool now in the session's workspace, on your behalf",
    responses={
        400: {"description": "An interaction tool (the agent engine handles those)"},
        404: {
            "description": "No such session of yours, or no such tool (an MCP server tool is "
            "named mcp--<server>--<tool>; its server starts if need be)"
        },
        409: {
            "description": "Session archived, workspace deleted, or workspace busy (an archive "
            "import or a checkpoint restore under way)"
        },
        422: {"description": "Invalid parameters (the failing parameter is named)"},
        429: {
            "description": "The session already runs its most commands (maxConcurrentTasks), "
            "or its tool or command budget is spent (RateLimit headers, Retry-After)"
        },
    },
)
async def run_tool(
    request: Request,
    response: Response,
    session_id: uuid.UUID,
    tool_name: SafeName,
    principal: Annotated[Principal, require(Permission.TOOLS_EXECUTE)],
    client: Client,
    params: Annotated[dict[str, Any], Body(description="The tool's parameters")],
) -> ToolResultOut:
    resources = get_resources(request)
    manager = resources.sessions_manager
    mcp_function = is_function_name(tool_name)
    tool = None if mcp_function else lookup(request, tool_name)
    async with unit_of_work(resources.db_sessions) as db:
        session = await manager.get(db, principal, session_id)
        await manager.touch(db, session)
    mcp: BoundMcp | None = None
    if resources.mcp is not None and (mcp_function or tool_category(tool) == "mcp"):
        session_mcp = await resources.mcp.session(session)  # no connection held
        mcp = BoundMcp(session_mcp, max_output_bytes=manager.limits(session).max_output_bytes)
        if mcp_function:
            tool = await session_mcp.find_function(tool_name)
    if tool is None:
        raise ToolNotFound(f"No tool named {tool_name!r} (no such MCP server tool)")
    for permission in permissions_for_tool(tool):
        if not principal.can(permission):
            raise PermissionDenied(permission.value)
    if not tool.direct:
        raise ToolNotDirect(
            f"{tool.name} is an interaction tool: the agent engine handles it inside a task"
        )
    try:
        parsed = tool.Params.model_validate(params)
    except ValidationError as exc:
        raise Unprocessable(
            f"Invalid parameters for {tool.name}",
            errors=[
                {
                    "field": ".".join(["body", *(str(p) for p in e["loc"])]),
                    "message": e["msg"],
                    "type": e["type"],
                }
                for e in exc.errors()
            ],
        ) from None
    # the session's tool budget, counted only once the session is known to be the caller's
    verdict = await resources.budgets.tool_call(session.id)
    if verdict is not None:
        if not verdict.allowed:
            raise SessionRateLimited.of(verdict, "tool calls")
        for name, value in verdict.headers.items():
            response.headers.append(name, value)
    workspace = manager.workspaces.path(session.workspace_dir)
    ctx = ToolContext(
        workspace=workspace,
        run_command=manager.request_runner(session),
        ignore=resources.ignore_rules(workspace),
        mcp=mcp,
    )
    if tool.category is ApprovalCategory.WRITE:
        # as a files API write: not while an import or a checkpoint restore replaces the
        # workspace's files (409 `workspace-busy`); a command holds it in the sandbox's runner
        async with manager.workspaces.writing(session.workspace_dir):
            result = await tool.execute(parsed, ctx)
    else:
        result = await tool.execute(parsed, ctx)  # validated above: no second pass through run()
    await AuditWriter(resources.db_sessions).write(
        "tools.execute",
        actor_id=principal.user_id,
        target=f"session:{session.id}",
        client=client,
        tool=tool.name,
        is_error=result.is_error,
        **_command_of(tool, parsed),
    )
    return result_out(tool.name, result)


def _command_of(tool: Tool, params: Any) -> dict[str, str]:
    """The command text a command tool ran, as its audit row keeps it (bounded, redacted)."""
    command = getattr(params, "command", None)
    if tool.category is not ApprovalCategory.EXECUTE or not isinstance(command, str):
        return {}
    return {"command": audit_command(command)}
