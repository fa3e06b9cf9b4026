"""HTTP overhead of roo-core against a bare FastAPI hello-world, measured in the same run.

    .venv/bin/python bench/http_overhead.py [--duration 10] [--connections 32] [--rounds 2]

Starts two uvicorn servers on loopback (one worker each, identical options): roo
(`roo.app:create_app`, embedded SQLite in a temporary directory, LOG_LEVEL=INFO with its log
written to a file, as a deployment would) and `bench/bare_app.py`. Then, from a separate load
process (`wrk` when it is on PATH, else `bench/loadgen.py`), it measures four endpoints,
interleaved bare/roo for several rounds, each after a short warm-up:

    bare GET /healthz    vs  roo GET /healthz          (liveness: routing + middleware)
    bare GET /hello      vs  roo GET /api/v1/version   (a minimal JSON route, access-logged)

The median over rounds of each endpoint goes to bench/results/http_overhead.json with the
ratios roo/bare of requests per second; the target is that roo keeps at least 80% of bare.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from common import (
    RESULTS_DIR,
    WARMUP_SECONDS,
    BenchError,
    Measurement,
    ServerName,
    Tool,
    add_http_load_arguments,
    bench_parser,
    choose_tool,
    exit_on_sigterm,
    get_status,
    http_load_settings,
    machine_info,
    print_round,
    require_at_least,
    run_load,
    running_server,
    source_revision,
    summarise,
    tool_version,
    write_report,
)

DEFAULT_OUTPUT = RESULTS_DIR / "http_overhead.json"
MIN_RATIO = 0.8


@dataclass(frozen=True)
class Endpoint:
    key: str
    server: ServerName
    path: str


# Measured in this order every round: bare, roo, bare, roo.
ENDPOINTS = (
    Endpoint("bare_healthz", "bare", "/healthz"),
    Endpoint("roo_healthz", "roo", "/healthz"),
    Endpoint("bare_hello", "bare", "/hello"),
    Endpoint("roo_version", "roo", "/api/v1/version"),
)
RATIOS = {"healthz": ("roo_healthz", "bare_healthz"), "json_route": ("roo_version", "bare_hello")}


# -- report --------------------------------------------------------------------------------------


def build_report(
    args: argparse.Namespace,
    tool: Tool,
    measured: dict[str, list[Measurement]],
    roo_log: dict[str, Any],
) -> dict[str, Any]:
    results = {key: summarise(rounds) for key, rounds in measured.items()}
    ratios = {
        name: round(results[roo]["rps"] / results[bare]["rps"], 3)
        for name, (roo, bare) in RATIOS.items()
    }
    # The same comparison from server CPU time per request (bare / roo): what the ratio would be
    # with the server alone on its core. Steadier than `ratios` on a busy machine.
    cpu_ratios = {
        name: round(results[bare]["cpu_us_per_request"] / results[roo]["cpu_us_per_request"], 3)
        for name, (roo, bare) in RATIOS.items()
        if results[roo]["cpu_us_per_request"] and results[bare]["cpu_us_per_request"]
    }
    return {
        "benchmark": "http_overhead",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "source": source_revision(),
        "tool": tool,
        "tool_version": tool_version(tool),
        "settings": {
            **http_load_settings(args),
        },
        "results": results,
        "ratios": ratios,
        "cpu_ratios": cpu_ratios,
        "target": {"min_ratio": MIN_RATIO, "met": min(ratios.values()) >= MIN_RATIO},
        "roo_log": roo_log,
    }


def print_summary(report: dict[str, Any], output: Path, out: IO[str] = sys.stdout) -> None:
    settings = report["settings"]
    print(
        f"\nhttp_overhead: {report['tool']}, {settings['connections']} connections, "
        f"{settings['duration']}s x {settings['rounds']} rounds (median), "
        f"roo LOG_LEVEL={settings['roo_log_level']}",
        file=out,
    )
    print(
        f"{'endpoint':<14}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'cpu us/req':>12}"
        "  req/s by round",
        file=out,
    )
    for key, result in report["results"].items():
        per_round = ", ".join(f"{m['rps']:.0f}" for m in result["rounds"])
        errors = sum(m["errors"] for m in result["rounds"])
        flag = f"  ({errors} errors)" if errors else ""
        cpu = result["cpu_us_per_request"]
        cpu_text = f"{cpu:>12.0f}" if cpu is not None else f"{'-':>12}"
        print(
            f"{key:<14}{result['rps']:>10.0f}{result['p50_ms']:>9.2f}{result['p99_ms']:>9.2f}"
            f"{cpu_text}  {per_round}{flag}",
            file=out,
        )
    ratios = ", ".join(f"{k} {v:.0%}" for k, v in report["ratios"].items())
    target = report["target"]
    verdict = "met" if target["met"] else "NOT met"
    print(f"roo/bare req/s: {ratios}; target >= {target['min_ratio']:.0%}: {verdict}", file=out)
    if report["cpu_ratios"]:
        cpu_ratios = ", ".join(f"{k} {v:.0%}" for k, v in report["cpu_ratios"].items())
        print(f"bare/roo server CPU per request: {cpu_ratios}", file=out)
    print(f"written to {output}", file=out)


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, DEFAULT_OUTPUT)
    add_http_load_arguments(parser, "; WARNING shows the access log's cost")
    args = parser.parse_args(argv)
    require_at_least(parser, args, 1, "duration", "connections", "rounds")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    try:
        tool = choose_tool(args.tool)
        measured: dict[str, list[Measurement]] = {e.key: [] for e in ENDPOINTS}
        with contextlib.ExitStack() as stack:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roo-bench-")))
            servers = {
                name: stack.enter_context(running_server(name, workdir, args.roo_log_level))
                for name in ("bare", "roo")
            }
            for endpoint in ENDPOINTS:
                server = servers[endpoint.server]
                status = get_status(endpoint.path, server.port, timeout=5)
                if status != 200:
                    raise BenchError(f"{endpoint.key}: GET {endpoint.path} answered {status}")
            print(
                f"load tool: {tool}; servers ready (bare :{servers['bare'].port}, "
                f"roo :{servers['roo'].port})",
                file=sys.stderr,
            )
            for round_no in range(1, args.rounds + 1):
                for endpoint in ENDPOINTS:
                    server = servers[endpoint.server]
                    url = server.url(endpoint.path)
                    run_load(tool, url, args.connections, WARMUP_SECONDS)
                    result = run_load(
                        tool, url, args.connections, args.duration, server.process.pid
                    )
                    measured[endpoint.key].append(result)
                    print_round(round_no, args.rounds, endpoint.key, result)
            log_path = servers["roo"].log_path
            log_text = log_path.read_bytes()
            roo_log = {"bytes": len(log_text), "lines": log_text.count(b"\n")}
    except BenchError as exc:
        print(f"http_overhead: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("http_overhead: interrupted; servers stopped", file=sys.stderr)
        return 130
    report = build_report(args, tool, measured, roo_log)
    write_report(report, args.output)
    print_summary(report, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
