"""The WebSocket under budgets (issue #16), over real sockets (uvicorn on loopback, the
`websockets` client): connects per user or API key count against `ROO_RATE_LIMIT_WS_CONNECT`
(4429 past it), attempts per client address against `ROO_RATE_LIMIT_WS_ATTEMPTS` before any
credential is read (4429 past it), messages per connection are bounded, and every refusal is
counted in the audit's `security.denied` rows as HTTP refusals are."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from roo.api.state import Resources
from roo.db.models import AuditEvent
from roo.db.types import utcnow
from roo.security.denials import DenialLog
from roo.testing.fake_llm import FakeLLM
from tests.auth.test_api_keys import create_key
from tests.realtime.conftest import run_a_command_then_finish, ticket, ws_connect
from tests.security.test_rate_limits import within_one_window
from tests.tasks.conftest import Api, MakeApi

ROUTE = "route:WS /api/v1/sessions/{session_id}/ws"
DAY = 86400


async def denied(app: FastAPI, resources: Resources, since: datetime) -> list[Any]:
    """The WebSocket's `security.denied` rows of refusals since `since` (written now)."""
    denials: DenialLog = app.state.denials
    await denials.flush(resources.engine)
    async with resources.engine.connect() as conn:
        result = await conn.execute(
            select(AuditEvent).where(
                AuditEvent.action == "security.denied",
                AuditEvent.target == ROUTE,
                AuditEvent.at >= since,
            )
        )
        return list(result.all())


def of(rows: list[Any], actor: Any, status: int, credential: str | None = None) -> Any:
    (row,) = [
        r
        for r in rows
        if (r.actor_id, r.detail["status"], r.credential) == (actor, status, credential)
    ]
    return row


@pytest.mark.task_settings(rate_limit_ws_connect="3/day", audit_seal_interval_seconds=3600)
async def test_connects_past_the_budget_are_closed_with_4429_and_audited(
    api: Api, make_api: MakeApi, live: str, app: FastAPI, resources: Resources
) -> None:
    await within_one_window(DAY, 120)
    started = utcnow()
    session = await api.session()
    for _ in range(3):
        async with ws_connect(live, session, token=api.user.token) as socket:
            assert (await socket.recv())["type"] == "hello"
    async with ws_connect(live, session, token=api.user.token) as socket:
        code, reason = await socket.closed()
    assert code == 4429, reason
    match = re.fullmatch(r"rate limited \(ws-connect\): retry in (\d+) s", reason)
    assert match is not None, reason
    assert 1 <= int(match.group(1)) <= DAY
    # the budget is the user's: another user, and an API key of the same user, have their own
    other = await make_api()
    other_session = await other.session()
    async with ws_connect(live, other_session, token=other.user.token) as socket:
        assert (await socket.recv())["type"] == "hello"
    created = await create_key(api.client, api.user, scopes=["tasks:read", "sessions:read"])
    key = str(created["key"])
    for _ in range(3):
        async with ws_connect(live, session, token=key) as socket:
            assert (await socket.recv())["type"] == "hello"
    async with ws_connect(live, session, token=key) as socket:
        assert (await socket.closed())[0] == 4429
    # a bad credential is a 401 refusal
    async with ws_connect(live, session, token="not-a-token") as socket:
        assert (await socket.closed())[0] == 4401

    rows = await denied(app, resources, started)
    assert of(rows, api.user.user_id, 429).detail["count"] == 1
    by_key = of(rows, api.user.user_id, 429, str(created["prefix"]))
    assert by_key.detail["count"] == 1
    assert by_key.detail["api_key_id"] == created["id"]
    assert of(rows, None, 401).detail["count"] == 1
    assert of(rows, None, 401).ip == "127.0.0.1"
    assert all(row.actor_id != other.user.user_id for row in rows)


@pytest.mark.task_settings(
    rate_limit_ws_attempts="4/day", ws_auth_timeout_seconds=0.5, audit_seal_interval_seconds=3600
)
async def test_attempts_past_the_address_budget_are_closed_with_4429_before_any_credential(
    api: Api, live: str, http: httpx.AsyncClient, app: FastAPI, resources: Resources
) -> None:
    """Bad tickets and sockets that never authenticate spend the address's budget; past it a
    socket is closed with 4429 at once, its ticket not redeemed and its token not read."""
    await within_one_window(DAY, 120)
    started = utcnow()
    session = await api.session()
    for bad in ("not-a-ticket", "x" * 43):
        async with ws_connect(live, session, ticket=bad) as socket:
            assert (await socket.closed())[0] == 4401
    async with ws_connect(live, session) as socket:  # says nothing: closed after 0.5 s
        assert await socket.closed() == (4401, "no credential in time")
    async with ws_connect(live, session, token=api.user.token) as socket:  # the fourth: served
        assert (await socket.recv())["type"] == "hello"

    valid = await ticket(http, live, api.user.headers, session)
    async with ws_connect(live, session, ticket=valid) as socket:
        code, reason = await socket.closed()
    assert code == 4429, reason
    match = re.fullmatch(r"rate limited \(ws-attempts\): retry in (\d+) s", reason)
    assert match is not None, reason
    assert 1 <= int(match.group(1)) <= DAY
    # the ticket was not touched: still good for one redemption
    assert await resources.tickets.redeem(valid, uuid.UUID(session)) is not None
    async with ws_connect(live, session, token=api.user.token) as socket:
        assert (await socket.closed())[0] == 4429

    rows = await denied(app, resources, started)
    refused = of(rows, None, 429)
    assert refused.detail["count"] == 2
    assert refused.ip == "127.0.0.1"
    assert of(rows, None, 401).detail["count"] == 3


@pytest.mark.task_settings(ws_messages_per_second=5.0, audit_seal_interval_seconds=3600)
async def test_messages_past_the_connections_bound_are_refused_and_audited(
    api: Api, live: str, app: FastAPI, resources: Resources
) -> None:
    started = utcnow()
    session = await api.session()
    async with ws_connect(live, session, token=api.user.token) as socket:
        assert (await socket.recv())["type"] == "hello"
        for i in range(40):
            await socket.send(type="ping", id=i)
        replies = []
        try:
            while True:
                replies.append(await socket.recv())
        except Exception:
            code, _ = await socket.closed()
    refused = [r for r in replies if r["type"] == "error"]
    assert refused
    assert all(r["problem"]["status"] == 429 for r in refused)
    assert code == 1008
    row = of(await denied(app, resources, started), api.user.user_id, 429)
    # each refused message, and the close of the flood
    assert row.detail["count"] == len(refused) + 1
    assert row.user_agent is not None


async def test_an_api_keys_actions_over_the_socket_carry_its_prefix_in_the_audit(
    api: Api, llm: FakeLLM, live: str, resources: Resources
) -> None:
    session = await api.session()
    run_a_command_then_finish(llm)
    task = await api.start(session, "run it")
    await api.wait(session, task["id"], "awaiting_approval")
    created = await create_key(
        api.client, api.user, scopes=["tasks:read", "tasks:write", "sessions:read"]
    )
    async with ws_connect(live, session, token=str(created["key"])) as socket:
        assert (await socket.recv())["type"] == "hello"
        reply, _ = await socket.request(type="task.cancel", taskId=task["id"])
        assert reply["type"] == "ack", reply
    async with resources.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(AuditEvent).where(
                    AuditEvent.action == "tasks.cancel",
                    AuditEvent.actor_id == api.user.user_id,
                )
            )
        ).all()
    assert [row.credential for row in rows] == [created["prefix"]]
