"""`/api/v1/sessions`: routes only; the logic is in `roo.sessions.service`.

Around slow work (an upload and its extraction, a clone, a walk of the workspace) the database
work happens in short units of work before and after it, so the slow part never holds a database
connection; a delete returns its request's connection before it waits for the session's tasks.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Request, status
from starlette.responses import Response

from roo.api.deps import AppSettings, DbSession, get_resources
from roo.api.routing import api_router
from roo.auth.deps import Client, require
from roo.auth.identity import Principal
from roo.auth.permissions import Permission
from roo.db.engine import after_commit, release_connection, unit_of_work
from roo.kit.inputs import Offset, PageLimit, SafeText
from roo.kit.schema import Page
from roo.mcp.service import check_urls
from roo.pathguard import TreeUsage
from roo.sessions import repository
from roo.sessions.exceptions import CloneDisabled, McpUrlRefused, SessionNotFound
from roo.sessions.modes import session_modes
from roo.sessions.schemas import (
    CloneIn,
    CloneOut,
    DiskUsage,
    ImportOut,
    ModeGroupOut,
    ModeOut,
    ModeProblem,
    SessionConfigIn,
    SessionCreateIn,
    SessionModesOut,
    SessionOut,
    SessionResources,
    SessionState,
    SessionUpdateIn,
)
from roo.sessions.service import SessionManager

router = api_router("/sessions", tags=["sessions"])
admin_router = api_router("/admin/sessions", tags=["admin"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such session of yours"}}


async def get_manager(request: Request) -> SessionManager:
    return get_resources(request).sessions_manager


Manager = Annotated[SessionManager, Depends(get_manager)]
Reader = Annotated[Principal, require(Permission.SESSIONS_READ)]
Writer = Annotated[Principal, require(Permission.SESSIONS_WRITE)]


async def _check_mcp_urls(request: Request, config: SessionConfigIn) -> None:
    """A remote MCP server's URL follows the rules of provider base URLs (public addresses
    only unless an operator allows the host): refused when stored, checked again on connect."""
    problem = await check_urls(get_resources(request).credentials.egress, config.mcp_servers)
    if problem is not None:
        raise McpUrlRefused(problem)


@router.get("", summary="Your sessions, most recently active first")
async def list_sessions(
    request: Request,
    principal: Reader,
    manager: Manager,
    state: SessionState | None = None,
    q: Annotated[SafeText | None, Query(max_length=200, description="Name contains")] = None,
    limit: PageLimit = 50,
    offset: Offset = 0,
) -> Page[SessionOut]:
    rows, total = await repository.page(
        get_resources(request).reads,
        user_id=principal.user_id,
        state=state,
        query=q,
        limit=limit,
        offset=offset,
    )
    return manager.rows_out(rows, total, limit, offset)


@router.post(
    "",
    summary="Create a session with an empty workspace",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Session quota reached"}},
)
async def create_session(
    request: Request,
    body: SessionCreateIn,
    principal: Writer,
    db: DbSession,
    manager: Manager,
    client: Client,
) -> SessionOut:
    await _check_mcp_urls(request, body.config)  # before any statement: no connection held
    session = await manager.create(db, principal, body.name, body.config, client)
    return manager.out(session)


@router.get("/{session_id}", summary="One session", responses=NOT_FOUND)
async def get_session(
    request: Request, session_id: uuid.UUID, principal: Reader, manager: Manager
) -> SessionOut:
    row = await repository.one(get_resources(request).reads, principal.user_id, session_id)
    if row is None:
        raise SessionNotFound()
    return manager.row_out(row)


@router.put(
    "/{session_id}",
    summary="Rename, reconfigure, archive or restore a session",
    responses=NOT_FOUND,
)
async def update_session(
    request: Request,
    session_id: uuid.UUID,
    body: SessionUpdateIn,
    principal: Writer,
    db: DbSession,
    manager: Manager,
) -> SessionOut:
    if body.config is not None:
        await _check_mcp_urls(request, body.config)
    session = await manager.get(db, principal, session_id)
    session = await manager.update(
        db, principal, session, name=body.name, config=body.config, state=body.state
    )
    return manager.out(session)


@router.delete(
    "/{session_id}",
    summary="Delete a session and its workspace",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND,
)
async def delete_session(
    request: Request,
    session_id: uuid.UUID,
    principal: Writer,
    db: DbSession,
    manager: Manager,
    client: Client,
) -> Response:
    await manager.get(db, principal, session_id)
    await release_connection(db)  # no connection held while the session's tasks stop
    # Its running tasks stop first (their commands are killed); their rows go with the session.
    await get_resources(request).tasks.stop_session(session_id)
    mcp = get_resources(request).mcp
    if mcp is not None:  # its MCP servers in this process stop too
        await mcp.stop_session(session_id)
    session = await manager.get(db, principal, session_id)  # a concurrent delete won: 404
    await manager.delete(db, principal, session, client)
    bus = get_resources(request).bus

    async def gone() -> None:  # its open event streams end now, in every process
        bus.session_gone(session_id)

    after_commit(db, gone)
    checkpoints = get_resources(request).tasks.checkpoints
    if checkpoints is not None:  # its shadow repository (outside the workspace) goes too
        after_commit(db, lambda: checkpoints.remove(session_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{session_id}/modes",
    summary="The modes a task of this session can use (built-in, session config, .roomodes)",
    responses=NOT_FOUND,
)
async def list_modes(
    request: Request, session_id: uuid.UUID, principal: Reader, manager: Manager
) -> SessionModesOut:
    async with unit_of_work(get_resources(request).db_sessions) as db:
        session = await manager.get(db, principal, session_id)
    # .roomodes is read with no connection held
    found = await session_modes(manager.workspaces.path(session.workspace_dir), session.config)
    error = found.workspace_error
    return SessionModesOut(
        modes=[
            ModeOut(
                slug=mode.slug,
                name=mode.name,
                source=mode.source,
                groups=[
                    ModeGroupOut(name=g)
                    if isinstance(g, str)
                    else ModeGroupOut(name=g[0], file_regex=g[1], description=g[2] or None)
                    for g in mode.groups
                ],
                when_to_use=mode.when_to_use,
                description=mode.description,
            )
            for mode in found.table.values()
        ],
        default_mode=session.config.get("mode") or "code",
        workspace_error=str(error) if error else None,
        workspace_errors=[ModeProblem(**e) for e in error.errors] if error else [],
    )


@router.get(
    "/{session_id}/resources",
    summary="Current resource usage and limits of a session",
    responses=NOT_FOUND,
)
async def session_resources(
    request: Request, session_id: uuid.UUID, principal: Reader, manager: Manager
) -> SessionResources:
    resources = get_resources(request)
    async with unit_of_work(resources.db_sessions) as db:
        session = await manager.get(db, principal, session_id)
        running_tasks = await resources.tasks.active_count(db, session.id)
    # The walk of the workspace and the cgroup reads hold no connection.
    limits = manager.limits(session)
    used = (
        await manager.workspaces.usage(session.workspace_dir)
        if session.workspace_deleted_at is None
        else TreeUsage(0, 0)
    )
    return SessionResources(
        disk=DiskUsage(
            used_bytes=used.bytes,
            limit_bytes=limits.max_disk_mb * 1024 * 1024,
            used_files=used.files,
            limit_files=limits.max_files,
        ),
        commands=await manager.commands_usage(session),
        running_tasks=running_tasks,
        running_commands=manager.running_commands(session),
        limits=limits,
    )


@router.post(
    "/{session_id}/workspace/import",
    summary="Fill the (empty) workspace from a .tar, .tar.gz, .tar.bz2, .tar.xz or .zip archive "
    "sent as the body (its format is read from its bytes)",
    responses={
        **NOT_FOUND,
        400: {"description": "Unsafe or unreadable archive"},
        507: {"description": "The archive exceeds the disk quota"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/gzip": {"schema": {"type": "string", "format": "binary"}},
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
                "application/x-tar": {"schema": {"type": "string", "format": "binary"}},
                "application/x-bzip2": {"schema": {"type": "string", "format": "binary"}},
                "application/x-xz": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def import_workspace(
    session_id: uuid.UUID,
    request: Request,
    principal: Annotated[Principal, require(Permission.FILES_WRITE)],
    manager: Manager,
    client: Client,
) -> ImportOut:
    units = get_resources(request).db_sessions
    async with unit_of_work(units) as db:
        session = await manager.get(db, principal, session_id)
        await manager.touch(db, session)
    result = await manager.import_archive(session, request.stream())  # no connection held
    async with unit_of_work(units) as db:
        await manager.record_import(db, principal, session, result, client)
    return ImportOut(files=result.files, directories=result.directories, bytes=result.bytes)


@router.post(
    "/{session_id}/workspace/clone",
    summary="Fill the (empty) workspace with a shallow git clone (when the operator allows it)",
    responses={
        **NOT_FOUND,
        400: {
            "description": "The clone failed (the problem carries git's output), or the URL "
            "leads to an address that is not public (`clone-url-refused`)"
        },
        403: {"description": "Cloning is turned off (ROO_ALLOW_GIT_CLONE)"},
    },
)
async def clone_workspace(
    request: Request,
    session_id: uuid.UUID,
    body: CloneIn,
    principal: Annotated[Principal, require(Permission.FILES_WRITE)],
    manager: Manager,
    settings: AppSettings,
    client: Client,
) -> CloneOut:
    if not settings.allow_git_clone:
        raise CloneDisabled("Cloning repositories is turned off on this server")
    resources = get_resources(request)
    units = resources.db_sessions
    async with unit_of_work(units) as db:
        session = await manager.get(db, principal, session_id)
        await manager.touch(db, session)
    git_options = await manager.check_clone_url(resources.credentials.egress, body.url)
    # no connection held meanwhile
    result = await manager.clone_repository(session, body.url, body.ref, git_options)
    # A failed clone is audited too: in its own unit of work, which the 400 does not undo.
    async with unit_of_work(units) as db:
        await manager.record_clone(db, principal, session, body.url, result, client)
    manager.check_clone(result)
    return CloneOut(output=result.stdout.decode("utf-8", "replace")[-4000:])


@admin_router.get("", summary="Every user's sessions (admin)")
async def admin_list_sessions(
    request: Request,
    principal: Annotated[Principal, require(Permission.USERS_ADMIN)],
    manager: Manager,
    state: SessionState | None = None,
    limit: PageLimit = 50,
    offset: Offset = 0,
) -> Page[SessionOut]:
    rows, total = await repository.page(
        get_resources(request).reads,
        user_id=None,
        state=state,
        query=None,
        limit=limit,
        offset=offset,
    )
    return manager.rows_out(rows, total, limit, offset)
