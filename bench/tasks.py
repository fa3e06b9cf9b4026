"""Tasks: the agent engine's overhead per step, task creation latency, 100 concurrent tasks.

    .venv/bin/python bench/tasks.py [--engine-steps 200] [--service-steps 100] [--creations 300]
                                    [--idle-creations 100] [--concurrent 100]
                                    [--concurrent-steps 5] [--database-url URL] [--redis URL]

Every model reply comes from the project's fake LLM (`python -m roo.testing.fake_llm`, a
subprocess on loopback with an API key, answering at once from a script fed through
`POST /_fake/script`), so what is measured is roo's own cost around the model. Each reply is a
line of text and one cheap read-only tool call, `list_files` and `read_file` in turn (the
concurrent tasks use `read_file` only, each call with its own `limit`, because replies are
handed to whichever task asks first and Roo's guard refuses a third identical call in a row),
with a fixed usage (2,000 input, 40 output tokens: the context window never truncates); the
last reply of a task calls `attempt_completion`.

1. Engine, in process (no HTTP, no database): `Agent` with a real `OpenAIProvider` against the
   fake server, `default_registry()`, an in-memory event sink and checkpoint, a `ToolContext`
   whose `run_command` raises (no command runs) on a tiny temporary workspace, on uvloop. After
   a 5-step warm-up, one task of --engine-steps steps: the wall and process CPU time of each
   step (from one `api.request` event to the next), and the time spent inside the provider's
   stream. Baseline: the very same requests (recorded from that run) sent again with the
   OpenAI SDK alone (`chat.completions.create(stream=True)`, consumed to the end), against the
   same replies. Engine overhead = step time - raw call time. Then a shorter run
   (--profile-steps) under cProfile names the top costs, and a few pieces redone for every
   request or run are timed alone (tool schemas, system prompt, building the provider).
2. Service: roo started as the other benchmarks start it (`uvicorn --factory
   roo.app:create_app`, one worker, embedded SQLite in a temporary directory, LOG_LEVEL=INFO as
   JSON to a file) with OPENAI_BASE_URL/OPENAI_API_KEY pointing at the fake server,
   ROO_DEFAULT_PROVIDER=openai, ROO_DEFAULT_MODEL=gpt-4o, ROO_TASK_CREATE_LIMIT=100000/minute and
   ROO_MAX_RUNNING_TASKS=--concurrent (every task runs at once).
   Admin accounts (200 open sessions each) own sessions created with
   `{"approvalPolicy": {"autoApproveRead": true}}`, a README.md and src/app.py written through
   the files API where tasks read them. After a 3-step warm-up task:
   - one task of --service-steps steps: creation to completion per step, per-step times from
     the events' server timestamps, and the service's CPU per step, set against the engine's
     in-process CPU for as many first steps (what the runner, events and checkpoints add);
   - `POST /sessions/{id}/tasks`, one per session, one request after the other, each task
     completing at once (one reply): --creations back to back (the next creation meets the
     previous tasks running), then --idle-creations each after the previous task ended (the
     route alone): latency percentiles and the service's CPU per request;
   - --concurrent tasks of about --concurrent-steps steps in as many sessions, POSTed together
     (httpx, --post-connections connections): wall time, tasks/s, steps/s, CPU, peak RSS, and
     per task the time from creation to `task.started`, to the first model reply and to
     completion.
   The same concurrent run is repeated (--pg-concurrent tasks) on PostgreSQL + Redis when
   --database-url / --redis (or DATABASE_URL / REDIS_URL in the environment) are given: a
   scratch database is created on that server and dropped afterwards.

How tasks are followed, without adding load to the service: progress is watched on the fake
server (`GET /_fake/state` every 50 ms, until every scripted reply is consumed); then each task's
state is read (`GET /sessions/{id}/tasks?limit=1`, every 100 ms until it ends) and its
session's event log once (`GET /events`, paged). Every time is taken from the events' own
server timestamps (same host, same clock as the client's `time.time()`). The service's CPU
(/proc/<pid>/stat utime+stime) and RSS (/proc/<pid>/status VmRSS) are sampled every 50 ms by a
thread of this process and interpolated at the start and end of each measurement.

Results go to bench/results/tasks.json. Nothing here asserts a timing: the creation p99 is
compared with its aim (50 ms) and the seed's budget (500 ms) for information.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import itertools
import json
import math
import os
import pstats
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast
from urllib.parse import urlsplit

import httpx
import openai
import uvloop
from common import (
    HOST,
    RESULTS_DIR,
    UVICORN_OPTIONS,
    BenchError,
    Client,
    Server,
    User,
    backend_bench_main,
    backend_env,
    bench_email,
    bench_parser,
    create_users,
    describe_backends,
    free_port,
    log_tail,
    machine_info,
    process_cpu_seconds,
    process_memory,
    require_at_least,
    running_server,
    server_env,
    sign_in,
    source_revision,
    stop,
)
from loadgen import percentile

# the test suite's scratch databases (created and dropped on the run's PostgreSQL server)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from tests.support.databases import scratch_database

from roo.agent.approval import ApprovalPolicy
from roo.agent.engine import Agent, AgentLimits, AgentSetup
from roo.agent.modes import MODES, tools_for_mode
from roo.agent.pricing import resolve_model_info
from roo.agent.prompts import WorkspaceFacts, build_system_prompt
from roo.agent.providers.base import Chunk, ModelRequest, ToolSpec
from roo.agent.providers.openai import OpenAIProvider, openai_messages, openai_tools
from roo.agent.state import Answer, Ask, EngineState
from roo.agent.tools.base import IgnoreRules, OnOutput, ToolContext
from roo.agent.tools.registry import ToolRegistry, default_registry, workspace_ignore_rules
from roo.sandbox import ProcessResult
from roo.tasks.runner import workspace_listing

DEFAULT_OUTPUT = RESULTS_DIR / "tasks.json"
LLM_KEY = "sk-bench-fake-llm"
PROVIDER = "openai"
MODEL = "gpt-4o"
TASK_INPUT = "Look around the workspace, then say you are done."
USAGE = {"input_tokens": 2000, "output_tokens": 40}
SESSION_CONFIG = {"approvalPolicy": {"autoApproveRead": True}}
ADMIN_MAX_SESSIONS = 200  # roo.sessions.quotas: open sessions an admin may keep
TERMINAL = frozenset({"completed", "failed", "cancelled", "interrupted"})
CREATE_P99_AIM_MS = 50.0
CREATE_P99_SEED_MS = 500.0
ENGINE_WARMUP_STEPS = 5
SERVICE_WARMUP_STEPS = 3
SAMPLE_SECONDS = 0.05  # the service's CPU and RSS
LLM_POLL_SECONDS = 0.05  # GET /_fake/state (the fake server, not roo)
TASK_POLL_SECONDS = 0.1  # GET /sessions/{id}/tasks?limit=1, only once the replies are consumed
IDLE_POLL_SECONDS = 0.01  # idle creations: the fake server's state, then the task's
WAIT_SECONDS = 120.0  # the most any one wait may take
README = "".join(f"Line {n}: this workspace exists for bench/tasks.py.\n" for n in range(1, 41))
APP_PY = 'def main() -> None:\n    print("hello")\n'


# -- numbers -------------------------------------------------------------------------------------


def dist(seconds: Sequence[float]) -> dict[str, Any]:
    """n, p50 (median), p90, p99 (nearest rank, as bench/loadgen.py), max and mean, in ms."""
    ordered = sorted(seconds)
    if not ordered:
        return {"n": 0}

    def ms(value: float) -> float:
        return round(value * 1000, 3)

    return {
        "n": len(ordered),
        "p50_ms": ms(percentile(ordered, 50)),
        "p90_ms": ms(percentile(ordered, 90)),
        "p99_ms": ms(percentile(ordered, 99)),
        "max_ms": ms(ordered[-1]),
        "mean_ms": ms(statistics.fmean(ordered)),
    }


def count_dist(values: Sequence[int]) -> dict[str, Any]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "min": ordered[0],
        "p50": percentile([float(v) for v in ordered], 50),
        "max": ordered[-1],
    }


def mib(n: float | None) -> float | None:
    return round(n / (1024 * 1024), 1) if n is not None else None


@dataclass
class Budget:
    deadline: float

    def check(self, what: str) -> None:
        if time.monotonic() > self.deadline:
            raise BenchError(f"time budget exhausted before {what}; try smaller numbers")

    def wait_limit(self) -> float:
        """Seconds one wait may take: WAIT_SECONDS, less when the budget runs out sooner."""
        return max(1.0, min(WAIT_SECONDS, self.deadline - time.monotonic()))


# -- the service's CPU and memory, sampled -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # time.time()
    cpu: float  # utime + stime so far, seconds
    rss: int  # VmRSS, bytes


class Sampler:
    """A thread reading /proc for one process every SAMPLE_SECONDS."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self._take()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _take(self) -> None:
        cpu = process_cpu_seconds(self.pid)
        memory = process_memory(self.pid)
        if cpu is None or memory is None:
            return
        self.samples.append(Sample(time.time(), cpu, memory["VmRSS"]))

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._take()

    def settle(self, after: float) -> None:
        """Wait until a sample later than `after` exists (the interpolation needs one)."""
        limit = time.monotonic() + 2
        while time.monotonic() < limit and (not self.samples or self.samples[-1].at <= after):
            time.sleep(SAMPLE_SECONDS / 2)

    def cpu_at(self, at: float) -> float | None:
        """The process's CPU seconds at `at`, linear between the two samples around it."""
        samples = self.samples
        if not samples:
            return None
        before = [s for s in samples if s.at <= at]
        after = [s for s in samples if s.at >= at]
        if not before or not after:
            return (before or after)[-1 if before else 0].cpu
        a, b = before[-1], after[0]
        if b.at == a.at:
            return a.cpu
        return a.cpu + (b.cpu - a.cpu) * (at - a.at) / (b.at - a.at)

    def cpu_between(self, start: float, end: float) -> float | None:
        first, last = self.cpu_at(start), self.cpu_at(end)
        return last - first if first is not None and last is not None else None

    def rss(self, start: float, end: float) -> dict[str, Any]:
        before = [s.rss for s in self.samples if s.at <= start]
        inside = [s.rss for s in self.samples if start <= s.at <= end + SAMPLE_SECONDS]
        return {
            "before_mib": mib(before[-1]) if before else None,
            "peak_mib": mib(max(inside)) if inside else None,
            "samples": len(inside),
        }


