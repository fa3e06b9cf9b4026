"""The methods a path answers to, for the `Allow` header of a 405 (RFC 9110 section 15.5.6).

Starlette's router answers 405 from the first route whose path matched and names only that
route's methods; a path served by several routes (`GET`, `PATCH` and `DELETE` of one resource,
each a route of its own) must list them all. Routers are included without a prefix
(`roo.api.routing.api_router` puts it on each route), so a route's own template is its full path.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# The order RFC 9110 lists them in, then anything else alphabetically.
_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route of `routes` (included routers walked) accepts at the request's
    path (empty: none)."""
    methods: set[str] = set()
    for context in iter_route_contexts(routes):
        route = context.original_route
        match, _ = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            if isinstance(route.app, StaticFiles):
                methods.update(("GET", "HEAD"))
            continue
        route_methods = getattr(route, "methods", None)
        if route_methods:
            methods.update(m.upper() for m in route_methods)
    return sorted(methods, key=lambda m: (_ORDER.index(m) if m in _ORDER else len(_ORDER), m))
