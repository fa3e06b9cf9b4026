"""Versions of roo's code side by side, in one interleaved run: what a change costs per request.

    .venv/bin/python bench/request_path_variants.py \\
        --variant before=../before/src --variant after=src [--duration 5] [--rounds 4]

Each `--variant NAME=SRC` is a checkout's `src` directory (a `git worktree add` of a commit,
for instance); roo is started from it (put first on PYTHONPATH: the same virtualenv and
dependencies, another version of roo's code), one uvicorn worker each, exactly as
`http_overhead.py` and `auth_overhead.py` start it (embedded SQLite in a temporary directory,
LOG_LEVEL=INFO as JSON to a file). Each gets the account, API key and sessions of
`auth_overhead.py`. Then the endpoints of those two benchmarks are measured on every variant,
interleaved (per endpoint, one variant after the other, the order rotated each round, each after
a short warm-up), with bare FastAPI's hello once per round for reference:

    roo_healthz      GET /healthz                                  (http_overhead.py)
    roo_version      GET /api/v1/version                           (http_overhead.py)
    jwt_whoami       GET /api/v1/auth/whoami   Bearer <jwt>        (auth_overhead.py)
    apikey_whoami    GET /api/v1/auth/whoami   X-API-Key <key>     (auth_overhead.py)
    jwt_profile      GET /api/v1/auth/profile  Bearer <jwt>        (auth_overhead.py)

Per endpoint and variant: the medians over rounds of requests/s, p50, p99 and server CPU per
request; and each variant against the first (`vs_first`) and against the one before it
(`vs_previous`): requests/s ratio, CPU ratio (first / this: above 1 is cheaper) and p99 ratio.
On a shared machine compare within one run only; the CPU ratio is the steadier figure.
Written to bench/results/request_path_variants.json.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auth_overhead import Account, prepare
from common import (
    RESULTS_DIR,
    WARMUP_SECONDS,
    BenchError,
    Measurement,
    Server,
    add_http_load_arguments,
    bench_parser,
    choose_tool,
    create_user,
    exit_on_sigterm,
    http_load_settings,
    machine_info,
    print_round,
    report_and_exit,
    require_at_least,
    run_load,
    running_server,
    server_env,
    summarise,
    tool_version,
)

DEFAULT_OUTPUT = RESULTS_DIR / "request_path_variants.json"


@dataclass(frozen=True)
class Endpoint:
    key: str
    path: str
    credential: str  # "none", "jwt" or "api_key" (auth_overhead.Account.headers)
    benchmark: str


ENDPOINTS = (
    Endpoint("roo_healthz", "/healthz", "none", "http_overhead"),
    Endpoint("roo_version", "/api/v1/version", "none", "http_overhead"),
    Endpoint("jwt_whoami", "/api/v1/auth/whoami", "jwt", "auth_overhead"),
    Endpoint("apikey_whoami", "/api/v1/auth/whoami", "api_key", "auth_overhead"),
    Endpoint("jwt_profile", "/api/v1/auth/profile", "jwt", "auth_overhead"),
)


@dataclass(frozen=True)
class Variant:
    name: str
    src: Path


def parse_variant(text: str) -> Variant:
    name, sep, src = text.partition("=")
    if not sep or not name or not src:
        raise argparse.ArgumentTypeError("expected NAME=SRC")
    path = Path(src).resolve()
    if not (path / "roo" / "app.py").is_file():
        raise argparse.ArgumentTypeError(f"{src}: no roo/app.py under it (a checkout's src)")
    return Variant(name, path)


def describe_source(src: Path) -> dict[str, Any]:
    """The commit a variant's tree is at, its subject, and whether its src/ has changes."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=src, capture_output=True, text=True, timeout=10, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    diff = git("diff", "--stat", "HEAD", "--", ".")
    return {
        "commit": git("rev-parse", "HEAD") or None,
        "subject": git("log", "-1", "--format=%s")[:200] or None,
        "src_dirty": bool(diff),
        "uncommitted": diff.splitlines()[-1].strip() if diff else None,
    }


def imported_from(env: dict[str, str]) -> Path:
    done = subprocess.run(
        [sys.executable, "-c", "import roo, pathlib; print(pathlib.Path(roo.__file__).parent)"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"cannot import roo: {done.stderr[-1000:]}")
    return Path(done.stdout.strip()).resolve()


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 3)


def compare(this: dict[str, Any], other: dict[str, Any]) -> dict[str, float | None]:
    """`this` against `other`: rps ratio (above 1: faster), CPU ratio other/this (above 1:
    cheaper), p50 and p99 ratios (below 1: quicker)."""
    return {
        "rps": ratio(this["rps"], other["rps"]),
        "cpu": ratio(other["cpu_us_per_request"], this["cpu_us_per_request"]),
        "p50": ratio(this["p50_ms"], other["p50_ms"]),
        "p99": ratio(this["p99_ms"], other["p99_ms"]),
    }


