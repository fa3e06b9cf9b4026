"""`/api/v1/sessions/{id}/files`: routes only; the logic is in `roo.files.service`.

Database work happens in short units of work before and after the file transfer, so a slow
upload or download never holds a database connection.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import Query, Request, status
from pydantic import BaseModel
from starlette.responses import Response

from roo import pathguard
from roo.api.deps import get_resources
from roo.api.routing import API_PREFIX, api_router
from roo.auth.deps import Client, require
from roo.auth.identity import Principal
from roo.auth.permissions import Permission
from roo.db.engine import unit_of_work
from roo.db.models import Session
from roo.files import content as http
from roo.files import listing, service
from roo.files.schemas import DirectoryListing, FileContent, FileInfo
from roo.security.audit import ClientInfo, record
from roo.sessions.exceptions import WorkspaceGone

router = api_router("/sessions", tags=["files"])

Reader = Annotated[Principal, require(Permission.FILES_READ)]
Writer = Annotated[Principal, require(Permission.FILES_WRITE)]

# Until a ROO_MAX_UPLOAD_BYTES setting exists, uploads get the body limit of non-JSON requests.

PATH_DOC = (
    "Relative to the workspace root. Refused with 400 (`invalid-path`): absolute paths, `..`, "
    "backslashes, control characters, invalid UTF-8, double percent-encoding, links that lead "
    "outside the workspace."
)
RAW_OR_JSON: dict[int | str, dict[str, Any]] = {
    200: {
        "model": FileContent | DirectoryListing,
        "description": "The file's bytes (or JSON with `?format=json`), or a directory listing. "
        "The bytes are served with the type their name and start suggest (text/plain for text, "
        "image/png, ..., application/octet-stream when unknown), hence `*/*`.",
        "content": {
            "*/*": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    206: {"description": "One byte range of the file"},
    304: {"description": "The file still has the ETag given in If-None-Match"},
    404: {"description": "No such session of yours, or no such file"},
    416: {"description": "The range lies outside the file"},
}
PUT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": FileInfo, "description": "Replaced"},
    201: {"model": FileInfo, "description": "Created"},
    409: {
        "description": "Parent missing, a directory there, session archived, workspace deleted, "
        "workspace busy (an archive import or a checkpoint restore under way)"
    },
    412: {"description": "If-Match / If-None-Match failed"},
    413: {"description": "The body is over the upload limit"},
    507: {"description": "The write would exceed the session's disk quota"},
}
POST_RESPONSES = {
    code: value for code, value in PUT_RESPONSES.items() if code not in (200, 412)
} | {
    409: {
        "description": "Something exists at the path, parent missing, session archived, "
        "workspace busy"
    }
}
RAW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "description": "The file's bytes. Send application/octet-stream: a JSON content type is "
        "held to the 1 MiB JSON body limit.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


async def open_workspace(
    request: Request, principal: Principal, session_id: uuid.UUID, *, write: bool
) -> tuple[Session, Path]:
    """The caller's session (404 for anyone else's) and its workspace; writes mark activity
    and are refused on archived sessions."""
    resources = get_resources(request)
    manager = resources.sessions_manager
    async with unit_of_work(resources.db_sessions) as db:
        session = await manager.get(db, principal, session_id)
        if session.workspace_deleted_at is not None:
            raise WorkspaceGone("This session's workspace was deleted")
        if write:
            await manager.touch(db, session)
    return session, manager.workspaces.path(session.workspace_dir)


def writing(request: Request, session: Session) -> AbstractAsyncContextManager[None]:
    """Hold the workspace (shared) for a write: 409 `workspace-busy` while an archive import or
    a checkpoint restore replaces its files."""
    return get_resources(request).sessions_manager.workspaces.writing(session.workspace_dir)


async def budget_for(request: Request, session: Session) -> service.Budget:
    """What a write may add to the workspace, from its usage now (bytes and files)."""
    resources = get_resources(request)
    manager = resources.sessions_manager
    limits = manager.limits(session)
    used = await manager.workspaces.usage(session.workspace_dir)
    return service.Budget(
        max_request_bytes=resources.settings.max_upload_bytes,
        quota_bytes=limits.max_disk_mb * service.MIB,
        used_bytes=used.bytes,
        max_files=limits.max_files,
        used_files=used.files,
    )


async def audit(
    request: Request,
    principal: Principal,
    client: ClientInfo,
    action: str,
    session: Session,
    **detail: Any,
) -> None:
    async with unit_of_work(get_resources(request).db_sessions) as db:
        await record(
            db,
            action,
            actor_id=principal.user_id,
            target=f"session:{session.id}",
            client=client,
            **detail,
        )


async def json_response(
    model: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Render in a worker thread: a listing or a file as JSON can be megabytes."""
    body = await asyncio.to_thread(model.model_dump_json)
    return Response(body, status_code, headers, media_type="application/json")


