"""Sessions at scale: creation latency, service memory and disk per idle session, listing latency.

    .venv/bin/python bench/sessions.py [--sessions 1000] [--admins 10] [--rounds 4] [--clients 4]

Creates --admins admin accounts with `roo user create --role admin` (the server's environment,
before it starts; an admin may keep 200 open sessions, a member 20), starts roo on loopback as
http_overhead.py does (one uvicorn worker, embedded SQLite in a temporary directory,
LOG_LEVEL=INFO as JSON to a file; Redis and/or PostgreSQL only when asked), signs every admin in
and creates --sessions sessions through the API (`POST /api/v1/sessions`, the admins in turn,
so each ends with sessions/admins). Creation is measured in rounds, each round one batch from a
single client (sequential requests) and one batch from --clients concurrent clients, so both
see the same database sizes. Then:

- memory: the server's RSS (/proc/<pid>/status VmRSS) after a warm-up and a settle pause, and
  again after the sessions exist and another pause: the growth per idle session;
- disk: what an empty workspace directory takes, and what the database grew by per session;
- listing: sequential `GET /api/v1/sessions?limit=50` (each admin has more than 50 sessions).

Results go to bench/results/sessions.json. Targets: creation p99 under 50 ms (the seed's budget:
500 ms); service memory well under 1 MB per idle session (the seed's budget: 512 MB).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from common import (
    RESULTS_DIR,
    UVICORN_OPTIONS,
    BenchError,
    Client,
    Server,
    User,
    add_backend_arguments,
    add_log_level_argument,
    backend_bench_main,
    backend_env,
    bench_email,
    bench_parser,
    create_users,
    describe_backends,
    latency_stats,
    machine_info,
    process_cpu_seconds,
    process_memory,
    require_at_least,
    running_server,
    server_env,
    sign_in,
    source_revision,
)

DEFAULT_OUTPUT = RESULTS_DIR / "sessions.json"
ADMIN_MAX_SESSIONS = 200  # roo.sessions.quotas: open sessions an admin may keep
WARMUP_SESSIONS = 20  # a member's whole quota, created before the baseline is taken
LIST_PATH = "/api/v1/sessions?limit=50"
LIST_LIMIT = 50
CREATE_P99_AIM_MS = 50.0
CREATE_P99_SEED_MS = 500.0
MEMORY_AIM_BYTES = 1024 * 1024  # "well under 1 MB of service memory per idle session"
MEMORY_SEED_BYTES = 512 * 1024 * 1024


@dataclass
class Phase:
    """One batch of requests from `clients` clients (each sequential)."""

    clients: int
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float | None = None

    def record(self) -> dict[str, Any]:
        done = len(self.latencies)
        return {
            "clients": self.clients,
            "requests": done + sum(self.errors.values()),
            "errors": self.errors,
            **latency_stats(self.latencies),
            "requests_per_s": round(done / self.seconds, 1) if self.seconds else None,
            "cpu_us_per_request": round(self.cpu_seconds * 1e6 / done, 1)
            if self.cpu_seconds is not None and done
            else None,
        }


# -- set-up --------------------------------------------------------------------------------------


# -- measurements --------------------------------------------------------------------------------


def run_phase(
    server: Server,
    clients: int,
    work: Sequence[tuple[str, str, Any, dict[str, str], int]],
) -> Phase:
    """Send `work` (method, path, body, headers, expected status) from `clients` clients, each
    taking every clients-th item in order; record every latency and every unexpected status."""
    phase = Phase(clients=clients)
    lock = threading.Lock()
    stop = threading.Event()  # set when the run is interrupted: the clients give up at once

    def one_client(items: Sequence[tuple[str, str, Any, dict[str, str], int]]) -> None:
        client = Client(server.port)
        try:
            for method, path, body, headers, expected in items:
                if stop.is_set():
                    return
                status, data, elapsed = client.call(method, path, body, headers)
                if status == expected:
                    phase.latencies.append(elapsed)
                    continue
                with lock:
                    key = str(status)
                    phase.errors[key] = phase.errors.get(key, 0) + 1
                    first = phase.errors[key] == 1
                if first:
                    print(f"  {method} {path}: {status} {str(data)[:300]}", file=sys.stderr)
        finally:
            client.close()

    cpu_before = process_cpu_seconds(server.process.pid)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        try:
            for future in [pool.submit(one_client, work[i::clients]) for i in range(clients)]:
                future.result()
        except BaseException:
            stop.set()
            raise
    phase.seconds = time.perf_counter() - started
    cpu_after = process_cpu_seconds(server.process.pid)
    if cpu_before is not None and cpu_after is not None:
        phase.cpu_seconds = cpu_after - cpu_before
    return phase


def creations(owners: Sequence[User], first: int, count: int) -> list[Any]:
    """`count` session creations numbered from `first`, the owners in turn."""
    return [
        (
            "POST",
            "/api/v1/sessions",
            {"name": f"bench session {n}"},
            owners[n % len(owners)].bearer,
            201,
        )
        for n in range(first, first + count)
    ]


def settled_memory(pid: int, pause: float) -> dict[str, int]:
    """The server's memory after `pause` seconds without requests (the lowest RSS seen)."""
    samples = []
    deadline = time.monotonic() + pause
    while True:
        memory = process_memory(pid)
        if memory is None:
            raise BenchError("cannot read /proc/<pid>/status: memory is measured on Linux only")
        samples.append(memory)
        if time.monotonic() >= deadline:
            break
        time.sleep(min(0.5, max(deadline - time.monotonic(), 0.01)))
    tail = samples[len(samples) // 2 :]  # the second half of the pause
    return min(tail, key=lambda m: m["VmRSS"])


def database_bytes(data_dir: Path) -> int:
    """Bytes in use in the embedded SQLite database: its pages (those still in the WAL
    included) less its free pages. Read through a read-only connection of our own; the files'
    sizes would mostly show how far the WAL has grown since its last checkpoint."""
    uri = f"{(data_dir / 'roo.db').as_uri()}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def workspace_disk(root: Path) -> dict[str, Any]:
    """Every workspace directory under `root`: how many, allocated and apparent bytes, and
    whether any has content (they should all be empty)."""
    count = allocated = apparent = non_empty = 0
    for entry in os.scandir(root):
        if not entry.is_dir(follow_symlinks=False) or len(entry.name) != 32:
            continue
        info = entry.stat(follow_symlinks=False)
        count += 1
        allocated += info.st_blocks * 512
        apparent += info.st_size
        with os.scandir(entry.path) as inside:
            non_empty += any(True for _ in inside)
    return {
        "workspaces": count,
        "allocated_bytes_per_workspace": round(allocated / count) if count else None,
        "apparent_bytes_per_workspace": round(apparent / count) if count else None,
        "non_empty": non_empty,
    }


def filesystem_type(path: Path) -> str | None:
    """The type of the filesystem holding `path`, from /proc/mounts (longest mount point)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    resolved = str(path.resolve())
    best, kind = "", None
    for line in mounts:
        parts = line.split()
        if len(parts) >= 3 and resolved.startswith(parts[1]) and len(parts[1]) > len(best):
            best, kind = parts[1], parts[2]
    return kind


# -- report --------------------------------------------------------------------------------------


def pooled(phases: Sequence[Phase], clients: int) -> dict[str, Any]:
    """Every latency of every round of one kind of batch, and the batches themselves."""
    latencies = [s for p in phases for s in p.latencies]
    errors: dict[str, int] = {}
    for phase in phases:
        for status, n in phase.errors.items():
            errors[status] = errors.get(status, 0) + n
    seconds = sum(p.seconds for p in phases)
    cpu = [p.cpu_seconds for p in phases if p.cpu_seconds is not None]
    return {
        "clients": clients,
        "requests": len(latencies) + sum(errors.values()),
        "errors": errors,
        **latency_stats(latencies),
        "requests_per_s": round(len(latencies) / seconds, 1) if seconds else None,
        "cpu_us_per_request": round(sum(cpu) * 1e6 / len(latencies), 1)
        if cpu and latencies
        else None,
        "rounds": [p.record() for p in phases],
    }


def verdicts(p99_ms: float) -> dict[str, Any]:
    return {
        "p99_ms": p99_ms,
        "aim_met": p99_ms < CREATE_P99_AIM_MS,
        "seed_met": p99_ms < CREATE_P99_SEED_MS,
    }


def print_summary(report: dict[str, Any], output: Path, out: IO[str] = sys.stdout) -> None:
    settings = report["settings"]
    backends = settings["backends"]
    print(
        f"\nsessions: {report['created']} sessions for {settings['admins']} admins, "
        f"{settings['rounds']} rounds; {backends['database']}, redis: {backends['redis']}",
        file=out,
    )
    print(
        f"{'request':<26}{'clients':>8}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'req/s':>8}{'cpu us/req':>12}",
        file=out,
    )
    rows = [
        ("POST /sessions", report["create"]["sequential"]),
        ("POST /sessions", report["create"]["concurrent"]),
        ("GET /sessions?limit=50", report["list"]),
    ]
    for name, result in rows:
        cpu = result["cpu_us_per_request"]
        cpu_text = f"{cpu:>12.0f}" if cpu is not None else f"{'-':>12}"
        errors = sum(result["errors"].values())
        flag = f"  ({errors} errors: {result['errors']})" if errors else ""
        print(
            f"{name:<26}{result['clients']:>8}{result['requests']:>6}{result['p50_ms']:>9.1f}"
            f"{result['p99_ms']:>9.1f}{result['max_ms']:>9.1f}{result['requests_per_s']:>8.0f}"
            f"{cpu_text}{flag}",
            file=out,
        )
    target = report["targets"]["create_p99"]
    for mode in ("sequential", "concurrent"):
        verdict = target[mode]
        print(
            f"creation p99 ({mode}) {verdict['p99_ms']:.1f} ms: aim < {target['aim_ms']:.0f} ms "
            f"{'met' if verdict['aim_met'] else 'NOT met'}, seed < {target['seed_ms']:.0f} ms "
            f"{'met' if verdict['seed_met'] else 'NOT met'}",
            file=out,
        )
    memory = report["memory"]
    memory_target = report["targets"]["memory_per_session"]
    mib = 1024 * 1024
    print(
        f"server RSS {memory['before']['VmRSS'] / mib:.1f} MiB -> "
        f"{memory['after']['VmRSS'] / mib:.1f} MiB: "
        f"{memory['bytes_per_session'] / 1024:.1f} KiB per idle session "
        f"(aim well under 1 MiB: {'met' if memory_target['aim_met'] else 'NOT met'}; "
        f"peak {memory['after']['VmHWM'] / mib:.1f} MiB)",
        file=out,
    )
    disk = report["disk"]
    db = disk["database_bytes_per_session"]
    db_text = f", database +{db / 1024:.1f} KiB per session" if db is not None else ""
    print(
        f"disk: {disk['allocated_bytes_per_workspace']} bytes per empty workspace "
        f"({disk['filesystem']}){db_text}",
        file=out,
    )
    print(f"written to {output}", file=out)


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, DEFAULT_OUTPUT)
    parser.add_argument("--sessions", type=int, default=1000, help="sessions to create (1000)")
    parser.add_argument("--admins", type=int, default=10, help="admin accounts owning them (10)")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (4)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (4)")
    parser.add_argument(
        "--list-requests", type=int, default=200, help="listing requests measured (200)"
    )
    parser.add_argument(
        "--settle", type=float, default=5.0, help="seconds of quiet before reading RSS (5)"
    )
    add_log_level_argument(parser)
    add_backend_arguments(parser)
    args = parser.parse_args(argv)
    require_at_least(parser, args, 1, "sessions", "admins", "rounds", "clients", "list_requests")
    if args.sessions < 2 * args.rounds:
        parser.error("--sessions must be at least twice --rounds")
    if -(-args.sessions // args.admins) > ADMIN_MAX_SESSIONS:
        parser.error(f"an admin may keep {ADMIN_MAX_SESSIONS} open sessions: add --admins")
    if args.sessions // args.admins <= LIST_LIMIT:
        print(
            f"sessions: note: {args.sessions // args.admins} sessions per admin; the listing "
            f"returns fewer than its limit of {LIST_LIMIT}",
            file=sys.stderr,
        )
    if args.settle < 0:
        parser.error("--settle must not be negative")
    return args


def run(args: argparse.Namespace, run_id: str) -> dict[str, Any]:
    extra_env = backend_env(args.database_url, args.redis, run_id)
    shared = bool(args.database_url)
    admins = [
        User(bench_email(f"bench-admin-{i}", run_id, shared), secrets.token_urlsafe(18))
        for i in range(args.admins)
    ]
    warmup_user = User(bench_email("bench-warmup", run_id, shared), secrets.token_urlsafe(18))
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roo-bench-")))
        data_dir = workdir / "roo-data"
        data_dir.mkdir()
        env = server_env("roo", data_dir, args.roo_log_level, extra_env)
        setup_seconds = create_users(
            env, [(warmup_user, "member"), *((admin, "admin") for admin in admins)]
        )
        server = stack.enter_context(
            running_server("roo", workdir, args.roo_log_level, extra_env=extra_env)
        )
        pid = server.process.pid
        sign_in(server, [warmup_user, *admins])
        print(
            f"roo ready on :{server.port}; {len(admins) + 1} users created in "
            f"{setup_seconds:.1f}s and signed in",
            file=sys.stderr,
        )

        # Warm-up: every code path once or more, so that the baseline is not a cold process.
        warmup = creations([warmup_user], 0, WARMUP_SESSIONS)
        warmup += [("GET", LIST_PATH, None, warmup_user.bearer, 200)] * WARMUP_SESSIONS
        warm = run_phase(server, 1, warmup)
        if warm.errors:
            raise BenchError(f"warm-up requests failed: {warm.errors}")
        before = settled_memory(pid, args.settle)
        db_before = database_bytes(data_dir) if not shared else None

        # Creation: per round, one sequential batch and one concurrent batch.
        sequential: list[Phase] = []
        concurrent: list[Phase] = []
        rss_by_round: list[int] = []
        per_round = args.sessions // args.rounds
        number = 0
        for round_no in range(1, args.rounds + 1):
            size = per_round if round_no < args.rounds else args.sessions - number
            half = size // 2
            for clients, count, phases in (
                (1, half, sequential),
                (args.clients, size - half, concurrent),
            ):
                phase = run_phase(server, clients, creations(admins, number, count))
                number += count
                phases.append(phase)
                result = phase.record()
                print(
                    f"round {round_no}/{args.rounds} create x{clients:<2} "
                    f"{result['requests']:>4} sessions  p50 {result['p50_ms']:.1f} ms  "
                    f"p99 {result['p99_ms']:.1f} ms  server cpu "
                    f"{result['cpu_us_per_request'] or 0:.0f} us/req",
                    file=sys.stderr,
                )
            rss_by_round.append((process_memory(pid) or {}).get("VmRSS", 0))

        after = settled_memory(pid, args.settle)
        created = sum(len(p.latencies) for p in (*sequential, *concurrent))
        db_after = database_bytes(data_dir) if not shared else None
        disk = workspace_disk(data_dir / "workspaces")

        # Listing: every admin in turn, sequential.
        client = Client(server.port)
        try:
            page, _ = client.expect("GET", LIST_PATH, 200, headers=admins[0].bearer)
        finally:
            client.close()
        listing = run_phase(
            server,
            1,
            [
                ("GET", LIST_PATH, None, admins[n % len(admins)].bearer, 200)
                for n in range(args.list_requests)
            ],
        )
        after_listing = process_memory(pid)
        print(
            f"listing: {len(page['items'])} items of {page['total']}: "
            f"p50 {listing.record()['p50_ms']:.1f} ms  p99 {listing.record()['p99_ms']:.1f} ms",
            file=sys.stderr,
        )
        log_text = server.log_path.read_bytes()

    growth = after["VmRSS"] - before["VmRSS"]
    per_session = growth / created if created else 0.0
    create_sequential = pooled(sequential, 1)
    create_concurrent = pooled(concurrent, args.clients)
    list_result = pooled([listing], 1)
    del list_result["rounds"]
    return {
        "benchmark": "sessions",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "source": source_revision(),
        "settings": {
            "sessions": args.sessions,
            "admins": args.admins,
            "sessions_per_admin": -(-args.sessions // args.admins),
            "rounds": args.rounds,
            "clients": args.clients,
            "list_requests": args.list_requests,
            "settle_seconds": args.settle,
            "warmup_sessions": WARMUP_SESSIONS,
            "uvicorn": " ".join(UVICORN_OPTIONS),
            "roo_log_level": args.roo_log_level,
            "backends": describe_backends(args),
            "user_setup_seconds": round(setup_seconds, 1),
        },
        "created": created,
        "create": {"sequential": create_sequential, "concurrent": create_concurrent},
        "list": {
            "request": f"GET {LIST_PATH}",
            "items": len(page["items"]),
            "total": page["total"],
            **list_result,
        },
        "memory": {
            "before": before,
            "after": after,
            "after_listing": after_listing,
            "rss_by_round": rss_by_round,
            "growth_bytes": growth,
            "bytes_per_session": round(per_session),
        },
        "disk": {
            "filesystem": filesystem_type(data_dir.parent),
            **disk,
            "database_bytes_before": db_before,
            "database_bytes_after": db_after,
            "database_bytes_per_session": round((db_after - db_before) / created)
            if db_before is not None and db_after is not None and created
            else None,
        },
        "targets": {
            "create_p99": {
                "aim_ms": CREATE_P99_AIM_MS,
                "seed_ms": CREATE_P99_SEED_MS,
                "sequential": verdicts(create_sequential["p99_ms"]),
                "concurrent": verdicts(create_concurrent["p99_ms"]),
            },
            "memory_per_session": {
                "bytes": round(per_session),
                "aim_bytes": MEMORY_AIM_BYTES,
                "aim_met": per_session < MEMORY_AIM_BYTES,
                "seed_bytes": MEMORY_SEED_BYTES,
                "seed_met": per_session < MEMORY_SEED_BYTES,
            },
        },
        "roo_log": {"bytes": len(log_text), "lines": log_text.count(b"\n")},
    }


def main(argv: Sequence[str] | None = None) -> int:
    return backend_bench_main("sessions", parse_args(argv), run, print_summary)


if __name__ == "__main__":
    sys.exit(main())
