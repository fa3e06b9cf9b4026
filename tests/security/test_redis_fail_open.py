"""Redis going away mid-run (issue #16): the service keeps serving signed-in callers (the rate
limits and the session budgets fail open, with a logged warning; credentials are checked against
the database, a logged-out token still refused; a task can be created, its per-user creation
budget uncounted), sign-in fails closed (503), and /readyz says Redis is down. A redis-server
of the test's own, on another loopback port, is killed under the running app (the machine's
shared Redis is never touched)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from pydantic import SecretStr
from structlog.testing import capture_logs

from roo.config import Settings
from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.auth.conftest import PASSWORD, SignIn
from tests.auth.test_api_keys import create_key, key_headers
from tests.sessions.test_commands import new_session
from tests.tasks.conftest import LLM_KEY, llm

__all__ = ["llm"]


class OwnRedis:
    def __init__(self, directory: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.start()

    def start(self) -> None:
        """Start the server (again: with what its last `save` wrote to its directory)."""
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        client = redis.Redis.from_url(self.url)
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def kill(self, *, keep_data: bool = False) -> None:
        """Kill the server; with `keep_data`, what it holds is saved first, for `start` to load
        (a Redis that comes back with its data)."""
        if keep_data:
            client = redis.Redis.from_url(self.url)
            client.save()
            client.close()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def settings(settings: Settings, own_redis: OwnRedis, llm: FakeLLM) -> Settings:
    return settings.model_copy(
        update={
            "redis_url": own_redis.url,
            "redis_prefix": "roo-fail-open:",
            "rate_limit_session_tools": "1000/minute",
            # tasks run against the fake LLM server (tests/tasks)
            "openai_base_url": llm.openai_base_url,
            "openai_api_key": SecretStr(LLM_KEY),
            "default_provider": "openai",
            "default_model": "gpt-4o",
            # no wait for a pooled connection when there is nothing to connect to
            "redis_pool_timeout": 1.0,
        }
    )


async def test_signed_in_callers_are_served_when_redis_goes_away(
    client: httpx.AsyncClient, sign_in: SignIn, own_redis: OwnRedis, llm: FakeLLM
) -> None:
    user = await sign_in()
    sid = await new_session(client, user)
    # a sign-in that ended before Redis went away stays refused after
    ended = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    )
    ended_headers = {"Authorization": f"Bearer {ended.json()['token']}"}
    assert (await client.post("/api/v1/auth/logout", headers=ended_headers)).status_code == 204

    async def tool() -> httpx.Response:
        return await client.post(
            f"/api/v1/sessions/{sid}/tools/list_files",
            headers=user.headers,
            json={"path": ".", "recursive": False},
        )

    up = await client.get("/api/v1/auth/profile", headers=user.headers)
    assert up.status_code == 200
    assert up.headers["ratelimit-policy"].startswith('"user";')  # counted in Redis
    counted = await tool()
    assert counted.status_code == 200
    assert any("session-tools" in p for p in counted.headers.get_list("ratelimit-policy"))
    assert (await client.get("/readyz")).json()["checks"]["redis"] == "ok"

    own_redis.kill()
    await asyncio.sleep(0.1)

    for _ in range(3):
        profile = await client.get("/api/v1/auth/profile", headers=user.headers)
        assert profile.status_code == 200, profile.text
        assert profile.json()["email"] == user.email
        assert "ratelimit-policy" not in profile.headers  # nothing could be counted
        ran = await tool()
        assert ran.status_code == 200, ran.text
        assert ran.json()["isError"] is False
        assert "ratelimit-policy" not in ran.headers
    assert (await client.get("/api/v1/auth/profile", headers=ended_headers)).status_code == 401
    # a task is created: its creation budget (ROO_TASK_CREATE_LIMIT) fails open like the others
    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "done"})]))
    with capture_logs() as logs:
        created = await client.post(
            f"/api/v1/sessions/{sid}/tasks", headers=user.headers, json={"input": "go"}
        )
    assert created.status_code == 202, created.text
    assert any(
        log["event"] == "rate_limit.store_failed" and log.get("policy") == "task-create"
        for log in logs
    ), logs
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"].startswith("unreachable")
    # sign-in fails closed: an attempt that cannot be counted is not made
    login = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    )
    assert login.status_code == 503
    assert login.headers["content-type"] == "application/problem+json"
    assert "retry-after" in login.headers


async def ready_again(client: httpx.AsyncClient) -> None:
    """Wait until the app reaches its Redis again."""
    deadline = time.monotonic() + 20
    while (await client.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, "Redis never came back"
        await asyncio.sleep(0.1)


async def test_logout_and_revocation_fail_closed_while_redis_is_away(
    client: httpx.AsyncClient, sign_in: SignIn, own_redis: OwnRedis
) -> None:
    """Logout and a key's revocation answer 503 and change nothing while Redis is away (the
    identity cache could not be told, and a Redis that comes back with its data would still
    hold the credential as valid); once it is back they succeed and the credential is refused.
    docs/security.md, "Redis going away mid-run", says why not succeed with Redis away."""
    user = await sign_in()
    created = await create_key(client, user, ["profile:read"])
    by_key = key_headers(created["key"])
    revoke = f"/api/v1/auth/api-keys/{created['id']}"
    token = (
        await client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    ).json()["token"]
    by_token = {"Authorization": f"Bearer {token}"}

    async def status(headers: dict[str, str]) -> int:
        return (await client.get("/api/v1/auth/profile", headers=headers)).status_code

    assert await status(by_key) == 200  # both cached in Redis as valid
    assert await status(by_token) == 200
    own_redis.kill(keep_data=True)
    await asyncio.sleep(0.1)

    refused = await client.delete(revoke, headers=user.headers)
    assert refused.status_code == 503, refused.text
    assert (await client.post("/api/v1/auth/logout", headers=by_token)).status_code == 503
    # nothing was written: both still work (checked against the database meanwhile)
    assert await status(by_key) == 200
    assert await status(by_token) == 200

    own_redis.start()  # back, with the snapshots it held
    await ready_again(client)
    assert await status(by_key) == 200
    assert await status(by_token) == 200
    assert (await client.delete(revoke, headers=user.headers)).status_code == 204
    assert (await client.post("/api/v1/auth/logout", headers=by_token)).status_code == 204
    assert await status(by_key) == 401
    assert await status(by_token) == 401
