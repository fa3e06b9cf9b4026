"""OWASP API6:2023 Unrestricted Access to Sensitive Business Flows: scripted minting of
credentials, accounts, sessions and tasks hits a per-flow bound.

The finding fixed here: API keys had no bound at all (the list of them is not paged): a script
with one member's token minted keys for as long as the per-user rate limit let it. Now a user
holds at most `ROO_API_KEYS_MAX_PER_USER` live keys (409 beyond, counted under the owner's row
lock so concurrent creations cannot overshoot).

Also covered elsewhere: tests/security/test_account_enumeration.py (registrations per address),
tests/security/test_session_quota.py (sessions per role, under concurrency and restore),
tests/tasks/test_task_lifecycle.py (`ROO_TASK_CREATE_LIMIT`, task creation per session),
tests/security/test_rate_limits.py (the per-user and per-address budgets).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from roo.app import create_app
from roo.config import Settings
from tests.auth.conftest import SignIn, auth, make_user, resources, sign_in
from tests.conftest import started

__all__ = ["auth", "make_user", "resources", "sign_in"]

MAX_KEYS = 4


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"api_keys_max_per_user": MAX_KEYS})


async def mint(client: httpx.AsyncClient, headers: dict[str, str], **extra: object) -> int:
    response = await client.post(
        "/api/v1/auth/api-keys",
        headers=headers,
        json={"name": "scripted", "scopes": ["sessions:read"], **extra},
    )
    if response.status_code == 409:
        assert response.json()["type"] == "urn:roo:problem:api-key-limit"
    return response.status_code


async def live_keys(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    listing = await client.get("/api/v1/auth/api-keys", headers=headers)
    return sum(1 for k in listing.json() if k["revokedAt"] is None)


async def test_scripted_key_minting_stops_at_the_bound(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in()
    statuses = [await mint(client, user.headers) for _ in range(MAX_KEYS + 3)]
    assert statuses == [201] * MAX_KEYS + [409] * 3
    assert await live_keys(client, user.headers) == MAX_KEYS
    # revoking one makes room for exactly one
    listing = (await client.get("/api/v1/auth/api-keys", headers=user.headers)).json()
    revoked = await client.delete(f"/api/v1/auth/api-keys/{listing[0]['id']}", headers=user.headers)
    assert revoked.status_code == 204
    assert [await mint(client, user.headers) for _ in range(2)] == [201, 409]
    # another user has a bound of its own
    other = await sign_in()
    assert await mint(client, other.headers) == 201


async def test_a_key_minted_by_a_key_counts_too(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    user = await sign_in()
    made = await client.post(
        "/api/v1/auth/api-keys",
        headers=user.headers,
        json={"name": "manager", "scopes": ["apikeys:manage", "sessions:read"]},
    )
    manager = {"X-API-Key": made.json()["key"]}
    statuses = [await mint(client, manager) for _ in range(MAX_KEYS)]
    assert statuses == [201] * (MAX_KEYS - 1) + [409]


async def test_expired_keys_do_not_count(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    user = await sign_in()
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    assert [await mint(client, user.headers, expiresAt=soon) for _ in range(MAX_KEYS)] == [
        201
    ] * MAX_KEYS
    assert await mint(client, user.headers) == 409
    await asyncio.sleep(2.5)  # the keys expire (no clock to turn: their expiry is in the rows)
    assert await mint(client, user.headers) == 201


async def test_concurrent_minting_cannot_overshoot(
    settings: Settings, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    """Two app instances (two processes of `roo serve --workers 2`) on the same database, the
    key creations of both arriving at once."""
    user = await sign_in()
    second: FastAPI = create_app(settings)
    async with started(second):
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url="http://second") as other:
            statuses = await asyncio.gather(
                *(mint(c, user.headers) for c in [client, other] * MAX_KEYS)
            )
    assert sorted(statuses) == [201] * MAX_KEYS + [409] * MAX_KEYS
    assert await live_keys(client, user.headers) == MAX_KEYS
