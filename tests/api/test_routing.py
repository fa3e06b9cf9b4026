"""The route table: the domains' routers included with FastAPI's own `include_router`, so that
FastAPI matches every request and `app.dependency_overrides` reaches every endpoint."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from fastapi.routing import iter_route_contexts

from roo.app import create_app
from roo.auth.deps import get_auth
from roo.config import load_settings
from roo.kit.logs import configure_logging, flush_logs


@pytest.fixture(scope="module")
def service() -> FastAPI:
    return create_app(load_settings(env="test"))


def test_routes_carry_their_full_templates(service: FastAPI) -> None:
    # The access log and the permission walk read a route's full path template.
    paths = {context.path for context in iter_route_contexts(service.router.routes)}
    assert "/api/v1/auth/whoami" in paths
    assert "/api/v1/sessions/{session_id}/files/{path:path}" in paths
    assert "/api/v1/sessions/{session_id}/tasks/{task_id}" in paths


async def test_requests_reach_their_routes(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/version")).json()["name"] == "roo-core"
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    missing = await client.get("/api/v1/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong_method = await client.delete("/api/v1/version")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "GET"
    asset = await client.get("/api/v1/docs/assets/swagger-ui.css")  # a mount
    assert asset.status_code == 200
    assert "swagger" in asset.text


async def test_dependency_overrides_reach_routed_endpoints(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # Routes copied into the table by hand lost FastAPI's override provider; included ones
    # keep it. The sign-in endpoint takes its AuthService from `get_auth`.
    credentials = {"email": "nobody@example.com", "password": "not-the-password-1"}
    assert (await client.post("/api/v1/auth/login", json=credentials)).status_code == 401

    async def overridden() -> None:
        raise HTTPException(status_code=418, detail="overridden")

    app.dependency_overrides[get_auth] = overridden
    try:
        response = await client.post("/api/v1/auth/login", json=credentials)
    finally:
        app.dependency_overrides.clear()
    assert response.status_code == 418
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.post("/api/v1/auth/login", json=credentials)).status_code == 401


async def test_the_access_log_sees_the_route_template(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # The access line reads the matched route from the scope, where FastAPI's router puts it.
    configure_logging("INFO", json=True)
    try:
        response = await client.get("/api/v1/sessions/some-session/tasks/some-task")
        flush_logs()
    finally:
        configure_logging("INFO", json=False)
    assert response.status_code == 401  # matched (and refused: no credential), not a 404
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line[:1] == "{"]
    (access,) = [line for line in lines if line.get("logger") == "roo.access"]
    assert access["route"] == "/api/v1/sessions/{session_id}/tasks/{task_id}"
    assert access["path"] == "/api/v1/sessions/some-session/tasks/some-task"


async def test_routes_added_later_are_found(app: FastAPI, client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/late")).status_code == 404

    @app.get("/api/v1/late")
    async def late() -> dict[str, str]:
        return {"late": "yes"}

    response = await client.get("/api/v1/late")
    assert response.status_code == 200
    assert response.json() == {"late": "yes"}


async def test_root_path_behind_a_proxy(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, root_path="/roo")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/roo/api/v1/version")
    assert response.status_code == 200
    assert response.json()["apiVersion"] == "v1"
