"""OWASP API8:2023 Security Misconfiguration: hardening headers, 405 with `Allow`, no stack
trace or internals in an error, injection payloads answered with a 4xx (never a 500, never
escaping), and secrets planted in requests never found in the logs, the audit trail, error
bodies or a session's events.

Also covered elsewhere: tests/api (the headers middleware, CORS, the docs pages' CSP),
tests/security/test_bad_input.py (NUL, surrogates, unbounded integers and dates on every route),
tests/files (path traversal spellings against the path guard), tests/e2e/test_serve.py (bearer
credentials never reach the access log of a real server), tests/audit/test_chain.py and
`roo audit verify` (a tampered, deleted, reordered or truncated audit row is detected: edited
rows through tests/audit/test_chain.py::test_an_edited_row_is_named, and over HTTP in
tests/audit/test_routes.py).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from roo.api.state import Resources
from roo.db.models import AuditEvent
from roo.kit.logs import flush_logs
from tests.auth.conftest import PASSWORD
from tests.support.waiting import eventually
from tests.tasks.conftest import (
    LLM_KEY,
    Api,
    FakeLLM,
    MakeApi,
    api,
    auth,
    llm,
    make_api,
    make_user,
    resources,
    settings,
    sign_in,
)

__all__ = ["api", "auth", "llm", "make_api", "make_user", "resources", "settings", "sign_in"]


async def test_hardening_headers_on_api_answers_and_errors(api: Api) -> None:
    for method, url in (
        ("GET", "/api/v1/sessions"),
        ("GET", "/api/v1/sessions/not-a-uuid"),
        ("POST", "/api/v1/auth/api-keys"),
    ):
        response = await api.request(method, url)
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff", url
        assert "default-src 'none'" in headers["content-security-policy"], url
        assert "frame-ancestors 'none'" in headers["content-security-policy"], url
        assert headers["referrer-policy"] == "no-referrer", url
    made = await api.request(
        "POST", "/api/v1/auth/api-keys", json={"name": "k", "scopes": ["profile:read"]}
    )
    assert "no-store" in made.headers["cache-control"]


async def test_a_wrong_method_is_405_with_allow(api: Api) -> None:
    session = await api.session()
    response = await api.request("PATCH", f"/api/v1/sessions/{session}")
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "PUT", "DELETE"}


TRAVERSALS = [
    "../../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/etc/passwd",
    "%252e%252e%252fetc%252fpasswd",
    "..\\..\\etc\\passwd",
    "/etc/passwd",
    "a/../../b",
    "a%00.txt",
]


@pytest.mark.parametrize("path", TRAVERSALS)
async def test_path_traversal_in_file_routes_never_escapes(api: Api, path: str) -> None:
    session = await api.session()
    for method, body in (("GET", None), ("PUT", b"pwned"), ("DELETE", None), ("POST", b"x")):
        headers = {**api.user.headers, "Content-Type": "application/octet-stream"}
        response = await api.client.request(
            method, f"/api/v1/sessions/{session}/files/{path}", content=body, headers=headers
        )
        assert 400 <= response.status_code < 500, f"{method} {path}: {response.status_code}"
        assert "root:" not in response.text
    listing = await api.request("GET", f"/api/v1/sessions/{session}/files?recursive=true")
    assert listing.status_code == 200
    assert listing.json()["entries"] == []  # nothing was written anywhere in it either


SQLISH = [
    "' OR '1'='1",
    "'; DROP TABLE sessions; --",
    '" OR ""="',
    "1) UNION SELECT password_hash FROM users --",
    "%' AND 1=1 --",
    "\\'; SELECT pg_sleep(5); --",
    "${jndi:ldap://x}",
    "{{7*7}}",
]


@pytest.mark.parametrize("payload", SQLISH)
async def test_sql_ish_payloads_are_data(
    client: httpx.AsyncClient, make_api: MakeApi, payload: str
) -> None:
    owner, other = await make_api(), await make_api()
    await other.session()  # a row the payload must not reach
    mine = await owner.request("POST", "/api/v1/sessions", json={"name": payload})
    assert mine.status_code == 201, mine.text
    assert mine.json()["name"] == payload  # stored as given
    found = await owner.request("GET", "/api/v1/sessions", params={"q": payload})
    assert found.status_code == 200
    assert [s["name"] for s in found.json()["items"]] == [payload]  # only the owner's
    login = await client.post("/api/v1/auth/login", json={"email": payload, "password": payload})
    assert login.status_code in (401, 422), login.text
    login = await client.post(
        "/api/v1/auth/login", json={"email": owner.user.email, "password": payload}
    )
    assert login.status_code == 401
    audit = await owner.request("GET", "/api/v1/auth/audit", params={"action": payload})
    assert audit.status_code in (200, 422)


@pytest.mark.parametrize(
    "value",
    ["abc\r\nSet-Cookie: pwned=1", "abc\nX-Injected: 1", "a" * 500, "<script>alert(1)</script>"],
)
async def test_header_injection_is_not_reflected(client: httpx.AsyncClient, value: str) -> None:
    try:
        response = await client.get("/api/v1/version", headers={"X-Request-ID": value})
    except (httpx.LocalProtocolError, ValueError):
        return  # the client itself refuses to send it: nothing reached the server
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert "x-injected" not in response.headers
    assert response.headers["x-request-id"] != value or value.isprintable()
    assert "\n" not in response.headers["x-request-id"]


def all_text(value: Any) -> str:
    return json.dumps(value, default=str)


async def test_planted_secrets_never_reach_logs_audit_errors_or_events(
    client: httpx.AsyncClient,
    make_api: MakeApi,
    resources: Resources,
    llm: FakeLLM,
    sign_in: Any,
    capfd: pytest.CaptureFixture[str],
) -> None:
    admin = await sign_in("admin")
    user = await make_api()
    bodies: list[str] = []
    new_password = "planted new password 0123"
    wrong_password = "planted wrong password 4567"

    async def note(response: httpx.Response) -> httpx.Response:
        bodies.append(response.text)
        return response

    # A password: a failed sign-in, a refused change, a real change
    await note(
        await client.post(
            "/api/v1/auth/login", json={"email": user.user.email, "password": wrong_password}
        )
    )
    await note(
        await user.request(
            "PUT",
            "/api/v1/auth/password",
            json={"currentPassword": wrong_password, "newPassword": new_password},
        )
    )
    await note(
        await user.request(
            "PUT",
            "/api/v1/auth/password",
            json={"currentPassword": PASSWORD, "newPassword": "x", "extra": wrong_password},
        )
    )
    relogin = await client.post(
        "/api/v1/auth/login", json={"email": user.user.email, "password": PASSWORD}
    )
    user.user.token = relogin.json()["token"]
    jwt = user.user.token
    # A JWT: in the query string and as a wrong scheme
    await note(await client.get(f"/api/v1/sessions?access_token={jwt}"))
    await note(await client.get("/api/v1/sessions", headers={"Authorization": f"Token {jwt}"}))
    # A provider key: stored, read back, refused with a bad URL, used by a task
    provider_key = LLM_KEY  # the fake server accepts only this key
    await note(
        await user.request(
            "PUT",
            "/api/v1/auth/providers/openai",
            json={"apiKey": provider_key, "baseUrl": "http://127.0.0.1:1/v1"},
        )
    )
    stored = await user.request(
        "PUT",
        "/api/v1/auth/providers/openai",
        json={"apiKey": provider_key, "baseUrl": llm.openai_base_url},
    )
    await note(stored)
    await note(await user.request("GET", "/api/v1/auth/providers"))
    session = await user.session()
    task = await user.start(session, "say hi")
    await user.wait(session, task["id"], "completed", "failed", "awaiting_input")
    events = await user.events(session)

    async def audited() -> bool:
        async with resources.db_sessions() as db:
            rows = (await db.execute(select(AuditEvent))).scalars().all()
        return any(r.action == "auth.password_change" for r in rows) or len(rows) > 5

    await eventually(audited, what="the audit rows")
    async with resources.db_sessions() as db:
        rows = [
            {c.name: getattr(r, c.name) for c in AuditEvent.__table__.columns}
            for r in (await db.execute(select(AuditEvent))).scalars().all()
        ]
    admin_view = await client.get("/api/v1/admin/audit?limit=200", headers=admin.headers)
    flush_logs()  # lines waiting for the end of their loop iteration (access, audit) too
    logs = capfd.readouterr()
    places = {
        "logs": logs.out + logs.err,
        "audit rows": all_text(rows),
        "admin audit": admin_view.text,
        "error bodies": "\n".join(bodies),
        "events": all_text(events),
    }
    assert "auth.login" in places["audit rows"]  # the places hold what was done...
    assert places["logs"]
    for secret in (wrong_password, new_password, PASSWORD, jwt, provider_key):
        for place, text in places.items():
            assert secret not in text, f"a planted secret ({secret[:6]}...) in the {place}"
    # ... and the JWT's signature alone is not there either
    signature = jwt.rsplit(".", 1)[1]
    for place, text in places.items():
        assert signature not in text, place
