"""Refused requests (401, 403, 429) in the audit trail: counted in memory by the middleware,
written as one `security.denied` row per (status, route, actor, address) by the sealer's loop
and sealed; bounded per round; flushed at a clean shutdown."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from roo.api.state import Resources
from roo.app import create_app
from roo.config import Settings
from roo.db.engine import create_engine
from roo.db.models import AuditEvent
from roo.security.denials import DenialLog
from tests.auth.conftest import PASSWORD, SignIn
from tests.support.lifespan import app_lifespan


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The app's loop would write the counts within a second: only the tests do, here."""
    return settings.model_copy(update={"audit_seal_interval_seconds": 3600})


async def denied_rows(engine: AsyncEngine, target: str, user_agent: str | None = None) -> list[Any]:
    """The `security.denied` rows of `target`; with `user_agent`, only those of the test's own
    client (other tests sharing the database refuse requests on the same routes)."""
    conditions = [AuditEvent.action == "security.denied", AuditEvent.target == target]
    if user_agent is not None:
        conditions.append(AuditEvent.user_agent == user_agent)
    async with engine.connect() as conn:
        return list((await conn.execute(select(AuditEvent).where(*conditions))).all())


async def test_401_and_403_are_counted_into_one_row_per_key(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    denials: DenialLog = client._transport.app.state.denials  # type: ignore[attr-defined]
    await denials.flush(resources.engine)  # what earlier requests left
    viewer = await sign_in("viewer")
    agent = f"pytest-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        response = await client.get("/api/v1/admin/audit", headers={"User-Agent": agent})
        assert response.status_code == 401
    for _ in range(2):
        response = await client.get(
            "/api/v1/admin/audit/verify", headers={**viewer.headers, "User-Agent": agent}
        )
        assert response.status_code == 403
    # A failed sign-in has its own row (auth.login), not one here
    failed = await client.post(
        "/api/v1/auth/login", json={"email": viewer.email, "password": PASSWORD + "x"}
    )
    assert failed.status_code == 401
    assert await denials.flush(resources.engine) == 2

    (row,) = await denied_rows(resources.engine, "route:GET /api/v1/admin/audit", agent)
    assert row.user_agent == agent
    assert row.actor_id is None
    assert row.outcome == "denied"
    assert (row.detail["status"], row.detail["count"]) == (401, 3)
    assert row.detail["first_at"] <= row.detail["last_at"]
    (row,) = await denied_rows(resources.engine, "route:GET /api/v1/admin/audit/verify", agent)
    assert row.actor_id == viewer.user_id
    assert (row.detail["status"], row.detail["count"]) == (403, 2)
    assert await denied_rows(resources.engine, "route:POST /api/v1/auth/login") == []


async def test_rate_limit_refusals_are_counted_and_sealed_at_shutdown(settings: Settings) -> None:
    app = create_app(
        settings.model_copy(
            update={"rate_limit_anonymous": "3/hour", "audit_seal_interval_seconds": 3600}
        )
    )
    path = f"/api/v1/nowhere-{uuid.uuid4().hex[:8]}"
    async with app_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            statuses = [(await c.get(path)).status_code for _ in range(6)]
    assert statuses.count(429) >= 2  # (one more may pass at a window's edge)
    refused = statuses.count(429)
    engine = create_engine(settings)
    try:
        (row,) = await denied_rows(engine, f"route:GET {path}")
        assert (row.detail["status"], row.detail["count"]) == (429, refused)
        assert row.chain_seq is not None  # written and sealed by the shutdown's round
    finally:
        await engine.dispose()


async def test_keys_per_round_are_bounded_with_an_overflow_row(chain_engine: AsyncEngine) -> None:
    denials = DenialLog(max_keys=2)
    for n in range(5):
        denials.add((403, "GET", "/x", None, None, None, f"192.0.2.{n}"), None)
    denials.add((403, "GET", "/x", None, None, None, "192.0.2.0"), None)  # a known key still counts
    assert await denials.flush(chain_engine) == 3
    async with chain_engine.connect() as conn:
        rows = sorted(
            (r.target, r.ip or "", r.detail["count"])
            for r in await conn.execute(
                select(AuditEvent).where(AuditEvent.action == "security.denied")
            )
        )
    assert rows == [
        ("overflow", "", 3),
        ("route:GET /x", "192.0.2.0", 2),
        ("route:GET /x", "192.0.2.1", 1),
    ]
    assert await denials.flush(chain_engine) == 0
