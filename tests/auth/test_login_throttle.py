"""Failed-sign-in throttling an attacker cannot turn against the victim: per (account, address)
pair and per address, growing delays, the owner from a clean address never refused, unlock.

Clients at different addresses are the same ASGI app seen from different sockets (httpx's
`ASGITransport(client=...)`); the storage is the app's own (memory, or Redis with REDIS_URL).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from roo.api.state import Resources
from roo.auth.throttle import (
    LoginThrottle,
    LoginThrottled,
    LoginUnavailable,
    backoff_delay,
    create_limit_storage,
)
from roo.config import Settings
from roo.db.models import AuditEvent
from tests.auth.conftest import PASSWORD, MakeUser, SignIn

ATTACKER = "203.0.113.66"
VICTIM_HOME = "198.51.100.7"
LOGIN = "/api/v1/auth/login"

ClientAt = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Delays of a minute from the first: no delay runs out while a test makes its requests on
    a slow machine (a test that waits one out sets a short base of its own)."""
    return settings.model_copy(update={"login_backoff_base_seconds": 60})


@pytest.fixture
def client_at(app: FastAPI) -> ClientAt:
    @asynccontextmanager
    async def at(address: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c

    return at


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(LOGIN, json={"email": email, "password": password})


def test_backoff_grows_from_the_threshold_and_stops_at_the_cap() -> None:
    delays = [backoff_delay(n, 5, 2, 60) for n in range(1, 12)]
    assert delays == [0, 0, 0, 0, 2, 4, 8, 16, 32, 60, 60]
    assert backoff_delay(10**6, 1, 1, 900) == 900  # no overflow however many failures


async def test_the_victim_signs_in_from_a_clean_address_whatever_the_attacker_did(
    client_at: ClientAt, make_user: MakeUser, resources: Resources
) -> None:
    await make_user("victim@throttle.example.com")
    statuses: list[int] = []
    async with client_at(ATTACKER) as attacker:
        for n in range(40):
            statuses.append(
                (await login(attacker, "victim@throttle.example.com", f"guess-{n:04}")).status_code
            )
        # The attacker's address is refused, even with the right password: it is the pair's
        # delay, checked before any password.
        refused = await login(attacker, "victim@throttle.example.com", PASSWORD)
    limit = resources.settings.login_max_failures_per_pair
    assert statuses[:limit] == [401] * limit
    assert set(statuses[limit:]) == {429}
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:roo:problem:login-throttled"
    assert int(refused.headers["retry-after"]) >= 1
    async with client_at(VICTIM_HOME) as victim:
        ok = await login(victim, "victim@throttle.example.com", PASSWORD)
    assert ok.status_code == 200, ok.text


async def test_a_distributed_attack_slows_each_address_but_not_the_owner(
    client_at: ClientAt, make_user: MakeUser, resources: Resources
) -> None:
    """Past the account's guard every attacking address waits after its first failure; an
    address with no failure of its own on the account is still let through."""
    await make_user("famous@throttle.example.com")
    guard = resources.settings.login_max_failures_per_account
    for n in range(guard):
        async with client_at(f"203.0.113.{n + 1}") as bot:
            assert (
                await login(bot, "famous@throttle.example.com", "bot-guess-1")
            ).status_code == 401
    async with client_at("192.0.2.200") as late_bot:
        assert (
            await login(late_bot, "famous@throttle.example.com", "bot-guess-1")
        ).status_code == 401
        second = await login(late_bot, "famous@throttle.example.com", "bot-guess-2")
    assert second.status_code == 429  # one guess, then a delay
    async with client_at(VICTIM_HOME) as victim:
        assert (await login(victim, "famous@throttle.example.com", PASSWORD)).status_code == 200


async def test_the_attackers_delays_grow(
    client_at: ClientAt, make_user: MakeUser, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each failure once the pair must wait doubles its delay: the Retry-After after the next
    failure is longer than the one before (the test waits out the first delay, 3 s)."""
    settings = resources.settings.model_copy(update={"login_backoff_base_seconds": 3})
    throttle = LoginThrottle(resources.limit_storage, settings)
    monkeypatch.setattr(resources.auth, "throttle", throttle)
    await make_user("target@throttle.example.com")
    async with client_at(ATTACKER) as attacker:
        while (
            first := await login(attacker, "target@throttle.example.com", "wrong")
        ).status_code == 401:
            pass
        assert first.status_code == 429
        first_wait = int(first.headers["retry-after"])
        # wait until the delay has passed (polling, no clock arithmetic), then fail once more
        for _ in range(300):
            await asyncio.sleep(0.1)
            again = await login(attacker, "target@throttle.example.com", "wrong")
            if again.status_code != 429:
                break
        assert again.status_code == 401
        second = await login(attacker, "target@throttle.example.com", "wrong")
    assert second.status_code == 429
    assert int(second.headers["retry-after"]) > first_wait


async def test_the_throttle_returns_doubling_delays(resources: Resources) -> None:
    throttle = resources.auth.throttle
    settings = resources.settings
    delays = [await throttle.failed(ATTACKER, "delays@throttle.example.com") for _ in range(8)]
    limit, base = settings.login_max_failures_per_pair, settings.login_backoff_base_seconds
    assert delays[: limit - 1] == [0] * (limit - 1)
    assert delays[limit - 1 :] == [base * 2**k for k in range(8 - limit + 1)]


async def test_one_address_spraying_accounts_waits_but_known_accounts_there_sign_in(
    client_at: ClientAt, sign_in: SignIn, make_user: MakeUser, resources: Resources
) -> None:
    """An office behind one address: a colleague's malware sprays accounts; someone who signed
    in from that address before still can, someone new waits with the address."""
    await make_user("regular@throttle.example.com")
    await make_user("newcomer@throttle.example.com")
    async with client_at(ATTACKER) as office:
        assert (await login(office, "regular@throttle.example.com", PASSWORD)).status_code == 200
        for i in range(resources.settings.login_max_failures_per_ip):
            r = await login(office, f"spray{i}@throttle.example.com", "spray-spray")
            assert r.status_code == 401
        assert (await login(office, "fresh@throttle.example.com", "spray-spray")).status_code == 429
        assert (await login(office, "newcomer@throttle.example.com", PASSWORD)).status_code == 429
        assert (await login(office, "regular@throttle.example.com", PASSWORD)).status_code == 200
        # an unlock forgets failures, not where the account signed in from
        await resources.auth.throttle.unlock_account("regular@throttle.example.com")
        assert (await login(office, "regular@throttle.example.com", PASSWORD)).status_code == 200


async def test_an_admin_clears_an_accounts_failures_audited(
    client_at: ClientAt, make_user: MakeUser, sign_in: SignIn, resources: Resources
) -> None:
    victim_id = await make_user("locked@throttle.example.com")
    async with client_at(ATTACKER) as attacker:
        for n in range(resources.settings.login_max_failures_per_pair):
            await login(attacker, "locked@throttle.example.com", f"guess-{n:04}")
        assert (await login(attacker, "locked@throttle.example.com", PASSWORD)).status_code == 429
        admin = await sign_in("admin")
        member = await sign_in("member")
        url = f"/api/v1/users/{victim_id}/sign-in-failures"
        assert (await attacker.delete(url, headers=member.headers)).status_code == 403
        cleared = await attacker.delete(url, headers=admin.headers)
        assert cleared.status_code == 204, cleared.text
        assert (await login(attacker, "locked@throttle.example.com", PASSWORD)).status_code == 200
    async with resources.db_sessions() as db:
        rows = (
            (
                await db.execute(
                    select(AuditEvent).where(
                        AuditEvent.action == "auth.unlock", AuditEvent.target == f"user:{victim_id}"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert [(r.actor_id, r.target, r.detail.get("via")) for r in rows] == [
        (admin.user_id, f"user:{victim_id}", "api")
    ]


async def test_unlocking_an_address_lets_it_try_again(resources: Resources) -> None:
    throttle: LoginThrottle = resources.auth.throttle
    for i in range(resources.settings.login_max_failures_per_ip):
        await throttle.failed(ATTACKER, f"spray{i}@throttle.example.com")
    with pytest.raises(LoginThrottled):
        await throttle.check(ATTACKER, "someone@throttle.example.com")
    await throttle.unlock_address(ATTACKER)
    await throttle.check(ATTACKER, "someone@throttle.example.com")


async def test_cli_unlock(
    resources: Resources, make_user: MakeUser, database_url: str, tmp_path: Path
) -> None:
    """`roo user unlock EMAIL --address ADDR`, a separate process: with Redis it clears what the
    running app counts (shared storage); either way it writes its audit row, and without Redis
    it says that a server's memory is out of its reach."""
    settings = resources.settings
    user_id = await make_user("cli@throttle.example.com")
    throttle = resources.auth.throttle
    for _ in range(settings.login_max_failures_per_pair):
        await throttle.failed(ATTACKER, "cli@throttle.example.com")
    with pytest.raises(LoginThrottled):
        await throttle.check(ATTACKER, "cli@throttle.example.com")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL"} and not k.startswith("ROO_")
    }
    env.update(
        ROO_ENV="development",
        ROO_DATA_DIR=str(tmp_path / "cli-var"),
        ROO_AUTO_MIGRATE="false",
        DATABASE_URL=database_url,
        ROO_REDIS_PREFIX=settings.redis_prefix,
    )
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    roo = str(Path(sys.executable).parent / "roo")
    result = await asyncio.to_thread(
        subprocess.run,
        [roo, "user", "unlock", "CLI@throttle.example.com", "--address", ATTACKER],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"cleared failed sign-ins of cli@throttle.example.com id={user_id}" in result.stdout
    assert f"cleared failed sign-ins from {ATTACKER}" in result.stdout
    if settings.redis_url:
        await throttle.check(ATTACKER, "cli@throttle.example.com")  # no longer refused
    else:
        assert "without REDIS_URL" in result.stderr
    async with resources.db_sessions() as db:
        row = (
            await db.execute(
                select(AuditEvent).where(
                    AuditEvent.action == "auth.unlock", AuditEvent.target == f"user:{user_id}"
                )
            )
        ).scalar_one()
    assert row.actor_id is None
    assert row.target == f"user:{user_id}"
    assert row.detail == {"via": "cli", "address": ATTACKER}


async def test_cli_unlock_refuses_bad_input(tmp_path: Path) -> None:
    roo = str(Path(sys.executable).parent / "roo")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["ROO_DATA_DIR"] = str(tmp_path / "var")
    for args, message in (((), "give an EMAIL"), (("--address", "not-an-ip"), "not an IP")):
        result = await asyncio.to_thread(
            subprocess.run,
            [roo, "user", "unlock", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2
        assert message in result.stderr


async def test_sign_in_fails_closed_when_the_store_is_away(settings: Settings) -> None:
    """Redis unreachable (a port nothing listens on): 503 with Retry-After, not a 500, and no
    password checked; the bookkeeping after a success is only logged."""
    with socket.socket() as probe:  # a free port, closed again: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    away = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"})
    throttle = LoginThrottle(create_limit_storage(away), away)
    with pytest.raises(LoginUnavailable) as refused:
        await throttle.check(ATTACKER, "someone@throttle.example.com")
    assert refused.value.status == 503
    assert refused.value.headers == {"Retry-After": "5"}
    with pytest.raises(LoginUnavailable):
        await throttle.failed(ATTACKER, "someone@throttle.example.com")
    await throttle.succeeded(ATTACKER, "someone@throttle.example.com")  # does not raise
