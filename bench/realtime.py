"""Real time: how fast committed events reach WebSocket clients, how many one process delivers,
what an idle connection costs, and an approval's round trip across two processes (issue 14).

    .venv/bin/python bench/realtime.py [--clients 1,100,1000] [--events 40] [--redis URL]
                                       [--database-url URL] [--rounds 20]

The service is `roo serve` (one process, its own WebSocket settings: uvicorn's sans-I/O
`websockets` protocol) on loopback, embedded SQLite in a temporary directory, logging INFO as
JSON to a file, ROO_WS_MAX_CONNECTIONS_PER_USER raised so that one user may hold every socket.
The model is the project's fake LLM (`roo.testing.fake_llm`, a thread of this process). The
clients are real sockets (the `websockets` library, uvloop) in a separate process
(`--client-process`, started by this script), so that their CPU is not the server's; the
machine has 2 cores, so the clients, the server and this process share them: the report gives
each one's CPU time.

Every client authenticates with its first message, waits for `hello`, then watches the same
session: every event goes to every client (the fan-out case). Clock points (one machine, one
wall clock: `time.time()` and the events' `timestamp`). The commit's is taken in the server by
the one addition this script makes to `roo serve` (`--serve-instrumented`, not part of the
product): its bus's `publish`, which the event store calls right after a batch commits, first
writes the batch's seqs and `time.time()` to a side file (one line-buffered write per batch).

- `task` producer (in the server, with and without Redis): a task whose model reply streams
  --events text deltas of 400 characters (one `message` event each: the engine coalesces 400
  characters) 120 ms apart; the run's event buffer writes each about 0.1 s after it was
  emitted. Reported: `commit_to_received` (receipt - the server's publish after the commit) and
  `emitted_to_received` (receipt - the event's `timestamp`, the engine's emission: what a user
  sees, the buffer and the transaction included).
- `append` producer (with Redis only): this process appends `message` events of the same size
  to the same session with `roo.tasks.events.EventStore` on the same SQLite file, one event per
  transaction every 50 ms, published to Redis on commit by the bus (`RedisEventBus`) as another
  roo process would; the server receives them over its Redis subscription. Reported:
  `commit_to_received` = receipt - this process's publish after the commit: the cross-process
  path, commit -> Redis -> server -> socket -> client.

Per client count (--clients) and mode (`sqlite`: no Redis; `redis`: with --redis or
REDIS_URL): p50, p99, max over every (client, event) pair, plus the server's, the clients' and
this process's CPU time. Then:

- `throughput`: --burst events (the task streams them back to back: batches of 64 by count),
  to 1 client and to 100: events per second from the first event's emission to the last
  receipt on every client, deliveries (events x clients) per second, server CPU per delivery;
  and `replay`: a client connecting with lastSeq=0 to a session that holds them, from the
  `hello` to the last event (the log read page by page, no producer in the way).
- `idle_memory`: on a fresh server each time, after 10 sockets opened and closed, its RSS
  (VmRSS, /proc) before and with --idle sockets open (after `hello`, no events), divided by
  their number; once with the client's default offer of permessage-deflate (as browsers offer
  it; the server accepts it here, ROO_WS_COMPRESSION=true, off by default) and once without
  compression (what the default gives).
- `approval`: two `roo serve` processes on a scratch PostgreSQL database (--database-url or
  DATABASE_URL; created and dropped) and Redis. A task started on B runs there and asks
  approval for a command; a client on A's WebSocket gets `approval.required` (through Redis),
  answers `approval.response`, and the times from sending it to the `ack`, to
  `approval.resolved` and to the run's next event (B ran the command: it is B's, over Redis) are
  taken, --rounds times. Skipped, with a note in the report, without PostgreSQL and Redis.

Results: bench/results/realtime.json. Nothing here asserts a timing; the aims (p99 under 5 ms
at 100 clients, 50 KiB per idle connection) and the seed's 50 ms are compared for information.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvloop
from common import (
    HOST,
    RESULTS_DIR,
    BenchError,
    Server,
    bench_parser,
    check_backends,
    exit_on_sigterm,
    machine_info,
    process_cpu_seconds,
    process_memory,
    redis_cleanup,
    redis_prefix,
    report_and_exit,
    running_server,
    source_revision,
)
from loadgen import percentile

from roo.testing.fake_llm import FakeLLM, Reply, ToolCall

Json = dict[str, Any]
LLM_KEY = "sk-bench-realtime"
PASSWORD = "correct horse battery staple"  # noqa: S105 - a scratch user
DELTA_CHARS = 400  # the engine's DELTA_FLUSH_CHARS: one `message` event per 400 characters
FLUSH_SECONDS = 0.1  # roo.tasks.run.FLUSH_SECONDS: an emitted event is written this much later
TASK_SPACING = 0.12  # between two deltas of the `task` producer (> FLUSH_SECONDS: one a batch)
APPEND_SPACING = 0.05  # between two appends of the `append` producer
AIM_P99_MS = 5.0
SEED_MS = 50.0
AIM_IDLE_KIB = 50.0
THIS_FILE = Path(__file__).resolve()
STREAM_LIMIT = 1 << 28  # the client process's reports are single JSON lines


# -- the client process ---------------------------------------------------------------------------


async def _client_process(spec: Json) -> None:
    """Open spec["clients"] sockets, print "ready", then answer each stdin command: `until <seq>`
    (wait until every socket has seen it; print the receipts as one JSON line), `close`."""
    from websockets.asyncio.client import ClientConnection, connect

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < spec["clients"] + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    url = f"{spec['base']}/api/v1/sessions/{spec['session']}/ws"
    receipts: list[list[tuple[int, float]]] = [[] for _ in range(spec["clients"])]
    seen: dict[int, tuple[str, str]] = {}  # seq -> (event, timestamp), from the first socket
    reached = [0] * spec["clients"]
    progress = asyncio.Event()
    gate = asyncio.Semaphore(32)
    compression = "deflate" if spec.get("deflate", True) else None

    async def open_one(i: int) -> ClientConnection:
        async with gate:
            conn = await connect(
                url, open_timeout=60, ping_interval=None, compression=compression, max_size=None
            )
            await conn.send(json.dumps({"type": "auth", "token": spec["token"]}))
            hello = json.loads(await conn.recv())
            if hello.get("type") != "hello":
                raise BenchError(f"client {i}: no hello but {hello}")
            reached[i] = hello["lastSeq"]
            return conn

    async def read(i: int, conn: ClientConnection) -> None:
        mine = receipts[i]
        async for raw in conn:
            now = time.time()
            message = json.loads(raw)
            seq = message.get("seq")
            if seq is None:
                continue
            mine.append((seq, now))
            if i == 0:
                seen[seq] = (message["event"], message["timestamp"])
            reached[i] = seq
            progress.set()

    conns = await asyncio.gather(*(open_one(i) for i in range(spec["clients"])))
    readers = [asyncio.create_task(read(i, c)) for i, c in enumerate(conns)]
    print("ready", flush=True)
    try:
        while True:
            line = (await asyncio.to_thread(sys.stdin.readline)).split()
            if not line or line[0] == "close":
                break
            target = int(line[1])
            deadline = time.monotonic() + float(line[2]) if len(line) > 2 else None
            while min(reached) < target:
                progress.clear()
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(progress.wait(), left)
            report = {
                "reached": min(reached),
                "receipts": receipts,
                "events": {str(k): v for k, v in seen.items()},
                "cpu_s": time.process_time(),
            }
            print(json.dumps(report), flush=True)
            for mine in receipts:
                mine.clear()
            seen.clear()
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)


@dataclass
class Clients:
    """The client process, driven over its stdin and stdout."""

    process: asyncio.subprocess.Process
    count: int

    async def until(self, seq: int, within: float = 60.0) -> Json:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"until {seq} {within}\n".encode())
        await self.process.stdin.drain()
        line = await asyncio.wait_for(self.process.stdout.readline(), within + 30)
        if not line:
            raise BenchError("the client process ended early")
        report: Json = json.loads(line)
        if report["reached"] < seq:
            raise BenchError(f"clients reached seq {report['reached']}, not {seq}, in {within}s")
        return report

    @property
    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid) or 0.0


@contextlib.asynccontextmanager
async def client_process(
    base: str, session: str, token: str, count: int, deflate: bool = True
) -> AsyncIterator[Clients]:
    spec = {"base": base, "session": session, "token": token, "clients": count, "deflate": deflate}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(THIS_FILE),
        "--client-process",
        json.dumps(spec),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=STREAM_LIMIT,
    )
    try:
        assert process.stdout is not None
        assert process.stdin is not None
        line = await asyncio.wait_for(process.stdout.readline(), 120)
        if line.strip() != b"ready":
            raise BenchError(f"the client process did not get ready: {line[:500]!r}")
        yield Clients(process, count)
        process.stdin.write(b"close\n")
        await process.stdin.drain()
        await asyncio.wait_for(process.wait(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


# -- the server ---------------------------------------------------------------------------------


def _instrumented_serve(commit_log: str, serve_args: list[str]) -> int:
    """`roo serve` in this process, its bus's `publish` (called once a batch has committed)
    first writing `<session> <first seq> <last seq> <time.time()>` to `commit_log`: the
    commit's clock point, which nothing on the wire carries. One line-buffered write per
    committed batch (a few microseconds); nothing else differs from `roo serve`."""
    from roo.cli import app as cli
    from roo.realtime import bus as bus_module

    out = open(commit_log, "a", buffering=1)  # open for the process's life
    depth = [0]  # RedisEventBus.publish calls EventBus.publish: one line per batch

    def wrap(cls: Any) -> None:
        original = cls.publish

        def publish(self: Any, events: Any) -> None:
            if events and not depth[0]:
                first, last = events[0], events[-1]
                out.write(f"{first.session_id} {first.seq} {last.seq} {time.time():.6f}\n")
            depth[0] += 1
            try:
                original(self, events)
            finally:
                depth[0] -= 1

        cls.publish = publish

    wrap(bus_module.EventBus)
    wrap(bus_module.RedisEventBus)
    profile = os.environ.pop("RT_BENCH_PROFILE", None)
    if profile is None:
        cli(args=["serve", *serve_args], prog_name="roo", standalone_mode=False)
        return 0
    import cProfile

    exit_on_sigterm()  # uvicorn raises the SIGTERM again once stopped: unwind, dump the stats
    profiler = cProfile.Profile()
    try:
        profiler.runcall(cli, args=["serve", *serve_args], prog_name="roo", standalone_mode=False)
    finally:
        profiler.dump_stats(profile)
    return 0


def commit_times(commit_log: Path, session: str) -> dict[int, float]:
    """seq -> when its batch was published (committed), from the server's commit log."""
    times: dict[int, float] = {}
    with contextlib.suppress(FileNotFoundError):
        for line in commit_log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[0] == session:
                for seq in range(int(parts[1]), int(parts[2]) + 1):
                    times[seq] = float(parts[3])
    return times


