"""What the database path costs per request, against a bare FastAPI hello in the same run.

    .venv/bin/python bench/db_path.py [--duration 10] [--rounds 2]
    .venv/bin/python bench/db_path.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/0

Starts the bare app (`bench/bare_app.py`) and roo exactly as http_overhead.py does (one uvicorn
worker each, httptools + uvloop, roo logging INFO as JSON to a file; embedded SQLite unless
--database-url / --redis), creates a member with 20 sessions and one finished task (the fake
LLM answers it), then measures with wrk (or bench/loadgen.py), interleaved over rounds:

    bare_hello     GET /hello                                     the baseline
    profile        GET /api/v1/auth/profile                       one row by key
    sessions       GET /api/v1/sessions?limit=20                  a count and a page of 20
    task           GET /api/v1/sessions/{id}/tasks/{task}         a task and its children
    floor_profile  the profile's read alone (bench/floor_app.py)    the stack's floor
    floor_sessions the sessions page's read alone (bench/floor_app.py)

The floor app is a bare FastAPI app on roo's own engine and `Reads`, serving the same statement
validated into the same response model, with no middleware, credential, rate limit or log: what
the chosen stack (FastAPI, SQLAlchemy Core, the driver) costs for that read before roo adds
anything. A target below its floor cannot be met without replacing part of that stack.

and, one request at a time over a keep-alive connection (latency and server CPU per request),
the writes of the load test's mix:

    create_session POST /api/v1/sessions, then DELETE it (measured separately)
    create_task    POST /api/v1/sessions/{id}/tasks (the task finishes before the next one)

Targets (issue 11): profile at least 25% and sessions at least 15% of bare_hello's requests per
second, on SQLite and on PostgreSQL. Results: bench/results/db_path[-postgres].json.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from common import (
    BENCH_DIR,
    RESULTS_DIR,
    WARMUP_SECONDS,
    Client,
    Measurement,
    Server,
    Tool,
    add_backend_arguments,
    add_http_load_arguments,
    backend_bench_main,
    backend_env,
    bench_email,
    bench_parser,
    choose_tool,
    create_user,
    describe_backends,
    latency_stats,
    machine_info,
    print_round,
    process_cpu_seconds,
    require_at_least,
    run_load,
    running_server,
    server_command,
    server_env,
    source_revision,
    summarise,
    tool_version,
)

from tasks import LLM_KEY, MODEL, PROVIDER, fake_llm

LISTED_SESSIONS = 20
WRITES = 200
DONE_REPLY = {"tool_calls": [{"name": "attempt_completion", "arguments": {"result": "done"}}]}
TARGETS = {"profile": 0.25, "sessions": 0.15}


@dataclass(frozen=True)
class Endpoint:
    key: str
    server: str  # "bare", "roo" or "floor"
    path: str


@dataclass
class Account:
    token: str
    user_id: str
    session_id: str
    task_id: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def endpoints(account: Account) -> list[Endpoint]:
    base = f"/api/v1/sessions/{account.session_id}"
    return [
        Endpoint("bare_hello", "bare", "/hello"),
        Endpoint("profile", "roo", "/api/v1/auth/profile"),
        Endpoint("sessions", "roo", f"/api/v1/sessions?limit={LISTED_SESSIONS}"),
        Endpoint("task", "roo", f"{base}/tasks/{account.task_id}"),
        Endpoint("floor_profile", "floor", "/floor/profile"),
        Endpoint("floor_sessions", "floor", "/floor/sessions"),
    ]


def floor_command(port: int) -> list[str]:
    """bench/floor_app.py, started as the bare app is (server_command's uvicorn options)."""
    command = server_command("bare", port)
    uvicorn = command[: command.index("--app-dir")]
    return [*uvicorn, "--app-dir", str(BENCH_DIR), "--factory", "floor_app:create_app"]


def prepare(server: Server, email: str, password: str) -> Account:
    client = Client(server.port)
    try:
        token, _ = client.login(email, password)
        bearer = {"Authorization": f"Bearer {token}"}
        session_id = ""
        for number in range(LISTED_SESSIONS):
            created, _ = client.expect(
                "POST", "/api/v1/sessions", 201, {"name": f"bench {number}"}, bearer
            )
            session_id = session_id or created["id"]
        task, _ = client.expect(
            "POST", f"/api/v1/sessions/{session_id}/tasks", 202, {"input": "hi"}, bearer
        )
        wait_finished(client, bearer, session_id, task["id"])
        profile, _ = client.expect("GET", "/api/v1/auth/profile", 200, headers=bearer)
        return Account(token, profile["id"], session_id, task["id"])
    finally:
        client.close()


def wait_finished(client: Client, bearer: dict[str, str], session_id: str, task_id: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        task, _ = client.expect(
            "GET", f"/api/v1/sessions/{session_id}/tasks/{task_id}", 200, headers=bearer
        )
        if task["state"] not in ("queued", "running"):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"task {task_id} still {task['state']}")
        time.sleep(0.01)


def measure_writes(server: Server, account: Account, count: int) -> dict[str, Any]:
    """Sequential creations: session create and delete, task create; latency and CPU each."""
    client = Client(server.port)
    bearer = account.bearer
    created: list[float] = []
    deleted: list[float] = []
    tasks: list[float] = []
    cpu_sessions = cpu_tasks = 0.0
    try:
        for number in range(count):
            before = process_cpu_seconds(server.process.pid) or 0.0
            session, seconds = client.expect(
                "POST", "/api/v1/sessions", 201, {"name": f"write {number}"}, bearer
            )
            created.append(seconds)
            _, seconds = client.expect(
                "DELETE", f"/api/v1/sessions/{session['id']}", 204, headers=bearer
            )
            deleted.append(seconds)
            cpu_sessions += (process_cpu_seconds(server.process.pid) or 0.0) - before
        for _ in range(count):
            before = process_cpu_seconds(server.process.pid) or 0.0
            task, seconds = client.expect(
                "POST",
                f"/api/v1/sessions/{account.session_id}/tasks",
                202,
                {"input": "hi"},
                bearer,
            )
            tasks.append(seconds)
            wait_finished(client, bearer, account.session_id, task["id"])
            cpu_tasks += (process_cpu_seconds(server.process.pid) or 0.0) - before
    finally:
        client.close()
    return {
        "create_session": latency_stats(created),
        "delete_session": latency_stats(deleted),
        "create_task": latency_stats(tasks),
        "cpu_us_per_session_cycle": round(cpu_sessions * 1e6 / count, 1),
        "cpu_us_per_task_cycle": round(cpu_tasks * 1e6 / count, 1),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, RESULTS_DIR / "db_path.json")
    add_http_load_arguments(parser)
    add_backend_arguments(parser)
    parser.add_argument("--writes", type=int, default=WRITES, help="sequential creations")
    args = parser.parse_args(argv)
    require_at_least(parser, args, 1, "duration", "connections", "rounds", "writes")
    if args.output == RESULTS_DIR / "db_path.json" and args.database_url:
        args.output = RESULTS_DIR / "db_path-postgres.json"
    return args


def run(args: argparse.Namespace, tool: Tool, run_id: str) -> dict[str, Any]:
    measured: dict[str, list[Measurement]] = {}
    writes: list[dict[str, Any]] = []
    email = bench_email("bench-db", run_id, shared_database=bool(args.database_url))
    password = secrets.token_urlsafe(18)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roo-bench-")))
        llm = stack.enter_context(fake_llm(workdir, default_reply=DONE_REPLY))
        extra_env = backend_env(args.database_url, args.redis, run_id) | {
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": LLM_KEY,
            "ROO_DEFAULT_PROVIDER": PROVIDER,
            "ROO_DEFAULT_MODEL": MODEL,
            "ROO_TASK_CREATE_LIMIT": "1000000/minute",
        }
        data_dir = workdir / "roo-data"
        data_dir.mkdir()
        env = server_env("roo", data_dir, args.roo_log_level, extra_env)
        create_user(env, email, "admin", password)
        bare = stack.enter_context(running_server("bare", workdir, args.roo_log_level))
        roo = stack.enter_context(
            running_server("roo", workdir, args.roo_log_level, extra_env=extra_env)
        )
        account = prepare(roo, email, password)
        floor = stack.enter_context(
            running_server(
                "roo",
                workdir,
                args.roo_log_level,
                extra_env=extra_env
                | {"ROO_DATA_DIR": str(data_dir), "FLOOR_USER_ID": account.user_id},
                label="floor",
                command=floor_command,
            )
        )
        servers = {"bare": bare, "roo": roo, "floor": floor}
        print(
            f"load tool: {tool}; roo on :{roo.port}, bare on :{bare.port}, floor on :{floor.port}",
            file=sys.stderr,
        )
        for round_no in range(1, args.rounds + 1):
            for endpoint in endpoints(account):
                server = servers[endpoint.server]
                headers = account.bearer if endpoint.server == "roo" else None
                url = server.url(endpoint.path)
                run_load(tool, url, args.connections, WARMUP_SECONDS, headers=headers)
                result = run_load(
                    tool, url, args.connections, args.duration, server.process.pid, headers
                )
                measured.setdefault(endpoint.key, []).append(result)
                print_round(round_no, args.rounds, endpoint.key, result)
            writes.append(measure_writes(roo, account, args.writes // args.rounds or 1))
            print(f"round {round_no}/{args.rounds} writes {writes[-1]}", file=sys.stderr)
    return build_report(args, tool, measured, writes)


def build_report(
    args: argparse.Namespace,
    tool: Tool,
    measured: dict[str, list[Measurement]],
    writes: list[dict[str, Any]],
) -> dict[str, Any]:
    results = {key: summarise(rounds) for key, rounds in measured.items()}
    bare = results["bare_hello"]["rps"]
    ratios = {key: round(value["rps"] / bare, 3) for key, value in results.items()}
    write_keys = ("create_session", "delete_session", "create_task")
    write_summary: dict[str, Any] = {
        key: {
            stat: round(statistics.median(w[key][stat] for w in writes), 3)
            for stat in writes[0][key]
        }
        for key in write_keys
    }
    for key in ("cpu_us_per_session_cycle", "cpu_us_per_task_cycle"):
        write_summary[key] = round(statistics.median(w[key] for w in writes), 1)
    return {
        "benchmark": "db_path",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(),
        "source": source_revision(),
        "tool": tool,
        "tool_version": tool_version(tool),
        "settings": {
            "connections": args.connections,
            "duration": args.duration,
            "rounds": args.rounds,
            "writes": args.writes,
            "roo_log_level": args.roo_log_level,
            **describe_backends(args),
        },
        "results": results,
        "ratio_to_bare_hello": ratios,
        "targets": {
            key: {
                "target": target,
                "ratio": ratios[key],
                "met": ratios[key] >= target,
                # the same read with nothing of roo's around it (bench/floor_app.py)
                "floor_ratio": ratios[f"floor_{key}"],
                "floor_meets_target": ratios[f"floor_{key}"] >= target,
            }
            for key, target in TARGETS.items()
        },
        "writes": write_summary,
    }


def print_summary(report: dict[str, Any], output: Path, out: IO[str] = sys.stdout) -> None:
    for key, value in report["results"].items():
        print(
            f"{key:<14} {value['rps']:>8.0f} req/s  {report['ratio_to_bare_hello'][key]:>6.1%} "
            f"of bare  cpu {value.get('cpu_us_per_request')} us/req",
            file=out,
        )
    for key, value in report["targets"].items():
        print(
            f"target {key}: {value['ratio']:.1%} >= {value['target']:.0%}: {value['met']} "
            f"(its floor, the read alone: {value['floor_ratio']:.1%})",
            file=out,
        )
    print(f"writes: {report['writes']}", file=out)
    print(f"written to {output}", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    return backend_bench_main(
        "db_path",
        parse_args(argv),
        lambda a, run_id: run(a, choose_tool(a.tool), run_id),
        print_summary,
    )


if __name__ == "__main__":
    sys.exit(main())
