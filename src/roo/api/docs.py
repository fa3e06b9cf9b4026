"""The OpenAPI document and the documentation pages, served without any CDN.

Swagger UI and ReDoc assets come from the `fastapi-offline` package's static files, mounted under
`/api/v1/docs/assets`; the pages work on a machine with no internet access. Their
Content-Security-Policy runs script files of this service only (`DOCS_CSP`): Swagger UI is
started by a script file (`SWAGGER_INIT_JS`), not FastAPI's inline one. There is no OAuth2
redirect page: the document declares no OAuth2 flow (bearer token and API key only).
"""

from __future__ import annotations

import asyncio
from html import escape
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic.json_schema import models_json_schema

from roo.api.problems import FieldProblem, Problem, ValidationProblem
from roo.api.routing import API_PREFIX
from roo.kit.errors import PROBLEM_CONTENT_TYPE

OPENAPI_URL = f"{API_PREFIX}/openapi.json"
DOCS_URL = f"{API_PREFIX}/docs"
REDOC_URL = f"{API_PREFIX}/redoc"
SWAGGER_INIT_URL = f"{DOCS_URL}/swagger-init.js"
ASSETS_URL = f"{DOCS_URL}/assets"

DESCRIPTION = """\
roo-core hosts a Roo-Code-style AI coding agent for many users: sessions with isolated
workspaces, agent tasks, live events, files, approvals.

Every error is `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`,
`instance`, `requestId`, plus `errors` (field path and message) for validation failures.
"""

# The docs pages may load only from this service (the bundled ReDoc would otherwise fetch its
# footer logo from a CDN) and run only its script files: no inline script, no eval. Inline
# styles stay allowed: both UIs set style attributes and inject style elements.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

# Starts Swagger UI: a file of its own (the page's CSP runs no inline script), the same for
# every request; the page passes the document's address in a data attribute. Authorizations
# are not persisted: a token typed into "Authorize" must not stay in localStorage.
SWAGGER_INIT_JS = """\
"use strict";
(function () {
  var script = document.currentScript;
  window.ui = SwaggerUIBundle({
    url: script.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
"""

SWAGGER_PAGE = """\
<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link type="text/css" rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="shortcut icon" href="{assets}/favicon.png">
<title>{title}</title>
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{init}" data-openapi-url="{openapi}"></script>
</body>
</html>
"""

SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Access token from `POST /api/v1/auth/login` or `/auth/refresh`",
    },
    "apiKeyAuth": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "A personal API key for programmatic access",
    },
}


def _problem_components() -> tuple[dict[str, Any], dict[str, Any]]:
    _, defs = models_json_schema(
        [(m, "serialization") for m in (FieldProblem, Problem, ValidationProblem)],
        ref_template="#/components/schemas/{model}",
    )
    schemas = defs["$defs"]

    def response(description: str, schema: str) -> dict[str, Any]:
        ref = {"$ref": f"#/components/schemas/{schema}"}
        return {"description": description, "content": {PROBLEM_CONTENT_TYPE: {"schema": ref}}}

    responses = {
        "Problem": response("The request failed; the body says why", "Problem"),
        "ValidationProblem": response(
            "Request validation failed, field by field", "ValidationProblem"
        ),
    }
    return schemas, responses


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus our security schemes and problem responses on every operation."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {})
    problem_schemas, problem_responses = _problem_components()
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(problem_schemas)
    components.setdefault("responses", {}).update(problem_responses)
    components["securitySchemes"] = SECURITY_SCHEMES
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = {"$ref": "#/components/responses/ValidationProblem"}
            responses.setdefault("default", {"$ref": "#/components/responses/Problem"})
    app.openapi_schema = schema
    return schema


def _locked_down(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


def install_docs(app: FastAPI) -> None:
    """Serve `/api/v1/openapi.json`, Swagger UI at `/api/v1/docs`, ReDoc at `/api/v1/redoc`."""
    assets = files("fastapi_offline").joinpath("static")
    app.mount(ASSETS_URL, StaticFiles(directory=str(assets)), name="docs-assets")
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]

    encoded: list[bytes] = []  # the document as JSON, once built

    def encode() -> bytes:
        if not encoded:
            encoded.append(bytes(JSONResponse(app.openapi()).body))
        return encoded[0]

    @app.get(OPENAPI_URL, include_in_schema=False)
    async def openapi_document(request: Request) -> Response:
        # Built and encoded once, in a worker thread: the first build takes about a quarter of
        # a second of CPU, which on the event loop would hold every other request meanwhile
        # (the thread shares the interpreter, but the loop gets its turns); encoding a document
        # this size on every request would cost tens of milliseconds each time.
        body = encoded[0] if encoded else await asyncio.to_thread(encode)
        return Response(body, media_type="application/json")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = SWAGGER_PAGE.format(
            title=escape(f"{app.title} - Swagger UI"),
            assets=escape(f"{root}{ASSETS_URL}"),
            init=escape(f"{root}{SWAGGER_INIT_URL}"),
            openapi=escape(f"{root}{OPENAPI_URL}"),
        )
        return _locked_down(HTMLResponse(page))

    @app.get(SWAGGER_INIT_URL, include_in_schema=False)
    async def swagger_init() -> Response:
        return Response(SWAGGER_INIT_JS, media_type="text/javascript")

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _locked_down(
            get_redoc_html(
                openapi_url=f"{root}{OPENAPI_URL}",
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                with_google_fonts=False,
            )
        )