@contextlib.contextmanager
def roo_serve(
    workdir: Path,
    label: str,
    extra: dict[str, str],
    commit_log: Path | None = None,
    profile: Path | None = None,
) -> Iterator[Server]:
    """`roo serve` on a free loopback port, its data directory and log under `workdir`; with
    `commit_log`, instrumented (`_instrumented_serve`)."""
    env = dict(extra)
    if profile is not None:
        env["RT_BENCH_PROFILE"] = str(profile)
    roo = Path(sys.executable).with_name("roo")

    def command(port: int) -> list[str]:
        serve = ["--host", HOST, "--port", str(port)]
        if commit_log is None:
            return [str(roo), "serve", *serve]
        return [sys.executable, str(THIS_FILE), "--serve-instrumented", str(commit_log), *serve]

    with running_server("roo", workdir, "INFO", extra_env=env, label=label, command=command) as s:
        yield s


def service_env(llm: FakeLLM, jwt_secret: str) -> dict[str, str]:
    return {
        "JWT_SECRET": jwt_secret,
        "ROO_ALLOW_REGISTRATION": "true",
        "OPENAI_BASE_URL": llm.openai_base_url,
        "OPENAI_API_KEY": LLM_KEY,
        "ROO_DEFAULT_PROVIDER": "openai",
        "ROO_DEFAULT_MODEL": "gpt-4o",
        "ROO_TASK_CREATE_LIMIT": "100000/minute",
        "ROO_WS_MAX_CONNECTIONS_PER_USER": "5000",
        # the server accepts permessage-deflate (off by default) so that each client's offer,
        # or its absence (--no-deflate, the idle "plain" run), decides: both are measured
        "ROO_WS_COMPRESSION": "true",
    }


