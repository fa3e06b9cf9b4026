"""What rate limiting and the audit trail cost: the same authenticated route mix against roo with
both on and with both off, in one run.

    .venv/bin/python bench/security_overhead.py [--duration 10] [--rounds 3] [--connections 32]
        [--attribute] [--pin] [--database-url postgresql://...] [--redis redis://...]

Two roo servers on loopback, started as http_overhead.py starts roo (one uvicorn worker,
embedded SQLite in a temporary directory each, LOG_LEVEL=INFO as JSON to a file; with
--database-url and --redis, all of them on that PostgreSQL database and Redis instead, each
with an account of its own; their audit rows go into the database's one chain):

- **on**: the service as deployed: every request counted by the rate limiter (its budgets set
  out of reach, so that counting is measured and nothing is refused), tool calls counted by the
  session budget, audit rows written and sealed every second;
- **off**: `bench/security_off_app.py`, the same app with `ROO_RATE_LIMIT=false` (no rate
  limiter, no session budgets) and no audit row written (`record` and `AuditWriter.write`
  replaced by functions that write nothing; the sealer runs hourly).

A member signs in on each and makes a session with a file. The mix, one request after the other
on each of `--connections` keep-alive connections (wrk with a Lua script), every request with
the member's access token:

    GET  /api/v1/auth/profile
    GET  /api/v1/sessions?limit=10
    GET  /api/v1/sessions/{id}
    POST /api/v1/sessions/{id}/tools/read_file   {"path": "notes.txt"}   (audited: tools.execute)

Two ways to measure (`--mode`):

- **concurrent** (the default): every server loaded at the same time, each by a wrk of its own,
  all the servers on CPU 1 (`taskset`), each in a cgroup of its own with the same CPU weight
  (so that CFS gives each the same share of the CPU whatever its number of threads), the wrks on
  CPU 0. A server's req/s is then its share of one CPU divided by its CPU time per request,
  and whatever slows the machine down (on these shared machines req/s moves by 2x within
  minutes) slows every server at the same moment: one round's on/off is steady where
  back-to-back rounds are not (costs by round within about +-1 point, against -34% to +38%).
  Each round starts new servers and stops them after (a warm-up, then the measurement): how
  fast a process runs depends on its start too (its hash seed, its memory layout), so that
  one round's servers are one sample, and the median of the rounds averages them (two runs
  that kept their servers throughout gave 14.9% and 18.5%, each steady within its rounds). A
  **pilot** server (the off app again) is started first and measured with the others, but is
  not compared: in A/A runs on this machine (the same app twice) the first server started ran
  3-4% slower than identical servers started after it, for reasons not found. The place of the
  others matters too (with new servers each round, the same app started after `off` cost 2-3
  points less than started before it): they are started (and their wrks) in an order rotated
  round by round, each in each place equally often (`--rounds` a multiple of the number
  compared), and the target is judged on the mean of the rounds' costs. More servers at
  once (`--attribute`) share the CPU in shorter slices, each coming back to caches the others
  filled, which raises every cost: compare costs of runs with the same servers. Needs root
  (cgroups) and two CPUs.
- **sequential**: the servers measured one after the other, alternately, `--rounds` times
  each, each after a warm-up of its own; with `--pin`, wrk on CPU 0 and each server on CPU 1.

The cost is `1 - rps(on) / rps(off)`: over the medians of each server's rounds (judged so when
sequential), and round by round in `cost_paired` (its mean, judged so when concurrent; its
median, lowest and highest: the spread says how far one run can be trusted). Target: under
15%. Medians and p99 of every server, and their CPU time per request, go to
bench/results/security_overhead.json (security_overhead-postgres.json with --database-url).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import (
    BENCH_DIR,
    RESULTS_DIR,
    UVICORN_OPTIONS,
    WARMUP_SECONDS,
    BenchError,
    Client,
    Measurement,
    Server,
    add_backend_arguments,
    add_cpu_per_request,
    add_log_level_argument,
    backend_bench_main,
    backend_env,
    bench_email,
    bench_parser,
    create_user,
    describe_backends,
    equal_cpu_share,
    machine_info,
    parse_wrk,
    print_round,
    process_cpu_times,
    require_at_least,
    running_server,
    server_env,
    source_revision,
    summarise,
    tool_version,
)

DEFAULT_OUTPUT = RESULTS_DIR / "security_overhead.json"
MAX_COST = 0.15
FILE = "notes.txt"
OFF_ENV = {"ROO_RATE_LIMIT": "false", "ROO_AUDIT_SEAL_INTERVAL": "3600"}
ON_ENV = {"ROO_RATE_LIMIT": "true", "ROO_AUDIT_SEAL_INTERVAL": "1"}
# The server of each variant: its settings, and whether it is the off app (audit not written)
SERVERS: dict[str, tuple[dict[str, str], bool]] = {
    "on": (ON_ENV, False),
    "off": (OFF_ENV, True),
    "limits_only": ({"ROO_RATE_LIMIT": "true", "ROO_AUDIT_SEAL_INTERVAL": "3600"}, True),
    "audit_only": (
        {"ROO_RATE_LIMIT": "false", "ROO_AUDIT_SEAL_INTERVAL": "1", "BENCH_AUDIT": "on"},
        True,
    ),
}
VARIANTS = ("on", "off")
PARTS = ("limits_only", "audit_only")  # --attribute: each part alone
# --mode concurrent: started first, measured, not compared (see the module's docstring)
PILOT = "pilot"
SERVERS[PILOT] = (OFF_ENV, True)
# --pin: wrk on the first CPU, every server (all its threads) on the second
CLIENT_CPU, SERVER_CPU = 0, 1


def off_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        *UVICORN_OPTIONS,
        "--port",
        str(port),
        "--app-dir",
        str(BENCH_DIR),
        "--factory",
        "security_off_app:create_app",
    ]


def prepare(server: Server, email: str, password: str) -> tuple[str, str]:
    """Sign in, make a session with a file, check every request of the mix: (token, session)."""
    client = Client(server.port)
    try:
        token, _ = client.login(email, password)
        bearer = {"Authorization": f"Bearer {token}"}
        session, _ = client.expect("POST", "/api/v1/sessions", 201, {"name": "bench"}, bearer)
        sid = session["id"]
        written = {"path": FILE, "content": "a line of notes\n" * 20}
        client.expect("POST", f"/api/v1/sessions/{sid}/tools/write_to_file", 200, written, bearer)
        for method, path, body in mix(sid):
            client.expect(method, path, 200, body, bearer)
        return token, sid
    finally:
        client.close()


def mix(sid: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", "/api/v1/auth/profile", None),
        ("GET", "/api/v1/sessions?limit=10", None),
        ("GET", f"/api/v1/sessions/{sid}", None),
        ("POST", f"/api/v1/sessions/{sid}/tools/read_file", {"path": FILE}),
    ]


def lua_script(token: str, sid: str) -> str:
    """wrk's script: each connection cycles through the mix."""
    lines = [
        "local requests = {}",
        "local i = 0",
        "init = function(args)",
    ]
    for n, (method, path, body) in enumerate(mix(sid), start=1):
        payload = "nil" if body is None else _lua_string(_json(body))
        headers = f'{{["Authorization"] = "Bearer {token}", ["Content-Type"] = "application/json"}}'
        lines.append(f'  requests[{n}] = wrk.format("{method}", "{path}", {headers}, {payload})')
    lines += [
        "end",
        "request = function()",
        "  i = i % #requests + 1",
        "  return requests[i]",
        "end",
    ]
    return "\n".join(lines) + "\n"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(
    script: Path,
    server: Server,
    connections: int,
    duration: int,
    measure: bool,
    pin: bool = False,
) -> Measurement:
    return run_wrks([(script, server)], connections, duration, measure, pin)[0]


