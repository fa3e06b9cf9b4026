"""The audit read routes through the real app: who may read what, filters, paging, the chain's
verification, and rows sealed by the app's own sealer (and at its shutdown)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from sqlalchemy import func, select

from roo.api.state import Resources
from roo.app import create_app
from roo.config import Settings
from roo.db.models import AuditEvent
from roo.security.audit import AuditWriter, ClientInfo
from roo.security.audit_chain import AuditSealer
from tests.auth.conftest import SignIn
from tests.support.lifespan import app_lifespan

ADMIN_AUDIT = "/api/v1/admin/audit"
OWN_AUDIT = "/api/v1/auth/audit"


async def test_readers_need_audit_read(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    assert (await client.get(ADMIN_AUDIT)).status_code == 401
    assert (await client.get(f"{ADMIN_AUDIT}/verify")).status_code == 401
    for role in ("viewer", "member"):
        user = await sign_in(role)
        for path in (ADMIN_AUDIT, f"{ADMIN_AUDIT}/verify"):
            response = await client.get(path, headers=user.headers)
            assert response.status_code == 403, (role, path)
            assert response.headers["content-type"].startswith("application/problem+json")
    admin = await sign_in("admin")
    assert (await client.get(ADMIN_AUDIT, headers=admin.headers)).status_code == 200


async def test_admin_filters_and_pages(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    admin = await sign_in("admin")
    member = await sign_in("member")
    session_id = uuid.uuid4()
    marker = f"test.filter.{uuid.uuid4().hex[:8]}"
    writer = AuditWriter(resources.db_sessions)
    for i in range(5):
        await writer.write(
            marker,
            actor_id=member.user_id,
            target=f"session:{session_id}" if i < 3 else "thing:x",
            outcome="failure" if i == 4 else "success",
            client=ClientInfo("198.51.100.7", "agent"),
            i=i,
        )

    async def get(**params: object) -> dict[str, object]:
        response = await client.get(ADMIN_AUDIT, params=params, headers=admin.headers)
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    body = await get(action=marker)
    assert body["total"] == 5
    items = body["items"]
    assert isinstance(items, list)
    assert [row["detail"]["i"] for row in items] == [4, 3, 2, 1, 0]  # newest first
    assert items[0]["actorId"] == str(member.user_id)
    assert items[0]["ip"] == "198.51.100.7"
    assert (await get(action=marker, session=str(session_id)))["total"] == 3
    assert (await get(action=marker, outcome="failure"))["total"] == 1
    assert (await get(action=marker, target="thing:x"))["total"] == 2
    assert (await get(action=marker, actor=str(admin.user_id)))["total"] == 0
    assert (await get(action=marker, until="2000-01-01T00:00:00Z"))["total"] == 0
    assert (await get(action=marker, since="2000-01-01T00:00:00Z"))["total"] == 5
    page = await get(action=marker, limit=2, offset=2)
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 2)
    assert [row["detail"]["i"] for row in page["items"]] == [2, 1]  # type: ignore[attr-defined]
    # Sign-ins are audited with the user as actor
    logins = await get(action="auth.login", actor=str(member.user_id))
    assert logins["total"] == 1


async def test_bad_queries_are_422_problems(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    admin = await sign_in("admin")
    for params in (
        {"limit": 100_000},
        {"limit": 0},
        {"offset": -1},
        {"since": "yesterday"},
        {"since": "2026-01-01T00:00:00"},  # no offset: ambiguous
        {"actor": "not-a-uuid"},
        {"session": "1"},
        {"action": "x" * 81},
    ):
        response = await client.get(ADMIN_AUDIT, params=params, headers=admin.headers)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_own_trail_shows_only_the_callers_rows(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    alice = await sign_in("viewer")
    bob = await sign_in("member")
    # Bob acts: an API key of his is audited with him as actor
    created = await client.post(
        "/api/v1/auth/api-keys", json={"name": "k", "scopes": ["profile:read"]}, headers=bob.headers
    )
    assert created.status_code == 201, created.text
    mine = await client.get(OWN_AUDIT, headers=alice.headers)
    assert mine.status_code == 200
    rows = mine.json()["items"]
    assert rows
    assert {row["actorId"] for row in rows} == {str(alice.user_id)}
    # A filter cannot widen it
    other = await client.get(OWN_AUDIT, params={"actor": str(bob.user_id)}, headers=alice.headers)
    assert {row["actorId"] for row in other.json()["items"]} == {str(alice.user_id)}
    bobs = await client.get(OWN_AUDIT, params={"action": "apikeys.create"}, headers=bob.headers)
    assert bobs.json()["total"] == 1
    assert created.json()["key"] not in bobs.text
    assert (await client.get(OWN_AUDIT)).status_code == 401


async def test_verify_route_reports_the_chain(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    admin = await sign_in("admin")
    await AuditSealer(resources.engine).seal_all()
    response = await client.get(f"{ADMIN_AUDIT}/verify", headers=admin.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True, body
    assert body["lastSeq"] >= 1
    assert body["badSeq"] is None


async def test_a_clean_shutdown_leaves_nothing_unsealed(settings: Settings, tmp_path: Path) -> None:
    # The loop would not come round again for an hour: only the shutdown's seal can do it.
    app = create_app(settings.model_copy(update={"audit_seal_interval_seconds": 3600}))
    marker = f"test.shutdown.{uuid.uuid4().hex[:8]}"
    async with app_lifespan(app):
        resources: Resources = app.state.resources
        writer = AuditWriter(resources.db_sessions)
        for _ in range(3):
            await writer.write(marker)
        engine = resources.engine
        async with engine.connect() as conn:
            unsealed = await conn.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == marker, AuditEvent.chain_seq.is_(None))
            )
        assert unsealed == 3
    # the app disposed of its engine; a new one sees the result
    from roo.db.engine import create_engine

    check = create_engine(settings)
    try:
        async with check.connect() as conn:
            sealed = await conn.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == marker, AuditEvent.chain_seq.is_not(None))
            )
    finally:
        await check.dispose()
    assert sealed == 3