@dataclass
class Api:
    """One user's REST calls on a server."""

    http: httpx.AsyncClient
    base: str
    token: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    async def sign_up(cls, http: httpx.AsyncClient, base: str) -> Api:
        body = {"email": f"rt-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
        await http.post(f"{base}/api/v1/auth/register", json=body)
        login = await http.post(f"{base}/api/v1/auth/login", json=body)
        if login.status_code != 200:
            raise BenchError(f"login failed: {login.text[:300]}")
        token = login.json()["token"]
        return cls(http, base, token, {"Authorization": f"Bearer {token}"})

    async def call(self, method: str, path: str, status: int, body: Any = None) -> Json:
        response = await self.http.request(
            method, self.base + path, json=body, headers=self.headers
        )
        if response.status_code != status:
            raise BenchError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        data: Json = response.json()
        return data

    async def session(self, name: str) -> str:
        return str((await self.call("POST", "/api/v1/sessions", 201, {"name": name}))["id"])

    async def start(self, session: str, text: str = "go") -> str:
        path = f"/api/v1/sessions/{session}/tasks"
        return str((await self.call("POST", path, 202, {"input": text}))["id"])

    async def wait(self, session: str, task: str, state: str, within: float = 60.0) -> Json:
        deadline = time.monotonic() + within
        while True:
            got = await self.call("GET", f"/api/v1/sessions/{session}/tasks/{task}", 200)
            if got["state"] == state:
                return got
            if got["state"] in ("completed", "failed", "cancelled") or time.monotonic() > deadline:
                raise BenchError(f"task {task} is {got['state']}, wanted {state}")
            await asyncio.sleep(0.05)

    async def last_seq(self, session: str, after: int = 0) -> int:
        """The session's last event seq (its event log, paged from `after`)."""
        while True:
            page = await self.call(
                "GET", f"/api/v1/sessions/{session}/events?after={after}&limit=1000", 200
            )
            after = int(page["nextAfter"])
            if not page["hasMore"]:
                return after


# -- statistics -----------------------------------------------------------------------------------


def stats_ms(values: Sequence[float]) -> Json:
    """p50, p99 (nearest rank), max and min of values in seconds, in ms."""
    ordered = sorted(values)
    if not ordered:
        return {"samples": 0}
    return {
        "samples": len(ordered),
        "p50_ms": round(percentile(ordered, 50) * 1000, 3),
        "p99_ms": round(percentile(ordered, 99) * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
        "min_ms": round(ordered[0] * 1000, 3),
    }


def spread(receipts: list[list[list[float]]], seqs: set[int] | dict[int, float]) -> Json:
    """Per event, its last receipt (over the clients) minus its first: the fan-out's share."""
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    for mine in receipts:
        for seq_value, received in mine:
            seq = int(seq_value)
            if seq in seqs:
                first[seq] = min(first.get(seq, received), received)
                last[seq] = max(last.get(seq, received), received)
    return stats_ms([last[s] - first[s] for s in first])


def wall(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def per_delivery(cpu: Json, report: Json) -> float | None:
    """The server's CPU per event delivered to a client (every event of the round, the task's
    own work included), in microseconds."""
    deliveries = sum(len(mine) for mine in report["receipts"])
    return round(cpu["server_s"] * 1e6 / deliveries, 1) if deliveries else None


class Cpu:
    """CPU seconds of the server, the client process and this process over a measurement."""

    def __init__(self, server: Server, clients: Clients) -> None:
        self.server, self.clients = server, clients
        self.start = self._now()

    def _now(self) -> tuple[float, float, float]:
        return (
            process_cpu_seconds(self.server.process.pid) or 0.0,
            self.clients.cpu_seconds,
            time.process_time(),
        )

    def spent(self) -> Json:
        end = self._now()
        names = ("server_s", "clients_s", "bench_s")
        return {n: round(b - a, 3) for n, a, b in zip(names, self.start, end, strict=True)}


# -- producers ------------------------------------------------------------------------------------


def delta_text(count: int) -> str:
    return "".join(f"{i:04d}" + "x" * (DELTA_CHARS - 4) for i in range(count))


async def task_round(
    api: Api, llm: FakeLLM, session: str, clients: Clients, events: int, spacing: float
) -> tuple[Json, int]:
    """One task streaming `events` deltas `spacing` apart; the clients' report, and the seqs of
    its `message` events."""
    before = await api.last_seq(session)
    llm.script(
        Reply(
            text=delta_text(events),
            chunk_size=DELTA_CHARS,
            delay_per_chunk=spacing,
            first_byte_delay=0.3,  # the task's first events are written before the deltas
        ),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "done"})]),
    )
    task = await api.start(session)
    await api.wait(session, task, "completed", within=30 + events * spacing)
    last = await api.last_seq(session, before)
    report = await clients.until(last)
    return report, before


