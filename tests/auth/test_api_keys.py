"""API keys: shown once, stored hashed, scoped below their owner, revocable, owner-isolated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text, update

from roo.api.state import Resources
from roo.db.models import ApiKey
from tests.auth.conftest import SignedIn, SignIn


async def create_key(
    client: httpx.AsyncClient, owner: SignedIn, scopes: list[str], **extra: object
) -> dict[str, object]:
    response = await client.post(
        "/api/v1/auth/api-keys",
        headers=owner.headers,
        json={"name": "ci", "scopes": scopes, **extra},
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def key_headers(key: object, style: str = "bearer") -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if style == "bearer" else {"X-API-Key": str(key)}


@pytest.mark.parametrize("style", ["bearer", "x-api-key"])
async def test_key_authenticates_within_its_scopes(
    client: httpx.AsyncClient, sign_in: SignIn, style: str
) -> None:
    owner = await sign_in("member")
    created = await create_key(client, owner, ["sessions:read", "profile:read"])
    key = created["key"]
    assert isinstance(key, str)
    assert key.startswith(str(created["prefix"]))
    me = await client.get("/api/v1/auth/profile", headers=key_headers(key, style))
    assert me.status_code == 200
    assert me.json()["email"] == owner.email
    assert (
        await client.get("/api/v1/sessions", headers=key_headers(key, style))
    ).status_code == 200
    # apikeys:manage is the owner's, not the key's.
    denied = await client.get("/api/v1/auth/api-keys", headers=key_headers(key, style))
    assert denied.status_code == 403
    assert denied.json()["permission"] == "apikeys:manage"
    assert 'error="insufficient_scope"' in denied.headers["www-authenticate"]


async def test_secret_is_shown_once_and_stored_only_hashed(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    owner = await sign_in()
    created = await create_key(client, owner, ["sessions:read"])
    secret = str(created["key"])
    listing = await client.get("/api/v1/auth/api-keys", headers=owner.headers)
    assert listing.status_code == 200
    assert secret not in listing.text
    (item,) = listing.json()
    assert item["prefix"] == created["prefix"]
    assert item["scopes"] == ["sessions:read"]
    assert "key" not in item
    async with resources.db_sessions() as db:
        dump = [
            str(row)
            for table in ("api_keys", "audit_events")
            for row in (await db.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608
        ]
    assert dump
    assert not any(secret in row for row in dump)
    assert not any(secret[len(str(created["prefix"])) :] in row for row in dump)


async def test_scopes_beyond_the_owner_are_refused(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    member = await sign_in("member")
    response = await client.post(
        "/api/v1/auth/api-keys",
        headers=member.headers,
        json={"name": "too much", "scopes": ["users:admin"]},
    )
    assert response.status_code == 400
    assert "users:admin" in response.json()["detail"]
    unknown = await client.post(
        "/api/v1/auth/api-keys",
        headers=member.headers,
        json={"name": "typo", "scopes": ["sessions:reed"]},
    )
    assert unknown.status_code == 422


async def test_demoted_owner_key_loses_power(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    admin = await sign_in("admin")
    owner = await sign_in("admin")
    created = await create_key(client, owner, ["users:admin"])
    headers = key_headers(created["key"])
    assert (await client.get("/api/v1/users", headers=headers)).status_code == 200
    demote = await client.patch(
        f"/api/v1/users/{owner.user_id}", headers=admin.headers, json={"roles": ["member"]}
    )
    assert demote.status_code == 200
    assert (await client.get("/api/v1/users", headers=headers)).status_code == 403


async def test_revoked_and_expired_keys_are_401(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    owner = await sign_in()
    created = await create_key(client, owner, ["profile:read"])
    headers = key_headers(created["key"])
    assert (await client.get("/api/v1/auth/profile", headers=headers)).status_code == 200  # cached
    revoke = await client.delete(f"/api/v1/auth/api-keys/{created['id']}", headers=owner.headers)
    assert revoke.status_code == 204
    gone = await client.get("/api/v1/auth/profile", headers=headers)
    assert gone.status_code == 401
    assert gone.headers["www-authenticate"].endswith('error="invalid_token"')

    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    expiring = await create_key(client, owner, ["profile:read"], expiresAt=soon)
    async with resources.db_sessions() as db:
        await db.execute(
            update(ApiKey)
            .where(ApiKey.prefix == expiring["prefix"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await db.commit()
    headers = key_headers(expiring["key"])
    assert (await client.get("/api/v1/auth/profile", headers=headers)).status_code == 401


async def test_expiry_must_be_in_the_future(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    owner = await sign_in()
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    response = await client.post(
        "/api/v1/auth/api-keys",
        headers=owner.headers,
        json={"name": "old", "scopes": ["profile:read"], "expiresAt": past},
    )
    assert response.status_code == 400


async def test_another_users_key_is_404_not_403(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    alice = await sign_in()
    bob = await sign_in()
    created = await create_key(client, alice, ["profile:read"])
    response = await client.delete(f"/api/v1/auth/api-keys/{created['id']}", headers=bob.headers)
    assert response.status_code == 404
    assert (await client.get("/api/v1/auth/api-keys", headers=bob.headers)).json() == []
    still = await client.get("/api/v1/auth/profile", headers=key_headers(created["key"]))
    assert still.status_code == 200


async def test_corrupted_key_is_refused_without_a_lookup(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    owner = await sign_in()
    created = await create_key(client, owner, ["profile:read"])
    key = str(created["key"])
    bad = key[:-1] + ("a" if key[-1] != "a" else "b")
    statements: list[str] = []

    from sqlalchemy import event

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(resources.engine.sync_engine, "before_cursor_execute", count)
    try:
        response = await client.get("/api/v1/auth/profile", headers=key_headers(bad))
    finally:
        event.remove(resources.engine.sync_engine, "before_cursor_execute", count)
    assert response.status_code == 401
    assert statements == []


async def test_last_used_is_recorded(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    owner = await sign_in()
    created = await create_key(client, owner, ["profile:read"])
    assert created["lastUsedAt"] is None
    await client.get("/api/v1/auth/profile", headers=key_headers(created["key"]))
    async with resources.db_sessions() as db:
        row = (
            await db.execute(select(ApiKey).where(ApiKey.prefix == created["prefix"]))
        ).scalar_one()
    assert row.last_used_at is not None


async def test_whoami_shows_the_effective_permissions(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    owner = await sign_in("member")
    me = await client.get("/api/v1/auth/whoami", headers=owner.headers)
    assert me.status_code == 200
    body = me.json()
    assert body["via"] == "access_token"
    assert "sessions:write" in body["permissions"]
    assert body["apiKeyId"] is None
    created = await create_key(client, owner, ["profile:read"])
    as_key = await client.get("/api/v1/auth/whoami", headers=key_headers(created["key"]))
    assert as_key.json()["via"] == "api_key"
    assert as_key.json()["permissions"] == ["profile:read"]
    assert as_key.json()["apiKeyId"] == created["id"]