async def raw_response(request: Request, opened: service.OpenFile) -> Response:
    """The file's bytes with safe headers; 304 on a matching If-None-Match; 206 for a Range."""
    etag = opened.etag
    headers = {
        "ETag": etag,
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": http.FILE_CSP,
    }
    if http.none_match(request.headers.get("if-none-match"), etag):
        opened.close()
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    try:
        start, length = http.byte_range(
            request.headers.get("range"), request.headers.get("if-range"), etag, opened.size
        )
        head = await asyncio.to_thread(opened.head)
    except BaseException:
        opened.close()
        raise
    media = http.media_type(opened.name, head)
    headers |= {
        "Content-Type": http.content_type_header(media),
        "Content-Disposition": http.content_disposition(media, opened.name),
        "Accept-Ranges": "bytes",
        "Last-Modified": http.http_date(opened.mtime_seconds),
    }
    code = status.HTTP_200_OK
    if length != opened.size:
        code = status.HTTP_206_PARTIAL_CONTENT
        headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{opened.size}"
    return http.FileDescriptorResponse(
        opened.detach(), start, length, status_code=code, headers=headers
    )


async def read(
    request: Request,
    principal: Principal,
    session_id: uuid.UUID,
    path: str,
    as_json: bool,
    recursive: bool,
    limit: int,
) -> Response:
    _, workspace = await open_workspace(request, principal, session_id, write=False)
    target = await service.open_path(
        workspace, path, recursive=recursive, limit=limit, with_data=as_json
    )
    if isinstance(target, DirectoryListing):
        return await json_response(target)
    if not as_json:
        return await raw_response(request, target)
    try:
        content = await asyncio.to_thread(service.as_json, target)
    finally:
        target.close()
    return await json_response(content, headers={"ETag": content.etag})


Format = Annotated[
    Literal["raw", "json"],
    Query(alias="format", description="`json`: the file as JSON (text or base64) with metadata"),
]
Recursive = Annotated[bool, Query(description="Directories: list the whole tree")]
Limit = Annotated[
    int,
    Query(ge=1, le=listing.MAX_LIST_LIMIT, description="Directories: at most this many entries"),
]
Parents = Annotated[bool, Query(description="Create missing parent directories")]


@router.get(
    "/{session_id}/files",
    summary="List the workspace root",
    response_model=None,
    responses={200: {"model": DirectoryListing}, 404: {"description": "No such session"}},
)
async def list_root(
    request: Request,
    session_id: uuid.UUID,
    principal: Reader,
    recursive: Recursive = False,
    limit: Limit = listing.DEFAULT_LIST_LIMIT,
) -> Response:
    return await read(request, principal, session_id, "", False, recursive, limit)


@router.get(
    "/{session_id}/files/{path:path}",
    summary="A file's content, or a directory's listing",
    description=PATH_DOC,
    response_model=None,
    responses=RAW_OR_JSON,
)
async def read_path(
    request: Request,
    session_id: uuid.UUID,
    path: str,
    principal: Reader,
    format_: Format = "raw",
    recursive: Recursive = False,
    limit: Limit = listing.DEFAULT_LIST_LIMIT,
) -> Response:
    return await read(request, principal, session_id, path, format_ == "json", recursive, limit)


