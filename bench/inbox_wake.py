"""Cross-process task inbox: how long an approval sent to one process takes to reach the run on
another, woken by the push (Redis pub/sub, PostgreSQL NOTIFY) and by the 0.5 s poll alone.

    .venv/bin/python bench/inbox_wake.py [--rounds 20] [--database-url URL] [--redis-url URL]

In process, on uvloop: two app instances (`roo.app.create_app`, each with its lifespan: its
own task runner, bus and inbox listener) on one scratch PostgreSQL database (created on the
server --database-url or DATABASE_URL names, dropped afterwards), and the project's fake LLM
server on loopback. Per round the first instance starts a task whose first step is a command
that needs approval; once the task waits, the approval is PUT to the second instance, and two
times are taken from the moment that request returns (the mail is committed then):

- `received_ms`: until the first instance's liveness loop hands the mail to the run;
- `next_request_ms`: until the run's next model request reaches the fake LLM (the command ran
  in between: `true`, in the sandbox).

Modes, each on fresh app instances: `redis` (with --redis-url or REDIS_URL), `notify`
(PostgreSQL without Redis), `poll` (PostgreSQL without Redis, the sending instance's wake-ups
switched off: what every approval cost before). Results: bench/results/inbox_wake.json.
Nothing here asserts a timing.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import uvloop
from common import (
    RESULTS_DIR,
    bench_parser,
    exit_on_sigterm,
    machine_info,
    report_and_exit,
    source_revision,
)
from loadgen import percentile
from pydantic import SecretStr

from roo.api.state import Resources
from roo.app import create_app
from roo.config import Settings, load_settings
from roo.db import migrate
from roo.db.engine import create_engine
from roo.kit.logs import configure_logging
from roo.testing.databases import delete_redis_prefix, is_postgres, scratch_database
from roo.testing.fake_llm import FakeLLM, Reply, ToolCall

LLM_KEY = "sk-bench-inbox-wake"
PASSWORD = "correct horse battery staple"  # noqa: S105 - a scratch user
Json = dict[str, Any]


async def _migrate(url: str) -> None:
    engine = create_engine(load_settings(env="test", database_url=url))
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


@asynccontextmanager
async def _instance(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Resources]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://roo") as client:
            yield client, app.state.resources


async def _wait_state(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, state: str
) -> Json:
    deadline = time.monotonic() + 30
    while True:
        task: Json = (await client.get(path, headers=headers)).json()
        if task["state"] == state:
            return task
        if time.monotonic() > deadline:
            raise RuntimeError(f"the task stayed {task['state']}, wanted {state}")
        await asyncio.sleep(0.005)


async def _mode(settings: Settings, llm: FakeLLM, mode: str, rounds: int) -> Json:
    async with AsyncExitStack() as stack:
        one, one_res = await stack.enter_async_context(_instance(settings))
        two, two_res = await stack.enter_async_context(_instance(settings))
        if mode == "poll":  # the second instance sends the approvals: no wake-up from it
            two_res.tasks.control._wake = None  # type: ignore[attr-defined]
        email = f"bench-wake-{uuid.uuid4().hex[:8]}@example.com"
        body = {"email": email, "password": PASSWORD}
        await one.post("/api/v1/auth/register", json=body)
        login = await one.post("/api/v1/auth/login", json=body)
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        created = await one.post("/api/v1/sessions", json={"name": "wake"}, headers=headers)
        session = created.json()["id"]
        liveness = one_res.tasks.runner.liveness
        given: Callable[..., None] = liveness._receive
        received: list[float] = []

        def receive(*args: Any) -> None:
            received.append(time.perf_counter())
            given(*args)

        liveness._receive = receive
        to_receive: list[float] = []
        to_request: list[float] = []
        for _round in range(rounds):
            llm.script(
                Reply(tool_calls=[ToolCall("execute_command", {"command": "true"})]),
                Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]),
            )
            task = await one.post(
                f"/api/v1/sessions/{session}/tasks", json={"input": "go"}, headers=headers
            )
            path = f"/api/v1/sessions/{session}/tasks/{task.json()['id']}"
            waiting = await _wait_state(two, headers, path, "awaiting_approval")
            received.clear()
            requests = len(llm.requests)
            answer = await two.put(
                path,
                json={"action": "approve", "approvalId": waiting["pending"]["id"]},
                headers=headers,
            )
            committed = time.perf_counter()
            if answer.status_code != 200:
                raise RuntimeError(f"the approval failed: {answer.text}")
            while len(llm.requests) <= requests:  # noqa: ASYNC110 - the fake server's record
                await asyncio.sleep(0.001)
            to_request.append((time.perf_counter() - committed) * 1000)
            to_receive.append((received[0] - committed) * 1000)
            await _wait_state(one, headers, path, "completed")
        return {
            "rounds": rounds,
            "received_ms": _summary(to_receive),
            "next_request_ms": _summary(to_request),
            "listener_live": one_res.inbox_wakes.live,
        }


def _summary(values: Sequence[float]) -> Json:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p90": round(percentile(ordered, 90), 2),
        "max": round(ordered[-1], 2),
        "min": round(ordered[0], 2),
    }


async def _run(args: Any, database_url: str, redis_url: str | None, run_id: str) -> Json:
    await _migrate(database_url)
    results: Json = {}
    with tempfile.TemporaryDirectory(prefix="roo-bench-wake-") as tmp:
        async with FakeLLM(api_key=LLM_KEY) as llm:
            base = load_settings(
                env="test",
                database_url=database_url,
                data_dir=Path(tmp) / "var",
                auto_migrate=False,
                jwt_secret=SecretStr(secrets.token_urlsafe(48)),
                allow_registration=True,
            ).model_copy(
                update={
                    "openai_base_url": llm.openai_base_url,
                    "openai_api_key": SecretStr(LLM_KEY),
                    "default_provider": "openai",
                    "default_model": "gpt-4o",
                    "task_create_limit": "100000/minute",
                }
            )
            modes: list[tuple[str, Settings]] = []
            if redis_url:
                prefix = f"roo-bench-wake-{run_id}:"
                modes.append(
                    (
                        "redis",
                        base.model_copy(update={"redis_url": redis_url, "redis_prefix": prefix}),
                    )
                )
            modes += [("notify", base), ("poll", base)]
            for mode, settings in modes:
                results[mode] = await _mode(settings, llm, mode, args.rounds)
    if redis_url:
        await delete_redis_prefix(redis_url, f"roo-bench-wake-{run_id}:")
    return results


def run(args: Any, run_id: str) -> Json:
    server = args.database_url or os.environ.get("DATABASE_URL")
    if not server or not is_postgres(server):
        raise OSError("needs a PostgreSQL server: --database-url or DATABASE_URL")
    redis_url = args.redis_url or os.environ.get("REDIS_URL") or None
    with scratch_database(server, Path(tempfile.gettempdir()), f"roo_bench_wake_{run_id}") as url:
        results = uvloop.run(_run(args, url, redis_url, run_id))
    return {
        "benchmark": "inbox_wake",
        "settings": {"rounds": args.rounds, "inbox_poll_seconds": 0.5},
        "results": results,
        "machine": machine_info(),
        "source": source_revision(),
    }


def print_summary(report: Json, output: Path) -> None:
    for mode, result in report["results"].items():
        print(
            f"{mode:7s} received p50 {result['received_ms']['p50']:8.2f} ms"
            f" p90 {result['received_ms']['p90']:8.2f} ms;"
            f" next model request p50 {result['next_request_ms']['p50']:8.2f} ms"
        )
    print(f"written to {output}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = bench_parser(__doc__, RESULTS_DIR / "inbox_wake.json")
    parser.add_argument("--rounds", type=int, default=20, help="approvals per mode (20)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (DATABASE_URL)")
    parser.add_argument("--redis-url", default=None, help="Redis (REDIS_URL); none: no redis mode")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    configure_logging("WARNING", json=False)  # not a line per request
    run_id = secrets.token_hex(4)
    return report_and_exit("inbox_wake", lambda: run(args, run_id), args.output, print_summary)


if __name__ == "__main__":
    sys.exit(main())
