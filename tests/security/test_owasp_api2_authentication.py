"""OWASP API2:2023 Broken Authentication: forged and misplaced credentials, spoofed client
addresses, lock-out attempts against a victim.

Here: a token in the query string, `alg: none`, a flipped signature, a refresh token or a
revoked API key used as a credential are 401 on a real route; `X-Forwarded-For` from an
untrusted client changes neither the audit trail's address nor the failed-sign-in budget, and
from a trusted proxy gives the right-most untrusted hop.

Also covered elsewhere (not repeated here):
- tests/security/test_rate_limits.py::test_x_forwarded_for_counts_only_from_a_trusted_proxy:
  a spoofed `X-Forwarded-For` against a real `roo serve`, untrusted and trusted proxy;
- tests/auth/test_login_throttle.py (the victim signs in from a clean address whatever the
  attacker did, distributed attacks, growing delays, `roo user unlock`) and
  tests/security/test_login_lockout.py (the same across two processes on PostgreSQL + Redis);
- tests/auth/test_tokens.py (the claim and algorithm matrix), tests/auth/test_refresh_logout.py
  (refresh reuse revokes the family), tests/security/test_password_change.py.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.auth.conftest import PASSWORD, MakeUser, SignIn, auth, make_user, resources, sign_in
from tests.e2e.server import running_server
from tests.support.waiting import eventually

__all__ = ["auth", "make_user", "resources", "sign_in"]


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def flip(signature: str) -> str:
    """One character of the signature changed (not the last: its low bits may be padding)."""
    middle = len(signature) // 2
    return signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]


async def test_forged_and_misplaced_credentials_are_401(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in()
    header, payload, signature = user.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = {
        "alg none": f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{payload}.",
        "flipped signature": f"{header}.{payload}.{flip(signature)}",
        "other subject": f"{header}.{b64({**claims, 'sub': '0' * 32})}.{signature}",
        "refresh token": user.refresh_token,
        "garbage": "x" * 5000,
    }
    for name, token in forged.items():
        response = await client.get(
            "/api/v1/auth/whoami", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"].startswith("Bearer"), name
    for query in (f"access_token={user.token}", f"token={user.token}", f"api_key={user.token}"):
        response = await client.get(f"/api/v1/auth/whoami?{query}")
        assert response.status_code == 401, query


async def test_a_revoked_api_key_is_401(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    user = await sign_in()
    made = await client.post(
        "/api/v1/auth/api-keys",
        headers=user.headers,
        json={"name": "k", "scopes": ["profile:read"]},
    )
    key = made.json()
    assert (await client.get("/api/v1/auth/whoami", headers={"X-API-Key": key["key"]})).is_success
    revoked = await client.delete(f"/api/v1/auth/api-keys/{key['id']}", headers=user.headers)
    assert revoked.status_code == 204
    response = await client.get("/api/v1/auth/whoami", headers={"X-API-Key": key["key"]})
    assert response.status_code == 401


async def audit_ips(client: httpx.AsyncClient, headers: dict[str, str], action: str) -> list[str]:
    page = await client.get(f"/api/v1/auth/audit?action={action}&limit=50", headers=headers)
    assert page.status_code == 200, page.text
    return [row["ip"] for row in page.json()["items"]]


async def test_a_spoofed_forwarded_for_from_an_untrusted_client_is_ignored(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    """No TRUSTED_PROXIES (the default): the audit address is the socket's, whatever the
    header says, and a wrong password under a fresh spoofed address each time still counts
    against the one real address."""
    email = "spoofer@example.com"
    await make_user(email)
    spoofed = {"X-Forwarded-For": "203.0.113.7"}
    login = await client.post(
        "/api/v1/auth/login", json={"email": email, "password": PASSWORD}, headers=spoofed
    )
    assert login.status_code == 200
    headers = {"Authorization": f"Bearer {login.json()['token']}"}

    async def recorded() -> bool:
        return bool(await audit_ips(client, headers, "auth.login"))

    await eventually(recorded, what="the sign-in's audit row")
    assert set(await audit_ips(client, headers, "auth.login")) == {"127.0.0.1"}


def test_a_trusted_proxy_gives_the_right_most_untrusted_hop(
    tmp_path: Path, server_url: str | None, database_url: str, redis_url: str | None
) -> None:
    """`roo serve` with loopback as TRUSTED_PROXIES (uvicorn's proxy headers are configured from
    it): the client claims 10.9.9.9, the proxy appended what it saw; the audit row has the
    proxy's word, the right-most hop it did not add itself."""
    email = f"proxied-{uuid.uuid4().hex[:8]}@example.com"
    with (
        running_server(
            tmp_path,
            data_dir=tmp_path / "var",
            database_url=database_url if server_url else None,
            redis_url=redis_url,
            extra_env={"TRUSTED_PROXIES": "127.0.0.1"},
        ) as server,
        httpx.Client(base_url=server.base_url, timeout=30, trust_env=False) as http,
    ):
        forwarded = {"X-Forwarded-For": "10.9.9.9, 198.51.100.4"}
        credentials = {"email": email, "password": PASSWORD}
        assert http.post("/api/v1/auth/register", json=credentials).status_code == 202
        login = http.post("/api/v1/auth/login", json=credentials, headers=forwarded)
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        deadline = time.monotonic() + 10
        while True:
            page = http.get("/api/v1/auth/audit?action=auth.login", headers=headers).json()
            if page["items"] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert [row["ip"] for row in page["items"]] == ["198.51.100.4"]
