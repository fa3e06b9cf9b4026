"""The credential of an audit row (issue #16): an API key's public prefix in a field of its own,
on rows its requests write and on the refusals counted for it; none for an access token; the
chain covers the field and still verifies."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from roo.api.state import Resources
from roo.config import Settings
from roo.db.models import AuditEvent
from roo.security.audit_chain import (
    HASHED_FIELDS,
    OPTIONAL_HASHED_FIELDS,
    AuditSealer,
    row_hash,
)
from roo.security.denials import DenialLog
from tests.auth.conftest import SignIn
from tests.auth.test_api_keys import create_key, key_headers


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Only the test writes the refusals' counts and seals."""
    return settings.model_copy(update={"audit_seal_interval_seconds": 3600})


async def rows(resources: Resources, action: str) -> list[Any]:
    async with resources.engine.connect() as conn:
        result = await conn.execute(select(AuditEvent).where(AuditEvent.action == action))
        return list(result.all())


@pytest.mark.parametrize("style", ["bearer", "x-api-key"])
async def test_rows_of_an_api_key_carry_its_prefix(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources, style: str
) -> None:
    member = await sign_in()
    created = await create_key(client, member, ["sessions:read", "sessions:write"])
    key, prefix = str(created["key"]), str(created["prefix"])
    assert key.startswith(prefix)
    headers = key_headers(key, style)
    by_key = await client.post("/api/v1/sessions", headers=headers, json={"name": "by-key"})
    assert by_key.status_code == 201, by_key.text
    by_token = await client.post(
        "/api/v1/sessions", headers=member.headers, json={"name": "by-token"}
    )
    assert by_token.status_code == 201
    # a refusal of the key (missing scope) is counted under it too
    denials: DenialLog = client._transport.app.state.denials  # type: ignore[attr-defined]
    await denials.flush(resources.engine)
    refused = await client.get("/api/v1/auth/api-keys", headers=headers)
    assert refused.status_code == 403
    await denials.flush(resources.engine)

    created_rows = {
        row.target: row.credential
        for row in await rows(resources, "sessions.create")
        if row.actor_id == member.user_id
    }
    assert created_rows == {
        f"session:{by_key.json()['id']}": prefix,
        f"session:{by_token.json()['id']}": None,
    }
    (denied,) = [
        row
        for row in await rows(resources, "security.denied")
        if row.target == "route:GET /api/v1/auth/api-keys" and row.actor_id == member.user_id
    ]
    assert denied.credential == prefix
    assert key not in str([tuple(r) for r in await rows(resources, "security.denied")])

    # sealed, the field is part of the hash: the chain holds, an edit of the field would not
    await AuditSealer(resources.engine).seal_all()
    admin = await sign_in("admin")
    verify = await client.get("/api/v1/admin/audit/verify", headers=admin.headers)
    assert verify.json()["ok"] is True, verify.json()
    listed = await client.get(
        "/api/v1/admin/audit",
        params={"action": "sessions.create", "actor": str(member.user_id)},
        headers=admin.headers,
    )
    assert {item["credential"] for item in listed.json()["items"]} == {prefix, None}
    (sealed,) = [
        row._mapping
        for row in await rows(resources, "sessions.create")
        if row.credential == prefix and row.actor_id == member.user_id
    ]
    assert sealed["hash"] == row_hash(sealed, sealed["chain_seq"], sealed["prev_hash"])
    forged = {**sealed, "credential": "roo_forged0000"}
    assert sealed["hash"] != row_hash(forged, sealed["chain_seq"], sealed["prev_hash"])


async def test_a_tool_runs_row_has_every_field_of_the_request(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    """A tool run's row is written by an `AuditWriter` (its own unit of work, a Core insert):
    it carries what a row `record` writes would, and seals into a chain that verifies."""
    member = await sign_in()
    created = await create_key(client, member, ["sessions:read", "sessions:write", "tools:execute"])
    headers = key_headers(str(created["key"]), "bearer")
    made = await client.post("/api/v1/sessions", headers=headers, json={"name": "tools"})
    sid = made.json()["id"]
    request_id = uuid.uuid4().hex
    ran = await client.post(
        f"/api/v1/sessions/{sid}/tools/list_files",
        headers={**headers, "X-Request-ID": request_id, "User-Agent": "audit-test"},
        json={"path": "."},
    )
    assert ran.status_code == 200, ran.text

    (row,) = [
        r._mapping for r in await rows(resources, "tools.execute") if r.actor_id == member.user_id
    ]
    assert row["target"] == f"session:{sid}"
    assert row["session_id"] == uuid.UUID(sid)
    assert row["outcome"] == "success"
    assert row["credential"] == created["prefix"]
    assert row["request_id"] == request_id
    assert row["user_agent"] == "audit-test"
    assert row["ip"]
    assert row["detail"] == {"tool": "list_files", "is_error": False}
    assert row["at"] is not None
    assert row["chain_seq"] is None

    await AuditSealer(resources.engine).seal_all()
    admin = await sign_in("admin")
    verify = await client.get("/api/v1/admin/audit/verify", headers=admin.headers)
    assert verify.json()["ok"] is True, verify.json()


def test_a_row_without_credential_hashes_as_before_the_field_existed() -> None:
    """Rows sealed before migration 0009 verify unchanged: a row without a credential hashes
    exactly the fields it had then."""
    row = dict.fromkeys((*HASHED_FIELDS, *OPTIONAL_HASHED_FIELDS))
    row.update(id=uuid.uuid4(), at=datetime(2026, 12, 1, tzinfo=UTC), action="x", outcome="success")
    row["detail"] = {}
    before = {name: row[name] for name in HASHED_FIELDS}
    before["id"], before["at"] = str(row["id"]), "2026-12-01T00:00:00.000000+00:00"
    before.update(chain_seq=7, prev_hash="0" * 64)
    old = json.dumps(before, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert row_hash(row, 7, "0" * 64) == hashlib.sha256(old.encode()).hexdigest()
    assert row_hash({**row, "credential": "roo_abc"}, 7, "0" * 64) != row_hash(row, 7, "0" * 64)