def build_report(
    args: argparse.Namespace,
    tool: str,
    variants: Sequence[Variant],
    sources: dict[str, dict[str, Any]],
    measured: dict[str, dict[str, list[Measurement]]],
    bare: list[Measurement],
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for endpoint in ENDPOINTS:
        per_variant = {v.name: summarise(measured[endpoint.key][v.name]) for v in variants}
        first = per_variant[variants[0].name]
        for position, variant in enumerate(variants):
            entry = per_variant[variant.name]
            entry["vs_first"] = compare(entry, first)
            if position:
                entry["vs_previous"] = compare(entry, per_variant[variants[position - 1].name])
        results[endpoint.key] = {
            "request": f"GET {endpoint.path}",
            "credential": endpoint.credential,
            "benchmark": endpoint.benchmark,
            "variants": per_variant,
        }
    return {
        "benchmark": "request_path_variants",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "tool": tool,
        "tool_version": tool_version(tool),  # type: ignore[arg-type]
        "settings": {
            **http_load_settings(args),
            "order": "per endpoint, every variant in turn; the order rotated each round",
        },
        "variants": {v.name: sources[v.name] for v in variants},
        "results": results,
        "bare_hello": summarise(bare),
    }


def print_summary(report: dict[str, Any], output: Path) -> None:
    settings = report["settings"]
    print(
        f"\nrequest_path_variants: {report['tool']}, {settings['connections']} connections, "
        f"{settings['duration']}s x {settings['rounds']} rounds (median)"
    )
    print(
        f"{'endpoint':<15}{'variant':<16}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'cpu us':>8}"
        f"{'rps/1st':>9}{'cpu 1st/':>9}{'rps/prev':>9}{'cpu prev/':>10}"
    )
    for key, result in report["results"].items():
        for name, entry in result["variants"].items():
            first = entry["vs_first"]
            previous = entry.get("vs_previous") or {}

            def num(value: float | None, width: int) -> str:
                return f"{value:>{width}.3f}" if value is not None else f"{'-':>{width}}"

            cpu = entry["cpu_us_per_request"]
            print(
                f"{key:<15}{name:<16}{entry['rps']:>8.0f}{entry['p50_ms']:>8.2f}"
                f"{entry['p99_ms']:>8.2f}{cpu if cpu is not None else 0:>8.0f}"
                f"{num(first['rps'], 9)}{num(first['cpu'], 9)}"
                f"{num(previous.get('rps'), 9)}{num(previous.get('cpu'), 10)}"
            )
    bare = report["bare_hello"]
    print(f"bare_hello {bare['rps']:.0f} req/s, cpu {bare['cpu_us_per_request']} us/req")
    print(f"written to {output}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, DEFAULT_OUTPUT)
    add_http_load_arguments(parser)
    parser.set_defaults(duration=5, rounds=4)
    parser.add_argument(
        "--variant",
        type=parse_variant,
        action="append",
        required=True,
        help="NAME=SRC: a checkout's src directory to run roo from (repeat; the first is the "
        "reference)",
    )
    args = parser.parse_args(argv)
    require_at_least(parser, args, 1, "duration", "connections", "rounds")
    names = [v.name for v in args.variant]
    if len(names) < 2 or len(set(names)) != len(names):
        parser.error("give at least two --variant, with different names")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    tool = choose_tool(args.tool)
    variants: list[Variant] = args.variant
    measured: dict[str, dict[str, list[Measurement]]] = {
        e.key: {v.name: [] for v in variants} for e in ENDPOINTS
    }
    bare_rounds: list[Measurement] = []
    sources = {v.name: describe_source(v.src) for v in variants}
    password = secrets.token_urlsafe(18)
    email = "bench@example.com"
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roo-bench-")))
        servers: dict[str, Server] = {}
        accounts: dict[str, Account] = {}
        for variant in variants:
            label = f"roo-{variant.name}"
            data_dir = workdir / f"{label}-data"
            data_dir.mkdir()
            env = server_env("roo", data_dir, args.roo_log_level, src=variant.src)
            if imported_from(env) != variant.src / "roo":
                raise BenchError(f"{variant.name}: roo is not imported from its tree")
            create_user(env, email, "member", password)
            servers[variant.name] = server = stack.enter_context(
                running_server("roo", workdir, args.roo_log_level, src=variant.src, label=label)
            )
            accounts[variant.name] = prepare(server, email, password)
        bare = stack.enter_context(running_server("bare", workdir, args.roo_log_level))
        print(f"load tool: {tool}; {len(servers)} variants ready", file=sys.stderr)
        for round_no in range(args.rounds):
            shift = round_no % len(variants)
            order = variants[shift:] + variants[:shift]
            for endpoint in ENDPOINTS:
                for variant in order:
                    server = servers[variant.name]
                    url = server.url(endpoint.path)
                    headers = accounts[variant.name].headers(endpoint.credential)  # type: ignore[arg-type]
                    run_load(tool, url, args.connections, WARMUP_SECONDS, headers=headers)
                    result = run_load(
                        tool, url, args.connections, args.duration, server.process.pid, headers
                    )
                    measured[endpoint.key][variant.name].append(result)
                    label = f"{endpoint.key} {variant.name}"
                    print_round(round_no + 1, args.rounds, label, result)
            url = bare.url("/hello")
            run_load(tool, url, args.connections, WARMUP_SECONDS)
            bare_rounds.append(
                run_load(tool, url, args.connections, args.duration, bare.process.pid)
            )
    for endpoint in ENDPOINTS:
        for variant in variants:
            if not statistics.median(m["rps"] for m in measured[endpoint.key][variant.name]):
                raise BenchError(f"{endpoint.key} on {variant.name}: no throughput")
    return build_report(args, tool, variants, sources, measured, bare_rounds)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    return report_and_exit(
        "request_path_variants",
        lambda: run(args),
        args.output,
        lambda report, output: print_summary(report, output),
    )


if __name__ == "__main__":
    sys.exit(main())
