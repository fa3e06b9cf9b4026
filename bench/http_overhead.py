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
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import IO, Any, Literal, TypedDict

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUTPUT = BENCH_DIR / "results" / "http_overhead.json"
HOST = "127.0.0.1"
WARMUP_SECONDS = 2
MIN_RATIO = 0.8
READY_TIMEOUT_SECONDS = 30.0
# The same for both servers: one worker, httptools + uvloop, no uvicorn access log.
UVICORN_OPTIONS = (
    "--host",
    HOST,
    "--workers",
    "1",
    "--http",
    "httptools",
    "--loop",
    "uvloop",
    "--no-access-log",
    "--log-level",
    "warning",
)

Tool = Literal["wrk", "python"]
ServerName = Literal["bare", "roo"]


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


class Measurement(TypedDict):
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    # CPU time the server process spent per request during the run (None where /proc is absent):
    # unlike rps, it barely moves when other processes compete for the CPU.
    cpu_us_per_request: float | None


@dataclass
class Server:
    name: ServerName
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says why."""


# -- servers -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def server_command(name: ServerName, port: int) -> list[str]:
    uvicorn = [sys.executable, "-m", "uvicorn", *UVICORN_OPTIONS, "--port", str(port)]
    if name == "roo":
        return [*uvicorn, "--factory", "roo.app:create_app"]
    return [*uvicorn, "--app-dir", str(BENCH_DIR), "bare_app:app"]


def roo_setting_names() -> frozenset[str]:
    """Every environment variable roo's settings read (DATABASE_URL, REDIS_URL, ...), upper-case."""
    from pydantic import AliasChoices

    from roo.config import Settings

    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias or name]
        names.update(str(choice).upper() for choice in choices)
    return frozenset(names)


def server_env(name: ServerName, data_dir: Path, roo_log_level: str) -> dict[str, str]:
    """The caller's environment without any roo setting, so that both servers run embedded
    (SQLite in `data_dir`, no Redis) whatever the shell exported; roo gets its own few."""
    drop = roo_setting_names()
    env = {
        k: v
        for k, v in os.environ.items()
        if k.upper() not in drop and not k.upper().startswith("ROO_")
    }
    if name == "roo":
        # Logs as deployed: JSON lines (production's format; the development console renderer
        # costs more per line and is not what runs under load).
        env |= {
            "ROO_ENV": "development",
            "ROO_DATA_DIR": str(data_dir),
            "LOG_LEVEL": roo_log_level,
            "ROO_LOG_JSON": "true",
        }
    return env


def get_status(url_path: str, port: int, timeout: float = 1.0) -> int:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", url_path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(
                f"{server.name} server exited with {server.process.returncode} before it was "
                f"ready:\n{log_tail(server.log_path)}"
            )
        with contextlib.suppress(OSError, http.client.HTTPException):
            if get_status("/healthz", server.port) == 200:
                return
        time.sleep(0.1)
    raise BenchError(f"{server.name} server not ready within {READY_TIMEOUT_SECONDS:g}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextlib.contextmanager
def running_server(
    name: ServerName, workdir: Path, roo_log_level: str, attempts: int = 3
) -> Iterator[Server]:
    """A started, ready server; stopped on the way out whatever happens."""
    data_dir = workdir / f"{name}-data"
    data_dir.mkdir(exist_ok=True)
    log_path = workdir / f"{name}.log"
    env = server_env(name, data_dir, roo_log_level)
    for attempt in range(1, attempts + 1):
        port = free_port()
        # The log file is where the service writes, as in a deployment; a new session keeps a
        # Ctrl-C in the terminal from reaching the server before we stop it ourselves.
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                server_command(name, port),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                env=env,
                start_new_session=True,
            )
        server = Server(name=name, port=port, process=process, log_path=log_path)
        try:
            wait_ready(server)
        except BenchError:
            stop(process)
            if attempt == attempts:
                raise
            continue  # most likely the port was taken between free_port() and the bind
        except BaseException:
            stop(process)
            raise
        try:
            yield server
        finally:
            stop(process)
        return


