"""X-Request-ID: accepted when sane, generated otherwise, echoed on every response."""

from __future__ import annotations

import re

import httpx
import pytest

GENERATED = re.compile(r"^[0-9a-f]{32}$")


async def test_generated_when_absent(client: httpx.AsyncClient) -> None:
    first = await client.get("/healthz")
    second = await client.get("/healthz")
    assert GENERATED.match(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize("incoming", ["abc-123", "req.42:retry_1", "A" * 128])
async def test_sane_incoming_id_is_kept(client: httpx.AsyncClient, incoming: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": incoming})
    assert response.headers["x-request-id"] == incoming


@pytest.mark.parametrize(
    "incoming",
    ["", "A" * 129, "has space", "new\\nline", "<script>", "-leading-dash", "ünïcode"],
)
async def test_unsafe_incoming_id_is_replaced(client: httpx.AsyncClient, incoming: str) -> None:
    response = await client.get("/healthz", headers=[(b"X-Request-ID", incoming.encode("utf-8"))])
    assert GENERATED.match(response.headers["x-request-id"])


async def test_error_bodies_carry_the_same_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/missing", headers={"X-Request-ID": "trace-7"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "trace-7"
    assert response.json()["requestId"] == "trace-7"
