"""MCP servers across processes (`ROO_TASK_RUNNER=queue`): a `roo serve` process answers the
API, a `roo worker` process runs the task and so its stdio MCP server (in its sandbox). The API
process shows the worker's server and restarts it there; the same between two API processes.
On PostgreSQL, with Redis (the board and the wake-ups over Redis) and without (over PostgreSQL:
its table and LISTEN/NOTIFY). And a holder that never answers: a clear status after the wait."""

from __future__ import annotations

import asyncio
import json
import secrets
import sysconfig
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from cryptography.fernet import Fernet
from sqlalchemy import select

from roo.api.state import Resources
from roo.config import load_settings
from roo.db.engine import create_engine
from roo.db.models import McpBoardEntry
from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.e2e.server import LiveServer, fake_llm_env, running_server
from tests.mcp.conftest import MCP_SETTINGS, SERVERS, SITE, stdio_server
from tests.support.databases import is_postgres
from tests.tasks.conftest import LLM_KEY, Api, tool_results_of

PASSWORD = "correct horse battery staple"
WORKER = ("worker", "--health-host", "127.0.0.1", "--health-port")
SECRET = "s3cr3t-token-value"


@dataclass
class Deployment:
    processes: list[LiveServer]  # an API process first
    http: httpx.AsyncClient
    auth: dict[str, str]
    session: str
    redis_prefix: str

    @property
    def worker(self) -> LiveServer:
        return self.processes[-1]

    def url(self, path: str = "", process: int = 0) -> str:
        return f"{self.processes[process].base_url}/api/v1/sessions/{self.session}{path}"


@asynccontextmanager
async def deployment(
    llm: FakeLLM,
    database_url: str,
    redis_url: str | None,
    tmp_path: Path,
    kinds: tuple[str, ...] = ("api", "worker"),
) -> AsyncIterator[Deployment]:
    prefix = f"roo-test-mcp-{uuid.uuid4().hex[:8]}:"
    binds = f"{SITE}={sysconfig.get_paths()['purelib']},{SERVERS}={Path(__file__).parent}"
    env = {
        "ROO_TASK_RUNNER": "queue",
        "ROO_TASK_QUEUE": f"roo-test-mcp-{uuid.uuid4().hex[:8]}",
        "WORKSPACE_ROOT": str(tmp_path / "workspaces"),  # the volume every node mounts
        "JWT_SECRET": secrets.token_urlsafe(48),
        "ROO_ENCRYPTION_KEY": Fernet.generate_key().decode(),  # every node decrypts the env
        "ROO_REDIS_PREFIX": prefix,
        "ROO_ALLOW_REGISTRATION": "true",
        "ROO_SANDBOX_RO_BINDS": binds,
        "ROO_MCP_START_TIMEOUT": "20",
        **fake_llm_env(llm, LLM_KEY),
    }
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                running_server(
                    tmp_path / f"{kind}{i}",
                    data_dir=tmp_path / f"{kind}{i}" / "data",
                    database_url=database_url,
                    redis_url=redis_url,
                    extra_env=env,
                    **({"command": WORKER} if kind == "worker" else {}),
                )
            )
            for i, kind in enumerate(kinds)
        ]
        async with httpx.AsyncClient(timeout=60.0, trust_env=False) as http:
            base = servers[0].base_url
            body = {"email": f"mcp-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
            await http.post(f"{base}/api/v1/auth/register", json=body)
            login = await http.post(f"{base}/api/v1/auth/login", json=body)
            assert login.status_code == 200, login.text
            auth = {"Authorization": f"Bearer {login.json()['token']}"}
            config = {
                "mcpServers": {
                    "local": stdio_server(env={"PYTHONPATH": SITE, "TOKEN": SECRET}),
                },
                "approvalPolicy": {"autoApproveMcp": True, "mcpAlwaysAllow": {"local": ["*"]}},
            }
            created = await http.post(
                f"{base}/api/v1/sessions", json={"name": "mcp", "config": config}, headers=auth
            )
            assert created.status_code == 201, created.text
            yield Deployment(servers, http, auth, created.json()["id"], prefix)


async def run_task(d: Deployment, llm: FakeLLM) -> str:
    """A task that asks the server which start of it answers; that answer."""
    llm.script(
        Reply(tool_calls=[ToolCall("mcp--local--instance", {}, id=f"c{uuid.uuid4().hex[:6]}")]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "done"})]),
    )
    asked = len(llm.requests)
    started = await d.http.post(d.url("/tasks"), json={"input": "go"}, headers=d.auth)
    assert started.status_code == 202, started.text
    task_id = started.json()["id"]
    deadline = time.monotonic() + 90
    while True:
        task = (await d.http.get(d.url(f"/tasks/{task_id}"), headers=d.auth)).json()
        if task["state"] in ("completed", "failed"):
            break
        assert time.monotonic() < deadline, f"the task stayed {task['state']}"
        await asyncio.sleep(0.1)
    assert task["state"] == "completed", task
    taken = [line for line in d.worker.log_text().splitlines() if "tasks.taken" in line]
    assert any(task_id in line for line in taken)  # the worker ran it
    (answer,) = tool_results_of(llm, asked + 1)
    return str(answer["content"])


async def server_status(
    d: Deployment, *, until: str, after: str | None = None, process: int = 0
) -> dict[str, Any]:
    """An API process's view of the server, once its status is `until` (and, with `after`,
    it started after that time)."""
    deadline = time.monotonic() + 30
    while True:
        response = await d.http.get(d.url("/mcp", process), headers=d.auth)
        assert response.status_code == 200, response.text
        assert SECRET not in response.text
        (server,) = response.json()["servers"]
        if server["status"] == until and (after is None or server["startedAt"] > after):
            return dict(server)
        assert time.monotonic() < deadline, f"the server stayed {server}"
        await asyncio.sleep(0.1)


