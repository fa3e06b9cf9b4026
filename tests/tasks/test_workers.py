"""Scale-out (`ROO_TASK_RUNNER=queue`): two `roo serve` processes and two `roo worker`
processes on one PostgreSQL database, one Redis and one workspace root. The API processes run
no task: each is a procrastinate job that a worker takes. Skipped without PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.e2e.server import LiveServer, fake_llm_env, running_server
from tests.realtime.conftest import WS, ws_url
from tests.support.databases import is_postgres
from tests.tasks.conftest import LLM_KEY, tool_results_of

PASSWORD = "correct horse battery staple"
HEARTBEAT = 1.0  # seconds: a killed worker's task is interrupted after three missed beats
WORKER = ("worker", "--health-host", "127.0.0.1", "--health-port")


@dataclass
class Cluster:
    apis: list[LiveServer]
    workers: list[LiveServer]
    http: httpx.AsyncClient
    auth: dict[str, str]
    token: str
    session: str

    def url(self, api: int, path: str = "") -> str:
        return f"{self.apis[api].base_url}/api/v1/sessions/{self.session}{path}"

    def runner_of(self, task_id: str) -> LiveServer:
        """The worker whose log says it took the task (exactly one did)."""
        took = [w for w in self.workers if _took(w, task_id)]
        assert len(took) == 1, [w.log_text() for w in self.workers]
        return took[0]


def _took(server: LiveServer, task_id: str) -> bool:
    return any("tasks.taken" in line and task_id in line for line in server.log_text().splitlines())


@contextmanager
def _processes(
    tmp_path: Path, database_url: str, redis_url: str, env: dict[str, str]
) -> Iterator[tuple[list[LiveServer], list[LiveServer]]]:
    with ExitStack() as stack:
        apis, workers = [], []
        for kind, into in (("api", apis), ("api", apis), ("worker", workers), ("worker", workers)):
            work = tmp_path / f"{kind}{len(into)}"
            options: dict[str, Any] = {"command": WORKER} if kind == "worker" else {}
            server = stack.enter_context(
                running_server(
                    work,
                    data_dir=work / "data",
                    database_url=database_url,
                    redis_url=redis_url,
                    extra_env=env,
                    **options,
                )
            )
            into.append(server)
        yield apis, workers


@asynccontextmanager
async def cluster(
    llm: FakeLLM, database_url: str, redis_url: str | None, tmp_path: Path
) -> AsyncIterator[Cluster]:
    if not (redis_url and is_postgres(database_url)):
        pytest.skip("needs PostgreSQL (DATABASE_URL) and REDIS_URL: several processes")
    env = {
        "ROO_TASK_RUNNER": "queue",
        "ROO_TASK_QUEUE": f"roo-test-workers-{uuid.uuid4().hex[:8]}",
        "ROO_TASK_HEARTBEAT": str(HEARTBEAT),
        "ROO_WORKER_SHUTDOWN_GRACE": "5",
        # a paused worker stopped inside a transaction keeps its locks this long
        "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT": "2",
        "WORKSPACE_ROOT": str(tmp_path / "workspaces"),  # the volume every node mounts
        "JWT_SECRET": secrets.token_urlsafe(48),
        "ROO_REDIS_PREFIX": f"roo-test-workers-{uuid.uuid4().hex[:8]}:",
        "ROO_ALLOW_REGISTRATION": "true",
        **fake_llm_env(llm, LLM_KEY),
    }
    with _processes(tmp_path, database_url, redis_url, env) as (apis, workers):
        async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
            one = apis[0].base_url
            body = {"email": f"workers-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
            await http.post(f"{one}/api/v1/auth/register", json=body)
            login = await http.post(f"{one}/api/v1/auth/login", json=body)
            assert login.status_code == 200, login.text
            token = login.json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            policy = {"autoApproveExecute": True, "allowedCommands": ["echo", "tee", "sleep"]}
            created = await http.post(
                f"{one}/api/v1/sessions",
                json={"name": "workers", "config": {"approvalPolicy": policy}},
                headers=auth,
            )
            assert created.status_code == 201, created.text
            yield Cluster(apis, workers, http, auth, token, created.json()["id"])


async def _wait_for(
    c: Cluster, task_id: str, state: str, *, api: int = 0, within: float = 20.0
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        task: dict[str, Any] = (
            await c.http.get(c.url(api, f"/tasks/{task_id}"), headers=c.auth)
        ).json()
        if task["state"] == state:
            return task
        assert time.monotonic() < deadline, f"the task stayed {task['state']}, wanted {state}"
        await asyncio.sleep(0.05)


async def _events(c: Cluster) -> list[dict[str, Any]]:
    response = await c.http.get(c.url(1, "/events"), params={"limit": 1000}, headers=c.auth)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _command_started(c: Cluster) -> None:
    """Until the session's log shows a command started (its run is inside the sandbox)."""
    deadline = time.monotonic() + 20
    while not any(
        e["event"] == "tool.execution" and e["data"]["phase"] == "start" for e in await _events(c)
    ):
        assert time.monotonic() < deadline, "the command never started"
        await asyncio.sleep(0.05)


