"""Two `roo serve` processes on one PostgreSQL database and one Redis: a task runs on the first,
a client follows it over SSE on the second; an approval sent to the second wakes the run on the
first (over Redis, and over PostgreSQL NOTIFY without Redis). Skipped without PostgreSQL
(and Redis for what needs it)."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.e2e.server import fake_llm_env, running_server
from tests.realtime.conftest import WS, ws_url
from tests.support.databases import is_postgres
from tests.tasks.conftest import LLM_KEY

PASSWORD = "correct horse battery staple"


# The task runs on the first process, whose inbox poll and heartbeat are an hour: what is sent
# to the second reaches it only by the push (Redis, or NOTIFY without it).
AN_HOUR = {"ROO_TASK_INBOX_POLL": "3600", "ROO_TASK_HEARTBEAT": "3600"}


@dataclass
class Pair:
    """Two `roo serve` processes on one database (and Redis when given), a signed-in user and a
    session of theirs."""

    one: str
    two: str
    http: httpx.AsyncClient
    auth: dict[str, str]
    token: str
    session: str


@asynccontextmanager
async def two_processes(
    llm: FakeLLM, database_url: str, redis_url: str | None, tmp_path: Path, **env: str
) -> AsyncIterator[Pair]:
    shared = {
        "JWT_SECRET": secrets.token_urlsafe(48),  # a token from one is good on the other
        "ROO_REDIS_PREFIX": f"roo-test-procs-{uuid.uuid4().hex[:8]}:",
        "ROO_ALLOW_REGISTRATION": "true",
        **fake_llm_env(llm, LLM_KEY),
        **env,
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
            email = f"procs-{uuid.uuid4().hex[:8]}@example.com"
            body = {"email": email, "password": PASSWORD}
            await http.post(f"{one.base_url}/api/v1/auth/register", json=body)
            login = await http.post(f"{one.base_url}/api/v1/auth/login", json=body)
            assert login.status_code == 200, login.text
            token = login.json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            created = await http.post(
                f"{one.base_url}/api/v1/sessions", json={"name": "procs"}, headers=auth
            )
            assert created.status_code == 201, created.text
            yield Pair(one.base_url, two.base_url, http, auth, token, created.json()["id"])


async def test_a_task_on_one_process_followed_and_approved_over_sse_on_another(
    database_url: str, redis_url: str | None, tmp_path: Path
) -> None:
    """The task runs on the first process (its inbox poll an hour); the client follows it over
    SSE on the second and approves through the second's REST: the run goes on at once."""
    if not (redis_url and is_postgres(database_url)):
        pytest.skip("needs PostgreSQL (DATABASE_URL) and REDIS_URL: several processes")
    async with (
        FakeLLM(api_key=LLM_KEY) as llm,
        two_processes(llm, database_url, redis_url, tmp_path, **AN_HOUR) as pair,
    ):
        http, auth = pair.http, pair.auth
        base = f"/api/v1/sessions/{pair.session}"
        llm.script(
            Reply(text="Thinking.", tool_calls=[ToolCall("execute_command", {"command": "ls"})]),
            Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Done."})]),
        )
        received: list[dict[str, Any]] = []
        async with http.stream(
            "GET", f"{pair.two}{base}/events", headers={**auth, "Accept": "text/event-stream"}
        ) as stream:
            assert stream.status_code == 200
            task = await http.post(f"{pair.one}{base}/tasks", json={"input": "go"}, headers=auth)
            assert task.status_code == 202, task.text
            deadline = time.monotonic() + 10  # the idle re-read of the log is at 15 s
            async for line in stream.aiter_lines():
                assert time.monotonic() < deadline, received
                if not line.startswith("data: "):
                    continue
                received.append(json.loads(line[6:]))
                if received[-1]["event"] == "approval.required":
                    answer = await http.put(
                        f"{pair.two}{base}/tasks/{task.json()['id']}",
                        json={"action": "approve"},
                        headers=auth,
                    )
                    assert answer.status_code == 200, answer.text
                if received[-1]["event"] == "task.complete":
                    break
        stored = (await http.get(f"{pair.one}{base}/events", headers=auth)).json()
        assert received == stored["items"]


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "notify"])
async def test_an_approval_to_one_process_wakes_the_run_on_the_other(
    database_url: str, redis_url: str | None, tmp_path: Path, with_redis: bool
) -> None:
    if not is_postgres(database_url) or (with_redis and not redis_url):
        pytest.skip("needs PostgreSQL (DATABASE_URL), and REDIS_URL for the Redis half")
    redis = redis_url if with_redis else None
    async with (
        FakeLLM(api_key=LLM_KEY) as llm,
        two_processes(llm, database_url, redis, tmp_path, **AN_HOUR) as pair,
    ):
        http, auth = pair.http, pair.auth
        tasks = f"/api/v1/sessions/{pair.session}/tasks"
        llm.script(
            Reply(tool_calls=[ToolCall("execute_command", {"command": "echo far"})]),
            Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]),
        )
        started = await http.post(pair.one + tasks, json={"input": "go"}, headers=auth)
        assert started.status_code == 202, started.text  # run by the first process
        task = f"{tasks}/{started.json()['id']}"
        waiting = await _wait_for(http, pair.two + task, auth, "awaiting_approval")
        answer = await http.put(
            pair.two + task,
            json={"action": "approve", "approvalId": waiting["pending"]["id"]},
            headers=auth,
        )
        assert answer.status_code == 200, answer.text
        done = await _wait_for(http, pair.two + task, auth, "completed")
        assert done["result"] == "ok"