async def board_text(database_url: str, redis_url: str | None, prefix: str) -> str:
    """Everything on the MCP board, as text."""
    if redis_url:
        client = aioredis.Redis.from_url(redis_url)
        try:
            keys = [k async for k in client.scan_iter(match=f"{prefix}mcp:*")]
            return json.dumps([str(await client.hgetall(k)) for k in keys])
        finally:
            await client.aclose()
    engine = create_engine(load_settings(env="test", database_url=database_url))
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(McpBoardEntry.data))).scalars().all()
            return json.dumps(list(rows))
    finally:
        await engine.dispose()


def board_redis(database_url: str, redis_url: str | None, bus: str) -> str | None:
    """The Redis URL the processes get for `bus` (None: the board on PostgreSQL); skips what
    this run's backends cannot hold."""
    if not is_postgres(database_url):
        pytest.skip("needs PostgreSQL (DATABASE_URL): several processes")
    if bus == "redis" and not redis_url:
        pytest.skip("needs REDIS_URL")
    return redis_url if bus == "redis" else None


@pytest.mark.parametrize("bus", ["redis", "postgres"])
async def test_the_api_process_shows_and_restarts_the_server_a_worker_runs(
    database_url: str, redis_url: str | None, tmp_path: Path, bus: str
) -> None:
    redis = board_redis(database_url, redis_url, bus)
    async with (
        FakeLLM(api_key=LLM_KEY) as llm,
        deployment(llm, database_url, redis, tmp_path) as d,
    ):
        first = await run_task(d, llm)
        # the worker holds the server (kept for the session's next task); the API shows it
        running = await server_status(d, until="connected")
        assert "mcp--local--instance" in {t["functionName"] for t in running["tools"]}
        assert running["error"] is None
        assert SECRET not in await board_text(database_url, redis, d.redis_prefix)

        restarted = await d.http.post(d.url("/mcp/local/restart"), headers=d.auth)
        assert restarted.status_code == 200, restarted.text
        body = restarted.json()
        assert body["status"] == "connected", body
        assert body["startedAt"] > running["startedAt"]
        d.worker.wait_for_log_line("mcp.restart_requested", timeout=10)
        await server_status(d, until="connected", after=running["startedAt"])

        # the worker's server is a new one: the next task there meets another start of it
        second = await run_task(d, llm)
        assert len(first) == len(second) == 32
        assert second != first


async def call_instance(d: Deployment, process: int) -> str:
    """The tools API of an API process: it runs the server there."""
    called = await d.http.post(
        d.url("/tools/mcp--local--instance", process), json={}, headers=d.auth
    )
    assert called.status_code == 200, called.text
    return str(called.json()["content"][0]["text"])


@pytest.mark.parametrize("bus", ["redis", "postgres"])
async def test_one_api_process_shows_and_restarts_the_server_another_runs(
    database_url: str, redis_url: str | None, tmp_path: Path, bus: str
) -> None:
    """`roo serve --workers N` or several nodes: the server runs in the API process whose tools
    API called it; the other shows it and restarts it there."""
    redis = board_redis(database_url, redis_url, bus)
    async with (
        FakeLLM(api_key=LLM_KEY) as llm,
        deployment(llm, database_url, redis, tmp_path, kinds=("api", "api")) as d,
    ):
        first = await call_instance(d, 0)
        running = await server_status(d, until="connected", process=1)
        restarted = await d.http.post(d.url("/mcp/local/restart", 1), headers=d.auth)
        assert restarted.status_code == 200, restarted.text
        assert restarted.json()["startedAt"] > running["startedAt"]
        d.processes[0].wait_for_log_line("mcp.restart_requested", timeout=10)
        assert "mcp.restart_requested" not in d.processes[1].log_text()
        second = await call_instance(d, 0)
        assert len(first) == len(second) == 32
        assert second != first


@pytest.mark.task_settings(**{**MCP_SETTINGS, "mcp_start_timeout_seconds": 1.0})
async def test_a_holder_that_never_answers_gives_a_clear_status(
    api: Api, resources: Resources
) -> None:
    """A state published by a process that is gone (killed before its state expired): the API
    shows it, asks it to restart, and after its bounded wait answers `starting` with why."""
    cluster = resources.mcp.cluster if resources.mcp is not None else None
    if cluster is None:
        pytest.skip("one process (SQLite): no board")
    sid = await api.session(mcpServers={"local": stdio_server()})
    gone = uuid.uuid4().hex
    state = {"name": "local", "status": "connected", "error": None, "tools": [], "resources": []}
    state["startedAt"] = "2026-01-01T00:00:00+00:00"
    await cluster.board.put("state", sid, gone, {"servers": [state]}, 60)
    shown = (await api.request("GET", f"/api/v1/sessions/{sid}/mcp")).json()["servers"][0]
    assert shown["status"] == "connected"
    assert shown["startedAt"].startswith("2026-01-01")
    restarted = await api.request("POST", f"/api/v1/sessions/{sid}/mcp/local/restart")
    assert restarted.status_code == 200, restarted.text
    body = restarted.json()
    assert body["status"] == "starting"
    assert "did not answer within 16 s" in body["error"]
    assert resources.mcp is not None
    assert resources.mcp.hub.peek(uuid.UUID(sid)) is None or not (
        resources.mcp.hub.peek(uuid.UUID(sid)).connections  # type: ignore[union-attr]
    )  # nothing started here: the server runs elsewhere
