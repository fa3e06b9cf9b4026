"""The OpenAPI document: title, version, security schemes, problem responses; docs pages."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from roo import __version__


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def test_info_and_security_schemes(spec: dict[str, Any]) -> None:
    assert spec["info"]["title"] == "roo-core API"
    assert spec["info"]["version"] == __version__
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["apiKeyAuth"]["type"] == "apiKey"
    assert schemes["apiKeyAuth"]["in"] == "header"


def test_api_routes_are_versioned(spec: dict[str, Any]) -> None:
    infra = {"/healthz", "/readyz", "/metrics"}  # the deployment's, not the API's
    for path in spec["paths"]:
        assert path in infra or path.startswith("/api/v1/"), path


def test_every_operation_documents_problem_responses(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert {"Problem", "ValidationProblem", "FieldProblem"} <= set(schemas)
    assert "HTTPValidationError" not in schemas
    problem = spec["components"]["responses"]["Problem"]["content"]
    assert list(problem) == ["application/problem+json"]
    ops = operations(spec)
    assert ops
    for path, method, op in ops:
        responses = op["responses"]
        assert responses["default"] == {"$ref": "#/components/responses/Problem"}, (path, method)
        if "422" in responses:
            assert responses["422"] == {"$ref": "#/components/responses/ValidationProblem"}


def test_problem_schema_has_rfc9457_members(spec: dict[str, Any]) -> None:
    props = spec["components"]["schemas"]["ValidationProblem"]["properties"]
    assert {"type", "title", "status", "detail", "instance", "errors", "requestId"} <= set(props)


@pytest.mark.parametrize(
    ("path", "asset"),
    [("/api/v1/docs", "swagger-ui-bundle.js"), ("/api/v1/redoc", "redoc.standalone.js")],
)
async def test_docs_pages_use_local_assets(
    client: httpx.AsyncClient, path: str, asset: str
) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    assert f'src="/api/v1/docs/assets/{asset}"' in page.text
    assert "cdn" not in page.text.lower()
    js = await client.get(f"/api/v1/docs/assets/{asset}")
    assert js.status_code == 200
    assert len(js.content) > 100_000


async def test_the_document_is_built_off_the_event_loop_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The first build takes a quarter of a second of CPU: it runs in a worker thread, not on
    the event loop's; later requests get the same bytes without building or encoding again."""
    app.openapi_schema = None
    built = app.openapi
    threads: list[threading.Thread] = []

    def counting() -> dict[str, Any]:
        if app.openapi_schema is None:
            threads.append(threading.current_thread())
        return built()

    app.openapi = counting  # type: ignore[method-assign]
    first = await client.get("/api/v1/openapi.json")
    second = await client.get("/api/v1/openapi.json")
    assert first.status_code == second.status_code == 200
    assert first.headers["content-type"] == "application/json"
    assert len(threads) == 1
    assert threads[0] is not threading.current_thread()
    assert first.content == second.content
    assert first.json() == app.openapi_schema