# -- the fake LLM, a subprocess ------------------------------------------------------------------


@dataclass
class FakeLLMProcess:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    client: Client

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def state(self) -> dict[str, Any]:
        data, _ = self.client.expect("GET", "/_fake/state", 200)
        return cast(dict[str, Any], data)

    def load(self, items: Sequence[dict[str, Any]]) -> None:
        """Forget the previous script and records, then script `items`."""
        self.client.expect("POST", "/_fake/reset", 200, {})
        data, _ = self.client.expect("POST", "/_fake/script", 200, list(items))
        if data["pending"] != len(items):
            raise BenchError(f"fake llm holds {data['pending']} items, not {len(items)}")

    def cpu(self) -> float | None:
        return process_cpu_seconds(self.process.pid)

    def wait_drained(
        self, limit: float, what: str, left: int = 0, poll: float = LLM_POLL_SECONDS
    ) -> None:
        """Poll /_fake/state until no more than `left` scripted replies are unused."""
        deadline = time.monotonic() + limit
        while True:
            state = self.state()
            if state["exhausted"]:
                raise BenchError(f"{what}: the fake llm ran out of replies ({state})")
            if state["pending"] <= left:
                return
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{what}: {state['pending']} replies still unused after {limit:g}s"
                )
            time.sleep(poll)


@contextlib.contextmanager
def fake_llm(
    workdir: Path, attempts: int = 3, default_reply: dict[str, Any] | None = None
) -> Iterator[FakeLLMProcess]:
    """`python -m roo.testing.fake_llm` on a free loopback port, stopped on every way out;
    `default_reply` (a script item) answers every request its script leaves unanswered."""
    log_path = workdir / "fake_llm.log"
    for attempt in range(1, attempts + 1):
        port = free_port()
        command = [sys.executable, "-m", "roo.testing.fake_llm", "--host", HOST]
        command += ["--port", str(port), "--api-key", LLM_KEY]
        if default_reply is not None:
            command += ["--default-reply", json.dumps(default_reply)]
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,
            )
        llm = FakeLLMProcess(port, process, log_path, Client(port, timeout=30))
        try:
            deadline = time.monotonic() + 20
            while True:
                if process.poll() is not None:
                    raise BenchError(
                        f"fake llm exited with {process.returncode}:\n{log_tail(log_path)}"
                    )
                with contextlib.suppress(OSError):
                    llm.state()
                    break
                if time.monotonic() > deadline:
                    raise BenchError("fake llm not ready within 20s")
                time.sleep(0.1)
        except BenchError:
            llm.client.close()
            stop(process)
            if attempt == attempts:
                raise
            continue
        except BaseException:
            llm.client.close()
            stop(process)
            raise
        try:
            yield llm
        finally:
            llm.client.close()
            stop(process)
        return


# -- scripts -------------------------------------------------------------------------------------


def reply(text: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "reply",
        "text": text,
        "tool_calls": [{"name": name, "arguments": arguments}],
        "usage": USAGE,
    }


def tool_step(n: int) -> dict[str, Any]:
    """Step n of one task: list_files and read_file in turn (never twice the same call)."""
    text = f"Step {n + 1}: looking at the workspace."
    if n % 2 == 0:
        return reply(text, "list_files", {"path": ".", "recursive": n % 4 == 2})
    return reply(text, "read_file", {"path": "README.md", "limit": 1000 + n})