def task_latencies(
    report: Json, after: int, commits: dict[int, float]
) -> tuple[list[float], list[float]]:
    """(emitted -> received, committed -> received) for the task's `message` events."""
    stamps = {
        int(seq): wall(ts)
        for seq, (name, ts) in report["events"].items()
        if int(seq) > after and name == "message"
    }
    missing = set(stamps) - set(commits)
    if missing:
        raise BenchError(f"no commit time for seqs {sorted(missing)[:10]}")
    emitted: list[float] = []
    committed: list[float] = []
    for mine in report["receipts"]:
        for seq, received in mine:
            if seq in stamps:
                emitted.append(received - stamps[seq])
                committed.append(received - commits[seq])
    return emitted, committed


@dataclass
class Appender:
    """Appends events to a session from this process, as another roo process would: its own
    engine on the same database, the bus publishing to Redis on commit."""

    store: Any
    bus: Any
    engine: Any
    redis: Any
    committed: dict[int, float] = field(default_factory=dict)  # seq -> published on commit
    spread: Json = field(default_factory=dict)
    report: Json = field(default_factory=dict)  # the clients' report of the last round

    @classmethod
    async def open(cls, database_url: str, redis_url: str, prefix: str) -> Appender:
        from pydantic import SecretStr
        from redis.asyncio import Redis

        from roo.config import load_settings
        from roo.db.engine import create_engine, create_session_factory
        from roo.realtime.wiring import build_bus
        from roo.tasks.events import EventStore

        settings = load_settings(
            env="test", database_url=database_url, jwt_secret=SecretStr(secrets.token_urlsafe(48))
        ).model_copy(update={"redis_url": redis_url, "redis_prefix": prefix})
        engine = create_engine(settings)
        db_sessions = create_session_factory(engine)
        redis = Redis.from_url(redis_url)
        bus = build_bus(settings, db_sessions, redis)
        await bus.start()
        appender = cls(None, bus, engine, redis)
        appender.store = EventStore(db_sessions, publish=appender._publish)
        return appender

    def _publish(self, events: Any) -> None:
        """Called once the batch has committed: its clock point, then the bus's publish."""
        now = time.time()
        for event in events:
            self.committed[event.seq] = now
        self.bus.publish(events)

    async def append(self, session: str) -> tuple[int, float, float]:
        """One event: (seq, wall time when committed, seconds the unit of work took)."""
        from roo.db.types import utcnow

        started = time.perf_counter()
        item = ("message", {"kind": "text", "delta": "y" * DELTA_CHARS}, utcnow())
        stored = await self.store.append_many(uuid.UUID(session), None, [item])
        seq: int = stored[-1].seq
        return seq, self.committed[seq], time.perf_counter() - started

    async def close(self) -> None:
        await asyncio.sleep(0.2)  # the last publishes leave
        await self.bus.aclose()
        await self.redis.aclose()
        await self.engine.dispose()