def run_wrks(
    loads: Sequence[tuple[Path, Server]],
    connections: int,
    duration: int,
    measure: bool,
    pin: bool = False,
) -> list[Measurement]:
    """One wrk per (script, server), all at once; their measurements in that order."""
    command = [
        *(["taskset", "-c", str(CLIENT_CPU)] if pin else []),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "30s",  # a slow answer on a loaded machine is a latency, not an error
        "--latency",
    ]
    pids = [server.process.pid for _, server in loads]
    cpu_before = [process_cpu_times(pid) if measure else None for pid in pids]
    wrks = [
        subprocess.Popen(
            [*command, "-s", str(script), server.url("/")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for script, server in loads
    ]
    outputs = []
    try:
        for wrk in wrks:
            outputs.append(wrk.communicate(timeout=duration + 30))
    finally:
        for wrk in wrks:
            if wrk.poll() is None:
                wrk.kill()
                wrk.wait()
    cpu_after = [process_cpu_times(pid) if measure else None for pid in pids]
    measurements = []
    for wrk, (stdout, stderr), before, after in zip(
        wrks, outputs, cpu_before, cpu_after, strict=True
    ):
        if wrk.returncode != 0:
            raise BenchError(f"wrk failed ({wrk.returncode}):\n{stderr[-2000:]}")
        measurement = parse_wrk(stdout)
        if measurement["requests"] == 0:
            raise BenchError(f"wrk completed no request:\n{stdout[-2000:]}")
        add_cpu_per_request(measurement, before, after)
        measurements.append(measurement)
    return measurements


def start_servers(
    stack: contextlib.ExitStack,
    args: argparse.Namespace,
    run_id: str,
    started: Sequence[str],
    tag: str = "",
) -> tuple[dict[str, Server], dict[str, Path]]:
    """A server per variant, in this order, each signed in with a session of its own: (servers,
    wrk scripts). In concurrent mode each in its cgroup; with pinning, on the server CPU."""
    concurrent = args.mode == "concurrent"
    password = secrets.token_urlsafe(18)
    backends = backend_env(args.database_url, args.redis, run_id)
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roo-bench-")))
    servers: dict[str, Server] = {}
    scripts: dict[str, Path] = {}
    for variant in started:
        settings, off_app = SERVERS[variant]
        extra = settings | backends
        # a database shared by the servers (and kept after the run) needs an account each
        shared = bool(args.database_url)
        email = bench_email(f"bench-{variant.replace('_', '-')}{tag}", run_id, shared)
        data_dir = workdir / f"{variant}-data"
        data_dir.mkdir()
        create_user(
            server_env("roo", data_dir, args.roo_log_level, extra), email, "member", password
        )
        # entered before the server: removed after it stopped
        share = (
            stack.enter_context(equal_cpu_share(f"roo-bench-{run_id}{tag}-{variant}"))
            if concurrent
            else None
        )
        servers[variant] = stack.enter_context(
            running_server(
                "roo",
                workdir,
                args.roo_log_level,
                extra_env=extra,
                label=variant,
                command=off_command if off_app else None,
            )
        )
        if share is not None:
            share(servers[variant].process.pid)
        token, sid = prepare(servers[variant], email, password)
        scripts[variant] = workdir / f"{variant}.lua"
        scripts[variant].write_text(lua_script(token, sid))
    if args.pin or concurrent:
        for server in servers.values():
            subprocess.run(
                ["taskset", "-a", "-p", "-c", str(SERVER_CPU), str(server.process.pid)],
                check=True,
                capture_output=True,
            )
    return servers, scripts


def check_errors(variant: str, measured: list[Measurement], server: Server) -> None:
    failed = sum(m["errors"] for m in measured)
    total = sum(m["requests"] for m in measured)
    if failed * 100 > total:  # a few 503s of a loaded machine are reported, not fatal
        raise BenchError(f"{variant}: {failed} of {total} requests failed; see {server.log_path}")


def compared(args: argparse.Namespace) -> tuple[str, ...]:
    """The servers whose costs are compared (not the pilot)."""
    return (*VARIANTS, *PARTS) if args.attribute else VARIANTS


def run(args: argparse.Namespace, run_id: str) -> dict[str, Any]:
    variants = compared(args)
    if args.mode == "concurrent":
        measured = run_concurrent(args, run_id, variants)
    else:
        measured = run_sequential(args, run_id, variants)
    return build_report(args, measured)


def run_concurrent(
    args: argparse.Namespace, run_id: str, variants: Sequence[str]
) -> dict[str, list[Measurement]]:
    """Each round: new servers (a process's speed varies with its start: hash seed, memory
    layout), all loaded at once after a warm-up, then stopped. The pilot is started first; the
    others in an order rotated round by round, so that each variant is in each place equally
    often (the place a server is started in changes its speed: the module's docstring)."""
    measured: dict[str, list[Measurement]] = {v: [] for v in (PILOT, *variants)}
    for round_no in range(1, args.rounds + 1):
        turn = (round_no - 1) % len(variants)
        started = (PILOT, *variants[turn:], *variants[:turn])
        with contextlib.ExitStack() as stack:
            servers, scripts = start_servers(stack, args, run_id, started, f"-r{round_no}")
            loads = [(scripts[v], servers[v]) for v in started]
            run_wrks(loads, args.connections, WARMUP_SECONDS, False, pin=True)
            results = run_wrks(loads, args.connections, args.duration, True, pin=True)
            for variant, result in zip(started, results, strict=True):
                measured[variant].append(result)
                print_round(round_no, args.rounds, variant, result)
                check_errors(variant, [result], servers[variant])
    return measured


def run_sequential(
    args: argparse.Namespace, run_id: str, variants: Sequence[str]
) -> dict[str, list[Measurement]]:
    """The same servers throughout, measured one after the other, alternately."""
    measured: dict[str, list[Measurement]] = {v: [] for v in variants}
    with contextlib.ExitStack() as stack:
        servers, scripts = start_servers(stack, args, run_id, variants)
        print(
            "servers ready: " + ", ".join(f"{v} on :{s.port}" for v, s in servers.items()),
            file=sys.stderr,
        )
        for round_no in range(1, args.rounds + 1):
            order = variants if round_no % 2 else tuple(reversed(variants))
            for variant in order:
                server = servers[variant]
                script, connections = scripts[variant], args.connections
                run_wrk(script, server, connections, WARMUP_SECONDS, False, args.pin)
                result = run_wrk(script, server, connections, args.duration, True, args.pin)
                measured[variant].append(result)
                print_round(round_no, args.rounds, variant, result)
        for variant, server in servers.items():
            check_errors(variant, measured[variant], server)
    return measured


def build_report(
    args: argparse.Namespace, measured: dict[str, list[Measurement]]
) -> dict[str, Any]:
    results = {variant: summarise(runs) for variant, runs in measured.items()}
    on, off = results["on"], results["off"]
    cost = round(1 - on["rps"] / off["rps"], 3)
    cpu_cost = (
        round(on["cpu_us_per_request"] / off["cpu_us_per_request"] - 1, 3)
        if on["cpu_us_per_request"] and off["cpu_us_per_request"]
        else None
    )
    paired = paired_cost(on["rounds"], off["rounds"])
    concurrent = args.mode == "concurrent"
    judged, judged_on = (paired["mean"], "cost_paired.mean") if concurrent else (cost, "cost")
    return {
        "benchmark": "security_overhead",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "source": source_revision(),
        "tool": "wrk",
        "tool_version": tool_version("wrk"),
        "settings": {
            "mode": args.mode,
            "duration": args.duration,
            "rounds": args.rounds,
            "pinned": args.pin or args.mode == "concurrent",
            "connections": args.connections,
            "roo_log_level": args.roo_log_level,
            "mix": [f"{m} {p}" for m, p, _ in mix("{id}")],
            "servers": {
                v: {
                    **SERVERS[v][0],
                    "audit_rows": not SERVERS[v][1] or "BENCH_AUDIT" in SERVERS[v][0],
                }
                for v in measured
            },
            "backends": describe_backends(args),
        },
        "results": results,
        "rps_ratio_on_off": round(on["rps"] / off["rps"], 3),
        "cost": cost,
        "cpu_cost": cpu_cost,
        "p50_ms": {"on": on["p50_ms"], "off": off["p50_ms"]},
        "p99_ms": {"on": on["p99_ms"], "off": off["p99_ms"]},
        # concurrent: judged on the mean of the rounds' costs (each variant in each place
        # equally often); sequential: on the medians of the servers' req/s
        "target": {"max_cost": MAX_COST, "met": judged <= MAX_COST, "judged_on": judged_on},
        # each round's 1 - on/off (the two measured at once, or back to back): the machine's
        # drift between rounds cancels; the spread says how far one run can be trusted
        "cost_paired": paired,
        # with --attribute: each part alone against off (paired by round when concurrent)
        "cost_by_part": {
            part: (
                paired_cost(results[part]["rounds"], off["rounds"])["mean"]
                if concurrent
                else round(1 - results[part]["rps"] / off["rps"], 3)
            )
            for part in PARTS
            if part in results
        },
    }


def paired_cost(on: list[dict[str, Any]], off: list[dict[str, Any]]) -> dict[str, float]:
    """1 - on/off per round: its mean, median, lowest and highest."""
    costs = sorted(1 - a["rps"] / b["rps"] for a, b in zip(on, off, strict=True) if b["rps"])
    return {
        "mean": round(statistics.fmean(costs), 3),
        "median": round(statistics.median(costs), 3),
        "min": round(costs[0], 3),
        "max": round(costs[-1], 3),
    }


def print_summary(report: dict[str, Any], output: Path) -> None:
    s = report["settings"]
    print(
        f"\nsecurity_overhead ({s['mode']}): wrk, {s['connections']} connections, "
        f"{s['duration']}s x {s['rounds']} rounds (median), mix of {len(s['mix'])} "
        "authenticated requests"
        + ("; the pilot is not compared" if PILOT in report["results"] else "")
    )
    print(
        f"{'':<12}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'cpu us/req':>12}{'of it sys':>10}"
        f"{'errors':>8}  req/s by round"
    )
    for variant, result in report["results"].items():
        per_round = ", ".join(f"{m['rps']:.0f}" for m in result["rounds"])
        cpu = result["cpu_us_per_request"]
        print(
            f"{variant:<12}{result['rps']:>9.0f}{result['p50_ms']:>9.2f}{result['p99_ms']:>9.2f}"
            f"{(cpu or 0):>12.0f}{result.get('sys_us_per_request', 0):>10.0f}"
            f"{sum(m['errors'] for m in result['rounds']):>8}  {per_round}"
        )
    target = report["target"]
    verdict = "met" if target["met"] else "NOT met"
    cpu_cost = report["cpu_cost"]
    paired = report["cost_paired"]
    print(
        f"rate limiting + audit cost {report['cost']:.1%} of req/s by the medians"
        + (f", {cpu_cost:.1%} more CPU per request" if cpu_cost is not None else "")
    )
    print(
        f"  paired by round: mean {paired['mean']:.1%}, median {paired['median']:.1%}, "
        f"from {paired['min']:.1%} to {paired['max']:.1%}"
    )
    print(f"target <= {target['max_cost']:.0%} (judged on {target['judged_on']}): {verdict}")
    for part, part_cost in report["cost_by_part"].items():
        print(f"  {part} alone: {part_cost:.1%} of req/s")
    print(f"written to {output}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, DEFAULT_OUTPUT)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement (10)")
    parser.add_argument("--rounds", type=int, default=4, help="measurements per server (4)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument(
        "--mode",
        choices=("concurrent", "sequential"),
        default="concurrent",
        help="every server loaded at once, sharing CPU 1 equally (the default; root), or one "
        "after the other (see the module's docstring)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="sequential mode: wrk on CPU 0 and the servers on CPU 1 (taskset), so that the "
        "scheduler does not put them on one core in some rounds and on two in others (always so "
        "in concurrent mode)",
    )
    add_log_level_argument(parser)
    add_backend_arguments(parser)
    parser.add_argument(
        "--attribute",
        action="store_true",
        help="also measure rate limiting alone and the audit alone (two more servers)",
    )
    args = parser.parse_args(argv)
    require_at_least(parser, args, 1, "duration", "rounds", "connections")
    places = len(compared(args))
    if args.mode == "concurrent" and args.rounds % places:
        parser.error(
            f"--rounds must be a multiple of {places} in concurrent mode: each variant is "
            "started in each place equally often"
        )
    if args.output == DEFAULT_OUTPUT and args.database_url:
        args.output = RESULTS_DIR / "security_overhead-postgres.json"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return backend_bench_main("security_overhead", parse_args(argv), run, print_summary)


if __name__ == "__main__":
    sys.exit(main())
