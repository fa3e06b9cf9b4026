"""`/api/v1/sessions/{id}/mcp`: routes only. The session is loaded in a short unit of work;
starting a server (which may take its start timeout) happens with no connection held."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path, Request

from roo.api.deps import get_resources
from roo.api.routing import api_router
from roo.auth.deps import Client, require
from roo.auth.identity import Principal
from roo.auth.permissions import Permission
from roo.db.engine import unit_of_work
from roo.db.models import Session
from roo.kit.errors import NotFound, ServiceUnavailable
from roo.mcp.config import SERVER_NAME_PATTERN
from roo.mcp.schemas import McpServerStatusOut, McpStatusOut
from roo.mcp.service import McpService, server_out
from roo.security.audit import record

router = api_router("/sessions", tags=["mcp"])

ServerPath = Annotated[str, Path(pattern=SERVER_NAME_PATTERN, description="The server's name")]


class McpServerNotFound(NotFound):
    slug, title = "mcp-server-not-found", "MCP server not found"


class McpUnavailable(ServiceUnavailable):
    slug, title = "mcp-unavailable", "MCP unavailable"


def _service(request: Request) -> McpService:
    service = get_resources(request).mcp
    if service is None:
        raise McpUnavailable("MCP servers are not available in this process")
    return service


async def _session(
    request: Request, principal: Principal, session_id: uuid.UUID, *, touch: bool
) -> Session:
    resources = get_resources(request)
    manager = resources.sessions_manager
    async with unit_of_work(resources.db_sessions) as db:
        session = await manager.get(db, principal, session_id)
        if touch:
            await manager.touch(db, session)
    return session


@router.get(
    "/{session_id}/mcp",
    summary="The session's MCP servers: status, tools, resources, last error (no secrets)",
    responses={404: {"description": "No such session of yours"}},
)
async def mcp_status(
    request: Request,
    session_id: uuid.UUID,
    principal: Annotated[Principal, require(Permission.SESSIONS_READ)],
) -> McpStatusOut:
    service = _service(request)
    session = await _session(request, principal, session_id, touch=False)
    return await service.status(session)


@router.post(
    "/{session_id}/mcp/{server}/restart",
    summary="Stop the server and start it again now, where it runs (or here)",
    responses={404: {"description": "No such session of yours, or no such server"}},
)
async def restart_server(
    request: Request,
    session_id: uuid.UUID,
    server: ServerPath,
    principal: Annotated[Principal, require(Permission.SESSIONS_WRITE)],
    client: Client,
) -> McpServerStatusOut:
    service = _service(request)
    session = await _session(request, principal, session_id, touch=True)
    view = await service.restart(session, server)
    if view is None:
        mcp = await service.session(session)
        known = ", ".join(sorted(mcp.servers)) or "none"
        raise McpServerNotFound(f"No MCP server named {server!r} in this session; known: {known}")
    async with unit_of_work(get_resources(request).db_sessions) as db:
        await record(
            db,
            "mcp.restart",
            actor_id=principal.user_id,
            target=f"session:{session.id}",
            client=client,
            server=server,
            status=view.status,
        )
    return server_out(view)