async def test_created_on_one_api_watched_on_the_other_approved_and_run_by_a_worker(
    database_url: str, redis_url: str | None, tmp_path: Path
) -> None:
    async with (
        FakeLLM(api_key=LLM_KEY) as llm,
        cluster(llm, database_url, redis_url, tmp_path) as c,
    ):
        llm.script(
            Reply(text="Run it.", tool_calls=[ToolCall("execute_command", {"command": "ls /"})]),
            Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]),
        )
        issued = await c.http.post(c.url(1, "/ws-ticket"), headers=c.auth)
        assert issued.status_code == 200, issued.text
        received: list[dict[str, Any]] = []
        url = ws_url(c.apis[1].base_url, c.session, ticket=issued.json()["ticket"])
        async with connect(url, open_timeout=10) as conn:
            socket = WS(conn)
            assert (await socket.recv())["type"] == "hello"
            started = await c.http.post(c.url(0, "/tasks"), json={"input": "go"}, headers=c.auth)
            assert started.status_code == 202, started.text
            task_id = started.json()["id"]
            while not received or received[-1]["event"] != "approval.required":
                received.append(await socket.recv(within=15))
            answer = await c.http.put(
                c.url(0, f"/tasks/{task_id}"),
                json={"action": "approve", "approvalId": received[-1]["data"]["approvalId"]},
                headers=c.auth,
            )
            assert answer.status_code == 200, answer.text
            while received[-1]["event"] != "task.complete":
                received.append(await socket.recv(within=15))
        assert received == await _events(c)  # live, in order, nothing missing or doubled
        c.runner_of(task_id)  # one worker ran it...
        assert not any(_took(api, task_id) for api in c.apis)  # ...and no API process
        # a worker's probes: ready while its database, Redis and queue connections answer
        for worker in c.workers:
            ready = await c.http.get(f"{worker.base_url}/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"database": "ok", "redis": "ok", "queue": "ok"}


async def test_a_worker_killed_mid_command_its_task_interrupted_then_resumed_on_the_other(
    database_url: str, redis_url: str | None, tmp_path: Path
) -> None:
    async with (
        FakeLLM(api_key=LLM_KEY) as llm,
        cluster(llm, database_url, redis_url, tmp_path) as c,
    ):
        llm.script(
            Reply(
                tool_calls=[
                    ToolCall(
                        "execute_command",
                        {"command": "echo ran | tee -a marker.txt && sleep 60"},
                        id="c_cmd",
                    )
                ]
            ),
            Reply(tool_calls=[ToolCall("attempt_completion", {"result": "resumed"})]),
        )
        started = await c.http.post(c.url(0, "/tasks"), json={"input": "go"}, headers=c.auth)
        assert started.status_code == 202, started.text
        task_id = started.json()["id"]
        deadline = time.monotonic() + 20
        while (await c.http.get(c.url(0, "/files/marker.txt"), headers=c.auth)).status_code != 200:
            state = await c.http.get(c.url(0, f"/tasks/{task_id}"), headers=c.auth)
            assert time.monotonic() < deadline, f"the command never started: {state.text}"
            await asyncio.sleep(0.05)
        victim = c.runner_of(task_id)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=10)
        killed_at = time.monotonic()

        interrupted = await _wait_for(c, task_id, "interrupted", api=1, within=20)
        # three missed beats, and the next sweep of a live process: well within 10 s
        assert time.monotonic() - killed_at < 10
        assert interrupted["failure"]["reason"] == "runner_lost"

        resumed = await c.http.put(
            c.url(1, f"/tasks/{task_id}"), json={"action": "resume"}, headers=c.auth
        )
        assert resumed.status_code == 200, resumed.text
        done = await _wait_for(c, task_id, "completed", api=0)
        assert done["result"] == "resumed"
        survivor = next(w for w in c.workers if w is not victim)
        assert _took(survivor, task_id)
        # the command ran once: the resumed run gave its call Roo's "interrupted" result
        marker = await c.http.get(c.url(0, "/files/marker.txt"), headers=c.auth)
        assert marker.content == b"ran\n"
        results = {r["tool_call_id"]: str(r["content"]) for r in tool_results_of(llm)}
        assert "interrupted" in results["c_cmd"]
        events = await _events(c)
        seqs = [e["seq"] for e in events]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap, no duplicate
        states = [e["data"]["to"] for e in events if e["event"] == "task.state"]
        assert "interrupted" in states
        assert states[-1] == "completed"


