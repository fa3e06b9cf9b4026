"""The route class and router factory every `/api/v1` router uses.

The application includes the routers with FastAPI's own `include_router` (`roo.app`), so that
FastAPI matches the routes and `app.dependency_overrides` reaches every endpoint."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, params
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

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