def shared_step(n: int) -> dict[str, Any]:
    """Reply n of a script shared by concurrent tasks: read_file, every call unique."""
    return reply(f"Reading ({n}).", "read_file", {"path": "README.md", "limit": 1000 + n})


def completion(n: int) -> dict[str, Any]:
    return reply("", "attempt_completion", {"result": f"Done ({n})."})


def task_script(steps: int) -> list[dict[str, Any]]:
    return [tool_step(n) for n in range(steps - 1)] + [completion(0)]


# -- 1. the engine in process --------------------------------------------------------------------


class TimedProvider:
    """The real provider, with the wall and CPU time spent inside each of its streams (which
    includes the engine's handling of the chunks it yields: a few in-memory sink calls)."""

    def __init__(self, inner: OpenAIProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.protocol = inner.protocol
        self.requests: list[ModelRequest] = []
        self.wall: list[float] = []
        self.cpu: list[float] = []

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        self.requests.append(request)
        wall, cpu = time.perf_counter(), time.process_time()
        async for chunk in self.inner.stream(request):
            yield chunk
        self.wall.append(time.perf_counter() - wall)
        self.cpu.append(time.process_time() - cpu)

    async def context_window(self, model: str) -> int | None:
        return await self.inner.context_window(model)

    async def aclose(self) -> None:
        await self.inner.aclose()


class Recorder:
    """The in-memory event sink and checkpoint: counts, and the start of every request."""

    def __init__(self) -> None:
        self.events: Counter[str] = Counter()
        self.checkpoints = 0
        self.marks: list[tuple[float, float]] = []  # (perf_counter, process_time)

    async def sink(self, event: str, data: dict[str, Any]) -> None:
        self.events[event] += 1
        if event == "api.request":
            self.marks.append((time.perf_counter(), time.process_time()))

    async def checkpoint(self, state: EngineState) -> None:
        self.checkpoints += 1


class NoQuestions:
    """The engine's Interaction: reads are auto-approved, so nothing may be asked."""

    async def ask(self, question: Ask) -> Answer:
        raise BenchError(f"the engine asked a {question.kind} question ({question.tool})")

    def take_queued_messages(self) -> list[str]:
        return []

    def take_condense_request(self) -> bool:
        return False


async def no_commands(*args: Any, **kwargs: Any) -> ProcessResult:
    raise RuntimeError("no command runs in bench/tasks.py")


@dataclass
class EngineRun:
    steps: int
    wall: list[float]  # per step
    cpu: list[float]
    provider: TimedProvider
    recorder: Recorder
    state: EngineState
    seconds: float


async def run_engine(
    llm: FakeLLMProcess,
    workspace: Path,
    registry: ToolRegistry,
    steps: int,
    profile: cProfile.Profile | None = None,
) -> EngineRun:
    llm.load(task_script(steps))
    provider = TimedProvider(OpenAIProvider(LLM_KEY, llm.base_url, timeout=30))
    recorder = Recorder()

    def tool_context(on_output: OnOutput) -> ToolContext:  # as the runner builds it
        return ToolContext(
            workspace=workspace,
            run_command=no_commands,
            ignore=workspace_ignore_rules(workspace),
            on_output=on_output,
        )

    listing = workspace_listing(workspace, workspace_ignore_rules(workspace))
    setup = AgentSetup(
        provider=provider,
        model=MODEL,
        model_info=resolve_model_info(PROVIDER, MODEL),
        registry=registry,
        tool_context=tool_context,
        sink=recorder.sink,
        interaction=NoQuestions(),
        checkpoint=recorder.checkpoint,
        policy=ApprovalPolicy.from_mapping(SESSION_CONFIG["approvalPolicy"]),
        limits=AgentLimits(max_wall_seconds=WAIT_SECONDS, retry_attempts=0),
        workspace=WorkspaceFacts(file_listing=listing),
    )
    state = EngineState()
    agent = Agent(setup, state)
    started = time.perf_counter()
    try:
        if profile is not None:
            profile.enable()
        outcome = await agent.run(TASK_INPUT)
    finally:
        if profile is not None:
            profile.disable()
        end = (time.perf_counter(), time.process_time())
        await provider.aclose()
    if outcome.status != "completed" or state.requests != steps:
        raise BenchError(
            f"engine run: {outcome.status} after {state.requests} requests "
            f"({outcome.reason}: {outcome.message})"
        )
    marks = [*recorder.marks, end]
    return EngineRun(
        steps=steps,
        wall=[b[0] - a[0] for a, b in itertools.pairwise(marks)],
        cpu=[b[1] - a[1] for a, b in itertools.pairwise(marks)],
        provider=provider,
        recorder=recorder,
        state=state,
        seconds=end[0] - started,
    )


async def run_raw(
    llm: FakeLLMProcess, requests: Sequence[ModelRequest]
) -> tuple[list[float], list[float]]:
    """The same requests with the SDK alone, as OpenAIProvider sends them; (wall, cpu) each."""
    llm.load(task_script(len(requests)))
    bodies = []
    for request in requests:  # built before anything is timed
        tools = openai_tools(request.tools)
        bodies.append(
            {
                "model": request.model,
                "messages": openai_messages(request.system, request.messages),
                "tools": tools,
                "tool_choice": "auto",
                "parallel_tool_calls": True,
                "max_completion_tokens": request.max_tokens,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
        )
    client = openai.AsyncOpenAI(api_key=LLM_KEY, base_url=llm.base_url, max_retries=0, timeout=30)
    walls: list[float] = []
    cpus: list[float] = []
    try:
        for body in bodies:
            wall, cpu = time.perf_counter(), time.process_time()
            # as OpenAIProvider sends it: the SDK's post() with the plain body (create() would
            # add its typed transform of the whole history)
            stream = await client.post(
                "/chat/completions",
                body=body,
                cast_to=ChatCompletion,
                stream=True,
                stream_cls=openai.AsyncStream[ChatCompletionChunk],
            )
            chunks = 0
            async with stream:
                async for _chunk in stream:
                    chunks += 1
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            if chunks == 0:
                raise BenchError("raw SDK call: an empty stream")
    finally:
        await client.close()
    return walls, cpus


def profile_entry(key: tuple[str, int, str], tt: float, ct: float, calls: int, steps: int) -> Any:
    filename, line, name = key
    for marker in ("site-packages/", "/src/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    else:
        filename = re.sub(r"^.*/lib/python3\.\d+/", "stdlib/", filename)
    return {
        "function": f"{filename}:{line}({name})",
        "calls_per_step": round(calls / steps, 1),
        "tottime_ms_per_step": round(tt * 1000 / steps, 3),
        "cumtime_ms_per_step": round(ct * 1000 / steps, 3),
    }


def area(filename: str) -> str:
    """Where a function lives, for the profile's breakdown."""
    if "/roo/" in filename:
        parts = filename.split("/roo/", 1)[1].split("/")
        return "roo." + ".".join(p.removesuffix(".py") for p in parts[:2])
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/")[0]
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins"
    return "stdlib." + Path(filename).stem


def summarise_profile(profile: cProfile.Profile, steps: int, top: int = 15) -> dict[str, Any]:
    stats = cast(dict[Any, Any], pstats.Stats(profile).stats)  # type: ignore[attr-defined]
    rows = [(key, value[2], value[3], value[1]) for key, value in stats.items()]
    by_tottime = sorted(rows, key=lambda r: r[1], reverse=True)[:top]
    roo_rows = [r for r in rows if "/roo/" in r[0][0]]
    by_cumtime = sorted(roo_rows, key=lambda r: r[2], reverse=True)[:top]
    areas: Counter[str] = Counter()
    for key, tt, _ct, _calls in rows:
        areas[area(key[0])] += tt
    total = sum(areas.values())
    return {
        "steps": steps,
        "profiled_cpu_ms_per_step": round(total * 1000 / steps, 3),
        "by_area_ms_per_step": {
            name: round(tt * 1000 / steps, 3) for name, tt in areas.most_common(12)
        },
        "top_tottime": [profile_entry(k, tt, ct, c, steps) for k, tt, ct, c in by_tottime],
        "top_roo_cumtime": [profile_entry(k, tt, ct, c, steps) for k, tt, ct, c in by_cumtime],
    }


def state_json_cost(state: EngineState) -> dict[str, Any]:
    """What one checkpoint of the final state costs to serialise (the service writes the whole
    state as JSON at every checkpoint)."""
    times = []
    size = 0
    for _ in range(5):
        started = time.perf_counter()
        size = len(json.dumps(state.to_dict()))
        times.append(time.perf_counter() - started)
    return {"bytes": size, "json_dumps_ms": round(min(times) * 1000, 3)}


async def fixed_costs(
    workspace: Path, registry: ToolRegistry, llm: FakeLLMProcess
) -> dict[str, Any]:
    """Median CPU of pieces the engine and the runner redo for every request or every run."""
    mode = MODES["code"]
    tools = tools_for_mode(mode, registry)
    facts = WorkspaceFacts(file_listing=workspace_listing(workspace, IgnoreRules()))
    now = datetime.now(UTC)

    def median_ms(work: Any, times: int = 15) -> float:
        samples = []
        for _ in range(times):
            started = time.process_time()
            work()
            samples.append(time.process_time() - started)
        return round(statistics.median(samples) * 1000, 3)

    providers: list[OpenAIProvider] = []
    built = median_ms(lambda: providers.append(OpenAIProvider(LLM_KEY, llm.base_url, timeout=30)))
    for provider in providers:
        await provider.aclose()
    return {
        "tool_specs_ms": median_ms(
            lambda: [ToolSpec(t.name, t.description, t.parameters_schema()) for t in tools]
        ),
        "tools": len(tools),
        "system_prompt_ms": median_ms(
            lambda: build_system_prompt(mode, tools, facts, None, MODES, now=now)
        ),
        "system_prompt_chars": len(build_system_prompt(mode, tools, facts, None, MODES, now=now)),
        "openai_provider_construction_ms": built,
    }


async def engine_benchmark(
    llm: FakeLLMProcess, workspace: Path, args: argparse.Namespace
) -> dict[str, Any]:
    registry = default_registry()
    await run_engine(llm, workspace, registry, ENGINE_WARMUP_STEPS)  # imports, first connections

    fake_before = llm.cpu()
    run = await run_engine(llm, workspace, registry, args.engine_steps)
    fake_engine = llm.cpu()
    raw_wall, raw_cpu = await run_raw(llm, run.provider.requests)
    fake_raw = llm.cpu()

    profile = cProfile.Profile()
    profiled = await run_engine(llm, workspace, registry, args.profile_steps, profile)

    step, raw = dist(run.wall), dist(raw_wall)
    steps = run.steps
    half = steps // 2
    engine_only = [w - p for w, p in zip(run.wall, run.provider.wall, strict=True)]
    total_raw = sum(raw_wall)
    fake_cpu = None
    if fake_before is not None and fake_engine is not None and fake_raw is not None:
        fake_cpu = {
            "engine_run_ms_per_request": round((fake_engine - fake_before) * 1000 / steps, 3),
            "raw_run_ms_per_request": round((fake_raw - fake_engine) * 1000 / steps, 3),
        }
    return {
        "steps": steps,
        "seconds": round(run.seconds, 3),
        "step_wall": step,
        "step_cpu": dist(run.cpu),
        "step_wall_first_half_p50_ms": dist(run.wall[:half])["p50_ms"],
        "step_wall_second_half_p50_ms": dist(run.wall[half:])["p50_ms"],
        # mean CPU of the first n steps, to set against the service's CPU for as many steps
        "step_cpu_mean_first_ms": {
            str(n): round(statistics.fmean(run.cpu[:n]) * 1000, 3)
            for n in sorted({args.concurrent_steps, args.service_steps})
            if n <= steps
        },
        "provider_stream_wall": dist(run.provider.wall),
        "provider_stream_cpu": dist(run.provider.cpu),
        "engine_only_wall": dist(engine_only),
        "raw_sdk_call_wall": raw,
        "raw_sdk_call_cpu": dist(raw_cpu),
        "overhead": {
            "p50_ms": round(step["p50_ms"] - raw["p50_ms"], 3),
            "p99_ms": round(step["p99_ms"] - raw["p99_ms"], 3),
            "mean_ms": round((sum(run.wall) - total_raw) * 1000 / steps, 3),
            "cpu_p50_ms": round(dist(run.cpu)["p50_ms"] - dist(raw_cpu)["p50_ms"], 3),
            "cpu_mean_ms": round((sum(run.cpu) - sum(raw_cpu)) * 1000 / steps, 3),
        },
        "per_step": {
            "events": round(sum(run.recorder.events.values()) / steps, 2),
            "events_by_kind": dict(sorted(run.recorder.events.items())),
            "checkpoints": round(run.recorder.checkpoints / steps, 2),
        },
        "final_state": state_json_cost(run.state),
        "last_request_messages": len(run.provider.requests[-1].messages),
        "fake_llm_cpu": fake_cpu,
        "profile": summarise_profile(profile, profiled.steps),
        "fixed_costs_cpu": await fixed_costs(workspace, registry, llm),
    }


def run_engine_benchmark(workdir: Path, llm: FakeLLMProcess, args: argparse.Namespace) -> Any:
    workspace = workdir / "engine-ws"
    (workspace / "src").mkdir(parents=True)
    (workspace / "README.md").write_text(README)
    (workspace / "src" / "app.py").write_text(APP_PY)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(engine_benchmark(llm, workspace, args))


# -- 2. the service ------------------------------------------------------------------------------


@dataclass
class Seat:
    """One session and its owner."""

    session_id: str
    user: User

    @property
    def base(self) -> str:
        return f"/api/v1/sessions/{self.session_id}"


@dataclass
class Timeline:
    """One task, from its session's event log (server timestamps, seconds since the epoch)."""

    task_id: str
    state: str
    created: float
    started: float | None = None
    first_reply: float | None = None
    ended: float | None = None
    requests: list[float] = field(default_factory=list)  # api.request
    replies: int = 0  # task.progress
    events: int = 0


def parse_time(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


class Api:
    """Set-up and follow-up calls to roo (httpx, keep-alive); measured calls use `Client`."""

    def __init__(self, server: Server) -> None:
        self.http = httpx.Client(base_url=server.url(""), timeout=30)

    def close(self) -> None:
        self.http.close()

    def expect(self, status: int, method: str, path: str, user: User, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, headers=user.bearer, **kwargs)
        except httpx.HTTPError as exc:
            raise BenchError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        if response.status_code != status:
            raise BenchError(
                f"{method} {path} answered {response.status_code}, not {status}: "
                f"{response.text[:500]}"
            )
        return response.json() if response.content else None

    def sessions(self, users: Sequence[User], count: int, files: bool) -> list[Seat]:
        """`count` sessions (reads auto-approved), the users in turn; with `files`, a README.md
        and src/app.py in each workspace."""
        seats = []
        for n in range(count):
            user = users[n % len(users)]
            body = {"name": f"bench tasks {n}", "config": SESSION_CONFIG}
            data = self.expect(201, "POST", "/api/v1/sessions", user, json=body)
            seat = Seat(str(data["id"]), user)
            if files:
                for path, text in (("README.md", README), ("src/app.py", APP_PY)):
                    self.expect(
                        201,
                        "PUT",
                        f"{seat.base}/files/{path}?parents=true",
                        user,
                        content=text.encode(),
                    )
            seats.append(seat)
        return seats

    def start(self, seat: Seat) -> str:
        data = self.expect(202, "POST", f"{seat.base}/tasks", seat.user, json={"input": TASK_INPUT})
        return str(data["id"])

    def wait_ended(
        self, tasks: Sequence[tuple[Seat, str]], limit: float, poll: float = TASK_POLL_SECONDS
    ) -> dict[str, str]:
        """Poll each task's state (every `poll` seconds) until all have ended."""
        deadline = time.monotonic() + limit
        states: dict[str, str] = {}
        waiting = list(tasks)
        while waiting:
            still = []
            for seat, task_id in waiting:
                page = self.expect(200, "GET", f"{seat.base}/tasks?limit=1", seat.user)
                item = page["items"][0]
                if item["id"] != task_id:
                    raise BenchError(f"session {seat.session_id}: an unexpected task {item['id']}")
                if item["state"] in TERMINAL:
                    states[task_id] = item["state"]
                else:
                    still.append((seat, task_id))
            waiting = still
            if waiting:
                if time.monotonic() > deadline:
                    raise BenchError(f"{len(waiting)} tasks still running after {limit:g}s")
                time.sleep(poll)
        return states

    def events(self, seat: Seat) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after = 0
        while True:
            page = self.expect(
                200, "GET", f"{seat.base}/events?after={after}&limit=1000", seat.user
            )
            items += page["items"]
            after = page["nextAfter"]
            if not page["hasMore"]:
                return items

    def timelines(self, seat: Seat) -> dict[str, Timeline]:
        found: dict[str, Timeline] = {}
        for event in self.events(seat):
            task_id, name = event["taskId"], event["event"]
            at = parse_time(event["timestamp"])
            if name == "task.created":
                found[task_id] = Timeline(task_id, "created", at)
            line = found.get(task_id)
            if line is None:
                continue
            line.events += 1
            if name == "task.started" and line.started is None:
                line.started = at
            elif name == "api.request":
                line.requests.append(at)
            elif name == "task.progress":
                line.replies += 1
                if line.first_reply is None:
                    line.first_reply = at
            elif name in ("task.complete", "error.occurred", "task.cancelled", "task.interrupted"):
                line.ended = at
                line.state = {"task.complete": "completed", "error.occurred": "failed"}.get(
                    name, name.removeprefix("task.")
                )
        return found


def check_completed(lines: Sequence[Timeline], what: str) -> None:
    bad = [line for line in lines if line.state != "completed" or line.ended is None]
    if bad:
        raise BenchError(f"{what}: {len(bad)} tasks did not complete (first: {bad[0]})")


def single_task(
    api: Api, llm: FakeLLMProcess, sampler: Sampler, seat: Seat, steps: int, budget: Budget
) -> dict[str, Any]:
    llm.load(task_script(steps))
    fake_before = llm.cpu()
    task_id = api.start(seat)
    llm.wait_drained(budget.wait_limit(), "single task")
    fake_after = llm.cpu()
    api.wait_ended([(seat, task_id)], budget.wait_limit())
    line = api.timelines(seat)[task_id]
    check_completed([line], "single task")
    assert line.ended is not None
    sampler.settle(line.ended)
    seconds = line.ended - line.created
    boundaries = [*line.requests, line.ended]
    cpu = sampler.cpu_between(line.created, line.ended)
    return {
        "steps": line.replies,
        "events": line.events,
        "seconds": round(seconds, 3),
        "ms_per_step": round(seconds * 1000 / line.replies, 3),
        "step": dist([b - a for a, b in itertools.pairwise(boundaries)]),
        "to_started_ms": round(((line.started or line.created) - line.created) * 1000, 3),
        "cpu_seconds": round(cpu, 3) if cpu is not None else None,
        "cpu_ms_per_step": round(cpu * 1000 / line.replies, 3) if cpu is not None else None,
        "cpu_cores": round(cpu / seconds, 2) if cpu is not None and seconds else None,
        "fake_llm_cpu_ms_per_request": round((fake_after - fake_before) * 1000 / steps, 3)
        if fake_before is not None and fake_after is not None
        else None,
    }


def creations(
    api: Api,
    server: Server,
    llm: FakeLLMProcess,
    sampler: Sampler,
    seats: Sequence[Seat],
    budget: Budget,
    *,
    idle: bool,
) -> dict[str, Any]:
    """One task created in each session, one request after the other. Back to back (`idle`
    false): each task runs (one model reply, then completion) while the next ones are created.
    Idle: the next creation waits until the previous task has ended (its state polled every
    IDLE_POLL_SECONDS), so the route runs alone; its CPU is read around each request."""
    llm.load([completion(n) for n in range(len(seats))])
    client = Client(server.port)
    latencies: list[float] = []
    post_cpu = 0.0
    tasks: list[tuple[Seat, str]] = []
    pid = server.process.pid
    try:
        started = time.time()
        for n, seat in enumerate(seats):
            budget.check("the next creation")
            before = process_cpu_seconds(pid)
            status, data, elapsed = client.call(
                "POST", f"{seat.base}/tasks", {"input": TASK_INPUT}, seat.user.bearer
            )
            after = process_cpu_seconds(pid)
            if status != 202:
                raise BenchError(f"POST {seat.base}/tasks answered {status}: {str(data)[:300]}")
            latencies.append(elapsed)
            tasks.append((seat, str(data["id"])))
            if before is not None and after is not None:
                post_cpu += after - before
            if idle:
                limit = budget.wait_limit()
                llm.wait_drained(limit, "creations", len(seats) - n - 1, IDLE_POLL_SECONDS)
                api.wait_ended(tasks[-1:], limit, IDLE_POLL_SECONDS)
        finished = time.time()
    finally:
        client.close()
    llm.wait_drained(budget.wait_limit(), "creations")
    states = api.wait_ended(tasks, budget.wait_limit())
    failed = {k: v for k, v in Counter(states.values()).items() if k != "completed"}
    if failed:
        raise BenchError(f"creations: tasks ended {failed}")
    result = dist(latencies)
    out: dict[str, Any] = {
        "request": "POST /api/v1/sessions/{id}/tasks",
        "mode": "idle" if idle else "back_to_back",
        "clients": 1,
        **result,
        "seconds": round(finished - started, 3),
    }
    if idle:
        # /proc ticks are 10 ms: only the sum over many requests means something
        out["cpu_ms_per_request"] = round(post_cpu * 1000 / len(latencies), 3)
    else:
        sampler.settle(finished)
        cpu = sampler.cpu_between(started, finished)
        out["requests_per_s"] = round(len(latencies) / (finished - started), 1)
        out["cpu_ms_per_creation_and_run"] = (
            round(cpu * 1000 / len(latencies), 3) if cpu is not None else None
        )
        out["cpu_cores"] = round(cpu / (finished - started), 2) if cpu is not None else None
    out["targets"] = {
        "aim_ms": CREATE_P99_AIM_MS,
        "seed_ms": CREATE_P99_SEED_MS,
        "aim_met": result["p99_ms"] < CREATE_P99_AIM_MS,
        "seed_met": result["p99_ms"] < CREATE_P99_SEED_MS,
    }
    return out


async def post_together(
    server: Server, seats: Sequence[Seat], connections: int
) -> tuple[float, list[tuple[Seat, str, float]]]:
    """POST one task in each session, all at once (httpx bounds the connections)."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=server.url(""), limits=limits, timeout=60) as http:

        async def one(seat: Seat) -> tuple[Seat, str, float]:
            sent = time.perf_counter()
            try:
                response = await http.post(
                    f"{seat.base}/tasks", json={"input": TASK_INPUT}, headers=seat.user.bearer
                )
            except httpx.HTTPError as exc:
                raise BenchError(f"POST {seat.base}/tasks: {type(exc).__name__}: {exc}") from None
            if response.status_code != 202:
                raise BenchError(
                    f"POST {seat.base}/tasks answered {response.status_code}: {response.text[:300]}"
                )
            return seat, str(response.json()["id"]), time.perf_counter() - sent

        started = time.time()
        return started, list(await asyncio.gather(*(one(seat) for seat in seats)))


def concurrent_tasks(
    api: Api,
    server: Server,
    llm: FakeLLMProcess,
    sampler: Sampler,
    seats: Sequence[Seat],
    steps: int,
    connections: int,
    budget: Budget,
) -> dict[str, Any]:
    count = len(seats)
    total = count * steps
    llm.load([shared_step(n) for n in range(total - count)] + [completion(n) for n in range(count)])
    fake_before = llm.cpu()
    started, posted = asyncio.run(post_together(server, seats, connections))
    llm.wait_drained(budget.wait_limit(), "concurrent tasks")
    fake_after = llm.cpu()
    api.wait_ended([(seat, task_id) for seat, task_id, _ in posted], budget.wait_limit())
    lines = [api.timelines(seat)[task_id] for seat, task_id, _ in posted]
    check_completed(lines, "concurrent tasks")
    ended = max(line.ended or 0.0 for line in lines)
    sampler.settle(ended)
    wall = ended - started
    replies = sum(line.replies for line in lines)
    cpu = sampler.cpu_between(started, ended)
    return {
        "tasks": count,
        "steps": replies,
        "steps_per_task": count_dist([line.replies for line in lines]),
        "post_connections": connections,
        "wall_seconds": round(wall, 3),
        "tasks_per_s": round(count / wall, 2),
        "steps_per_s": round(replies / wall, 1),
        "cpu_seconds": round(cpu, 3) if cpu is not None else None,
        "cpu_cores": round(cpu / wall, 2) if cpu is not None else None,
        "cpu_ms_per_step": round(cpu * 1000 / replies, 3) if cpu is not None else None,
        "rss": sampler.rss(started, ended),
        "post": dist([elapsed for _, _, elapsed in posted]),
        "to_started": dist([(line.started or line.created) - line.created for line in lines]),
        "to_first_reply": dist(
            [(line.first_reply or line.created) - line.created for line in lines]
        ),
        "to_complete": dist([(line.ended or line.created) - line.created for line in lines]),
        "from_burst_start_to_complete": dist([(line.ended or started) - started for line in lines]),
        "fake_llm_cpu_ms_per_request": round((fake_after - fake_before) * 1000 / total, 3)
        if fake_before is not None and fake_after is not None
        else None,
    }


def roo_log_summary(path: Path) -> dict[str, Any]:
    levels: Counter[str] = Counter()
    events: Counter[str] = Counter()
    every: Counter[str] = Counter()
    size = 0
    with contextlib.suppress(OSError), path.open("rb") as log:
        for raw in log:
            size += len(raw)
            try:
                line = json.loads(raw)
            except ValueError:
                levels["(not json)"] += 1
                continue
            level = str(line.get("level", "?")).lower()
            levels[level] += 1
            every[str(line.get("event", "?"))[:80]] += 1
            if level in ("warning", "error", "critical"):
                events[str(line.get("event", "?"))[:120]] += 1
    return {
        "bytes": size,
        "lines": sum(levels.values()),
        "levels": dict(levels),
        "top_events": dict(every.most_common(8)),
        "warnings_and_errors": dict(events.most_common(10)),
    }


def service_run(
    workdir: Path,
    llm: FakeLLMProcess,
    args: argparse.Namespace,
    budget: Budget,
    label: str,
    extra_env: dict[str, str],
    run_id: str,
    full: bool,
) -> dict[str, Any]:
    """One server: warm-up, then (full) the single task and the creations, and the concurrent
    tasks (--concurrent, or --pg-concurrent when not full)."""
    concurrent = args.concurrent if full else args.pg_concurrent
    seats_needed = 1 + concurrent + ((1 + args.creations + args.idle_creations) if full else 0)
    admins = [
        User(bench_email(f"bench-tasks-{i}", run_id, not full), secrets.token_urlsafe(18))
        for i in range(math.ceil(seats_needed / ADMIN_MAX_SESSIONS))
    ]
    env_extra = {
        **extra_env,
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": LLM_KEY,
        "ROO_DEFAULT_PROVIDER": PROVIDER,
        "ROO_DEFAULT_MODEL": MODEL,
        "ROO_TASK_CREATE_LIMIT": "100000/minute",
        # all --concurrent tasks run at once (the default per-process cap is 32; the replies
        # come from one shared script, so capped tasks would not get ~5 steps each)
        "ROO_MAX_RUNNING_TASKS": str(max(args.concurrent, 1)),
    }
    data_dir = workdir / "roo-data"
    data_dir.mkdir()
    env = server_env("roo", data_dir, args.roo_log_level, env_extra)
    setup_seconds = create_users(env, [(admin, "admin") for admin in admins])
    result: dict[str, Any] = {"label": label}
    with (
        running_server("roo", workdir, args.roo_log_level, extra_env=env_extra) as server,
        Sampler(server.process.pid) as sampler,
    ):
        sign_in(server, admins)
        api = Api(server)
        try:
            print(
                f"{label}: roo ready on :{server.port}; {len(admins)} admins created in "
                f"{setup_seconds:.1f}s",
                file=sys.stderr,
            )
            started = time.monotonic()
            warm, *seats = api.sessions(admins, 1 + (1 if full else 0), files=True)
            llm.load(task_script(SERVICE_WARMUP_STEPS))
            warm_id = api.start(warm)
            llm.wait_drained(budget.wait_limit(), "warm-up")
            api.wait_ended([(warm, warm_id)], budget.wait_limit())
            concurrent_seats = api.sessions(admins, concurrent, files=True)
            create_seats = api.sessions(admins, args.creations, files=False) if full else []
            idle_seats = api.sessions(admins, args.idle_creations, files=False) if full else []
            result["setup"] = {
                "user_setup_seconds": round(setup_seconds, 1),
                "admins": len(admins),
                "sessions": 1
                + len(seats)
                + len(concurrent_seats)
                + len(create_seats)
                + len(idle_seats),
                "session_setup_seconds": round(time.monotonic() - started, 1),
            }
            if full:
                budget.check("the single task")
                single = single_task(api, llm, sampler, seats[0], args.service_steps, budget)
                result["single_task"] = single
                print(
                    f"{label}: single task {single['steps']} steps in {single['seconds']:.2f}s "
                    f"({single['ms_per_step']:.1f} ms/step, cpu {single['cpu_ms_per_step']} "
                    "ms/step)",
                    file=sys.stderr,
                )
                result["create"] = {}
                for mode, group in (("back_to_back", create_seats), ("idle", idle_seats)):
                    if not group:
                        continue
                    budget.check(f"the creations ({mode})")
                    created = creations(
                        api, server, llm, sampler, group, budget, idle=mode == "idle"
                    )
                    result["create"][mode] = created
                    print(
                        f"{label}: {created['n']} creations ({mode}) p50 "
                        f"{created['p50_ms']:.1f} ms p99 {created['p99_ms']:.1f} ms",
                        file=sys.stderr,
                    )
            budget.check("the concurrent tasks")
            together = concurrent_tasks(
                api,
                server,
                llm,
                sampler,
                concurrent_seats,
                args.concurrent_steps,
                args.post_connections,
                budget,
            )
            result["concurrent"] = together
            print(
                f"{label}: {together['tasks']} concurrent tasks, {together['steps']} steps in "
                f"{together['wall_seconds']:.2f}s ({together['steps_per_s']} steps/s, "
                f"{together['cpu_cores']} cores)",
                file=sys.stderr,
            )
        finally:
            api.close()
        memory = process_memory(server.process.pid) or {}
        result["server_memory_end_mib"] = {k: mib(v) for k, v in memory.items()}
    result["roo_log"] = roo_log_summary(server.log_path)
    return result


# -- report --------------------------------------------------------------------------------------


def compare_with_engine(engine: dict[str, Any], run: dict[str, Any], args: Any) -> None:
    """The service's CPU per step less the engine's in process for as many first steps: what
    the runner, the event log, the checkpoints and the HTTP side add."""
    first = engine["step_cpu_mean_first_ms"]
    for key, steps in (("single_task", args.service_steps), ("concurrent", args.concurrent_steps)):
        measured = run.get(key)
        in_process = first.get(str(steps))
        if measured is None or in_process is None or measured["cpu_ms_per_step"] is None:
            continue
        measured["engine_in_process_cpu_ms_per_step"] = in_process
        measured["service_added_cpu_ms_per_step"] = round(
            measured["cpu_ms_per_step"] - in_process, 3
        )


def row(name: str, d: dict[str, Any], extra: str = "") -> str:
    return (
        f"{name:<44}{d['n']:>6}{d['p50_ms']:>10.2f}{d['p90_ms']:>10.2f}{d['p99_ms']:>10.2f}"
        f"{d['max_ms']:>10.2f}  {extra}"
    )


def print_summary(report: dict[str, Any], output: Path, out: IO[str] = sys.stdout) -> None:
    e = report["engine"]
    print(f"\ntasks: fake LLM answering at once; {report['settings']['seconds']} s", file=out)
    print(
        f"{'measurement':<44}{'n':>6}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'max ms':>10}",
        file=out,
    )
    print(row("engine step, wall (in process)", e["step_wall"]), file=out)
    print(row("engine step, CPU", e["step_cpu"]), file=out)
    print(row("raw SDK call, same requests, wall", e["raw_sdk_call_wall"]), file=out)
    print(row("raw SDK call, CPU", e["raw_sdk_call_cpu"]), file=out)
    print(row("engine step minus its provider stream", e["engine_only_wall"]), file=out)
    o = e["overhead"]
    print(
        f"engine overhead per step: p50 {o['p50_ms']:.2f} ms, mean {o['mean_ms']:.2f} ms "
        f"(CPU p50 {o['cpu_p50_ms']:.2f} ms, mean {o['cpu_mean_ms']:.2f} ms)",
        file=out,
    )
    f = e["fixed_costs_cpu"]
    print(
        f"CPU per request: {f['tools']} tool schemas {f['tool_specs_ms']} ms, system prompt "
        f"{f['system_prompt_ms']} ms; per task run: OpenAIProvider() "
        f"{f['openai_provider_construction_ms']} ms",
        file=out,
    )
    for run in report["service"]:
        label = run["label"]
        if "single_task" in run:
            s = run["single_task"]
            print(
                row(f"{label}: single task, step", s["step"], f"cpu {s['cpu_ms_per_step']} ms"),
                file=out,
            )
            if "service_added_cpu_ms_per_step" in s:
                print(
                    f"{label}: single task: {s['cpu_ms_per_step']} ms CPU/step, of which the "
                    f"engine in process {s['engine_in_process_cpu_ms_per_step']} ms, the "
                    f"service adds {s['service_added_cpu_ms_per_step']} ms",
                    file=out,
                )
        for mode, created in run.get("create", {}).items():
            print(row(f"{label}: POST /tasks ({mode})", created), file=out)
        c = run["concurrent"]
        print(row(f"{label}: {c['tasks']} together, POST /tasks", c["post"]), file=out)
        print(row(f"{label}: {c['tasks']} together, to started", c["to_started"]), file=out)
        print(row(f"{label}: {c['tasks']} together, to 1st reply", c["to_first_reply"]), file=out)
        print(row(f"{label}: {c['tasks']} together, to complete", c["to_complete"]), file=out)
        print(
            f"{label}: {c['tasks']} tasks, {c['steps']} steps in {c['wall_seconds']} s: "
            f"{c['tasks_per_s']} tasks/s, {c['steps_per_s']} steps/s, {c['cpu_cores']} cores, "
            f"{c['cpu_ms_per_step']} ms CPU/step (the service adds "
            f"{c.get('service_added_cpu_ms_per_step')} ms to the engine's), RSS "
            f"{c['rss']['before_mib']} -> {c['rss']['peak_mib']} MiB",
            file=out,
        )
    for skipped in report.get("skipped", []):
        print(f"skipped: {skipped}", file=out)
    print(f"written to {output}", file=out)


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, DEFAULT_OUTPUT)
    parser.add_argument("--engine-steps", type=int, default=200, help="in-process steps (200)")
    parser.add_argument("--profile-steps", type=int, default=100, help="steps profiled (100)")
    parser.add_argument("--service-steps", type=int, default=100, help="the single task (100)")
    parser.add_argument(
        "--creations", type=int, default=300, help="tasks created back to back (300)"
    )
    parser.add_argument(
        "--idle-creations",
        type=int,
        default=100,
        help="tasks created each after the previous one ended (100; 0: none)",
    )
    parser.add_argument("--concurrent", type=int, default=100, help="tasks run together (100)")
    parser.add_argument(
        "--concurrent-steps", type=int, default=5, help="steps per concurrent task, average (5)"
    )
    parser.add_argument(
        "--pg-concurrent",
        type=int,
        default=100,
        help="tasks run together on PostgreSQL + Redis (100)",
    )
    parser.add_argument(
        "--post-connections", type=int, default=32, help="connections for the burst (32)"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=280.0, help="stop with an error past this (280)"
    )
    parser.add_argument(
        "--roo-log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="roo's LOG_LEVEL (INFO, as deployed)",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        default=os.environ.get("DATABASE_URL"),
        help="a PostgreSQL server (loopback) on which to create, use and drop a scratch "
        "database for a second concurrent run (default: DATABASE_URL)",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        default=os.environ.get("REDIS_URL"),
        help="Redis (loopback) for that second run; the run's keys are deleted afterwards "
        "(default: REDIS_URL)",
    )
    args = parser.parse_args(argv)
    require_at_least(
        parser, args, 2, "engine_steps", "profile_steps", "service_steps", "creations", "concurrent"
    )
    require_at_least(parser, args, 1, "concurrent_steps", "pg_concurrent", "post_connections")
    require_at_least(parser, args, 0, "idle_creations")
    if args.database_url and urlsplit(args.database_url).scheme.startswith("sqlite"):
        args.database_url = None  # an embedded database: nothing to compare with
    return args


def run(args: argparse.Namespace, run_id: str) -> dict[str, Any]:
    started = time.monotonic()
    budget = Budget(started + args.max_seconds)
    report: dict[str, Any] = {
        "benchmark": "tasks",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "source": source_revision(),
    }
    skipped: list[str] = []
    service: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roo-bench-")))
        llm = stack.enter_context(fake_llm(workdir))
        print(f"fake llm on :{llm.port}", file=sys.stderr)

        engine = run_engine_benchmark(workdir, llm, args)
        print(
            f"engine: {engine['steps']} steps, p50 {engine['step_wall']['p50_ms']:.2f} ms/step "
            f"(raw SDK call p50 {engine['raw_sdk_call_wall']['p50_ms']:.2f} ms)",
            file=sys.stderr,
        )
        budget.check("the service")
        sqlite_dir = workdir / "sqlite"
        sqlite_dir.mkdir()
        service.append(service_run(sqlite_dir, llm, args, budget, "sqlite", {}, run_id, True))

        if args.database_url or args.redis:
            budget.check("the PostgreSQL + Redis run")
            pg_dir = workdir / "postgres"
            pg_dir.mkdir()
            database_url = None
            if args.database_url:
                database_url = stack.enter_context(
                    scratch_database(args.database_url, pg_dir, f"roo_bench_tasks_{run_id}")
                )
            extra = backend_env(database_url, args.redis, run_id)
            label = "+".join(
                name for name, on in (("postgres", database_url), ("redis", args.redis)) if on
            )
            result = service_run(pg_dir, llm, args, budget, label, extra, run_id, False)
            result["backends"] = describe_backends(args)
            service.append(result)
        else:
            skipped.append(
                "PostgreSQL + Redis: no --database-url/--redis (or DATABASE_URL/REDIS_URL)"
            )
    for result in service:
        compare_with_engine(engine, result, args)
    service[0]["backends"] = {
        "database": "sqlite (embedded, temporary directory)",
        "redis": "none (in-process cache)",
    }
    report["settings"] = {
        "engine_steps": args.engine_steps,
        "engine_warmup_steps": ENGINE_WARMUP_STEPS,
        "profile_steps": args.profile_steps,
        "service_steps": args.service_steps,
        "service_warmup_steps": SERVICE_WARMUP_STEPS,
        "creations": args.creations,
        "idle_creations": args.idle_creations,
        "concurrent": args.concurrent,
        "concurrent_steps": args.concurrent_steps,
        "pg_concurrent": args.pg_concurrent,
        "post_connections": args.post_connections,
        "provider": PROVIDER,
        "model": MODEL,
        "reply_usage": USAGE,
        "session_config": SESSION_CONFIG,
        "task_create_limit": "100000/minute",
        "sample_seconds": SAMPLE_SECONDS,
        "llm_poll_seconds": LLM_POLL_SECONDS,
        "task_poll_seconds": TASK_POLL_SECONDS,
        "engine_event_loop": "uvloop",
        "uvicorn": " ".join(UVICORN_OPTIONS),
        "roo_log_level": args.roo_log_level,
        "seconds": round(time.monotonic() - started, 1),
    }
    report["engine"] = engine
    report["service"] = service
    report["skipped"] = skipped
    return report


def main(argv: Sequence[str] | None = None) -> int:
    return backend_bench_main("tasks", parse_args(argv), run, print_summary)


if __name__ == "__main__":
    sys.exit(main())
