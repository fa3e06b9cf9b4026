"""Scale-out: tasks on the job queue run by 1 and 2 `roo worker` processes, against tasks run
inside the API process.

    .venv/bin/python bench/workers.py [--database-url URL] [--redis URL] [--tasks 200]
                                      [--steps 5] [--sequential 40] [--running 100]
                                      [--running-steps 30] [--burst 100] [--burst-connections 10]

On a scratch PostgreSQL database (created on --database-url's server, dropped afterwards) and
Redis, with the project's fake LLM in a process of its own answering at once (bench/tasks.py's:
each reply a line of text and one read-only tool call, the last one `attempt_completion`), one
`roo serve` API process and, in queue mode (`ROO_TASK_RUNNER=queue`), `roo worker` processes
sharing one WORKSPACE_ROOT. Three setups in one run: the queue with 1 worker, the queue with 2
workers, and in process (`ROO_TASK_RUNNER=inprocess`, the API runs the tasks). In each:

1. throughput: --tasks tasks of about --steps steps, POSTed together; tasks completed per
   minute (from the first `task.created` to the last task's end, the events' server
   timestamps) and the CPU seconds of each process (API, workers, fake LLM) over the run: on a
   2-core machine the ratio of 2 workers to 1 shows where the CPU goes;
2. latency from `POST .../tasks` to `task.started`: --sequential tasks, each created after the
   previous one ended (nothing else running): the time between the task's `task.created` and
   `task.started` events (the queue's cost: commit, NOTIFY, a worker's fetch and claim);
3. `POST .../tasks` while tasks run: --running tasks of about --running-steps steps POSTed
   together, then, once they run, a burst of --burst creations over --burst-connections
   connections: the latency of each POST (client side).

Results go to bench/results/workers.json. Nothing here asserts a timing; the burst's p99 is
compared with the issue's aim (50 ms) for information.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from common import (
    RESULTS_DIR,
    BenchError,
    Server,
    User,
    backend_env,
    bench_email,
    bench_parser,
    create_users,
    describe_backends,
    exit_on_sigterm,
    machine_info,
    process_cpu_seconds,
    redis_cleaned,
    report_and_exit,
    running_server,
    server_env,
    sign_in,
    source_revision,
)

from tasks import (
    ADMIN_MAX_SESSIONS,
    LLM_KEY,
    MODEL,
    PROVIDER,
    TASK_INPUT,
    Api,
    FakeLLMProcess,
    Seat,
    check_completed,
    completion,
    dist,
    fake_llm,
    post_together,
    shared_step,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.databases import scratch_database

DEFAULT_OUTPUT = RESULTS_DIR / "workers.json"
BURST_P99_AIM_MS = 50.0
WAIT_LIMIT = 600.0


def roo_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("roo")), *args]


def _serve(port: int) -> list[str]:
    return roo_command("serve", "--host", "127.0.0.1", "--port", str(port))


def _work(port: int) -> list[str]:
    return roo_command("worker", "--health-port", str(port))


@contextlib.contextmanager
def processes(
    workdir: Path, label: str, env: Mapping[str, str], workers: int, log_level: str
) -> Iterator[tuple[Server, list[Server]]]:
    """One `roo serve` and `workers` `roo worker` processes (their probes on a port each)."""
    with contextlib.ExitStack() as stack:

        def start(name: str, command: Callable[[int], list[str]]) -> Server:
            return stack.enter_context(
                running_server(
                    "roo",
                    workdir,
                    log_level,
                    extra_env=env,
                    label=f"{label}-{name}",
                    command=command,
                )
            )

        api = start("api", _serve)
        yield api, [start(f"worker{n}", _work) for n in range(workers)]


def cpu_of(pids: Sequence[int]) -> list[float | None]:
    return [process_cpu_seconds(pid) for pid in pids]


def cpu_spent(before: list[float | None], after: list[float | None]) -> float | None:
    """CPU seconds a group of processes spent between two readings (None if one is missing)."""
    spent = 0.0
    for b, a in zip(before, after, strict=True):
        if a is None or b is None:
            return None
        spent += a - b
    return round(spent, 3)


def script(tasks: int, steps: int) -> list[dict[str, Any]]:
    """Replies for `tasks` tasks of about `steps` steps each (one FIFO for all: a task ends
    when it gets one of the completions, which come last)."""
    return [shared_step(n) for n in range(tasks * (steps - 1))] + [
        completion(n) for n in range(tasks)
    ]


def throughput(
    api: Api, server: Server, workers: list[Server], llm: FakeLLMProcess, seats: Sequence[Seat],
    steps: int,
) -> dict[str, Any]:  # fmt: skip
    llm.load(script(len(seats), steps))
    pids = {
        "api": [server.process.pid],
        "workers": [w.process.pid for w in workers],
        "fake_llm": [llm.process.pid],
    }
    before = {name: cpu_of(group) for name, group in pids.items()}
    _, posted = asyncio.run(post_together(server, seats, 20))
    llm.wait_drained(WAIT_LIMIT, "throughput")
    api.wait_ended([(seat, task_id) for seat, task_id, _ in posted], WAIT_LIMIT)
    after = {name: cpu_of(group) for name, group in pids.items()}
    lines = [api.timelines(seat)[task_id] for seat, task_id, _ in posted]
    check_completed(lines, "throughput")
    first = min(line.created for line in lines)
    last = max(line.ended or 0.0 for line in lines)
    wall = last - first
    return {
        "tasks": len(lines),
        "steps": sum(line.replies for line in lines),
        "wall_seconds": round(wall, 3),
        "tasks_per_minute": round(len(lines) * 60 / wall, 1),
        "cpu_seconds": {name: cpu_spent(before[name], after[name]) for name in pids},
        "to_started": dist([(line.started or line.created) - line.created for line in lines]),
    }


def sequential(api: Api, llm: FakeLLMProcess, seats: Sequence[Seat]) -> dict[str, Any]:
    gaps: list[float] = []
    for seat in seats:
        llm.load([completion(0)])
        task_id = api.start(seat)
        api.wait_ended([(seat, task_id)], WAIT_LIMIT, poll=0.02)
        line = api.timelines(seat)[task_id]
        check_completed([line], "sequential")
        gaps.append((line.started or line.created) - line.created)
    return {"created_to_started": dist(gaps)}


async def burst(server: Server, seats: Sequence[Seat], connections: int) -> list[float]:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    gate = asyncio.Semaphore(connections)
    async with httpx.AsyncClient(base_url=server.url(""), limits=limits, timeout=60) as http:

        async def one(seat: Seat) -> float:
            async with gate:
                sent = time.perf_counter()
                response = await http.post(
                    f"{seat.base}/tasks", json={"input": TASK_INPUT}, headers=seat.user.bearer
                )
                if response.status_code != 202:
                    raise BenchError(f"burst: {response.status_code} {response.text[:300]}")
                return time.perf_counter() - sent

        return list(await asyncio.gather(*(one(seat) for seat in seats)))


def while_running(
    api: Api, server: Server, llm: FakeLLMProcess, running: Sequence[Seat],
    burst_seats: Sequence[Seat], steps: int, connections: int,
) -> dict[str, Any]:  # fmt: skip
    llm.load(script(len(running) + len(burst_seats), steps))
    _, posted = asyncio.run(post_together(server, running, 20))
    # the runs are under way: a few of their steps are done
    deadline = time.monotonic() + WAIT_LIMIT
    total = llm.state()["pending"]
    while llm.state()["pending"] > total - len(running):
        if time.monotonic() > deadline:
            raise BenchError("while running: the tasks did not start")
        time.sleep(0.05)
    left_before = llm.state()["pending"]
    latencies = asyncio.run(burst(server, burst_seats, connections))
    left_after = llm.state()["pending"]
    llm.wait_drained(WAIT_LIMIT, "while running")
    ids = [(seat, task_id) for seat, task_id, _ in posted]
    api.wait_ended(ids, WAIT_LIMIT)
    result = dist(latencies)
    return {
        "running": len(running),
        "burst": len(burst_seats),
        "connections": connections,
        "model_replies_during_burst": left_before - left_after,
        "post": result,
        "aim_p99_ms": BURST_P99_AIM_MS,
        "aim_met": result["p99_ms"] < BURST_P99_AIM_MS,
    }


def run_setup(
    label: str, workers: int, workdir: Path, llm: FakeLLMProcess, extra: dict[str, str],
    admins: list[User], args: argparse.Namespace,
) -> dict[str, Any]:  # fmt: skip
    env = {
        **extra,
        "ROO_TASK_RUNNER": "queue" if workers else "inprocess",
        # tasks a process runs at once (per worker with the queue); the rest wait queued. With
        # the default pool (DATABASE_POOL_MAX, 10) far more than this makes runs wait past
        # DATABASE_POOL_TIMEOUT for a connection, and such a run fails (measured: 200 at once)
        "ROO_MAX_RUNNING_TASKS": str(args.concurrency),
    }
    with processes(workdir, label, env, workers, args.roo_log_level) as (server, pool):
        sign_in(server, admins)
        api = Api(server)
        try:
            need = args.tasks + args.sequential + args.running + args.burst
            seats = api.sessions(admins, need, files=True)
            first, rest = seats[: args.tasks], seats[args.tasks :]
            seq, rest = rest[: args.sequential], rest[args.sequential :]
            running, burst_seats = rest[: args.running], rest[args.running :]
            result: dict[str, Any] = {"label": label, "workers": workers}
            result["throughput"] = throughput(api, server, pool, llm, first, args.steps)
            print(f"{label}: {result['throughput']['tasks_per_minute']} tasks/min", file=sys.stderr)
            result["sequential"] = sequential(api, llm, seq)
            result["while_running"] = while_running(
                api, server, llm, running, burst_seats, args.running_steps, args.burst_connections
            )
            print(
                f"{label}: POST p99 {result['while_running']['post']['p99_ms']} ms during the "
                f"burst; created->started p50 "
                f"{result['sequential']['created_to_started']['p50_ms']} ms",
                file=sys.stderr,
            )
            return result
        finally:
            api.close()


def run(args: argparse.Namespace, run_id: str) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        if args.keep_logs is not None:  # the processes' logs kept for a look afterwards
            workdir = args.keep_logs / run_id
            workdir.mkdir(parents=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roo-bench-")))
        url = stack.enter_context(
            scratch_database(args.database_url, workdir, f"roo_bench_workers_{run_id}")
        )
        with fake_llm(workdir) as llm:
            extra = {
                **backend_env(url, args.redis, run_id),
                "WORKSPACE_ROOT": str(workdir / "workspaces"),
                "OPENAI_BASE_URL": llm.base_url,
                "OPENAI_API_KEY": LLM_KEY,
                "ROO_DEFAULT_PROVIDER": PROVIDER,
                "ROO_DEFAULT_MODEL": MODEL,
                "ROO_TASK_CREATE_LIMIT": "1000000/minute",
            }
            per_setup = args.tasks + args.sequential + args.running + args.burst
            count = -(-3 * per_setup // ADMIN_MAX_SESSIONS)
            admins = [
                User(bench_email(f"bench-workers-{i}", run_id, True), secrets.token_urlsafe(18))
                for i in range(count)
            ]
            create_users(
                server_env("roo", workdir / "cli-data", args.roo_log_level, extra),
                [(admin, "admin") for admin in admins],
            )
            setups = [
                run_setup(label, workers, workdir, llm, extra, admins, args)
                for label, workers in (
                    ("queue-1-worker", 1),
                    ("queue-2-workers", 2),
                    ("inprocess", 0),
                )
            ]
    one, two, inproc = setups
    return {
        "benchmark": "workers",
        "machine": machine_info(),
        "revision": source_revision(),
        "backends": describe_backends(args),
        "parameters": {
            k: v for k, v in vars(args).items() if k not in ("output", "keep_logs", "database_url")
        },
        "setups": setups,
        "comparison": {
            "tasks_per_minute": {
                "queue_1_worker": one["throughput"]["tasks_per_minute"],
                "queue_2_workers": two["throughput"]["tasks_per_minute"],
                "inprocess": inproc["throughput"]["tasks_per_minute"],
                "ratio_2_to_1_workers": round(
                    two["throughput"]["tasks_per_minute"] / one["throughput"]["tasks_per_minute"], 2
                ),
            },
            "created_to_started_p50_ms": {
                s["label"]: s["sequential"]["created_to_started"]["p50_ms"] for s in setups
            },
            "created_to_started_p99_ms": {
                s["label"]: s["sequential"]["created_to_started"]["p99_ms"] for s in setups
            },
            "burst_post_p99_ms": {s["label"]: s["while_running"]["post"]["p99_ms"] for s in setups},
            "burst_post_p50_ms": {s["label"]: s["while_running"]["post"]["p50_ms"] for s in setups},
        },
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, DEFAULT_OUTPUT)
    parser.add_argument("--database-url", default=None, help="PostgreSQL server (required)")
    parser.add_argument("--redis", default=None, help="Redis URL (required)")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--sequential", type=int, default=40)
    parser.add_argument("--running", type=int, default=100)
    parser.add_argument("--running-steps", type=int, default=30)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--burst-connections", type=int, default=10)
    parser.add_argument(
        "--concurrency", type=int, default=32, help="ROO_MAX_RUNNING_TASKS (per worker)"
    )
    parser.add_argument("--roo-log-level", default="WARNING")
    parser.add_argument("--keep-logs", type=Path, default=None, help="keep the logs under DIR")
    args = parser.parse_args(argv)
    import os

    args.database_url = args.database_url or os.environ.get("DATABASE_URL")
    args.redis = args.redis or os.environ.get("REDIS_URL")
    if not args.database_url or not args.redis:
        parser.error("the job queue needs PostgreSQL and Redis: --database-url and --redis")
    return args


def print_summary(report: dict[str, Any], output: Path) -> None:
    c = report["comparison"]
    t = c["tasks_per_minute"]
    print(f"results: {output}")
    print(
        f"tasks/min: 1 worker {t['queue_1_worker']}, 2 workers {t['queue_2_workers']} "
        f"(x{t['ratio_2_to_1_workers']}), in process {t['inprocess']}"
    )
    for label in c["created_to_started_p50_ms"]:
        print(
            f"{label}: created->started p50 {c['created_to_started_p50_ms'][label]} ms, "
            f"p99 {c['created_to_started_p99_ms'][label]} ms; POST during the burst "
            f"p50 {c['burst_post_p50_ms'][label]} ms, p99 {c['burst_post_p99_ms'][label]} ms"
        )


def main(argv: Sequence[str] | None = None) -> int:
    exit_on_sigterm()
    args = parse_args(argv)
    run_id = secrets.token_hex(4)
    with redis_cleaned(args, run_id):
        return report_and_exit("workers", lambda: run(args, run_id), args.output, print_summary)


if __name__ == "__main__":
    sys.exit(main())
