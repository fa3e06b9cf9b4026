"""`MetricsMiddleware`: every HTTP request counted by route template, method and status, timed.

Pure ASGI (as the other middleware in `roo.api.middleware`), placed outside the request context,
the in-flight limit and the rate limiter, so that it sees the final status: their 500, 503 and
429 answers included. The label is the matched route's template (`/api/v1/sessions/{id}`), never
the raw path: ids would make a series per resource (and a method outside the standard ones is
`other`: a client may send any token there). A request refused before routing (429, 503,
413) has no matched route yet; its template is looked up in a table of the app's documented
routes (built once, from FastAPI's route contexts: not from the OpenAPI document, whose first
build holds the event loop for a quarter of a second, at the moment the service is refusing
requests because it is busy). Anything that matches no route (404 probes of scanners) is
`unmatched`.
"""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roo.api.middleware import route_template
from roo.observability.metrics import HTTP_DURATION, HTTP_REQUESTS

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_TABLE_KEY = "metrics_route_table"  # on the application's state, built at first use
# Refused by a middleware before the router ran: worth finding their route.
_REFUSED_EARLY = frozenset({413, 429, 503})


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # an exception that escaped every layer: the server answers 500

        async def send_watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_watched)
        finally:
            route = route_template(scope)
            if route is None:
                route = _lookup(scope) if status in _REFUSED_EARLY else UNMATCHED
            method = scope["method"]
            if method not in METHODS:  # a client may send any token as its method
                method = "other"
            HTTP_REQUESTS.labels(route, method, str(status)).inc()
            HTTP_DURATION.labels(route, method).observe(time.perf_counter() - start)


def _lookup(scope: Scope) -> str:
    """The template of the documented route that would have answered this method and path."""
    app = scope.get("app")
    state = getattr(app, "state", None)
    table = getattr(state, _TABLE_KEY, None)
    if table is None:
        table = _route_table(app)
        if state is not None:
            setattr(state, _TABLE_KEY, table)
    path = scope["path"]
    method = scope["method"]
    for regex, methods, template in table:
        if method in methods and regex.match(path):
            return template
    return UNMATCHED


def _route_table(app: Any) -> list[tuple[re.Pattern[str], frozenset[str], str]]:
    """The documented routes (those in the OpenAPI document: an `APIRoute` included in the
    schema), each as its path's regex, methods and template."""
    routes = getattr(app, "routes", None)
    if routes is None:
        return []
    table: list[tuple[re.Pattern[str], frozenset[str], str]] = []
    for context in iter_route_contexts(routes):
        route = context.original_route
        # as served: the prefixes of the routers it is included in joined, their settings applied
        if isinstance(route, APIRoute) and context.include_in_schema:
            template = context.path_format or route.path_format
            methods = frozenset(context.methods or route.methods or ())
            table.append((compile_path(template)[0], methods, template))
    return table
