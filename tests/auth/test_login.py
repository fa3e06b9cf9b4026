"""Sign-in with email and password: the seed's response shape, no enumeration, throttling."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from roo.api.state import Resources
from roo.auth import passwords
from roo.db.models import AuditEvent, User
from tests.auth.conftest import PASSWORD, MakeUser


async def test_login_returns_the_seed_shape(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    await make_user("Test@Example.com")
    response = await client.post(
        "/api/v1/auth/login", json={"email": "test@EXAMPLE.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token"]
    assert body["refreshToken"].startswith("rt_")
    assert body["tokenType"] == "Bearer"
    assert 3590 <= body["expiresIn"] <= 3600
    assert body["user"]["email"] == "test@example.com"
    assert body["user"]["roles"] == ["member"]
    assert body["user"]["lastLoginAt"] is not None
    assert "password" not in response.text.lower()
    assert "passwordHash" not in body["user"]


async def test_wrong_email_and_wrong_password_look_the_same(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user("known@example.com")
    wrong_password = await client.post(
        "/api/v1/auth/login", json={"email": "known@example.com", "password": "nope-nope"}
    )
    unknown_email = await client.post(
        "/api/v1/auth/login", json={"email": "unknown@example.com", "password": "nope-nope"}
    )
    assert wrong_password.status_code == unknown_email.status_code == 401
    strip = lambda r: {k: v for k, v in r.json().items() if k != "requestId"}  # noqa: E731
    assert strip(wrong_password) == strip(unknown_email)


async def test_unknown_email_still_costs_one_password_verification(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str | None] = []
    real = passwords._verify

    def counting(stored: str | None, password: str) -> bool:
        calls.append(stored)
        return real(stored, password)

    monkeypatch.setattr(passwords, "_verify", counting)
    response = await client.post(
        "/api/v1/auth/login", json={"email": "ghost@example.com", "password": "whatever1"}
    )
    assert response.status_code == 401
    assert calls == [None]  # verified against the dummy hash, not skipped


async def test_disabled_user_cannot_sign_in(
    client: httpx.AsyncClient, make_user: MakeUser, resources: Resources
) -> None:
    user_id = await make_user("off@example.com")
    async with resources.db_sessions() as db:
        user = await db.get(User, user_id)
        assert user is not None
        user.disabled = True
        await db.commit()
    response = await client.post(
        "/api/v1/auth/login", json={"email": "off@example.com", "password": PASSWORD}
    )
    assert response.status_code == 401


async def test_failures_are_audited(
    client: httpx.AsyncClient, make_user: MakeUser, resources: Resources
) -> None:
    user_id = await make_user("audited@example.com")
    await client.post(
        "/api/v1/auth/login", json={"email": "audited@example.com", "password": "bad-bad-bad"}
    )
    async with resources.db_sessions() as db:
        rows = (
            (await db.execute(select(AuditEvent).where(AuditEvent.actor_id == user_id)))
            .scalars()
            .all()
        )
    assert [(r.action, r.outcome) for r in rows] == [("auth.login", "failure")]
    assert rows[0].ip == "127.0.0.1"
    assert "bad-bad-bad" not in str(rows[0].detail)


async def test_a_pair_waits_after_repeated_failures(
    client: httpx.AsyncClient, make_user: MakeUser, resources: Resources
) -> None:
    """The (account, address) pair waits; the account itself is not locked (its owner from a
    clean address: tests/auth/test_login_throttle.py)."""
    limit = resources.settings.login_max_failures_per_pair
    await make_user("target@example.com")
    for _ in range(limit):
        r = await client.post(
            "/api/v1/auth/login", json={"email": "target@example.com", "password": "guess-guess"}
        )
        assert r.status_code == 401
    blocked = await client.post(
        "/api/v1/auth/login", json={"email": "target@example.com", "password": PASSWORD}
    )
    assert blocked.status_code == 429
    assert blocked.headers["content-type"] == "application/problem+json"
    retry = int(blocked.headers["retry-after"])
    assert 0 < retry <= resources.settings.login_backoff_max_seconds
    # Another account from the same client is not blocked by this pair's delay.
    await make_user("bystander@example.com")
    ok = await client.post(
        "/api/v1/auth/login", json={"email": "bystander@example.com", "password": PASSWORD}
    )
    assert ok.status_code == 200


async def test_one_ip_spraying_accounts_is_throttled(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    limit = resources.settings.login_max_failures_per_ip
    for i in range(limit):
        r = await client.post(
            "/api/v1/auth/login", json={"email": f"spray{i}@example.com", "password": "spray-spray"}
        )
        assert r.status_code == 401
    blocked = await client.post(
        "/api/v1/auth/login", json={"email": "fresh@example.com", "password": "spray-spray"}
    )
    assert blocked.status_code == 429
    assert "retry-after" in blocked.headers


async def test_success_clears_the_account_failures(
    client: httpx.AsyncClient, make_user: MakeUser, resources: Resources
) -> None:
    limit = resources.settings.login_max_failures_per_pair
    await make_user("forgetful@example.com")
    for _ in range(limit - 1):
        await client.post(
            "/api/v1/auth/login", json={"email": "forgetful@example.com", "password": "oops-oops"}
        )
    ok = await client.post(
        "/api/v1/auth/login", json={"email": "forgetful@example.com", "password": PASSWORD}
    )
    assert ok.status_code == 200
    for _ in range(limit - 1):
        r = await client.post(
            "/api/v1/auth/login", json={"email": "forgetful@example.com", "password": "oops-oops"}
        )
        assert r.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "a@b.c"},
        {"email": "a@b.c", "password": ""},
        {"email": "a@b.c", "password": "x" * 300},
        {"email": "a@b.c", "password": "p", "extra": True},
    ],
)
async def test_bad_login_bodies_are_422(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    response = await client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 422
    assert response.json()["errors"]


async def test_registration(client: httpx.AsyncClient, resources: Resources) -> None:
    assert resources.settings.registration_open  # test environment: open by default
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "New@Example.com", "password": "long-enough-pw", "displayName": "New"},
    )
    # 202 without tokens, and the same answer for a taken address (tests/security/
    # test_account_enumeration.py): the account is used by signing in.
    assert response.status_code == 202
    signed_in = await client.post(
        "/api/v1/auth/login", json={"email": "new@example.com", "password": "long-enough-pw"}
    )
    assert signed_in.status_code == 200
    user = signed_in.json()["user"]
    assert user["email"] == "new@example.com"
    assert user["roles"] == ["member"]
    assert user["displayName"] == "New"
    again = await client.post(
        "/api/v1/auth/register", json={"email": "NEW@example.com", "password": "long-enough-pw"}
    )
    assert again.status_code == 202
    assert again.json()["detail"] == response.json()["detail"]
    short = await client.post(
        "/api/v1/auth/register", json={"email": "x@example.com", "password": "short"}
    )
    assert short.status_code == 422
    assert short.json()["errors"][0]["field"] == "body.password"


async def test_registration_closed(client: httpx.AsyncClient, resources: Resources) -> None:
    resources.auth.settings = resources.settings.model_copy(update={"allow_registration": False})
    response = await client.post(
        "/api/v1/auth/register", json={"email": "no@example.com", "password": "long-enough-pw"}
    )
    assert response.status_code == 403
    assert response.json()["type"] == "urn:roo:problem:registration-closed"
