"""Live assistant text: how long streamed text takes from the model to the session's
subscribers, and what it costs the database, with N tasks streaming at once.

    .venv/bin/python bench/live_output.py [--runs 1,8,32] [--paces fast,slow]
                                          [--label after] [--output FILE]

In process, on uvloop: the service's app (`create_app`, its lifespan, embedded SQLite migrated
in a temporary directory, the in-process bus) driven through its API (ASGI transport), and the
project's fake LLM server on loopback in a process of its own (`python -m roo.testing.fake_llm`),
reached through the official OpenAI SDK.
Each of N users opens a session and starts one task; all N stream at once. The model's reply
is text made of 8-character tokens, unique over the run, sent one token per delta at a pace:

- `fast`: --fast-tokens tokens 10 ms apart (800 characters a second, a quick model);
- `slow`: --slow-tokens tokens 200 ms apart (a model that pauses between deltas);

then `attempt_completion`. The provider each run builds is wrapped: it notes when each token
came out of the model's stream (as the engine gets it). A subscriber per session
(`bus.subscribe`) notes when each event reaches it, which is right after the transaction that
wrote it committed. The delay of a token is (the event that completes it reached the
subscriber) - (it came out of the stream); p50/p99/max over all tokens of all runs.

`output`: the reply runs a command (`execute_command`, in the session's sandbox) that prints
--fast-tokens lines 10 ms apart, each the monotonic clock (system-wide) when it was printed;
a line's delay is the subscriber's clock when the event completing it came, minus that.

Transactions: SQLAlchemy `commit`s of the app's engine from the first task's creation until
the last `task.complete` reached its subscriber, per second, for all runs and per run (the API
calls that create the tasks are in it too); the events that carried the text or output and
their mean size; the CPU time
of the event loop's thread and of the process over that time (a loop near 100 % is saturated:
then every delay grows, whatever the window).

Run it on the code before and after a change (--label, --output) to compare: it uses nothing
beyond the app, its resources (`tasks.runner.model_resolver`, `bus`, `engine`) and the fake LLM.
Results: bench/results/live_output.json. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import httpx
import uvloop
from asgi_lifespan import LifespanManager
from common import (
    HOST,
    RESULTS_DIR,
    BenchError,
    bench_parser,
    free_port,
    machine_info,
    report_and_exit,
    source_revision,
    stop,
)
from pydantic import SecretStr
from sqlalchemy import event

from roo.agent.providers.base import Chunk, ModelRequest, Provider, TextChunk
from roo.api.state import Resources
from roo.app import create_app
from roo.config import load_settings
from roo.db.engine import unit_of_work
from roo.testing.fake_llm import Reply, ToolCall, item_to_json

KEY = "sk-bench-live-output"
PASSWORD = secrets.token_urlsafe(18)
TOKEN = 8  # characters per token (one streamed delta)
PACES = {"fast": 0.01, "slow": 0.2, "output": 0.01}
RUN_ANYTHING = {"autoApproveExecute": True, "allowedCommands": ["*"]}
COMPLETION = Reply(tool_calls=[ToolCall("attempt_completion", {"result": "done"})])


class Stamped:
    """A run's real provider, noting when each token of its text came out of the stream."""

    def __init__(self, inner: Provider, stamps: dict[str, float]) -> None:
        self.inner = inner
        self.name = inner.name
        self.protocol = inner.protocol
        self._stamps = stamps

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        async for chunk in self.inner.stream(request):
            if isinstance(chunk, TextChunk):
                now = time.monotonic()
                for i in range(0, len(chunk.text), TOKEN):
                    self._stamps.setdefault(chunk.text[i : i + TOKEN], now)
            yield chunk

    async def context_window(self, model: str) -> int | None:
        return await self.inner.context_window(model)

    async def aclose(self) -> None:
        await self.inner.aclose()