async def append_round(
    appender: Appender, session: str, clients: Clients, events: int
) -> tuple[list[float], list[float]]:
    committed: dict[int, float] = {}
    transactions: list[float] = []
    for _ in range(events):
        seq, at, took = await appender.append(session)
        committed[seq] = at
        transactions.append(took)
        await asyncio.sleep(APPEND_SPACING)
    report = await clients.until(max(committed))
    appender.spread = spread(report["receipts"], committed)
    appender.report = report
    latencies = [
        received - committed[seq]
        for mine in report["receipts"]
        for seq, received in mine
        if seq in committed
    ]
    return latencies, transactions


# -- the single-process measurements --------------------------------------------------------------


def verdict(result: Json) -> Json:
    return {
        "under_seed_50ms": result.get("p99_ms", 1e9) < SEED_MS,
        "under_aim_5ms": result.get("p99_ms", 1e9) < AIM_P99_MS,
    }


async def latency_mode(
    args: argparse.Namespace,
    server: Server,
    api: Api,
    llm: FakeLLM,
    appender: Appender | None,
    commit_log: Path,
) -> Json:
    base = f"ws://{HOST}:{server.port}"
    results: Json = {}
    for count in args.clients:
        session = await api.session(f"latency-{count}")
        entry: Json = {"clients": count}
        deflate = not args.no_deflate
        async with client_process(base, session, api.token, count, deflate) as clients:
            await task_round(api, llm, session, clients, 3, TASK_SPACING)  # warm-up
            cpu = Cpu(server, clients)
            report, after = await task_round(api, llm, session, clients, args.events, TASK_SPACING)
            spent = cpu.spent()
            commits = commit_times(commit_log, session)
            emitted, committed = task_latencies(report, after, commits)
            entry["task"] = {
                "events": len(committed) // count,
                "commit_to_received": stats_ms(committed) | verdict(stats_ms(committed)),
                "emitted_to_received": stats_ms(emitted),
                "first_to_last_client": spread(report["receipts"], commits),
                "cpu": spent,
                "server_cpu_us_per_delivery": per_delivery(spent, report),
            }
            if appender is not None:
                cpu = Cpu(server, clients)
                latencies, transactions = await append_round(
                    appender, session, clients, args.events
                )
                spent = cpu.spent()
                entry["append"] = {
                    "events": args.events,
                    "commit_to_received": stats_ms(latencies) | verdict(stats_ms(latencies)),
                    "transaction": stats_ms(transactions),
                    "first_to_last_client": appender.spread,
                    "cpu": spent,
                    "server_cpu_us_per_delivery": per_delivery(spent, appender.report),
                }
        results[str(count)] = entry
        print(f"  {count} clients: {json.dumps(entry)}", file=sys.stderr)
    return results


