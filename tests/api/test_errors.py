"""Every failure leaves the service as application/problem+json, in one shape."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import BaseModel, Field
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError

from roo.api.routing import api_router
from roo.app import create_app
from roo.config import Settings
from roo.kit.errors import Conflict
from tests.support.lifespan import app_lifespan

PROBLEM = "application/problem+json"


class Config(BaseModel):
    model: str = Field(min_length=1)


class Echo(BaseModel):
    name: str = Field(min_length=1, max_length=10)
    config: Config


probe = api_router("/_probe")


@probe.post("/echo")
async def echo(body: Echo) -> Echo:
    return body


@probe.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internal detail")


@probe.get("/dropped")
async def dropped(invalidated: bool) -> None:
    # what SQLAlchemy raises when the driver finds the connection gone (asyncpg's own error)
    raise DBAPIError(
        "SELECT 1", None, Exception("connection was closed"), connection_invalidated=invalidated
    )


@probe.get("/redis")
async def redis_fails(kind: str) -> None:
    # what redis-py raises when the server is gone, or too slow to answer in its socket timeout
    raise {"refused": RedisConnectionError, "timeout": RedisTimeoutError}[kind]("redis")


@probe.get("/conflict")
async def conflict() -> None:
    raise Conflict("session is busy", headers={"Retry-After": "3"}, state="running")


@pytest.fixture
async def probe_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"max_json_body_bytes": 4096}))
    app.include_router(probe)
    async with app_lifespan(app):
        # raise_app_exceptions=False: a real server answers the 500 and then logs the exception
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == f"urn:roo:problem:{slug}"
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert body["requestId"] == response.headers["x-request-id"]
    return body


async def test_unknown_route_is_404(probe_client: httpx.AsyncClient) -> None:
    body = assert_problem(await probe_client.get("/api/v1/nothing-here"), 404, "not-found")
    assert body["instance"] == "/api/v1/nothing-here"
    assert "/api/v1/nothing-here" in str(body["detail"])


async def test_wrong_method_is_405_with_allow(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.delete("/api/v1/_probe/echo")
    body = assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "POST"
    assert "DELETE" in str(body["detail"])


async def test_validation_is_422_with_field_paths(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.post(
        "/api/v1/_probe/echo", json={"name": "", "config": {"model": ""}, "extra": 1}
    )
    body = assert_problem(response, 422, "validation-error")
    fields = {e["field"]: e for e in body["errors"]}  # type: ignore[attr-defined]
    assert set(fields) == {"body.name", "body.config.model"}
    assert fields["body.name"]["type"] == "string_too_short"
    assert fields["body.name"]["message"]
    assert body["detail"] == "2 fields failed validation"


async def test_missing_field_is_named(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.post("/api/v1/_probe/echo", json={"name": "a"})
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"] == [
        {"field": "body.config", "message": "Field required", "type": "missing"}
    ]


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"name": "a", ', "line 1 column 15"),
        (b'{"name": "a",\n "config": }', "line 2 column 12"),
        (b"not json", "line 1 column 1"),
    ],
)
async def test_malformed_json_is_400_saying_where(
    probe_client: httpx.AsyncClient, raw: bytes, where: str
) -> None:
    response = await probe_client.post(
        "/api/v1/_probe/echo", content=raw, headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 400, "malformed-body")
    assert where in str(body["detail"])


async def test_wrong_content_type_is_415(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.post(
        "/api/v1/_probe/echo",
        content=b"name=a",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    body = assert_problem(response, 415, "unsupported-media-type")
    assert "application/json" in str(body["detail"])


async def test_json_subtype_is_accepted(probe_client: httpx.AsyncClient) -> None:
    response = await probe_client.post(
        "/api/v1/_probe/echo",
        content=json.dumps({"name": "a", "config": {"model": "m"}}),
        headers={"content-type": "application/merge-patch+json; charset=utf-8"},
    )
    assert response.status_code == 200
    assert response.json() == {"name": "a", "config": {"model": "m"}}


async def test_oversized_body_is_413_before_reading(probe_client: httpx.AsyncClient) -> None:
    big = json.dumps({"name": "a", "config": {"model": "x" * 5000}})
    response = await probe_client.post(
        "/api/v1/_probe/echo", content=big, headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 413, "content-too-large")
    assert "4096" in str(body["detail"])


async def test_oversized_chunked_body_is_413(probe_client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "a", "config": {"model": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}}'

    # An async iterator body has no Content-Length: it is counted as it arrives.
    response = await probe_client.post(
        "/api/v1/_probe/echo", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    body = assert_problem(response, 413, "content-too-large")
    assert "4096" in str(body["detail"])


async def test_domain_error_keeps_status_headers_and_extensions(
    probe_client: httpx.AsyncClient,
) -> None:
    response = await probe_client.get("/api/v1/_probe/conflict")
    body = assert_problem(response, 409, "conflict")
    assert body["detail"] == "session is busy"
    assert body["state"] == "running"
    assert response.headers["retry-after"] == "3"


@pytest.mark.parametrize(("invalidated", "status"), [(True, 503), (False, 500)])
async def test_a_dropped_database_connection_is_503_any_other_driver_error_500(
    probe_client: httpx.AsyncClient, invalidated: bool, status: int
) -> None:
    response = await probe_client.get(
        "/api/v1/_probe/dropped", params={"invalidated": str(invalidated).lower()}
    )
    assert_problem(response, status, "service-unavailable" if invalidated else "internal-error")
    assert "SELECT" not in response.text
    if invalidated:
        assert response.headers["retry-after"] == "5"


@pytest.mark.parametrize("kind", ["refused", "timeout"])
async def test_redis_gone_or_too_slow_is_503(probe_client: httpx.AsyncClient, kind: str) -> None:
    response = await probe_client.get("/api/v1/_probe/redis", params={"kind": kind})
    assert_problem(response, 503, "service-unavailable")
    assert response.headers["retry-after"] == "5"


async def test_unexpected_exception_is_500_without_internals(
    probe_client: httpx.AsyncClient,
) -> None:
    response = await probe_client.get("/api/v1/_probe/boom", headers={"x-request-id": "trace-42"})
    body = assert_problem(response, 500, "internal-error")
    assert body["requestId"] == "trace-42"
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