@contextlib.contextmanager
def fake_llm(workdir: Path) -> Iterator[str]:
    """The fake LLM server in a process of its own; its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "roo.testing.fake_llm", "--host", HOST, "--port", str(port)]
    with (workdir / "fake_llm.log").open("ab") as log:
        process = subprocess.Popen(
            [*command, "--api-key", KEY, "--default-reply", json.dumps(item_to_json(COMPLETION))],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{url}/_fake/state", timeout=1).raise_for_status()
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise BenchError("the fake LLM server did not start")
            time.sleep(0.1)
        yield url
    finally:
        stop(process)


def printing(lines: int, pace: float) -> Reply:
    """A reply running a command that prints the monotonic clock, a line every `pace` s."""
    program = (
        "import time\n"
        f"for _ in range({lines}):\n"
        "    print(f'{time.monotonic():.6f}', flush=True)\n"
        f"    time.sleep({pace})\n"
    )
    command = f"python3 -c {shlex.quote(program)}"
    return Reply(tool_calls=[ToolCall("execute_command", {"command": command})])


def token(run: int, n: int) -> str:
    return f"{run:02d}{n:05d} "


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


async def watch(
    resources: Resources, session_id: uuid.UUID, stamps: dict[str, float], delays: list[float]
) -> dict[str, int]:
    """Follow one session until its task completes: the delay of each token (or line of
    command output), the number and size of the events that carried them."""
    text = ""
    done = 0  # tokens of `text` already measured
    messages = chars = 0
    async with resources.bus.subscribe(session_id, 0) as events:
        while True:
            stored = await events.get(within=120)
            if stored is None:
                raise RuntimeError("no event for 120 s")
            now = time.monotonic()
            if stored.event == "message" and stored.data.get("kind") == "text":
                delta = str(stored.data["delta"])
                messages += 1
                chars += len(delta)
                text += delta
                while len(text) >= (done + 1) * TOKEN:
                    piece = text[done * TOKEN : (done + 1) * TOKEN]
                    delays.append(now - stamps[piece])
                    done += 1
            elif stored.event == "tool.execution" and stored.data.get("phase") == "output":
                # the command prints the monotonic clock (system-wide) of each of its lines
                chunk = str(stored.data["output"])
                messages += 1
                chars += len(chunk)
                lines = (text + chunk).split("\n")
                text = lines.pop()
                delays.extend(now - float(line) for line in lines if line.strip())
            elif stored.event in ("task.complete", "error.occurred", "task.cancelled"):
                if stored.event != "task.complete":
                    raise RuntimeError(f"a task ended with {stored.event}: {stored.data}")
                return {"messages": messages, "chars": chars}


async def scenario(
    app_client: httpx.AsyncClient,
    resources: Resources,
    llm: httpx.AsyncClient,
    runs: int,
    pace: float,
    tokens: int,
    offset: int,
    output: bool = False,
) -> dict[str, Any]:
    stamps: dict[str, float] = {}
    resolver = resources.tasks.runner.model_resolver
    build = resolver.build

    def stamped_build(*args: Any, **kwargs: Any) -> Provider:
        return Stamped(build(*args, **kwargs), stamps)

    setattr(resolver, "build", stamped_build)  # noqa: B010 (an instance attribute over the method)

    headers: list[dict[str, str]] = []
    sessions: list[uuid.UUID] = []
    for i in range(runs):
        email = f"live-{offset + i}-{uuid.uuid4().hex[:6]}@example.com"
        async with unit_of_work(resources.db_sessions) as db:
            await resources.auth.create_user(db, email, password=PASSWORD, roles=["member"])
        login = await app_client.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        )
        login.raise_for_status()
        auth = {"authorization": f"Bearer {login.json()['token']}"}
        config = {"approvalPolicy": RUN_ANYTHING} if output else {}
        created = await app_client.post(
            "/api/v1/sessions", json={"name": f"live {i}", "config": config}, headers=auth
        )
        created.raise_for_status()
        headers.append(auth)
        sessions.append(uuid.UUID(created.json()["id"]))
    script = [
        item_to_json(printing(tokens, pace))
        if output
        else item_to_json(
            Reply(
                text="".join(token(offset + i, n) for n in range(tokens)),
                chunk_size=TOKEN,
                delay_per_chunk=pace,
                tool_calls=[ToolCall("attempt_completion", {"result": "done"})],
            )
        )
        for i in range(runs)
    ]
    (await llm.post("/_fake/script", json=script)).raise_for_status()

    commits = 0

    def on_commit(_connection: Any) -> None:
        nonlocal commits
        commits += 1

    delays: list[float] = []
    watchers = [
        asyncio.create_task(watch(resources, session, stamps, delays)) for session in sessions
    ]
    await asyncio.sleep(0.2)  # the subscriptions have read the (empty) log
    sync_engine = resources.engine.sync_engine
    event.listen(sync_engine, "commit", on_commit)
    started = time.monotonic()
    loop_cpu, process_cpu = time.thread_time(), time.process_time()
    try:
        for session, auth in zip(sessions, headers, strict=True):
            response = await app_client.post(
                f"/api/v1/sessions/{session}/tasks", json={"input": "stream"}, headers=auth
            )
            response.raise_for_status()
        counts = await asyncio.gather(*watchers)
        elapsed = time.monotonic() - started
        loop_cpu, process_cpu = time.thread_time() - loop_cpu, time.process_time() - process_cpu
    finally:
        event.remove(sync_engine, "commit", on_commit)
        setattr(resolver, "build", build)  # noqa: B010
    messages = sum(c["messages"] for c in counts)
    return {
        "runs": runs,
        "pace_ms": pace * 1000,
        "tokens_per_run": tokens,
        "tokens_measured": len(delays),
        "seconds": round(elapsed, 2),
        "delay_ms": {
            "p50": ms(statistics.median(delays)),
            "p99": ms(percentile(delays, 0.99)),
            "max": ms(max(delays)),
            "mean": ms(statistics.fmean(delays)),
        },
        "transactions_per_second": round(commits / elapsed, 1),
        "transactions_per_second_per_run": round(commits / elapsed / runs, 1),
        "loop_cpu_share": round(loop_cpu / elapsed, 2),
        "process_cpu_share": round(process_cpu / elapsed, 2),
        "events": messages,
        "mean_delta_chars": round(sum(c["chars"] for c in counts) / max(messages, 1), 1),
    }


async def measure(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    with fake_llm(workdir) as llm_url:
        settings = load_settings(
            env="test",
            database_url=f"sqlite+aiosqlite:///{workdir / 'roo.db'}",
            data_dir=workdir / "var",
            auto_migrate=True,
            openai_base_url=f"{llm_url}/v1",
            openai_api_key=SecretStr(KEY),
            default_provider="openai",
            default_model="gpt-4o",
            task_create_limit="100000/minute",
            max_running_tasks=max(args.runs),
        )
        app = create_app(settings)
        async with LifespanManager(app):
            resources: Resources = app.state.resources
            transport = httpx.ASGITransport(app=app)
            async with (
                httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
                httpx.AsyncClient(base_url=llm_url, timeout=10) as llm,
            ):
                offset = 0
                for pace_name in args.paces:
                    tokens = args.slow_tokens if pace_name == "slow" else args.fast_tokens
                    for runs in args.runs:
                        result = await scenario(
                            client,
                            resources,
                            llm,
                            runs,
                            PACES[pace_name],
                            tokens,
                            offset,
                            output=pace_name == "output",
                        )
                        results.append({"pace": pace_name, **result})
                        print(summary_line(results[-1]), file=sys.stderr)
                        offset += runs
    return results


def summary_line(r: dict[str, Any]) -> str:
    d = r["delay_ms"]
    return (
        f"{r['pace']:>4} x{r['runs']:<3} delay p50 {d['p50']:7.1f} ms  p99 {d['p99']:7.1f} ms  "
        f"max {d['max']:7.1f} ms  {r['transactions_per_second']:6.1f} tx/s "
        f"({r['transactions_per_second_per_run']:5.1f} per run)  "
        f"{r['events']} events, {r['mean_delta_chars']} chars each, "
        f"loop CPU {r['loop_cpu_share']:.0%}"
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="roo-live-output-") as tmp:
        results = uvloop.run(measure(args, Path(tmp)))
    return {
        "benchmark": "live_output",
        "label": args.label,
        "source": source_revision(),
        "machine": machine_info(),
        "database": "sqlite (embedded, temporary)",
        "settings": {
            "runs": args.runs,
            "paces": {name: PACES[name] for name in args.paces},
            "fast_tokens": args.fast_tokens,
            "slow_tokens": args.slow_tokens,
            "token_chars": TOKEN,
        },
        "results": results,
    }


def print_summary(report: dict[str, Any], output: Path, out: IO[str] = sys.stdout) -> None:
    print(f"live_output ({report['label']}):", file=out)
    for result in report["results"]:
        print("  " + summary_line(result), file=out)
    print(f"written to {output}", file=out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, RESULTS_DIR / "live_output.json")
    parser.add_argument(
        "--runs",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 8, 32],
        help="tasks streaming at once, comma-separated (1,8,32)",
    )
    parser.add_argument(
        "--paces",
        type=lambda text: text.split(","),
        default=["fast", "slow", "output"],
        help="fast (10 ms a delta), slow (200 ms), output (a command's line every 10 ms)",
    )
    parser.add_argument("--fast-tokens", type=int, default=300, help="deltas of a fast reply")
    parser.add_argument("--slow-tokens", type=int, default=30, help="deltas of a slow reply")
    parser.add_argument("--label", default="after", help="names the code measured")
    args = parser.parse_args(argv)
    unknown = set(args.paces) - set(PACES)
    if unknown:
        parser.error(f"unknown pace {sorted(unknown)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return report_and_exit("live_output", lambda: run(args), args.output, print_summary)


if __name__ == "__main__":
    sys.exit(main())