async def throughput(args: argparse.Namespace, server: Server, api: Api, llm: FakeLLM) -> Json:
    base = f"ws://{HOST}:{server.port}"
    results: Json = {}
    session = ""
    for count in (1, 100):
        session = await api.session(f"burst-{count}")
        deflate = not args.no_deflate
        async with client_process(base, session, api.token, count, deflate) as clients:
            await task_round(api, llm, session, clients, 3, 0.0)  # warm-up
            cpu = Cpu(server, clients)
            report, after = await task_round(api, llm, session, clients, args.burst, 0.0)
            spent = cpu.spent()
        stamps = [
            wall(ts)
            for seq, (name, ts) in report["events"].items()
            if int(seq) > after and name == "message"
        ]
        wanted = {int(s) for s, (name, _ts) in report["events"].items() if int(s) > after}
        last = max(t for mine in report["receipts"] for s, t in mine if s in wanted)
        deliveries = sum(1 for mine in report["receipts"] for s, _t in mine if s in wanted)
        elapsed = last - min(stamps)
        results[f"live_{count}"] = {
            "clients": count,
            "events": len(stamps),
            "seconds": round(elapsed, 4),
            "events_per_second": round(len(stamps) / elapsed, 1),
            "deliveries": deliveries,
            "deliveries_per_second": round(deliveries / elapsed, 1),
            "server_cpu_us_per_delivery": round(spent["server_s"] * 1e6 / deliveries, 1),
            "cpu": spent,
        }
    # replay: the last session holds the burst (and its warm-up)
    from websockets.asyncio.client import connect

    url = f"{base}/api/v1/sessions/{session}/ws"
    total = await api.last_seq(session)
    samples = []
    for _ in range(3):
        cpu_before = process_cpu_seconds(server.process.pid) or 0.0
        async with connect(url, ping_interval=None, max_size=None) as conn:
            await conn.send(json.dumps({"type": "auth", "token": api.token, "lastSeq": 0}))
            hello = json.loads(await conn.recv())
            started = time.perf_counter()
            assert hello["type"] == "hello"
            seq = 0
            while seq < total:
                seq = json.loads(await conn.recv()).get("seq") or seq
            elapsed = time.perf_counter() - started
        used = (process_cpu_seconds(server.process.pid) or 0.0) - cpu_before
        samples.append((elapsed, used))
    best = min(samples)
    results["replay_1"] = {
        "clients": 1,
        "events": total,
        "seconds": round(best[0], 4),
        "events_per_second": round(total / best[0], 1),
        "server_cpu_us_per_event": round(best[1] * 1e6 / total, 1),
        "runs": [round(s, 4) for s, _c in samples],
    }
    return results


async def idle_memory(
    args: argparse.Namespace, workdir: Path, http: httpx.AsyncClient, extra: dict[str, str]
) -> Json:
    """On a fresh server each time (memory freed by earlier sockets would be reused), after 10
    sockets opened and closed (the code paths loaded, the allocator warm)."""
    results: Json = {}
    for deflate in (True, False):
        label = f"idle-{'deflate' if deflate else 'plain'}"
        with roo_serve(workdir, label, extra) as server:
            base = f"ws://{HOST}:{server.port}"
            api = await Api.sign_up(http, f"http://{HOST}:{server.port}")
            session = await api.session(label)
            async with client_process(base, session, api.token, 10, deflate):
                pass
            await asyncio.sleep(1.0)
            before = process_memory(server.process.pid) or {}
            async with client_process(base, session, api.token, args.idle, deflate):
                await asyncio.sleep(2.0)
                during = process_memory(server.process.pid) or {}
            await asyncio.sleep(2.0)
            after = process_memory(server.process.pid) or {}
        if not before or not during:
            results["deflate" if deflate else "no_compression"] = None
            continue
        per = (during["VmRSS"] - before["VmRSS"]) / args.idle
        results["deflate" if deflate else "no_compression"] = {
            "connections": args.idle,
            "rss_before_mib": round(before["VmRSS"] / 2**20, 1),
            "rss_open_mib": round(during["VmRSS"] / 2**20, 1),
            "rss_after_close_mib": round(after.get("VmRSS", 0) / 2**20, 1),
            "kib_per_connection": round(per / 1024, 1),
            "under_aim_50kib": per / 1024 < AIM_IDLE_KIB,
        }
        print(f"  idle deflate={deflate}: {results}", file=sys.stderr)
    return results


async def single_process(
    args: argparse.Namespace, workdir: Path, llm: FakeLLM, run_id: str
) -> Json:
    modes: list[tuple[str, str | None]] = [("sqlite", None)]
    if args.redis:
        modes.append(("redis", args.redis))
    results: Json = {}
    async with httpx.AsyncClient(timeout=30.0, trust_env=False) as http:
        for mode, redis_url in modes:
            extra = service_env(llm, secrets.token_urlsafe(48))
            if redis_url:
                extra |= {"REDIS_URL": redis_url, "ROO_REDIS_PREFIX": redis_prefix(run_id)}
            print(f"{mode}:", file=sys.stderr)
            commit_log = workdir / f"{mode}-commits.log"
            profile = args.profile_server if mode == "sqlite" else None
            with roo_serve(workdir, mode, extra, commit_log, profile) as server:
                api = await Api.sign_up(http, f"http://{HOST}:{server.port}")
                appender = None
                if redis_url:
                    database = f"sqlite:///{workdir / f'{mode}-data' / 'roo.db'}"
                    appender = await Appender.open(database, redis_url, redis_prefix(run_id))
                try:
                    entry: Json = {
                        "latency": await latency_mode(args, server, api, llm, appender, commit_log)
                    }
                finally:
                    if appender is not None:
                        await appender.close()
                if mode == "sqlite":
                    entry["throughput"] = await throughput(args, server, api, llm)
                    entry["idle_memory"] = await idle_memory(args, workdir, http, extra)
                results[mode] = entry
    return results


