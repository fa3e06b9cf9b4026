"""Rendering every failure as `application/problem+json` (RFC 9457).

Registered on the app by `install_problem_handlers`; the request-context middleware renders
unexpected exceptions (500) with the same function, so nothing leaves the service in another
shape.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from roo.api.allow import allowed_methods
from roo.db.engine import DatabaseBusy, log_connection_holders
from roo.kit.errors import (
    PROBLEM_CONTENT_TYPE,
    AppError,
    ConcurrentChange,
    MalformedBody,
    ServiceOverloaded,
    Unprocessable,
    problem_type,
    status_slug,
    status_title,
)
from roo.kit.logs import get_logger
from roo.kit.request_context import current_request_id
from roo.sandbox import SandboxUnavailable

log = get_logger("roo.error")


class FieldProblem(BaseModel):
    """One field-level validation problem."""

    field: str = Field(description="Dotted path of the offending field, e.g. `body.config.model`")
    message: str
    type: str = Field(description="Machine-readable error kind, e.g. `missing`, `string_too_long`")


class Problem(BaseModel):
    """RFC 9457 problem details: the body of every error response."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="URI identifying the problem kind", examples=["urn:roo:problem:not-found"]
    )
    title: str = Field(description="Short summary of the problem kind")
    status: int = Field(description="HTTP status code")
    detail: str | None = Field(None, description="What went wrong in this occurrence")
    instance: str | None = Field(None, description="The request path that failed")
    requestId: str | None = Field(None, description="Quote it when reporting a problem")


class ValidationProblem(Problem):
    errors: list[FieldProblem] = Field(default_factory=list)


class ProblemResponse(Response):
    media_type = PROBLEM_CONTENT_TYPE

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


def problem_body(
    status: int,
    *,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": problem_type(slug or status_slug(status)),
        "title": title or status_title(status),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    request_id = current_request_id()
    if request_id:
        body["requestId"] = request_id
    body.update({k: v for k, v in extensions.items() if v is not None})
    return body


def problem_response(
    status: int, *, headers: dict[str, str] | None = None, **fields: Any
) -> ProblemResponse:
    return ProblemResponse(problem_body(status, **fields), status_code=status, headers=headers)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def _json_position(doc: Any, pos: int) -> str:
    if isinstance(doc, bytes | str):
        text = doc.decode("utf-8", "replace") if isinstance(doc, bytes) else doc
        line = text.count("\n", 0, pos) + 1
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        return f"line {line} column {column} (char {pos})"
    return f"char {pos}"


async def app_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)  # noqa: S101 - registered for AppError only
    return problem_response(
        exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        headers=exc.headers,
        **exc.extensions,
    )


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    status = exc.status_code
    detail: str | None = exc.detail if isinstance(exc.detail, str) else None
    if detail == status_title(status):
        detail = None
    if status == 404 and detail is None:
        detail = f"No resource at {request.url.path}"
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() != "allow"}
    if status == 405:
        # every method of the path, not only those of the route that happened to match first
        methods = allowed_methods(request.app.router.routes, request.scope)
        allowed = ", ".join(methods) or (exc.headers or {}).get("Allow", "")
        if allowed:
            headers["Allow"] = allowed
        if detail is None:
            detail = f"{request.method} is not allowed here" + (
                f"; allowed: {allowed}" if allowed else ""
            )
    return problem_response(status, detail=detail, instance=request.url.path, headers=headers)


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    errors = list(exc.errors())
    broken = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if broken is not None:
        loc = broken.get("loc", ())
        pos = loc[-1] if loc and isinstance(loc[-1], int) else 0
        reason = (broken.get("ctx") or {}).get("error", "invalid JSON")
        return problem_response(
            MalformedBody.status,
            slug=MalformedBody.slug,
            title=MalformedBody.title,
            detail=f"Request body is not valid JSON: {reason} at {_json_position(exc.body, pos)}",
            instance=request.url.path,
        )
    fields = [
        FieldProblem(
            field=_field_path(e.get("loc", ())),
            message=str(e.get("msg", "")),
            type=str(e.get("type", "")),
        ).model_dump()
        for e in errors
    ]
    count = len(fields)
    return problem_response(
        Unprocessable.status,
        slug=Unprocessable.slug,
        title=Unprocessable.title,
        detail=f"{count} field{'s' if count != 1 else ''} failed validation",
        instance=request.url.path,
        errors=fields,
    )


async def backend_unavailable_handler(request: Request, exc: Exception) -> Response:
    """The database (or another backend) cannot be reached: 503, so clients retry."""
    log.error("backend.unavailable", error=type(exc).__name__, path=request.url.path)
    return problem_response(
        503,
        detail="A backend of the service is unavailable; try again shortly",
        instance=request.url.path,
        headers={"Retry-After": "5"},
    )


async def dbapi_error_handler(request: Request, exc: Exception) -> Response:
    """A driver error: a connection the database dropped (its restart, a failover) is the
    backend being unavailable (503, retry); anything else is a fault (500, by the middleware)."""
    if getattr(exc, "connection_invalidated", False):
        return await backend_unavailable_handler(request, exc)
    raise exc


async def database_busy_handler(request: Request, exc: Exception) -> Response:
    """No database connection (or turn to write) within the pool timeout: overloaded, not
    broken. 503 with Retry-After, never a 500 and never a 30 s wait."""
    log.warning("db.overloaded", error=f"{type(exc).__name__}: {exc}", path=request.url.path)
    log_connection_holders()
    return await app_error_handler(request, ServiceOverloaded())


async def concurrent_change_handler(request: Request, exc: Exception) -> Response:
    """A row this request updated or deleted was deleted (or changed) by another request in the
    meantime: the ORM's UPDATE matched no row (a file write marking its session active while
    the session is deleted). The request's transaction is rolled back: nothing of it stays; the
    client reloads and decides. 409, not a server fault."""
    log.info("db.concurrent_change", error=type(exc).__name__, path=request.url.path)
    return await app_error_handler(
        request,
        ConcurrentChange(
            "What this request changes was deleted or changed by another request at the same "
            "time; nothing was changed. Reload it and retry if it still exists."
        ),
    )


async def sandbox_unavailable_handler(request: Request, exc: Exception) -> Response:
    """Commands need bubblewrap here (production) and it is missing: the operator must act."""
    log.error("sandbox.unavailable", error=str(exc), path=request.url.path)
    return problem_response(
        503,
        slug="sandbox-unavailable",
        title="Command execution unavailable",
        detail="This server cannot run commands in isolation (bubblewrap is missing or "
        "unusable); ask the operator",
        instance=request.url.path,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    for backend_error in (
        OperationalError,
        InterfaceError,
        ConnectionError,
        RedisConnectionError,
        RedisTimeoutError,  # Redis too slow to answer within its socket timeout
    ):
        app.add_exception_handler(backend_error, backend_unavailable_handler)
    app.add_exception_handler(DBAPIError, dbapi_error_handler)
    for busy in (PoolTimeout, DatabaseBusy):
        app.add_exception_handler(busy, database_busy_handler)
    app.add_exception_handler(SandboxUnavailable, sandbox_unavailable_handler)
    for stale in (StaleDataError, ObjectDeletedError):
        app.add_exception_handler(stale, concurrent_change_handler)
