"""Refresh rotation, reuse detection, concurrency, logout, and everything that ends a sign-in."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from roo.api.state import Resources
from roo.app import create_app
from roo.config import Settings
from roo.db.models import AuditEvent, RefreshToken
from roo.db.types import utcnow
from tests.auth.conftest import PASSWORD, SignedIn, SignIn
from tests.support.lifespan import app_lifespan
from tests.support.waiting import eventually


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/v1/auth/refresh", json={"refreshToken": token})


async def profile(client: httpx.AsyncClient, token: str) -> int:
    r = await client.get("/api/v1/auth/profile", headers={"Authorization": f"Bearer {token}"})
    return r.status_code


@pytest.fixture
def no_grace(resources: Resources) -> None:
    resources.auth.settings = resources.settings.model_copy(
        update={"refresh_reuse_grace_seconds": 0}
    )


async def test_refresh_rotates(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    user = await sign_in()
    first = await refresh(client, user.refresh_token)
    assert first.status_code == 200
    pair = first.json()
    assert pair["refreshToken"] != user.refresh_token
    assert pair["token"] != user.token
    assert await profile(client, pair["token"]) == 200
    second = await refresh(client, pair["refreshToken"])
    assert second.status_code == 200


@pytest.mark.usefixtures("no_grace")
async def test_reuse_revokes_the_whole_family_and_is_audited(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    r1 = (await refresh(client, user.refresh_token)).json()
    r2 = (await refresh(client, r1["refreshToken"])).json()
    # The stolen first token comes back.
    reused = await refresh(client, user.refresh_token)
    assert reused.status_code == 401
    assert "revoked" in reused.json()["detail"]
    # Every descendant is dead, and so are the access tokens issued with the family.
    assert (await refresh(client, r2["refreshToken"])).status_code == 401
    assert await profile(client, r2["token"]) == 401
    assert await profile(client, user.token) == 401
    async with resources.db_sessions() as db:
        events = (
            (await db.execute(select(AuditEvent).where(AuditEvent.action == "auth.refresh_reuse")))
            .scalars()
            .all()
        )
        live = (
            (
                await db.execute(
                    select(RefreshToken).where(
                        RefreshToken.user_id == user.user_id, RefreshToken.revoked_at.is_(None)
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(events) == 1
    assert events[0].actor_id == user.user_id
    assert events[0].outcome == "denied"
    assert live == []
    # Signing in again starts a new, healthy family.
    again = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    )
    assert again.status_code == 200
    assert await profile(client, again.json()["token"]) == 200


@pytest.mark.usefixtures("no_grace")
async def test_grandparent_reuse_is_detected(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    """R1 -> R2 -> R3, then R1 again: refused and the family revoked (no multi-generation grace)."""
    user = await sign_in()
    r2 = (await refresh(client, user.refresh_token)).json()
    r3 = (await refresh(client, r2["refreshToken"])).json()
    assert (await refresh(client, user.refresh_token)).status_code == 401
    assert (await refresh(client, r3["refreshToken"])).status_code == 401


async def test_reuse_within_grace_is_refused_without_revoking(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in()
    winner = (await refresh(client, user.refresh_token)).json()
    late = await refresh(client, user.refresh_token)
    assert late.status_code == 401
    assert late.json()["detail"] == "Refresh token already used"
    # The winner's successor is still alive: a race between two tabs is not a theft.
    assert (await refresh(client, winner["refreshToken"])).status_code == 200


async def test_concurrent_refreshes_leave_exactly_one_successor(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    responses = await asyncio.gather(*(refresh(client, user.refresh_token) for _ in range(12)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) == {200, 401}
    async with resources.db_sessions() as db:
        parent = (
            await db.execute(
                select(RefreshToken).where(
                    RefreshToken.user_id == user.user_id, RefreshToken.parent_id.is_(None)
                )
            )
        ).scalar_one()
        children = (
            (await db.execute(select(RefreshToken).where(RefreshToken.parent_id == parent.id)))
            .scalars()
            .all()
        )
    assert len(children) == 1
    assert children[0].revoked_at is None
    winner = next(r for r in responses if r.status_code == 200).json()
    assert (await refresh(client, winner["refreshToken"])).status_code == 200


async def test_expired_and_unknown_refresh_tokens(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    assert (await refresh(client, "rt_not-a-real-token")).status_code == 401
    user = await sign_in()
    async with resources.db_sessions() as db:
        row = (
            await db.execute(select(RefreshToken).where(RefreshToken.user_id == user.user_id))
        ).scalar_one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        await db.commit()
    response = await refresh(client, user.refresh_token)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_logout_kills_access_and_refresh_at_once(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in()
    other_device = await sign_in(email=None)  # someone else, unaffected
    assert (await client.post("/api/v1/auth/logout", headers=user.headers)).status_code == 204
    assert await profile(client, user.token) == 401
    assert (await refresh(client, user.refresh_token)).status_code == 401
    assert await profile(client, other_device.token) == 200


async def test_logout_survives_a_restart(
    client: httpx.AsyncClient, sign_in: SignIn, settings: Settings
) -> None:
    user = await sign_in()
    assert (await client.post("/api/v1/auth/logout", headers=user.headers)).status_code == 204
    # A new process: empty in-process caches; Redis (if any) under a fresh prefix.
    fresh = settings.model_copy(update={"redis_prefix": settings.redis_prefix + "restart:"})
    app = create_app(fresh)
    async with app_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert await profile(c, user.token) == 401


async def test_password_change_ends_every_sign_in(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in()
    second = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    )
    other = second.json()
    wrong = await client.put(
        "/api/v1/auth/password",
        headers=user.headers,
        json={"currentPassword": "not-it-at-all", "newPassword": "a brand new password"},
    )
    assert wrong.status_code == 401
    changed = await client.put(
        "/api/v1/auth/password",
        headers=user.headers,
        json={"currentPassword": PASSWORD, "newPassword": "a brand new password"},
    )
    assert changed.status_code == 204
    for token in (user.token, other["token"]):
        assert await profile(client, token) == 401
    for rt in (user.refresh_token, other["refreshToken"]):
        assert (await refresh(client, rt)).status_code == 401
    old = await client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert old.status_code == 401
    new = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": "a brand new password"}
    )
    assert new.status_code == 200


async def test_disabling_a_user_ends_their_sign_ins(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    admin = await sign_in("admin")
    victim: SignedIn = await sign_in("member")
    assert await profile(client, victim.token) == 200  # now cached
    r = await client.patch(
        f"/api/v1/users/{victim.user_id}", headers=admin.headers, json={"disabled": True}
    )
    assert r.status_code == 200
    assert r.json()["disabled"] is True
    assert await profile(client, victim.token) == 401
    assert (await refresh(client, victim.refresh_token)).status_code == 401
    login = await client.post(
        "/api/v1/auth/login", json={"email": victim.email, "password": PASSWORD}
    )
    assert login.status_code == 401


async def test_role_change_takes_effect_at_once(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    admin = await sign_in("admin")
    member = await sign_in("member")
    assert (await client.get("/api/v1/auth/api-keys", headers=member.headers)).status_code == 200
    r = await client.patch(
        f"/api/v1/users/{member.user_id}", headers=admin.headers, json={"roles": ["viewer"]}
    )
    assert r.status_code == 200
    assert r.json()["roles"] == ["viewer"]
    # The old token carried the old roles: it is refused; a new sign-in gets the new ones.
    assert await profile(client, member.token) == 401
    again = await client.post(
        "/api/v1/auth/login", json={"email": member.email, "password": PASSWORD}
    )
    headers = {"Authorization": f"Bearer {again.json()['token']}"}
    assert (await client.get("/api/v1/auth/api-keys", headers=headers)).status_code == 403


async def test_an_admin_cannot_lock_themselves_out(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    admin = await sign_in("admin")
    for change in ({"disabled": True}, {"roles": ["member"]}):
        r = await client.patch(f"/api/v1/users/{admin.user_id}", headers=admin.headers, json=change)
        assert r.status_code == 409
        assert r.json()["type"] == "urn:roo:problem:self-lockout"
    assert await profile(client, admin.token) == 200
    renamed = await client.patch(
        f"/api/v1/users/{admin.user_id}", headers=admin.headers, json={"displayName": "Root"}
    )
    assert renamed.status_code == 200


async def test_what_one_process_revokes_the_others_refuse(
    client: httpx.AsyncClient, sign_in: SignIn, settings: Settings
) -> None:
    """Two processes of one deployment (one database, one Redis): each keeps a copy of the
    identities it has checked (roo.kit.cache.NearCache); a logout, or a user disabled, through
    one is refused by the other as soon as Redis has delivered the invalidation."""
    if not settings.redis_url:
        pytest.skip("without Redis each process has its own cache: one process is supported")
    admin = await sign_in("admin")
    leaving, disabled = await sign_in(), await sign_in()
    other = create_app(settings)
    async with app_lifespan(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as second:
            for user in (leaving, disabled):  # both identities now in the second's copy
                assert await profile(second, user.token) == 200
                assert await profile(second, user.token) == 200
            logout = await client.post("/api/v1/auth/logout", headers=leaving.headers)
            assert logout.status_code == 204
            r = await client.patch(
                f"/api/v1/users/{disabled.user_id}", headers=admin.headers, json={"disabled": True}
            )
            assert r.status_code == 200
            for token in (leaving.token, disabled.token):
                await eventually(
                    lambda t=token: _refused(second, t), what="the other process refusing it"
                )
            assert await profile(second, admin.token) == 200


async def _refused(client: httpx.AsyncClient, token: str) -> bool:
    return await profile(client, token) == 401