# -- across two processes -------------------------------------------------------------------------


async def approvals(
    args: argparse.Namespace, workdir: Path, llm: FakeLLM, database_url: str, run_id: str
) -> Json:
    from websockets.asyncio.client import connect

    extra = service_env(llm, secrets.token_urlsafe(48)) | {
        "DATABASE_URL": database_url,
        "ROO_AUTO_MIGRATE": "true",
        "REDIS_URL": args.redis,
        "ROO_REDIS_PREFIX": redis_prefix(run_id),
    }
    to_ack: list[float] = []
    to_resolved: list[float] = []
    to_next: list[float] = []
    next_events: dict[str, int] = {}
    with roo_serve(workdir, "a", extra) as a, roo_serve(workdir, "b", extra) as b:
        async with httpx.AsyncClient(timeout=30.0, trust_env=False) as http:
            api_a = await Api.sign_up(http, f"http://{HOST}:{a.port}")
            api_b = Api(http, f"http://{HOST}:{b.port}", api_a.token, api_a.headers)
            session = await api_a.session("approvals")
            url = f"ws://{HOST}:{a.port}/api/v1/sessions/{session}/ws"
            async with connect(url, ping_interval=None, max_size=None) as conn:
                await conn.send(json.dumps({"type": "auth", "token": api_a.token}))
                if json.loads(await conn.recv())["type"] != "hello":
                    raise BenchError("no hello from A")
                for round_no in range(args.rounds + 1):  # the first is a warm-up
                    llm.script(
                        Reply(tool_calls=[ToolCall("execute_command", {"command": "true"})]),
                        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]),
                    )
                    task = await api_b.start(session)  # runs on B
                    while True:
                        message = json.loads(await asyncio.wait_for(conn.recv(), 30))
                        if message.get("event") == "approval.required":
                            break
                    sent = time.perf_counter()
                    await conn.send(
                        json.dumps(
                            {
                                "type": "approval.response",
                                "id": round_no,
                                "taskId": task,
                                "approvalId": message["data"]["approvalId"],
                                "decision": "approve",
                            }
                        )
                    )
                    times: dict[str, float] = {}
                    while "next" not in times:
                        message = json.loads(await asyncio.wait_for(conn.recv(), 30))
                        now = time.perf_counter() - sent
                        if message.get("type") == "ack":
                            times["ack"] = now
                        elif message.get("type") == "error":
                            raise BenchError(f"approval refused: {message}")
                        elif message.get("event") == "approval.resolved":
                            times["resolved"] = now
                        elif message.get("taskId") == task and "resolved" in times:
                            times["next"] = now
                            name = str(message.get("event"))
                            if round_no:
                                next_events[name] = next_events.get(name, 0) + 1
                    await api_a.wait(session, task, "completed")
                    if round_no:  # after the warm-up
                        to_ack.append(times.get("ack", times["next"]))
                        to_resolved.append(times["resolved"])
                        to_next.append(times["next"])
                    while True:  # drain to the task's end
                        with contextlib.suppress(TimeoutError):
                            message = json.loads(await asyncio.wait_for(conn.recv(), 0.5))
                            if message.get("event") == "task.complete":
                                break
                            continue
                        break
    return {
        "rounds": args.rounds,
        "to_ack": stats_ms(to_ack),
        "to_approval_resolved": stats_ms(to_resolved),
        "to_next_event_from_b": stats_ms(to_next),
        "next_event_names": next_events,
    }


# -- main -----------------------------------------------------------------------------------------


