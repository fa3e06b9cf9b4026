"""Liveness, readiness and the version route."""

from __future__ import annotations

import httpx
import pytest

from roo.app import create_app
from roo.config import Settings
from tests.support.lifespan import app_lifespan


async def test_healthz_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_each_backend(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok"
    expected_redis = "ok" if settings.redis_url else "not configured"
    assert body["checks"]["redis"] == expected_redis


async def test_readyz_is_503_naming_an_unreachable_redis(settings: Settings) -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    app = create_app(broken)
    async with app_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["checks"] == {"database": "ok", "redis": "unreachable: ConnectionError"}
    assert "redis" in body["detail"]


async def test_readyz_is_503_naming_an_unreachable_database(settings: Settings) -> None:
    broken = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/none", "redis_url": None}
    )
    app = create_app(broken)
    async with app_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unreachable")


@pytest.mark.parametrize("path", ["/api/v1/version"])
async def test_version_route(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "roo-core"
    assert body["apiVersion"] == "v1"