async def write(
    request: Request,
    principal: Principal,
    client: ClientInfo,
    session_id: uuid.UUID,
    path: str,
    *,
    exclusive: bool,
    parents: bool,
) -> Response:
    session, workspace = await open_workspace(request, principal, session_id, write=True)
    declared = request.headers.get("content-length")
    async with writing(request, session):
        budget = await budget_for(request, session)
        info = await service.write(
            workspace,
            path,
            request.stream(),
            exclusive=exclusive,
            parents=parents,
            conditions=http.Preconditions.from_headers(
                request.headers.get("if-match"), request.headers.get("if-none-match")
            ),
            budget=budget,
            declared_bytes=int(declared) if declared and declared.isdigit() else None,
        )
    await audit(
        request,
        principal,
        client,
        "files.write",
        session,
        path=info.path,
        size=info.size,
        created=info.created,
    )
    headers = {"ETag": info.etag or ""}
    if info.created:
        headers["Location"] = f"{API_PREFIX}/sessions/{session_id}/files/{quote(info.path)}"
    return await json_response(info, 201 if info.created else 200, headers)


@router.put(
    "/{session_id}/files/{path:path}",
    summary="Write or replace a file (raw body)",
    description=PATH_DOC
    + " The body is the file's bytes, whatever its Content-Type; send application/octet-stream"
    " (a JSON Content-Type is held to the 1 MiB JSON body limit).",
    response_model=None,
    responses=PUT_RESPONSES,
    openapi_extra=RAW_BODY,
)
async def put_file(
    request: Request,
    session_id: uuid.UUID,
    path: str,
    principal: Writer,
    client: Client,
    parents: Parents = False,
) -> Response:
    return await write(
        request, principal, client, session_id, path, exclusive=False, parents=parents
    )


@router.post(
    "/{session_id}/files/{path:path}",
    summary="Create a file (raw body), or a directory with ?type=directory",
    description=PATH_DOC + " 409 when something already exists at the path.",
    status_code=status.HTTP_201_CREATED,
    response_model=None,
    responses=POST_RESPONSES,
    openapi_extra=RAW_BODY,
)
async def create_path(
    request: Request,
    session_id: uuid.UUID,
    path: str,
    principal: Writer,
    client: Client,
    parents: Parents = False,
    kind: Annotated[
        Literal["file", "directory"], Query(alias="type", description="What to create")
    ] = "file",
) -> Response:
    if kind == "file":
        return await write(
            request, principal, client, session_id, path, exclusive=True, parents=parents
        )
    session, workspace = await open_workspace(request, principal, session_id, write=True)
    async with writing(request, session):
        budget = await budget_for(request, session)
        info = await service.make_directory(workspace, path, parents=parents, budget=budget)
    await audit(request, principal, client, "files.write", session, path=info.path, kind="dir")
    return await json_response(info, status.HTTP_201_CREATED)


@router.delete(
    "/{session_id}/files/{path:path}",
    summary="Delete a file, a link, or a directory (?recursive=true when not empty)",
    description=PATH_DOC + " Deleting a link removes the link, never its target.",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    responses={409: {"description": "Directory not empty, session archived, workspace busy"}},
)
async def delete_path(
    request: Request,
    session_id: uuid.UUID,
    path: str,
    principal: Writer,
    client: Client,
    recursive: Annotated[bool, Query(description="Delete a directory with its content")] = False,
) -> Response:
    session, workspace = await open_workspace(request, principal, session_id, write=True)
    async with writing(request, session):
        kind = await service.delete(workspace, path, recursive=recursive)
    await audit(
        request,
        principal,
        client,
        "files.delete",
        session,
        path=pathguard.relative(path),
        kind=kind,
        recursive=recursive,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
