"""Serving the console: `GET /` (the page, revalidated on every load) and `/assets/<name>-<hash>`
(the bundle, cached for a year: a new build has new names).

The page's Content-Security-Policy (`CONSOLE_CSP`) runs script files of this service only and
applies style sheets of this service only: no inline script or style, no eval, nothing from any
other host; it connects only to this origin (REST, SSE and the WebSocket).
"""

from __future__ import annotations

import hashlib
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.types import Scope

CONSOLE_URL = "/"
ASSETS_URL = "/assets"

CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
# Hashed names never change content: a year, and no revalidation.
IMMUTABLE = "public, max-age=31536000, immutable"
# The page names the current bundle: always asked again (a 304 while it has not changed).
REVALIDATE = "no-cache"


def static_dir() -> Path:
    return Path(str(files("roo.console").joinpath("static")))


class HashedAssets(StaticFiles):
    """The bundle's files, with a year-long cache and the console's policy."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = IMMUTABLE
        response.headers["Content-Security-Policy"] = CONSOLE_CSP
        return response


def install_console(app: FastAPI) -> None:
    """Serve the console's page at `/` and its bundle under `/assets`.

    Both are plain Starlette routes, not API operations: they carry no data, need no credential
    (the page signs in through the API) and stay out of the OpenAPI document.
    """
    root = static_dir()
    page = (root / "index.html").read_bytes()  # a few KiB, read once at start
    etag = '"' + hashlib.sha256(page).hexdigest()[:32] + '"'
    headers = {"Content-Security-Policy": CONSOLE_CSP, "Cache-Control": REVALIDATE, "ETag": etag}

    async def console_page(request: Request) -> Response:
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(page, media_type="text/html", headers=headers)

    app.add_route(CONSOLE_URL, console_page, methods=["GET", "HEAD"], include_in_schema=False)
    app.mount(ASSETS_URL, HashedAssets(directory=str(root / "assets")), name="console-assets")