def run(args: argparse.Namespace, run_id: str) -> Json:
    check_backends(args)  # loopback only
    started = time.monotonic()
    load_before = os.getloadavg()
    report: Json = {
        "benchmark": "realtime",
        "settings": {
            "clients": args.clients,
            "events": args.events,
            "burst": args.burst,
            "idle": args.idle,
            "rounds": args.rounds,
            "task_spacing_s": TASK_SPACING,
            "append_spacing_s": APPEND_SPACING,
            "flush_seconds": FLUSH_SECONDS,
            "delta_chars": DELTA_CHARS,
            "server": "roo serve (one process), embedded SQLite, LOG_LEVEL=INFO as JSON to a file",
            "redis": bool(args.redis),
            "clients_offer_deflate": not args.no_deflate,
        },
        "clock_points": {
            "task.commit_to_received": "client receipt - the server bus's publish call for the "
            "event's batch (right after its commit; written to a side file by the instrumented "
            "roo serve)",
            "task.emitted_to_received": "client receipt - event timestamp (engine emission; "
            "includes the run's event buffer, up to 0.1 s, and the transaction)",
            "append.commit_to_received": "client receipt - the publish call (right after the "
            "commit) in this process, which appends as another roo process would; over Redis",
        },
        "aims": {"p99_ms_at_100_clients": AIM_P99_MS, "seed_ms": SEED_MS,
                 "idle_kib_per_connection": AIM_IDLE_KIB},
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="roo-bench-rt-") as tmp:
        workdir = Path(tmp)
        llm = FakeLLM(api_key=LLM_KEY).start_in_thread()
        try:
            report["results"] = uvloop.run(single_process(args, workdir, llm, run_id))
            report["approval"] = approval_part(args, workdir, llm, run_id)
        finally:
            llm.stop_thread()
            if args.redis:
                with contextlib.suppress(Exception):
                    redis_cleanup(args.redis, run_id)
    report["duration_seconds"] = round(time.monotonic() - started, 1)
    # other work on the machine (the 1-minute load average; 2 cores): p99s move with it
    report["load_average_1m"] = {"start": load_before[0], "end": os.getloadavg()[0]}
    report["machine"] = machine_info()
    report["source"] = source_revision()
    return report


def approval_part(args: argparse.Namespace, workdir: Path, llm: FakeLLM, run_id: str) -> Json:
    from roo.testing.databases import is_postgres, scratch_database

    if not (args.redis and args.database_url and is_postgres(args.database_url)):
        note = "skipped: needs PostgreSQL (--database-url / DATABASE_URL) and Redis"
        print(f"approval: {note}", file=sys.stderr)
        return {"skipped": note}
    try:
        with scratch_database(args.database_url, workdir, f"roo_bench_rt_{run_id}") as url:
            return uvloop.run(approvals(args, workdir, llm, url, run_id))
    except OSError as exc:
        note = f"skipped: PostgreSQL did not answer ({exc})"
        print(f"approval: {note}", file=sys.stderr)
        return {"skipped": note}


def print_summary(report: Json, output: Path) -> None:
    for mode, entry in report["results"].items():
        for count, result in entry["latency"].items():
            for producer in ("task", "append"):
                if producer in result:
                    c = result[producer]["commit_to_received"]
                    print(
                        f"{mode:6s} {producer:6s} {count:>5s} clients: commit->received "
                        f"p50 {c['p50_ms']:8.2f} ms  p99 {c['p99_ms']:8.2f} ms"
                    )
    sqlite = report["results"]["sqlite"]
    for name, t in sqlite["throughput"].items():
        print(f"{name}: {t['events_per_second']} events/s")
    for name, m in sqlite["idle_memory"].items():
        if m:
            print(f"idle ({name}): {m['kib_per_connection']} KiB per connection")
    approval = report["approval"]
    if "skipped" in approval:
        print(f"approval: {approval['skipped']}")
    else:
        print(
            f"approval: to ack p50 {approval['to_ack']['p50_ms']} ms, to B's next event "
            f"p50 {approval['to_next_event_from_b']['p50_ms']} ms"
        )
    print(f"written to {output}")


def counts(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of counts") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("counts must be at least 1")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--client-process"]:
        uvloop.run(_client_process(json.loads(argv[1])))
        return 0
    if argv[:1] == ["--serve-instrumented"]:
        return _instrumented_serve(argv[1], argv[2:])
    parser = bench_parser(__doc__, RESULTS_DIR / "realtime.json")
    parser.add_argument("--clients", type=counts, default=[1, 100, 1000], help="1,100,1000")
    parser.add_argument("--events", type=int, default=40, help="events per latency round (40)")
    parser.add_argument("--burst", type=int, default=1000, help="events of the burst (1000)")
    parser.add_argument("--idle", type=int, default=1000, help="idle sockets (1000)")
    parser.add_argument("--rounds", type=int, default=20, help="approvals (20)")
    parser.add_argument(
        "--no-deflate",
        action="store_true",
        help="latency and throughput clients offer no permessage-deflate (default: they do)",
    )
    parser.add_argument(
        "--profile-server",
        type=Path,
        default=None,
        help="diagnosis: run the SQLite-mode server under cProfile, its stats to this file",
    )
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL") or None, help="REDIS_URL")
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL") or None, help="PostgreSQL"
    )
    args = parser.parse_args(argv)
    if args.events < 4 or args.burst < 10 or args.idle < 1 or args.rounds < 1:
        parser.error("--events at least 4, --burst at least 10, --idle and --rounds at least 1")
    exit_on_sigterm()
    run_id = secrets.token_hex(4)
    return report_and_exit("realtime", lambda: run(args, run_id), args.output, print_summary)


if __name__ == "__main__":
    sys.exit(main())
