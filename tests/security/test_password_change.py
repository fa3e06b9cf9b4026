"""A password change ends what the old password could have opened: API keys included, unless
the caller keeps them on purpose.

The attack (issue 12, item 14): whoever learned the password minted an API key; the owner
changed the password, which ended every sign-in but left the key working.
"""

from __future__ import annotations

import httpx
from sqlalchemy import select

from roo.api.state import Resources
from roo.db.models import ApiKey, AuditEvent
from tests.auth.conftest import PASSWORD, SignedIn, SignIn, auth, make_user, resources, sign_in

__all__ = ["auth", "make_user", "resources", "sign_in"]  # fixtures

NEW_PASSWORD = "a brand new password"


async def make_key(client: httpx.AsyncClient, owner: SignedIn) -> str:
    made = await client.post(
        "/api/v1/auth/api-keys",
        headers=owner.headers,
        json={"name": "planted", "scopes": ["profile:read"]},
    )
    assert made.status_code == 201, made.text
    key: str = made.json()["key"]
    return key


async def works(client: httpx.AsyncClient, key: str) -> bool:
    response = await client.get("/api/v1/auth/profile", headers={"X-API-Key": key})
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


async def change(client: httpx.AsyncClient, user: SignedIn, **extra: object) -> httpx.Response:
    return await client.put(
        "/api/v1/auth/password",
        headers=user.headers,
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD, **extra},
    )


async def test_a_password_change_revokes_the_api_keys(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    keys = [await make_key(client, user) for _ in range(2)]
    assert [await works(client, k) for k in keys] == [True, True]  # cached as valid
    changed = await change(client, user)
    assert changed.status_code == 204, changed.text
    assert [await works(client, k) for k in keys] == [False, False]
    async with resources.db_sessions() as db:
        rows = (await db.execute(select(ApiKey).where(ApiKey.user_id == user.user_id))).scalars()
        assert all(row.revoked_at is not None for row in rows)
        audit = (
            await db.execute(
                select(AuditEvent).where(
                    AuditEvent.action == "auth.password_change",
                    AuditEvent.actor_id == user.user_id,
                )
            )
        ).scalar_one()
    assert audit.detail["api_keys_revoked"] == 2


async def test_a_password_change_can_keep_the_api_keys_on_purpose(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in()
    key = await make_key(client, user)
    changed = await change(client, user, revokeApiKeys=False)
    assert changed.status_code == 204, changed.text
    assert await works(client, key)


async def test_a_refused_password_change_revokes_nothing(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in()
    key = await make_key(client, user)
    wrong = await client.put(
        "/api/v1/auth/password",
        headers=user.headers,
        json={"currentPassword": "not the password", "newPassword": NEW_PASSWORD},
    )
    assert wrong.status_code == 401
    assert await works(client, key)
