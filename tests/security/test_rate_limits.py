"""API rate limits (roo.security.rate_limits): a budget per user or API key, per address for the
sign-in routes and other anonymous requests; IETF headers on every answer, 429 past the budget;
the client address not taken from a header unless the proxy is trusted."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from pathlib import Path

import httpx
import pytest

from roo.config import Settings
from tests.auth.conftest import PASSWORD, MakeUser, SignIn
from tests.auth.test_api_keys import create_key
from tests.e2e.server import running_server

USER_LIMIT = 5


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The service's defaults for the address budgets (not the suite's generous ones), and a
    small per-user budget to reach quickly."""
    defaults = Settings.model_fields
    return settings.model_copy(
        update={
            "rate_limit_user": f"{USER_LIMIT}/minute",
            "rate_limit_auth": defaults["rate_limit_auth"].default,
            "rate_limit_anonymous": defaults["rate_limit_anonymous"].default,
        }
    )


async def within_one_window(period: int, burst_seconds: float) -> None:
    """Wait, if need be, until a burst of `burst_seconds` fits before the next edge of a window
    of `period` seconds. The limiter is a sliding-window counter (limits' windows are aligned
    to the clock): once an edge is crossed, the hits before it count pro rata, so a budget
    spent across an edge lets one or two more through, by design. A burst that must end in
    429 at an exact count has to stay on one side of it."""
    left = period - time.time() % period
    if left < burst_seconds:
        await asyncio.sleep(left + 0.05)


def _remaining(response: httpx.Response) -> int:
    match = re.fullmatch(r'"(\w+)";r=(\d+);t=(\d+)', response.headers["ratelimit"])
    assert match is not None, response.headers["ratelimit"]
    return int(match.group(2))


async def test_a_user_has_a_budget_with_headers_then_429(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in()
    await within_one_window(60, 10)
    seen = []
    for _ in range(USER_LIMIT):
        response = await client.get("/api/v1/auth/profile", headers=user.headers)
        assert response.status_code == 200
        assert response.headers["ratelimit-policy"] == f'"user";q={USER_LIMIT};w=60'
        seen.append(_remaining(response))
    assert seen == list(range(USER_LIMIT - 1, -1, -1))
    refused = await client.get("/api/v1/auth/profile", headers=user.headers)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:roo:problem:rate-limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert _remaining(refused) == 0
    # another user has a budget of their own
    other = await sign_in()
    assert (await client.get("/api/v1/auth/profile", headers=other.headers)).status_code == 200


async def test_a_users_tokens_share_one_budget_and_an_api_key_has_its_own(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await within_one_window(60, 15)  # create_key's request counts too
    user = await sign_in()
    key = await create_key(client, user, scopes=["sessions:read"])
    second = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    )
    assert second.status_code == 200
    other_token = {"Authorization": f"Bearer {second.json()['token']}"}
    for headers in [user.headers, other_token] * 2:
        assert (await client.get("/api/v1/auth/profile", headers=headers)).status_code == 200
    # create_key spent one: 5 in all, the budget is spent whichever token asks
    assert (await client.get("/api/v1/auth/profile", headers=other_token)).status_code == 429
    by_key = await client.get("/api/v1/sessions", headers={"X-API-Key": str(key["key"])})
    assert by_key.status_code == 200
    assert by_key.headers["ratelimit-policy"] == f'"user";q={USER_LIMIT};w=60'


async def test_sign_in_is_limited_per_address_and_made_up_credentials_buy_nothing(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    email = f"limited-{uuid.uuid4().hex[:8]}@example.com"
    await make_user(email)
    # 31 sign-ins (Argon2 each) then 101 anonymous requests, each burst within one window
    await within_one_window(60, 20)
    answers = [
        (await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}))
        for _ in range(31)
    ]
    assert {a.status_code for a in answers[:30]} == {200}
    assert answers[0].headers["ratelimit-policy"] == '"auth";q=30;w=60'
    assert answers[30].status_code == 429
    # anonymous requests (a refused credential counts as none) share the address's budget
    await within_one_window(900, 30)
    statuses = []
    for n in range(101):
        response = await client.get(
            "/api/v1/auth/profile", headers={"Authorization": f"Bearer made-up-{n}"}
        )
        statuses.append(response.status_code)
        assert response.headers["ratelimit-policy"] == '"anonymous";q=100;w=900'
    assert statuses[:100] == [401] * 100
    assert statuses[100] == 429


async def test_probes_are_never_limited(client: httpx.AsyncClient) -> None:
    for _ in range(120):
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert "ratelimit" not in response.headers


async def test_x_forwarded_for_counts_only_from_a_trusted_proxy(
    database_url: str, redis_url: str | None, tmp_path: Path
) -> None:
    """`roo serve` on loopback: without TRUSTED_PROXIES a client cannot pick its address with a
    header (one budget for all its requests); with the proxy trusted, each forwarded address
    has its own."""
    limited = {"ROO_RATE_LIMIT_ANONYMOUS": "3/minute"}
    for trusted, expected in (("", [200, 200, 200, 429]), ("127.0.0.1", [200, 200, 200, 200])):
        env = {**limited, **({"TRUSTED_PROXIES": trusted} if trusted else {})}
        with running_server(
            tmp_path / (trusted or "none"), data_dir=tmp_path / (trusted or "none") / "data",
            database_url=database_url, redis_url=redis_url, extra_env=env,
        ) as server:  # fmt: skip
            async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
                await within_one_window(60, 5)
                statuses = [
                    (
                        await http.get(
                            f"{server.base_url}/api/v1/version",
                            headers={"X-Forwarded-For": f"203.0.113.{n}"},
                        )
                    ).status_code
                    for n in range(4)
                ]
        assert statuses == expected, trusted