# -- load ----------------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def parse_wrk(output: str) -> Measurement:
    """Requests/sec and the 50%/99% lines of `wrk --latency` output."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE)
    total = re.search(r"^\s+(\d+) requests in", output, re.MULTILINE)
    if not (rps and p50 and p99 and total):
        raise BenchError(f"cannot read wrk's output:\n{output}")
    errors = 0
    if socket_errors := re.search(r"Socket errors:(.*)$", output, re.MULTILINE):
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    if non_2xx := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output):
        errors += int(non_2xx.group(1))
    return Measurement(
        rps=float(rps.group(1)),
        p50_ms=round(_ms(*p50.groups()), 3),
        p99_ms=round(_ms(*p99.groups()), 3),
        requests=int(total.group(1)),
        errors=errors,
        cpu_us_per_request=None,
    )


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far, from /proc (Linux); None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is field 3
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(
    tool: Tool, url: str, connections: int, duration: int, server_pid: int | None = None
) -> Measurement:
    """One run of the load tool in its own process (bounded by a timeout)."""
    if tool == "wrk":
        command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    else:
        command = [
            sys.executable,
            str(BENCH_DIR / "loadgen.py"),
            url,
            f"--connections={connections}",
            f"--duration={duration}",
        ]
    cpu_before = process_cpu_seconds(server_pid) if server_pid else None
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 30, check=False
    )
    cpu_after = process_cpu_seconds(server_pid) if server_pid else None
    if done.returncode != 0:
        raise BenchError(f"{command[0]} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    if tool == "wrk":
        measurement = parse_wrk(done.stdout)
    else:
        raw: dict[str, Any] = json.loads(done.stdout)
        measurement = Measurement(
            rps=raw["rps"],
            p50_ms=raw["p50_ms"],
            p99_ms=raw["p99_ms"],
            requests=raw["requests"],
            errors=raw["errors"] + raw["non_2xx"],
            cpu_us_per_request=None,
        )
    if measurement["requests"] == 0:
        raise BenchError(f"{command[0]} completed no request against {url}:\n{done.stderr[-2000:]}")
    if cpu_before is not None and cpu_after is not None:
        cpu_us = (cpu_after - cpu_before) * 1e6 / measurement["requests"]
        measurement["cpu_us_per_request"] = round(cpu_us, 1)
    return measurement


def choose_tool(wanted: str) -> Tool:
    if wanted == "wrk" and shutil.which("wrk") is None:
        raise BenchError("--tool wrk: wrk is not on PATH (apt-get install wrk)")
    if wanted == "python":
        return "python"
    return "wrk" if shutil.which("wrk") else "python"


def tool_version(tool: Tool) -> str:
    if tool == "python":
        return f"bench/loadgen.py (Python {platform.python_version()})"
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10, check=False)
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0] if first else "wrk"


# -- report --------------------------------------------------------------------------------------


def summarise(rounds: list[Measurement]) -> dict[str, Any]:
    cpu = [m["cpu_us_per_request"] for m in rounds if m["cpu_us_per_request"] is not None]
    return {
        "rps": round(statistics.median(m["rps"] for m in rounds), 1),
        "p50_ms": round(statistics.median(m["p50_ms"] for m in rounds), 3),
        "p99_ms": round(statistics.median(m["p99_ms"] for m in rounds), 3),
        "cpu_us_per_request": round(statistics.median(cpu), 1) if cpu else None,
        "rounds": rounds,
    }


def package_versions() -> dict[str, str]:
    versions = {}
    for name in ("roo-core", "fastapi", "starlette", "uvicorn", "httptools", "uvloop", "structlog"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def source_revision() -> dict[str, Any] | None:
    """The commit measured, and whether src/ had uncommitted changes (None outside git)."""
    repo = BENCH_DIR.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if head.returncode != 0:
        return None
    return {"commit": head.stdout.strip(), "src_dirty": bool(status.stdout.strip())}


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
        "machine": {
            "cpu_count": os.cpu_count(),
            "python_version": platform.python_version(),
            "platform": platform.platform(),
            "packages": package_versions(),
        },
        "source": source_revision(),
        "tool": tool,
        "tool_version": tool_version(tool),
        "settings": {
            "connections": args.connections,
            "duration": args.duration,
            "warmup": WARMUP_SECONDS,
            "rounds": args.rounds,
            "uvicorn": " ".join(UVICORN_OPTIONS),
            "roo_log_level": args.roo_log_level,
        },
        "results": results,
        "ratios": ratios,
        "cpu_ratios": cpu_ratios,
        "target": {"min_ratio": MIN_RATIO, "met": min(ratios.values()) >= MIN_RATIO},
        "roo_log": roo_log,
    }


def write_report(report: dict[str, Any], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, output)


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


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the context managers that stop the servers


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement (10)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (32)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (2)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON result file")
    parser.add_argument(
        "--tool", choices=("auto", "wrk", "python"), default="auto", help="load tool (auto: wrk)"
    )
    parser.add_argument(
        "--roo-log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="roo's LOG_LEVEL (INFO, as deployed; WARNING shows the access log's cost)",
    )
    args = parser.parse_args(argv)
    for name in ("duration", "connections", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
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
                    print(
                        f"round {round_no}/{args.rounds} {endpoint.key:<13} "
                        f"{result['rps']:>9.0f} req/s  p50 {result['p50_ms']:.2f} ms  "
                        f"p99 {result['p99_ms']:.2f} ms  "
                        f"server cpu {result['cpu_us_per_request'] or 0:.0f} us/req",
                        file=sys.stderr,
                    )
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
