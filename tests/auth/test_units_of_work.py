"""Identity services never commit: the request's unit of work commits what they wrote, or rolls
all of it back when the request fails. What must survive a refusal (its audit row) is written by
the `AuditWriter`, in a unit of work of its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from roo.api.state import Resources
from roo.app import create_app
from roo.auth.exceptions import InvalidLogin
from roo.auth.identity import Principal
from roo.config import Settings
from roo.db.engine import unit_of_work
from roo.db.models import AuditEvent, RefreshToken, User
from roo.security.audit import AuditWriter, ClientInfo, record
from tests.auth.conftest import PASSWORD, MakeUser
from tests.support.lifespan import app_lifespan

CLIENT = ClientInfo("127.0.0.1", "test")


class Failed(Exception):
    """What fails the request after a service call."""


async def rows(resources: Resources, *where: ColumnElement[bool]) -> list[AuditEvent]:
    async with unit_of_work(resources.db_sessions) as db:
        return list((await db.execute(select(AuditEvent).where(*where))).scalars())


async def marker(db: AsyncSession, tag: str) -> None:
    """A write of the request before the service call."""
    await record(db, "test.marker", target=tag)


Work = Callable[[AsyncSession], Awaitable[object]]


async def in_request(resources: Resources, work: Work) -> None:
    """`work` in a unit of work as a request's: committed if it succeeds, rolled back if not."""
    async with unit_of_work(resources.db_sessions) as db:
        await work(db)


async def test_a_refused_sign_in_keeps_its_audit_row_and_nothing_of_its_request(
    resources: Resources, make_user: MakeUser
) -> None:
    """Before: the service committed the request's transaction to keep its failure row, and
    with it whatever the request had written so far."""
    email = f"refused-{uuid.uuid4().hex[:8]}@example.com"
    user_id = await make_user(email)
    tag = uuid.uuid4().hex

    async def sign_in(db: AsyncSession) -> None:
        await marker(db, tag)
        await resources.auth.login(db, email, "wrong password", CLIENT)

    with pytest.raises(InvalidLogin):
        await in_request(resources, sign_in)
    failures = await rows(resources, AuditEvent.actor_id == user_id)
    assert [(r.action, r.outcome) for r in failures] == [("auth.login", "failure")]
    assert failures[0].detail == {"reason": "bad_credentials"}
    assert await rows(resources, AuditEvent.target == tag) == []


async def test_a_refused_password_change_keeps_nothing_of_its_request(
    resources: Resources, make_user: MakeUser
) -> None:
    """Before: the service committed the request's transaction before checking the password."""
    user_id = await make_user()
    principal = Principal(
        user_id=user_id, email="", roles=("member",), permissions=frozenset(), via="access_token"
    )
    tag = uuid.uuid4().hex

    async def change(db: AsyncSession) -> None:
        await marker(db, tag)
        await resources.auth.change_password(db, principal, "not it", "a new password!", CLIENT)

    with pytest.raises(InvalidLogin):
        await in_request(resources, change)
    assert await rows(resources, AuditEvent.target == tag) == []


async def test_a_request_that_fails_after_a_sign_in_keeps_none_of_its_writes(
    resources: Resources, make_user: MakeUser
) -> None:
    email = f"undone-{uuid.uuid4().hex[:8]}@example.com"
    user_id = await make_user(email)

    async def sign_in_then_fail(db: AsyncSession) -> None:
        pair = await resources.auth.login(db, email, PASSWORD, CLIENT)
        assert pair.user.id == user_id
        raise Failed

    with pytest.raises(Failed):
        await in_request(resources, sign_in_then_fail)
    async with unit_of_work(resources.db_sessions) as db:
        user = await db.get(User, user_id)
        assert user is not None
        assert user.last_login_at is None
        tokens = await db.execute(select(RefreshToken).where(RefreshToken.user_id == user_id))
        assert tokens.scalars().all() == []
    assert await rows(resources, AuditEvent.actor_id == user_id) == []


async def test_an_audit_row_is_written_even_when_its_caller_is_cancelled(
    resources: Resources,
) -> None:
    writer = AuditWriter(resources.db_sessions)
    tag = uuid.uuid4().hex
    task = asyncio.ensure_future(writer.write("test.cancelled", target=tag, outcome="denied"))
    await asyncio.sleep(0)  # the write has started
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [row] = await rows(resources, AuditEvent.target == tag)
    assert row.outcome == "denied"


@pytest.fixture
async def patient_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """Sign-ins wait as long as they need for a hashing slot (the machine may be busy)."""
    application = create_app(settings.model_copy(update={"password_hash_wait_seconds": 120.0}))
    async with app_lifespan(application):
        yield application


async def test_concurrent_refused_sign_ins_and_audited_requests_each_keep_their_rows(
    patient_app: FastAPI,
) -> None:
    """Refusals' rows (each in a unit of work of its own) and requests' rows (in the request's)
    written at once: every one is kept, none twice, nothing waits out the write turn (on
    SQLite) or the pool."""
    resources: Resources = patient_app.state.resources
    transport = httpx.ASGITransport(app=patient_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        emails = [f"many-{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(3)]
        ids = []
        async with unit_of_work(resources.db_sessions) as db:
            for email in emails:
                ids.append((await resources.auth.create_user(db, email, password=PASSWORD)).id)
        login = await client.post(
            "/api/v1/auth/login", json={"email": emails[0], "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['token']}"}

        refusals = [
            client.post("/api/v1/auth/login", json={"email": email, "password": "wrong!"})
            for email in emails
            for _ in range(2)
        ]
        creations = [client.post("/api/v1/sessions", headers=headers, json={}) for _ in range(4)]
        answers = await asyncio.gather(*refusals, *creations)

    assert [a.status_code for a in answers[:6]] == [401] * 6, [a.text for a in answers[:6]]
    assert [a.status_code for a in answers[6:]] == [201] * 4, [a.text for a in answers[6:]]
    for user_id in ids:
        failed = await rows(
            resources, AuditEvent.actor_id == user_id, AuditEvent.outcome == "failure"
        )
        assert len(failed) == 2
    created = await rows(
        resources, AuditEvent.actor_id == ids[0], AuditEvent.action == "sessions.create"
    )
    assert {r.target for r in created} == {f"session:{a.json()['id']}" for a in answers[6:]}
