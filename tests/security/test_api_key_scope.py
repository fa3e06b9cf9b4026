"""An API key creates keys only within its own permissions and its own lifetime.

The attack (issue 12, item 2): a key holding only `apikeys:manage`, expiring in 40 minutes,
created a key with `commands:execute` and `files:write` and no expiry, which then ran commands.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.auth.conftest import SignedIn, SignIn, auth, make_user, resources, sign_in

__all__ = ["auth", "make_user", "resources", "sign_in"]  # fixtures


def bearer(key: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def create_key(
    client: httpx.AsyncClient, headers: dict[str, str], scopes: list[str], **extra: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/api-keys", headers=headers, json={"name": "k", "scopes": scopes, **extra}
    )


async def key_prefixes(client: httpx.AsyncClient, owner: SignedIn) -> list[str]:
    listing = await client.get("/api/v1/auth/api-keys", headers=owner.headers)
    assert listing.status_code == 200, listing.text
    return sorted(k["prefix"] for k in listing.json())


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_a_key_cannot_mint_scopes_it_does_not_hold(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    owner = await sign_in("member")
    expires = datetime.now(UTC) + timedelta(minutes=40)
    made = await create_key(
        client, owner.headers, ["apikeys:manage"], expiresAt=expires.isoformat()
    )
    assert made.status_code == 201, made.text
    manager = made.json()["key"]
    before = await key_prefixes(client, owner)

    wider = await create_key(
        client,
        bearer(manager),
        ["apikeys:manage", "commands:execute", "files:write"],
        expiresAt=(expires - timedelta(minutes=1)).isoformat(),
    )
    assert wider.status_code == 400, wider.text
    problem = wider.json()
    assert problem["type"] == "urn:roo:problem:scope-not-granted"
    assert "commands:execute" in problem["detail"]
    assert "files:write" in problem["detail"]
    assert await key_prefixes(client, owner) == before  # nothing was created


async def test_a_key_cannot_outlive_itself(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    owner = await sign_in("member")
    expires = datetime.now(UTC) + timedelta(minutes=40)
    made = await create_key(
        client, owner.headers, ["apikeys:manage"], expiresAt=expires.isoformat()
    )
    manager = made.json()["key"]
    before = await key_prefixes(client, owner)

    later = await create_key(
        client,
        bearer(manager),
        ["apikeys:manage"],
        expiresAt=(expires + timedelta(days=365)).isoformat(),
    )
    assert later.status_code == 400, later.text
    assert later.json()["type"] == "urn:roo:problem:expiry-not-granted"
    assert await key_prefixes(client, owner) == before

    # Without expiresAt, a key's key expires with it (never "never").
    inherited = await create_key(client, bearer(manager), ["apikeys:manage"])
    assert inherited.status_code == 201, inherited.text
    assert parse(inherited.json()["expiresAt"]) == parse(made.json()["expiresAt"])

    sooner = await create_key(
        client,
        bearer(manager),
        ["apikeys:manage"],
        expiresAt=(expires - timedelta(minutes=10)).isoformat(),
    )
    assert sooner.status_code == 201, sooner.text


async def test_a_key_is_bounded_by_its_effective_permissions_not_its_stored_scopes(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    """An admin's key with `users:admin` loses it when the admin is demoted: the key cannot
    hand it on either."""
    admin = await sign_in("admin")
    owner = await sign_in("admin")
    made = await create_key(client, owner.headers, ["apikeys:manage", "users:admin"])
    assert made.status_code == 201, made.text
    demoted = await client.patch(
        f"/api/v1/users/{owner.user_id}", headers=admin.headers, json={"roles": ["member"]}
    )
    assert demoted.status_code == 200
    minted = await create_key(client, bearer(made.json()["key"]), ["users:admin"])
    assert minted.status_code == 400, minted.text
    assert "users:admin" in minted.json()["detail"]


async def test_a_key_within_its_bounds_creates_a_working_key(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    owner = await sign_in("member")
    made = await create_key(client, owner.headers, ["apikeys:manage", "sessions:read"])
    assert made.status_code == 201, made.text
    child = await create_key(client, bearer(made.json()["key"]), ["sessions:read"])
    assert child.status_code == 201, child.text
    child_key = child.json()["key"]
    assert child.json()["expiresAt"] is None  # its creator never expires either
    assert (await client.get("/api/v1/sessions", headers=bearer(child_key))).status_code == 200
    refused = await client.post("/api/v1/sessions", headers=bearer(child_key), json={})
    assert refused.status_code == 403


async def test_a_signed_in_user_still_creates_keys_up_to_their_role(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    owner = await sign_in("member")
    made = await create_key(client, owner.headers, ["commands:execute", "files:write"])
    assert made.status_code == 201, made.text
    assert made.json()["expiresAt"] is None
    beyond = await create_key(client, owner.headers, ["users:admin"])
    assert beyond.status_code == 400
