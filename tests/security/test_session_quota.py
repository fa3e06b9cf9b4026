"""The session quota holds through archive and restore, and under concurrent requests.

The attack (issue 12, item 10): archive, create, restore, repeat: a member held 40 active
sessions against a quota of 20. And two creations at quota - 1 arriving together both counted
the same number and both went in.
"""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest
from sqlalchemy import func, select

from roo.api.state import Resources
from roo.auth.permissions import Role
from roo.db.models import Session
from roo.sessions import quotas
from tests.auth.conftest import SignedIn, SignIn, auth, make_user, resources, sign_in

__all__ = ["auth", "make_user", "resources", "sign_in"]  # fixtures

QUOTA = 3


@pytest.fixture(autouse=True)
def small_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    limited = dataclasses.replace(quotas.QUOTAS[Role.MEMBER], max_sessions=QUOTA)
    monkeypatch.setitem(quotas.QUOTAS, Role.MEMBER, limited)


async def create(client: httpx.AsyncClient, who: SignedIn) -> httpx.Response:
    return await client.post("/api/v1/sessions", headers=who.headers, json={})


async def set_state(
    client: httpx.AsyncClient, who: SignedIn, session_id: str, state: str
) -> httpx.Response:
    return await client.put(
        f"/api/v1/sessions/{session_id}", headers=who.headers, json={"state": state}
    )


async def archived_sessions(client: httpx.AsyncClient, who: SignedIn, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        made = await create(client, who)
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
        archived = await set_state(client, who, ids[-1], "archived")
        assert archived.status_code == 200, archived.text
    return ids


async def open_sessions(resources: Resources, who: SignedIn) -> int:
    async with resources.db_sessions() as db:
        count = await db.scalar(
            select(func.count())
            .select_from(Session)
            .where(Session.user_id == who.user_id, Session.state != "archived")
        )
    return int(count or 0)


async def test_restore_is_refused_at_the_quota(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    (archived,) = await archived_sessions(client, user, 1)
    for _ in range(QUOTA):
        assert (await create(client, user)).status_code == 201
    restored = await set_state(client, user, archived, "active")
    assert restored.status_code == 409, restored.text
    assert restored.json()["type"] == "urn:roo:problem:session-quota-reached"
    still = await client.get(f"/api/v1/sessions/{archived}", headers=user.headers)
    assert still.json()["state"] == "archived"
    assert await open_sessions(resources, user) == QUOTA


async def test_archive_create_restore_never_exceeds_the_quota(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    archived = await archived_sessions(client, user, QUOTA)
    for _ in range(QUOTA):
        assert (await create(client, user)).status_code == 201
    answers = [(await set_state(client, user, sid, "active")).status_code for sid in archived]
    assert answers == [409] * QUOTA
    assert await open_sessions(resources, user) == QUOTA


async def test_concurrent_creates_at_quota_minus_one_admit_one(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    for _ in range(QUOTA - 1):
        assert (await create(client, user)).status_code == 201
    answers = await asyncio.gather(*(create(client, user) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409], [a.text for a in answers]
    assert await open_sessions(resources, user) == QUOTA


async def test_concurrent_restores_at_quota_minus_one_admit_one(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    archived = await archived_sessions(client, user, 4)
    for _ in range(QUOTA - 1):
        assert (await create(client, user)).status_code == 201
    answers = await asyncio.gather(*(set_state(client, user, s, "active") for s in archived))
    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409], [a.text for a in answers]
    assert await open_sessions(resources, user) == QUOTA


async def test_a_concurrent_create_and_restore_admit_one(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    (archived,) = await archived_sessions(client, user, 1)
    for _ in range(QUOTA - 1):
        assert (await create(client, user)).status_code == 201
    restore, made = await asyncio.gather(
        set_state(client, user, archived, "active"), create(client, user)
    )
    assert sorted([restore.status_code, made.status_code]) in ([200, 409], [201, 409])
    assert await open_sessions(resources, user) == QUOTA
