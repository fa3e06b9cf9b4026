"""The route table: flat, and searched through an index that never hides a matching route."""

from __future__ import annotations

import itertools
import re
import uuid

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute

from roo.api.routing import PATH_CACHE_SIZE, RouteIndex
from roo.app import create_app
from roo.config import load_settings

# What a parameter of each type is replaced with in the sample paths (several per type).
SAMPLES = {
    "str": ["x", "abc-123", uuid.uuid4().hex],
    "int": ["0", "42"],
    "float": ["1.5"],
    "uuid": [str(uuid.uuid4())],
    "path": ["", "a", "a/b/c.txt", "dir/", ".hidden/x"],
}
PARAM = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")

# Paths no template was written for: near misses, empty segments, odd slashes.
ODD_PATHS = [
    "/",
    "",
    "//",
    "/api",
    "/api/v1",
    "/api/v1/",
    "/api/v1/nope",
    "/api/v1/sessions/",
    "/api/v1/sessions//tasks",
    "/api/v1/sessions/x/",
    "/api/v1/sessions/x/files",
    "/api/v1/sessions/x/files/",
    "/api/v1/docs/",
    "/api/v1/docs/assets",
    "/api/v1/docs/assets/swagger-ui.css",
    "/healthz/",
    "/HEALTHZ",
    "/api/v1/auth/oauth/google",
]


def route_index(app: FastAPI) -> RouteIndex:
    stack = app.router.middleware_stack
    assert isinstance(stack, RouteIndex)
    return stack


def sample_paths(template: str) -> list[str]:
    """Concrete paths for a route template, every combination of sample parameter values."""
    params = PARAM.findall(template)
    choices = [SAMPLES.get(kind or "str", SAMPLES["str"]) for _name, kind in params]
    paths = []
    for values in itertools.product(*choices):
        it = iter(values)
        paths.append(PARAM.sub(lambda _m, it=it: next(it), template))  # type: ignore[misc]
    return paths


def matching(routes: list[BaseRoute], path: str) -> set[int]:
    """Positions of the routes whose own pattern matches `path` (what the full walk tests)."""
    found = set()
    for position, route in enumerate(routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            found.add(position)
    return found


@pytest.fixture(scope="module")
def service() -> FastAPI:
    return create_app(load_settings(env="test"))


def test_the_route_table_is_flat(service: FastAPI) -> None:
    # Every API operation sits in the application's own table (no nested routers to walk).
    paths = {getattr(route, "path", None) for route in service.routes}
    assert "/api/v1/auth/whoami" in paths
    assert "/api/v1/sessions/{session_id}/files/{path:path}" in paths
    assert "/api/v1/sessions/{session_id}/tasks/{task_id}" in paths


def test_every_route_that_matches_a_path_is_a_candidate(service: FastAPI) -> None:
    index = route_index(service)
    routes = service.router.routes
    paths = set(ODD_PATHS)
    for route in routes:
        template = getattr(route, "path", None)
        if isinstance(template, str):
            paths.update(sample_paths(template))
            paths.update(p + "/" for p in sample_paths(template))
    assert len(paths) > 150
    checked = 0
    for path in sorted(paths):
        expected = matching(routes, path)
        candidates = set(index.candidates(path))
        assert expected <= candidates, f"{path}: index hides {expected - candidates}"
        checked += bool(expected)
    assert checked > 100  # most sample paths do match something


def test_candidates_are_few(service: FastAPI) -> None:
    # The point of the index: a request is matched against a handful of routes, not the table.
    index = route_index(service)
    total = len(service.router.routes)
    assert total > 40
    for path in ["/api/v1/auth/whoami", "/api/v1/sessions/x/tasks/y", "/healthz"]:
        assert 1 <= len(index.candidates(path)) <= 8, path


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


def test_the_path_memo_stays_bounded(service: FastAPI) -> None:
    # Paths carry ids: the memo of recent paths must not grow with them.
    index = route_index(service)
    for n in range(PATH_CACHE_SIZE + 50):
        assert index._subset(f"/api/v1/sessions/{n}/tasks") is not None
    assert 0 < len(index._by_path) <= PATH_CACHE_SIZE
