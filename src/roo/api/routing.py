"""The route class and router factory every `/api/v1` router uses, and how the application
finds a request's route quickly."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, FastAPI, params
from fastapi.routing import APIRoute
from starlette.convertors import FloatConvertor, IntegerConvertor, StringConvertor, UUIDConvertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from roo.api.middleware import is_json_content_type
from roo.kit.errors import UnsupportedMediaType

API_PREFIX = "/api/v1"


class ApiRoute(APIRoute):
    """An APIRoute that answers 415 when a JSON-bodied operation receives another content type.

    FastAPI on its own would report the same mistake as a confusing 422 ("Input should be a
    valid dictionary"); a client deserves to be told what it sent wrong.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        field = self.body_field
        if field is None or isinstance(field.field_info, params.Form | params.File):
            return handler

        async def checked(request: Request) -> Response:
            content_type = request.headers.get("content-type")
            if not is_json_content_type(content_type) and await request.body():
                sent = content_type or "a body without a Content-Type"
                raise UnsupportedMediaType(f"This operation takes application/json, not {sent}")
            return await handler(request)

        return checked


def api_router(prefix: str = "", **kwargs: Any) -> APIRouter:
    """A router for a domain's endpoints under `/api/v1{prefix}`.

    The version prefix is applied here, not by `include_router(prefix=...)`, so that each route
    carries its full path template (the access log and the permission walk read it).
    """
    return APIRouter(prefix=API_PREFIX + prefix, route_class=ApiRoute, **kwargs)


def add_routers(app: FastAPI, *routers: APIRouter) -> None:
    """Put the routers' routes, in order, straight into the application's route table.

    `include_router` would keep each router as a nested unit that FastAPI walks twice per
    request (once to choose it, once inside it): that costs more than the rest of a small
    request. The routes carry everything the routers gave them (full path, tags, dependencies,
    route class) when they were declared, so nothing is lost in the copy. (Application-wide
    `dependency_overrides` would not reach them; roo uses none.)
    """
    for router in routers:
        app.router.routes.extend(router.routes)


PATH_CACHE_SIZE = 4096
_ANY = "*"  # one path segment, whatever it says


class _Node:
    __slots__ = ("children", "ends", "rest")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.rest: list[int] = []  # routes that match whatever follows this node
        self.ends: list[int] = []  # routes whose template ends at this node


# Parameter types that match exactly one non-empty path segment.
_ONE_SEGMENT = (StringConvertor, IntegerConvertor, FloatConvertor, UUIDConvertor)


def _template_segments(route: BaseRoute) -> tuple[list[str], bool] | None:
    """A route's path template as segments (`_ANY` for a parameter), and whether the route also
    takes whatever follows them; None for a route the index cannot read."""
    path = getattr(route, "path", None)
    if not isinstance(path, str) or not path.startswith("/"):
        return None
    if not hasattr(route, "endpoint"):  # a Mount: whatever is under its path
        return path.rstrip("/").split("/"), True
    convertors = compile_path(path)[2]
    segments: list[str] = []
    for segment in path.split("/"):
        if "{" not in segment:
            segments.append(segment)
            continue
        names = [part.split("}", 1)[0].split(":", 1)[0] for part in segment.split("{")[1:]]
        if not all(isinstance(convertors.get(name), _ONE_SEGMENT) for name in names):
            return segments, True  # e.g. {path:path}: may span segments
        segments.append(_ANY)
    return segments, False


class RouteIndex:
    """Hands each HTTP request to the few routes that could match its path, in table order.

    Starlette tries every route of the table in order until one matches; with ~50 routes that
    is the largest cost of a small request for the routes at the end. The index is a tree of
    the templates' path segments (a parameter matches any one segment, a `{name:path}`
    parameter or a mount whatever follows). A request's segments select the routes whose
    templates can match them, a superset of the ones that do; FastAPI's own router, restricted
    to those, does the matching exactly as it would over the whole table (first full match
    wins, else the first method mismatch answers 405). A path that no indexed route can take,
    and every non-HTTP scope, goes to the whole table as before. Installed as the router's
    middleware (Starlette's `Router.middleware_stack`), so it runs inside every application
    middleware and exception handler, where the router itself runs.
    """

    def __init__(self, app: ASGIApp, router: APIRouter) -> None:
        self.app = app
        self.router = router
        self._indexed_count = -1
        self._root = _Node()
        self._routers: dict[tuple[int, ...], APIRouter] = {}
        self._by_path: dict[str, APIRouter | None] = {}  # recent paths (ids vary: bounded)

    def _build(self) -> None:
        root = _Node()
        for position, route in enumerate(self.router.routes):
            shape = _template_segments(route)
            if shape is None:  # a candidate for every path, in its place
                root.rest.append(position)
                continue
            segments, rest = shape
            node = root
            for segment in segments:
                node = node.children.setdefault(segment, _Node())
            (node.rest if rest else node.ends).append(position)
        self._root = root
        self._routers = {}
        self._by_path = {}
        self._indexed_count = len(self.router.routes)

    def candidates(self, path: str) -> tuple[int, ...]:
        """Positions in the table of the routes whose templates can match `path`."""
        if len(self.router.routes) != self._indexed_count:
            self._build()
        found: list[int] = []
        nodes = [self._root]
        for segment in path.split("/"):
            following: list[_Node] = []
            for node in nodes:
                found.extend(node.rest)
                exact = node.children.get(segment)
                if exact is not None:
                    following.append(exact)
                wildcard = node.children.get(_ANY)
                if wildcard is not None and segment:
                    following.append(wildcard)
            nodes = following
            if not nodes:
                break
        for node in nodes:
            found.extend(node.ends)
            found.extend(node.rest)
        return tuple(sorted(set(found)))

    def _subset(self, path: str) -> APIRouter | None:
        """FastAPI's router over the candidates for `path` (None: no candidate)."""
        positions = self.candidates(path)
        subset = self._routers.get(positions) if positions else None
        if subset is None and positions:
            routes = self.router.routes
            subset = APIRouter(
                routes=[routes[i] for i in positions],
                redirect_slashes=False,
                default=self.app,
                form_limits=self.router.form_limits,
            )
            self._routers[positions] = subset
        if len(self._by_path) >= PATH_CACHE_SIZE:
            self._by_path.clear()
        self._by_path[path] = subset
        return subset

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        root_path = scope.get("root_path")
        if root_path and path.startswith(root_path):  # as Starlette reads the route path
            path = path[len(root_path) :]
        subset = self._by_path.get(path)
        if subset is None or len(self.router.routes) != self._indexed_count:
            subset = self._subset(path)
        if subset is None:
            await self.app(scope, receive, send)
            return
        scope.setdefault("router", self.router)
        await subset.app(scope, receive, send)


def install_route_index(app: FastAPI) -> None:
    """Route the application's HTTP requests through a `RouteIndex` of its route table."""
    router = app.router
    if router.middleware_stack != router.app or router.redirect_slashes:
        # Router middleware (FastAPI's max_body_size) would be skipped, and slash redirects
        # need the whole table; roo configures neither.
        raise RuntimeError("the route index needs a router without middleware or slash redirects")
    router.middleware_stack = RouteIndex(router.middleware_stack, router)
