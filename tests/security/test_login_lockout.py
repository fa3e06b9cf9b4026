"""Lock-out attempts against a victim account (OWASP API2:2023, Broken Authentication) across
two real `roo serve` processes sharing PostgreSQL and Redis: the attacker's guesses on one
process make its address wait on the other as well, and the victim still signs in, from a clean
address, on either. Skipped without PostgreSQL and Redis (several processes).

Both servers trust loopback as their proxy (`TRUSTED_PROXIES`), so each request's
`X-Forwarded-For` is its client address.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import RUN_ID
from tests.e2e.server import running_server
from tests.support.databases import is_postgres

PASSWORD = "correct horse battery staple"
ATTACKER = {"X-Forwarded-For": "203.0.113.66"}
VICTIM = {"X-Forwarded-For": "198.51.100.7"}


async def test_an_attack_on_one_process_does_not_lock_the_victim_out_of_either(
    database_url: str, redis_url: str | None, tmp_path: Path
) -> None:
    if not (redis_url and is_postgres(database_url)):
        pytest.skip("needs PostgreSQL (DATABASE_URL) and REDIS_URL: several processes")
    shared = {
        "TRUSTED_PROXIES": "127.0.0.1",
        # under the run's prefix: removed with the run's keys
        "ROO_REDIS_PREFIX": f"roo-test-{RUN_ID}:lockout-{uuid.uuid4().hex[:8]}:",
        "ROO_ALLOW_REGISTRATION": "true",
    }
    with (
        running_server(
            tmp_path / "one", data_dir=tmp_path / "one" / "data",
            database_url=database_url, redis_url=redis_url, extra_env=shared,
        ) as one,
        running_server(
            tmp_path / "two", data_dir=tmp_path / "two" / "data",
            database_url=database_url, redis_url=redis_url, extra_env=shared,
        ) as two,
    ):  # fmt: skip
        async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
            email = f"lockout-{uuid.uuid4().hex[:8]}@example.com"
            registered = await http.post(
                f"{one.base_url}/api/v1/auth/register",
                json={"email": email, "password": PASSWORD},
                headers=VICTIM,
            )
            assert registered.status_code in (200, 201, 202), registered.text

            async def login(base: str, headers: dict[str, str], password: str) -> httpx.Response:
                body = {"email": email, "password": password}
                return await http.post(f"{base}/api/v1/auth/login", json=body, headers=headers)

            statuses = [
                (await login(one.base_url, ATTACKER, f"guess-{n:03}")).status_code
                for n in range(10)
            ]
            assert statuses[0] == 401
            assert statuses[-1] == 429
            # the other process sees the same delay (shared storage), even for the right password
            refused = await login(two.base_url, ATTACKER, PASSWORD)
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) >= 1
            # the victim, from an address without failures, on either process
            for base in (two.base_url, one.base_url):
                ok = await login(base, VICTIM, PASSWORD)
                assert ok.status_code == 200, ok.text