async def test_sigterm_hands_a_waiting_task_back_resumable_and_the_worker_exits(
    database_url: str, redis_url: str | None, tmp_path: Path
) -> None:
    async with (
        FakeLLM(api_key=LLM_KEY) as llm,
        cluster(llm, database_url, redis_url, tmp_path) as c,
    ):
        llm.script(
            Reply(
                tool_calls=[
                    ToolCall(
                        "ask_followup_question",
                        {"question": "Which?", "follow_up": [{"text": "a"}]},
                        id="c_ask",
                    )
                ]
            ),
            Reply(tool_calls=[ToolCall("attempt_completion", {"result": "after restart"})]),
        )
        started = await c.http.post(c.url(0, "/tasks"), json={"input": "go"}, headers=c.auth)
        assert started.status_code == 202, started.text
        task_id = started.json()["id"]
        await _wait_for(c, task_id, "awaiting_input")
        worker = c.runner_of(task_id)
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(timeout=15) == 0
        stopped = await _wait_for(c, task_id, "interrupted", within=1)  # recorded before exit
        assert stopped["failure"]["reason"] == "shutdown"
        resumed = await c.http.put(
            c.url(0, f"/tasks/{task_id}"), json={"action": "resume"}, headers=c.auth
        )
        assert resumed.status_code == 200, resumed.text
        done = await _wait_for(c, task_id, "completed")
        assert done["result"] == "after restart"
        other = next(w for w in c.workers if w is not worker)
        assert _took(other, task_id)


async def test_a_paused_worker_that_lost_its_task_writes_nothing_when_it_wakes(
    database_url: str, redis_url: str | None, tmp_path: Path
) -> None:
    """SIGSTOP (a stalled or cut-off worker): its task is interrupted and resumed on the other
    worker, which completes it. Woken (SIGCONT), the first finds it no longer holds the task and
    stops its run: not one event more, the task stays completed."""
    async with (
        FakeLLM(api_key=LLM_KEY) as llm,
        cluster(llm, database_url, redis_url, tmp_path) as c,
    ):
        llm.script(
            Reply(
                text="Working.",
                tool_calls=[ToolCall("execute_command", {"command": "sleep 30"}, id="c_cmd")],
            ),
            Reply(tool_calls=[ToolCall("attempt_completion", {"result": "taken over"})]),
        )
        started = await c.http.post(c.url(0, "/tasks"), json={"input": "go"}, headers=c.auth)
        assert started.status_code == 202, started.text
        task_id = started.json()["id"]
        await _command_started(c)
        paused = c.runner_of(task_id)
        paused.process.send_signal(signal.SIGSTOP)
        try:
            await _wait_for(c, task_id, "interrupted", within=20)
            resumed = await c.http.put(
                c.url(0, f"/tasks/{task_id}"), json={"action": "resume"}, headers=c.auth
            )
            assert resumed.status_code == 200, resumed.text
            await _wait_for(c, task_id, "completed")
            before = await _events(c)
        finally:
            paused.process.send_signal(signal.SIGCONT)
        paused.wait_for_log_line("tasks.lease_lost", task_id, timeout=10)
        await asyncio.sleep(2 * HEARTBEAT)  # time for anything it would still write
        assert await _events(c) == before
        task = (await c.http.get(c.url(0, f"/tasks/{task_id}"), headers=c.auth)).json()
        assert task["state"] == "completed"
        assert task["result"] == "taken over"


async def test_delete_on_an_api_answers_once_the_worker_reports_cancelled(
    database_url: str, redis_url: str | None, tmp_path: Path
) -> None:
    """The cancel reaches the worker through the task's inbox and its wake-up; the DELETE
    answers with the task `cancelled` (its command killed), not before."""
    async with (
        FakeLLM(api_key=LLM_KEY) as llm,
        cluster(llm, database_url, redis_url, tmp_path) as c,
    ):
        llm.script(
            Reply(tool_calls=[ToolCall("execute_command", {"command": "sleep 60"}, id="c_cmd")])
        )
        started = await c.http.post(c.url(0, "/tasks"), json={"input": "go"}, headers=c.auth)
        assert started.status_code == 202, started.text
        task_id = started.json()["id"]
        await _command_started(c)
        t0 = time.monotonic()
        cancelled = await c.http.delete(c.url(1, f"/tasks/{task_id}"), headers=c.auth)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["state"] == "cancelled"
        assert time.monotonic() - t0 < 10  # the command did not run its 60 s
        c.runner_of(task_id)
