"""What authentication costs per request: public route vs access token vs API key, and sign-in.

    .venv/bin/python bench/auth_overhead.py [--duration 10] [--rounds 2] [--redis URL]

Creates a member account with `roo user create` (the server's environment, before it starts),
starts roo on loopback exactly as http_overhead.py does (one uvicorn worker, embedded SQLite in
a temporary directory, LOG_LEVEL=INFO as JSON to a file; Redis and/or PostgreSQL only when
asked), signs in to get an access token (JWT), creates an API key (sessions:read,
profile:read) and a few sessions, then measures with wrk (or bench/loadgen.py), interleaved
over rounds, each after a short warm-up:

    public_version   GET /api/v1/version                                (no credential)
    jwt_whoami       GET /api/v1/auth/whoami   Authorization: Bearer <jwt>
    apikey_whoami    GET /api/v1/auth/whoami   X-API-Key: <key>
    jwt_profile      GET /api/v1/auth/profile  Authorization: Bearer <jwt>
    apikey_profile   GET /api/v1/auth/profile  X-API-Key: <key>
    jwt_sessions     GET /api/v1/sessions      Authorization: Bearer <jwt>

`/version` and `/auth/whoami` do the same (no) work apart from the credential check, so their
ratio is what the token check costs; `/auth/profile` and `/sessions` add a database read each
(shown for information).

and then sign-in itself (`POST /api/v1/auth/login`, argon2id on purpose) with one and with two
concurrent clients. The target: a request that only adds the token check keeps at least 75% of
the public route's requests per second. Medians over rounds go to
bench/results/auth_overhead.json.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from common import (
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
    http_load_settings,
    latency_stats,
    machine_info,
    print_round,
    process_cpu_seconds,
    require_at_least,
    run_load,
    running_server,
    server_env,
    source_revision,
    summarise,
    tool_version,
)

DEFAULT_OUTPUT = RESULTS_DIR / "auth_overhead.json"
MIN_RATIO = 0.75
API_KEY_SCOPES = ["sessions:read", "profile:read"]
# Sessions of the benchmark's user, so that the listing (jwt_sessions) returns some rows.
LISTED_SESSIONS = 10
LOGIN_CLIENTS = (1, 2)

Credential = Literal["none", "jwt", "api_key"]


@dataclass(frozen=True)
class Endpoint:
    key: str
    path: str
    credential: Credential


# Measured in this order every round.
ENDPOINTS = (
    Endpoint("public_version", "/api/v1/version", "none"),
    Endpoint("jwt_whoami", "/api/v1/auth/whoami", "jwt"),
    Endpoint("apikey_whoami", "/api/v1/auth/whoami", "api_key"),
    Endpoint("jwt_profile", "/api/v1/auth/profile", "jwt"),
    Endpoint("apikey_profile", "/api/v1/auth/profile", "api_key"),
    Endpoint("jwt_sessions", "/api/v1/sessions", "jwt"),
)
# (authenticated, public): the first two carry the target (the token check alone); the routes
# that also read the database are for information.
RATIOS = {
    "jwt": ("jwt_whoami", "public_version"),
    "api_key": ("apikey_whoami", "public_version"),
    "jwt_profile": ("jwt_profile", "public_version"),
    "api_key_profile": ("apikey_profile", "public_version"),
    "jwt_sessions": ("jwt_sessions", "public_version"),
}
TARGET_RATIOS = ("jwt", "api_key")


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    token: str
    api_key: str

    def headers(self, credential: Credential) -> dict[str, str]:
        if credential == "jwt":
            return {"Authorization": f"Bearer {self.token}"}
        if credential == "api_key":
            return {"X-API-Key": self.api_key}
        return {}


# -- set-up --------------------------------------------------------------------------------------


def prepare(server: Server, email: str, password: str) -> Account:
    """Sign in, create the API key and the sessions the listing returns; check every endpoint."""
    client = Client(server.port)
    try:
        token, _ = client.login(email, password)
        bearer = {"Authorization": f"Bearer {token}"}
        created, _ = client.expect(
            "POST",
            "/api/v1/auth/api-keys",
            201,
            {"name": "auth-overhead bench", "scopes": API_KEY_SCOPES},
            bearer,
        )
        for number in range(1, LISTED_SESSIONS + 1):
            client.expect("POST", "/api/v1/sessions", 201, {"name": f"bench {number}"}, bearer)
        account = Account(email, password, token, created["key"])
        for endpoint in ENDPOINTS:
            client.expect("GET", endpoint.path, 200, headers=account.headers(endpoint.credential))
        return account
    finally:
        client.close()


# -- sign-in -------------------------------------------------------------------------------------


def measure_logins(server: Server, account: Account, count: int, clients: int) -> dict[str, Any]:
    """`count` successful sign-ins shared by `clients` concurrent clients (each sequential).

    Successful sign-ins do not count towards the failed-login throttle."""
    per_client = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]

    stop = threading.Event()  # set when the run is interrupted: the clients give up at once

    def one_client(n: int) -> list[float]:
        client = Client(server.port)
        try:
            return [
                client.login(account.email, account.password)[1]
                for _ in range(n)
                if not stop.is_set()
            ]
        finally:
            client.close()

    cpu_before = process_cpu_seconds(server.process.pid)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        try:
            latencies = [s for part in pool.map(one_client, per_client) for s in part]
        except BaseException:
            stop.set()
            raise
    wall = time.perf_counter() - started
    cpu_after = process_cpu_seconds(server.process.pid)
    cpu = (
        round((cpu_after - cpu_before) * 1000 / count, 2)
        if cpu_before is not None and cpu_after is not None
        else None
    )
    return {
        "requests": count,
        "seconds": round(wall, 3),
        "logins_per_s": round(count / wall, 2),
        "cpu_ms_per_login": cpu,
        "latencies_ms": [round(s * 1000, 2) for s in latencies],
    }


def summarise_logins(rounds: list[dict[str, Any]], clients: int) -> dict[str, Any]:
    """Percentiles over every sign-in of every round; throughput over their total time."""
    latencies = [ms / 1000 for r in rounds for ms in r["latencies_ms"]]
    requests = sum(r["requests"] for r in rounds)
    seconds = sum(r["seconds"] for r in rounds)
    cpu = [r["cpu_ms_per_login"] for r in rounds if r["cpu_ms_per_login"] is not None]
    return {
        "clients": clients,
        "requests": requests,
        **latency_stats(latencies),
        "logins_per_s": round(requests / seconds, 2),
        "cpu_ms_per_login": round(sum(cpu) / len(cpu), 2) if cpu else None,
        "rounds": [{k: v for k, v in r.items() if k != "latencies_ms"} for r in rounds],
    }


# -- report --------------------------------------------------------------------------------------


def build_report(
    args: argparse.Namespace,
    tool: Tool,
    measured: dict[str, list[Measurement]],
    logins: dict[int, list[dict[str, Any]]],
    roo_log: dict[str, Any],
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for endpoint in ENDPOINTS:
        results[endpoint.key] = {
            "request": f"GET {endpoint.path}",
            "credential": endpoint.credential,
            **summarise(measured[endpoint.key]),
        }
    ratios = {
        name: round(results[auth]["rps"] / results[public]["rps"], 3)
        for name, (auth, public) in RATIOS.items()
    }
    # From server CPU per request (public / authenticated): the ratio with the server alone on
    # its core; steadier than `ratios` on a busy machine.
    cpu_ratios: dict[str, float] = {}
    cpu_added: dict[str, float] = {}
    for name, (auth, public) in RATIOS.items():
        auth_cpu, public_cpu = (
            results[auth]["cpu_us_per_request"],
            results[public]["cpu_us_per_request"],
        )
        if auth_cpu and public_cpu:
            cpu_ratios[name] = round(public_cpu / auth_cpu, 3)
            cpu_added[name] = round(auth_cpu - public_cpu, 1)
    return {
        "benchmark": "auth_overhead",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "source": source_revision(),
        "tool": tool,
        "tool_version": tool_version(tool),
        "settings": {
            **http_load_settings(args),
            "backends": describe_backends(args),
            "identity_near_cache": bool(args.redis) and not args.no_near_cache,
            "api_key_scopes": API_KEY_SCOPES,
            "listed_sessions": LISTED_SESSIONS,
            "logins": args.logins,
        },
        "results": results,
        "ratios": ratios,
        "cpu_ratios": cpu_ratios,
        "cpu_added_us_per_request": cpu_added,
        "target": {
            "min_ratio": MIN_RATIO,
            "applies_to": list(TARGET_RATIOS),
            "met": min(ratios[name] for name in TARGET_RATIOS) >= MIN_RATIO,
            "met_by_cpu": bool(cpu_ratios)
            and min(cpu_ratios.get(name, 0.0) for name in TARGET_RATIOS) >= MIN_RATIO,
        },
        "login": {
            f"{clients}_client{'s' if clients > 1 else ''}": summarise_logins(rounds, clients)
            for clients, rounds in logins.items()
        },
        "roo_log": roo_log,
    }


def print_summary(report: dict[str, Any], output: Path, out: IO[str] = sys.stdout) -> None:
    settings = report["settings"]
    backends = settings["backends"]
    print(
        f"\nauth_overhead: {report['tool']}, {settings['connections']} connections, "
        f"{settings['duration']}s x {settings['rounds']} rounds (median); "
        f"{backends['database']}, redis: {backends['redis']}"
        + (" with near cache" if settings.get("identity_near_cache") else ""),
        file=out,
    )
    print(
        f"{'endpoint':<16}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'cpu us/req':>12}"
        f"{'vs public':>11}  req/s by round",
        file=out,
    )
    vs_public = {auth: report["ratios"][name] for name, (auth, _) in RATIOS.items()}
    for key, result in report["results"].items():
        per_round = ", ".join(f"{m['rps']:.0f}" for m in result["rounds"])
        errors = sum(m["errors"] for m in result["rounds"])
        flag = f"  ({errors} errors)" if errors else ""
        cpu = result["cpu_us_per_request"]
        cpu_text = f"{cpu:>12.0f}" if cpu is not None else f"{'-':>12}"
        ratio = f"{vs_public[key]:>11.0%}" if key in vs_public else f"{'':>11}"
        print(
            f"{key:<16}{result['rps']:>9.0f}{result['p50_ms']:>9.2f}{result['p99_ms']:>9.2f}"
            f"{cpu_text}{ratio}  {per_round}{flag}",
            file=out,
        )
    target = report["target"]
    shown = ", ".join(f"{k} {report['ratios'][k]:.0%}" for k in target["applies_to"])
    verdict = "met" if target["met"] else "NOT met"
    print(
        f"authenticated/public req/s: {shown}; target >= {target['min_ratio']:.0%}: {verdict}",
        file=out,
    )
    if report["cpu_ratios"]:
        cpu_shown = ", ".join(
            f"{k} {v:.0%} (+{report['cpu_added_us_per_request'][k]:.0f} us)"
            for k, v in report["cpu_ratios"].items()
        )
        print(f"public/authenticated server CPU per request: {cpu_shown}", file=out)
    print(f"{'sign-in':<16}{'logins/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'cpu ms/login':>14}", file=out)
    for key, login in report["login"].items():
        cpu = login["cpu_ms_per_login"]
        cpu_text = f"{cpu:>14.1f}" if cpu is not None else f"{'-':>14}"
        print(
            f"{key:<16}{login['logins_per_s']:>9.1f}{login['p50_ms']:>9.1f}"
            f"{login['p99_ms']:>9.1f}{cpu_text}  ({login['requests']} sign-ins)",
            file=out,
        )
    print(f"written to {output}", file=out)


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, DEFAULT_OUTPUT)
    add_http_load_arguments(parser)
    parser.add_argument(
        "--logins", type=int, default=30, help="sign-ins measured per client count (30)"
    )
    add_backend_arguments(parser)
    parser.add_argument(
        "--no-near-cache",
        action="store_true",
        help="with --redis: ROO_IDENTITY_NEAR_CACHE=false (every identity check asks Redis)",
    )
    args = parser.parse_args(argv)
    require_at_least(parser, args, 1, "duration", "connections", "rounds", "logins")
    if args.no_near_cache and not args.redis:
        parser.error("--no-near-cache applies with --redis only")
    return args


def run(args: argparse.Namespace, tool: Tool, run_id: str) -> dict[str, Any]:
    measured: dict[str, list[Measurement]] = {e.key: [] for e in ENDPOINTS}
    logins: dict[int, list[dict[str, Any]]] = {clients: [] for clients in LOGIN_CLIENTS}
    extra_env = backend_env(args.database_url, args.redis, run_id)
    if args.no_near_cache:
        extra_env["ROO_IDENTITY_NEAR_CACHE"] = "false"
    email = bench_email("bench", run_id, shared_database=bool(args.database_url))
    password = secrets.token_urlsafe(18)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roo-bench-")))
        data_dir = workdir / "roo-data"
        data_dir.mkdir()
        env = server_env("roo", data_dir, args.roo_log_level, extra_env)
        create_user(env, email, "member", password)
        server = stack.enter_context(
            running_server("roo", workdir, args.roo_log_level, extra_env=extra_env)
        )
        account = prepare(server, email, password)
        print(f"load tool: {tool}; roo ready on :{server.port}; {email} signed in", file=sys.stderr)
        for round_no in range(1, args.rounds + 1):
            for endpoint in ENDPOINTS:
                url = server.url(endpoint.path)
                headers = account.headers(endpoint.credential)
                run_load(tool, url, args.connections, WARMUP_SECONDS, headers=headers)
                result = run_load(
                    tool, url, args.connections, args.duration, server.process.pid, headers
                )
                measured[endpoint.key].append(result)
                print_round(round_no, args.rounds, endpoint.key, result)
        # Sign-in: one client, then two, interleaved over the rounds.
        per_round = math.ceil(args.logins / args.rounds)
        for round_no in range(1, args.rounds + 1):
            count = min(per_round, args.logins - per_round * (round_no - 1))
            if count <= 0:
                break
            for clients in LOGIN_CLIENTS:
                result_login = measure_logins(server, account, count, clients)
                logins[clients].append(result_login)
                print(
                    f"round {round_no}/{args.rounds} login x{clients} client(s) "
                    f"{result_login['logins_per_s']:>6.1f} logins/s  "
                    f"cpu {result_login['cpu_ms_per_login'] or 0:.1f} ms/login",
                    file=sys.stderr,
                )
        log_text = server.log_path.read_bytes()
        roo_log = {
            "bytes": len(log_text),
            "lines": log_text.count(b"\n"),
            "auth_rejected": log_text.count(b'"auth.rejected"'),
        }
    return build_report(args, tool, measured, logins, roo_log)


def main(argv: Sequence[str] | None = None) -> int:
    return backend_bench_main(
        "auth_overhead",
        parse_args(argv),
        lambda a, run_id: run(a, choose_tool(a.tool), run_id),
        print_summary,
    )


if __name__ == "__main__":
    sys.exit(main())
