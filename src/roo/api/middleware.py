"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request and breaks streaming).

- `RequestContextMiddleware`: request id in and out, one access-log line per request, and the
  last line of defence that turns an unexpected exception into a 500 problem with no stack trace.
- `BodyLimitMiddleware`: refuses oversized bodies with 413 before the application reads them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roo.api.problems import problem_response
from roo.kit.logs import ACCESS_LOG, get_logger
from roo.kit.request_context import (
    accept_or_generate,
    bind_credential,
    bind_request_id,
    reset_credential,
    reset_request_id,
)
from roo.observability.metrics import HTTP_IN_FLIGHT, HTTP_SHED

error_log = get_logger("roo.error")

# Probes hit these every few seconds; their lines go to DEBUG so they do not drown the log.
QUIET_PATHS = frozenset({"/healthz", "/readyz"})
# Never refused nor counted by the in-flight limit: the probes and the metrics scrape.
UNLIMITED_PATHS = QUIET_PATHS | {"/metrics"}


def route_template(scope: Scope) -> str | None:
    """The matched route's path template (`/api/v1/sessions/{id}`), set by the router."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None


def raw_header(scope: Scope, name: bytes) -> str | None:
    """One request header by its lower-case name, without building a Headers object."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        request_id = accept_or_generate(raw_header(scope, b"x-request-id"))
        token = bind_request_id(request_id)
        credential = bind_credential(None)  # the route's credential check sets it
        try:
            if kind == "http":
                await self._http(scope, receive, send, request_id)
            else:
                await self.app(scope, receive, send)
        finally:
            reset_credential(credential)
            reset_request_id(token)

    async def _http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        start = time.perf_counter()
        status = 500
        started = False
        id_header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                # A new list: the response object may reuse its own header list.
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            error_log.exception(
                "request.unhandled_exception",
                method=scope["method"],
                path=scope["path"],
                route=route_template(scope),
            )
            if started:
                raise  # too late for a problem body: the server closes the connection
            response = problem_response(
                500,
                slug="internal-error",
                detail="An unexpected error occurred. Quote the request id when reporting it.",
                instance=scope["path"],
            )
            await response(scope, receive, send_with_id)
        finally:
            self._log(scope, status, time.perf_counter() - start)

    @staticmethod
    def _log(scope: Scope, status: int, elapsed: float) -> None:
        if status >= 500:
            level = logging.ERROR
        elif status < 400 and scope["path"] in QUIET_PATHS:
            level = logging.DEBUG
        else:
            level = logging.INFO
        if not ACCESS_LOG.enabled_for(level):
            return  # probes, or a log level above INFO: no line to build
        client = scope.get("client")
        ACCESS_LOG.write(
            level,
            method=scope["method"],
            path=scope["path"],
            route=route_template(scope),
            status=status,
            duration_ms=round(elapsed * 1000, 3),
            client=client[0] if client else None,
        )


def is_json_content_type(value: str | None) -> bool:
    if not value:
        return False
    media = value.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class CorsForCrossOriginOnly:
    """Starlette's CORS middleware wraps every response; a request without an `Origin` header
    is not cross-origin, so it goes straight to the app."""

    def __init__(
        self, app: ASGIApp, allow_origins: Sequence[str], expose_headers: Sequence[str]
    ) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=allow_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=expose_headers,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and raw_header(scope, b"origin") is not None:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class BodyTooLarge(HTTPException):
    """Raised while the app reads a body that outgrows its limit (chunked uploads)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body exceeds the limit of {limit} bytes")


class BodyLimitMiddleware:
    """Refuse request bodies above a size limit with a 413 problem.

    A declared Content-Length over the limit is refused before the body is read; a body without
    one (chunked) is counted as it arrives and refused as soon as it passes the limit. JSON bodies
    have their own limit (`ROO_MAX_JSON_BODY_BYTES`, 1 MiB by default); other content types get
    `other_limit`.
    """

    def __init__(self, app: ASGIApp, *, json_limit: int, other_limit: int) -> None:
        self.app = app
        self.json_limit = json_limit
        self.other_limit = other_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        content_type = declared = None
        chunked = False
        for key, value in scope["headers"]:  # one pass over the raw headers
            if key == b"content-length" and declared is None:
                declared = value.decode("latin-1")
            elif key == b"content-type" and content_type is None:
                content_type = value.decode("latin-1")
            elif key == b"transfer-encoding":
                chunked = True
        if declared is None and not chunked:  # HTTP/1.1: no body at all (most GETs)
            await self.app(scope, receive, send)
            return
        is_json = is_json_content_type(content_type)
        limit = self.json_limit if is_json else self.other_limit
        if declared is not None and declared.isdigit() and int(declared) > limit:
            kind = "JSON " if is_json else ""
            response = problem_response(
                413,
                detail=f"Request body is {declared} bytes; the limit for {kind}bodies is {limit}",
                instance=scope["path"],
            )
            await response(scope, receive, send)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted_receive, send)


class InFlightLimitMiddleware:
    """At most `limit` HTTP requests in flight in this process; one more is answered
    503 service-overloaded with Retry-After at once, before it costs anything.

    Past its capacity a process cannot answer every request quickly; queueing them all would
    make every request slow (and the queue of waiting database work grows without bound).
    Refusing the excess keeps the latency of the accepted ones. Health probes are never
    refused, nor is a metrics scrape: a busy process is alive and ready. An event stream
    (`text/event-stream`) counts until its response starts, not while it stays open. `limit` 0
    turns the cap off.
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0 or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            HTTP_SHED.inc()
            response = problem_response(
                503,
                slug="service-overloaded",
                title="Service overloaded",
                detail="The service has more requests in progress than it takes on; retry shortly",
                instance=scope["path"],
                headers={"Retry-After": "1"},
            )
            await response(scope, receive, send)
            return
        self.in_flight += 1
        HTTP_IN_FLIGHT.inc()
        counted = True

        async def send_watched(message: Message) -> None:
            # An event stream stays open for as long as its client follows it: it is a
            # subscription, not work in progress, and must not crowd out requests.
            nonlocal counted
            if counted and message["type"] == "http.response.start" and _is_stream(message):
                counted = False
                self.in_flight -= 1
                HTTP_IN_FLIGHT.dec()
            await send(message)

        try:
            await self.app(scope, receive, send_watched)
        finally:
            if counted:
                self.in_flight -= 1
                HTTP_IN_FLIGHT.dec()


def _is_stream(start: Message) -> bool:
    return any(
        name.lower() == b"content-type" and value.lower().startswith(b"text/event-stream")
        for name, value in start.get("headers", ())
    )