async def test_a_task_on_one_process_watched_and_approved_over_a_socket_on_the_other(
    database_url: str, redis_url: str | None, tmp_path: Path
) -> None:
    """The ticket is issued by the first process and redeemed by the second (one Redis); the
    task runs on the first; the second's socket shows it live and carries the approval, which
    wakes the run at once (its poll is an hour)."""
    if not (redis_url and is_postgres(database_url)):
        pytest.skip("needs PostgreSQL (DATABASE_URL) and REDIS_URL: several processes")
    async with (
        FakeLLM(api_key=LLM_KEY) as llm,
        two_processes(llm, database_url, redis_url, tmp_path, **AN_HOUR) as pair,
    ):
        http, auth = pair.http, pair.auth
        base = f"/api/v1/sessions/{pair.session}"
        llm.script(
            Reply(
                text="Run it.", tool_calls=[ToolCall("execute_command", {"command": "echo far"})]
            ),
            Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]),
        )
        issued = await http.post(f"{pair.one}{base}/ws-ticket", headers=auth)
        assert issued.status_code == 200, issued.text
        url = ws_url(pair.two, pair.session, ticket=issued.json()["ticket"])
        received: list[dict[str, Any]] = []
        async with connect(url, open_timeout=10) as conn:
            socket = WS(conn)
            assert (await socket.recv())["type"] == "hello"
            started = await http.post(
                f"{pair.one}/api/v1/sessions/{pair.session}/tasks",
                json={"input": "go"},
                headers=auth,
            )
            assert started.status_code == 202, started.text
            while not received or received[-1]["event"] != "approval.required":
                received.append(await socket.recv(within=10))
            reply, before = await socket.request(
                type="approval.response",
                taskId=started.json()["id"],
                approvalId=received[-1]["data"]["approvalId"],
                decision="approve",
            )
            assert reply["type"] == "ack", reply
            received += before
            while received[-1]["event"] != "task.complete":
                received.append(await socket.recv(within=10))
        stored = await http.get(f"{pair.one}{base}/events", headers=auth)
        assert received == stored.json()["items"]


async def _wait_for(
    http: httpx.AsyncClient, url: str, auth: dict[str, str], state: str, within: float = 20.0
) -> dict[str, Any]:
    """The task once it is in `state` (an hour's poll would never get there in time)."""
    deadline = time.monotonic() + within
    while True:
        task: dict[str, Any] = (await http.get(url, headers=auth)).json()
        if task["state"] == state:
            return task
        assert time.monotonic() < deadline, f"the task stayed {task['state']}, wanted {state}"
        await asyncio.sleep(0.05)
