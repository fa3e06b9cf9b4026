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
from pathlib import Path
from typing import Any

import httpx
import pytest

from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.e2e.server import running_server
from tests.support.databases import is_postgres
from tests.tasks.conftest import LLM_KEY

PASSWORD = "correct horse battery staple"


async def test_a_task_on_one_process_followed_over_sse_on_another(
    database_url: str, redis_url: str | None, tmp_path: Path
) -> None:
    if not (redis_url and is_postgres(database_url)):
        pytest.skip("needs PostgreSQL (DATABASE_URL) and REDIS_URL: several processes")
    async with FakeLLM(api_key=LLM_KEY) as llm:
        shared = {
            "JWT_SECRET": secrets.token_urlsafe(48),  # a token from one is good on the other
            "ROO_REDIS_PREFIX": f"roo-test-procs-{uuid.uuid4().hex[:8]}:",
            "ROO_ALLOW_REGISTRATION": "true",
            "OPENAI_BASE_URL": llm.openai_base_url,
            "OPENAI_API_KEY": LLM_KEY,
            "ROO_DEFAULT_PROVIDER": "openai",
            "ROO_DEFAULT_MODEL": "gpt-4o",
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
                auth = {"Authorization": f"Bearer {login.json()['token']}"}
                created = await http.post(
                    f"{one.base_url}/api/v1/sessions", json={"name": "procs"}, headers=auth
                )
                assert created.status_code == 201, created.text
                events_path = f"/api/v1/sessions/{created.json()['id']}/events"
                llm.script(
                    Reply(text="Thinking.", tool_calls=[ToolCall("list_files", {"path": "."})]),
                    Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Done."})]),
                )
                received: list[dict[str, object]] = []
                async with http.stream(
                    "GET",
                    two.base_url + events_path,
                    headers={**auth, "Accept": "text/event-stream"},
                ) as stream:
                    assert stream.status_code == 200
                    task = await http.post(
                        f"{one.base_url}/api/v1/sessions/{created.json()['id']}/tasks",
                        json={"input": "go"},
                        headers=auth,
                    )
                    assert task.status_code == 202, task.text
                    deadline = time.monotonic() + 10  # the idle re-read of the log is at 15 s
                    async for line in stream.aiter_lines():
                        assert time.monotonic() < deadline, received
                        if line.startswith("data: "):
                            received.append(json.loads(line[6:]))
                            if received[-1]["event"] == "task.complete":
                                break
                stored = (await http.get(one.base_url + events_path, headers=auth)).json()
                assert received == stored["items"]


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "notify"])
async def test_an_approval_to_one_process_wakes_the_run_on_the_other(
    database_url: str, redis_url: str | None, tmp_path: Path, with_redis: bool
) -> None:
    """The task runs on the first process, whose inbox poll and heartbeat are an hour: the
    approval sent to the second reaches it only by the push (Redis, or NOTIFY without it)."""
    if not is_postgres(database_url) or (with_redis and not redis_url):
        pytest.skip("needs PostgreSQL (DATABASE_URL), and REDIS_URL for the Redis half")
    async with FakeLLM(api_key=LLM_KEY) as llm:
        shared = {
            "JWT_SECRET": secrets.token_urlsafe(48),
            "ROO_REDIS_PREFIX": f"roo-test-procs-{uuid.uuid4().hex[:8]}:",
            "ROO_ALLOW_REGISTRATION": "true",
            "OPENAI_BASE_URL": llm.openai_base_url,
            "OPENAI_API_KEY": LLM_KEY,
            "ROO_DEFAULT_PROVIDER": "openai",
            "ROO_DEFAULT_MODEL": "gpt-4o",
            "ROO_TASK_INBOX_POLL": "3600",
            "ROO_TASK_HEARTBEAT": "3600",
        }
        redis = redis_url if with_redis else None
        with (
            running_server(
                tmp_path / "one", data_dir=tmp_path / "one" / "data",
                database_url=database_url, redis_url=redis, extra_env=shared,
            ) as one,
            running_server(
                tmp_path / "two", data_dir=tmp_path / "two" / "data",
                database_url=database_url, redis_url=redis, extra_env=shared,
            ) as two,
        ):  # fmt: skip
            async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
                email = f"wake-{uuid.uuid4().hex[:8]}@example.com"
                body = {"email": email, "password": PASSWORD}
                await http.post(f"{one.base_url}/api/v1/auth/register", json=body)
                login = await http.post(f"{one.base_url}/api/v1/auth/login", json=body)
                assert login.status_code == 200, login.text
                auth = {"Authorization": f"Bearer {login.json()['token']}"}
                created = await http.post(
                    f"{one.base_url}/api/v1/sessions", json={"name": "wake"}, headers=auth
                )
                assert created.status_code == 201, created.text
                tasks = f"/api/v1/sessions/{created.json()['id']}/tasks"
                llm.script(
                    Reply(tool_calls=[ToolCall("execute_command", {"command": "echo far"})]),
                    Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]),
                )
                started = await http.post(
                    one.base_url + tasks, json={"input": "go"}, headers=auth
                )  # run by the first process
                assert started.status_code == 202, started.text
                task = f"{tasks}/{started.json()['id']}"
                waiting = await _wait_for(http, two.base_url + task, auth, "awaiting_approval")
                answer = await http.put(
                    two.base_url + task,
                    json={"action": "approve", "approvalId": waiting["pending"]["id"]},
                    headers=auth,
                )
                assert answer.status_code == 200, answer.text
                done = await _wait_for(http, two.base_url + task, auth, "completed")
                assert done["result"] == "ok"


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
