"""What the benchmark scripts share: servers, load runs, HTTP calls, machine info, JSON reports.

Not a benchmark itself. Every script in bench/ imports it as `common` (it sits beside them, so
`python bench/<script>.py` finds it).

- servers: `running_server()` starts roo (`uvicorn --factory roo.app:create_app`) or the bare app
  on a free loopback port, with a temporary data directory, and stops it on every way out;
- load: `run_load()` runs wrk (or bench/loadgen.py) once and reads requests/s, latency
  percentiles and the server's CPU time per request;
- calls: `Client`, a keep-alive HTTP/1.1 client for sequential latency measurements;
- users: `User`, `create_users()` (`roo user create` before the server starts), `sign_in()`;
- reports: `machine_info()`, `source_revision()`, `summarise()`, `write_report()`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any, Literal, NotRequired, TypedDict
from urllib.parse import urlsplit

from loadgen import percentile

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
HOST = "127.0.0.1"
WARMUP_SECONDS = 2
READY_TIMEOUT_SECONDS = 30.0
# The same for every server: one worker, httptools + uvloop, no uvicorn access log.
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


class Measurement(TypedDict):
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    # CPU time the server process spent per request during the run (None where /proc is absent):
    # unlike rps, it barely moves when other processes compete for the CPU.
    cpu_us_per_request: float | None
    # of which system time (kernel work for the process: its sockets, files), where measured
    sys_us_per_request: NotRequired[float]


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


def server_env(
    name: ServerName,
    data_dir: Path,
    roo_log_level: str,
    extra: Mapping[str, str] | None = None,
    src: Path | None = None,
) -> dict[str, str]:
    """The caller's environment without any roo setting, so that both servers run embedded
    (SQLite in `data_dir`, no Redis) whatever the shell exported; roo gets its own few, plus
    `extra` (DATABASE_URL, REDIS_URL, ... when a benchmark is asked to use them). With `src`
    (another checkout's `src` directory), roo is imported from there instead of from this
    virtualenv's install: the same dependencies, another version of roo's code."""
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
            # rate limits counted (their cost is measured) but never reached by a benchmark's
            # one user hammering from one address
            **UNREACHABLE_RATE_LIMITS,
        }
        env |= dict(extra or {})
        if src is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [env.get("PYTHONPATH")])])
    return env


UNREACHABLE_RATE_LIMITS = {
    f"ROO_RATE_LIMIT_{policy}": "1000000000/minute"
    for policy in (
        "USER",
        "AUTH",
        "ANONYMOUS",
        "SESSION_TOOLS",
        "SESSION_COMMANDS",
        "WS_CONNECT",
    )
}


def backend_env(database_url: str | None, redis_url: str | None, run_id: str) -> dict[str, str]:
    """The extra settings for roo when a benchmark runs against PostgreSQL and/or Redis.

    PostgreSQL is not migrated automatically by default: the benchmark asks for it (the schema
    must be at head before users can be created). Redis keys get a prefix of their own, so that
    a shared Redis keeps nobody else's data mixed with the benchmark's (see `redis_cleanup`)."""
    extra: dict[str, str] = {}
    if database_url:
        extra |= {"DATABASE_URL": database_url, "ROO_AUTO_MIGRATE": "true"}
    if redis_url:
        extra |= {"REDIS_URL": redis_url, "ROO_REDIS_PREFIX": redis_prefix(run_id)}
    return extra


def redis_prefix(run_id: str) -> str:
    return f"roo-bench-{run_id}:"


def redis_cleanup(redis_url: str, run_id: str) -> int:
    """Delete every key the benchmark's roo wrote to Redis (its own prefix); the count deleted."""
    from redis import Redis

    client = Redis.from_url(redis_url, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=redis_prefix(run_id) + "*", count=500))
        return int(client.delete(*keys)) if keys else 0
    finally:
        client.close()


def bench_parser(doc: str | None, output: Path) -> argparse.ArgumentParser:
    """A benchmark's argument parser: its docstring's first paragraph, and `--output`."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n", 1)[0])
    parser.add_argument("--output", type=Path, default=output, help="JSON result file")
    return parser


def add_http_load_arguments(parser: argparse.ArgumentParser, log_help: str = "") -> None:
    """`--duration`, `--connections`, `--rounds`, `--tool` and `--roo-log-level` of the HTTP
    throughput benchmarks (http_overhead, auth_overhead)."""
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement (10)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (32)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (2)")
    parser.add_argument(
        "--tool", choices=("auto", "wrk", "python"), default="auto", help="load tool (auto: wrk)"
    )
    add_log_level_argument(parser, log_help)


def http_load_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The report's record of what `add_http_load_arguments` set (and the server's options)."""
    return {
        "connections": args.connections,
        "duration": args.duration,
        "warmup": WARMUP_SECONDS,
        "rounds": args.rounds,
        "uvicorn": " ".join(UVICORN_OPTIONS),
        "roo_log_level": args.roo_log_level,
    }


def add_log_level_argument(parser: argparse.ArgumentParser, extra_help: str = "") -> None:
    parser.add_argument(
        "--roo-log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help=f"roo's LOG_LEVEL (INFO, as deployed{extra_help})",
    )


def require_at_least(
    parser: argparse.ArgumentParser, args: argparse.Namespace, minimum: int, *names: str
) -> None:
    """`parser.error` for the first of the options `names` below `minimum`."""
    for name in names:
        if getattr(args, name) < minimum:
            parser.error(f"--{name.replace('_', '-')} must be at least {minimum}")


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="run roo with REDIS_URL=URL (loopback): identity cache, denylist, login throttle",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="run roo on this PostgreSQL database (loopback, a scratch database: the run's "
        "users, keys and sessions stay in it) instead of embedded SQLite",
    )


def check_backends(args: argparse.Namespace) -> None:
    """Benchmarks stay on loopback: refuse a database or Redis URL that points elsewhere."""
    for what, url in (("--redis", args.redis), ("--database-url", args.database_url)):
        if not url:
            continue
        try:
            host = urlsplit(url).hostname or "localhost"
        except ValueError:
            raise BenchError(f"{what}: not a URL") from None
        if host not in {"127.0.0.1", "localhost", "::1"}:
            raise BenchError(f"{what} must point at loopback (got host {host!r})")


def describe_backends(args: argparse.Namespace) -> dict[str, str]:
    """What roo ran on, for the report (no credentials)."""

    def where(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port or ''}{parts.path}"

    return {
        "database": f"postgresql ({where(args.database_url)})"
        if args.database_url
        else "sqlite (embedded, temporary directory)",
        "redis": f"redis ({where(args.redis)})" if args.redis else "none (in-process cache)",
    }


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


def wait_ready(server: Server, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
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
    raise BenchError(f"{server.name} server not ready within {timeout:g}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


CGROUP_ROOT = Path("/sys/fs/cgroup")


@contextlib.contextmanager
def equal_cpu_share(name: str) -> Iterator[Callable[[int], None]]:
    """A cgroup with the cpu controller's default weight, for processes that must share a CPU
    equally with the other processes put in groups of their own: CFS divides a CPU between
    groups first, so a process gets its group's share whatever number of threads it runs.
    Yields a function that moves a process (all its threads) into the group; the group is
    removed on the way out (once its processes have ended). cgroup v2 (a group under the root,
    whose `cgroup.subtree_control` must list `cpu`) or v1 (`/sys/fs/cgroup/cpu`); needs the
    right to create groups there (root). BenchError when neither can be used."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        if "cpu" not in (CGROUP_ROOT / "cgroup.subtree_control").read_text().split():
            raise BenchError("cgroup v2 without the cpu controller enabled at its root")
        group, weight = CGROUP_ROOT / name, ("cpu.weight", "100")
    elif (CGROUP_ROOT / "cpu" / "cpu.shares").exists():
        group, weight = CGROUP_ROOT / "cpu" / name, ("cpu.shares", "1024")
    else:
        raise BenchError(f"no cgroup cpu controller under {CGROUP_ROOT}")
    try:
        group.mkdir()
        (group / weight[0]).write_text(weight[1])
    except OSError as exc:
        raise BenchError(f"cannot make the cgroup {group}: {exc}") from exc

    def move(pid: int) -> None:
        (group / "cgroup.procs").write_text(str(pid))

    try:
        yield move
    finally:
        for _ in range(50):  # a stopped server's group empties a moment after it exits
            try:
                group.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)


@contextlib.contextmanager
def running_server(
    name: ServerName,
    workdir: Path,
    roo_log_level: str,
    attempts: int = 3,
    extra_env: Mapping[str, str] | None = None,
    src: Path | None = None,
    label: str | None = None,
    command: Callable[[int], list[str]] | None = None,
    ready_timeout: float = READY_TIMEOUT_SECONDS,
) -> Iterator[Server]:
    """A started, ready server; stopped on the way out whatever happens. `src`: see
    `server_env`; `label` names its data directory and log (default: `name`); `command`, the
    command line for a port (default: `server_command`); `ready_timeout`, the seconds it has
    to answer /healthz."""
    data_dir = workdir / f"{label or name}-data"
    data_dir.mkdir(exist_ok=True)
    log_path = workdir / f"{label or name}.log"
    env = server_env(name, data_dir, roo_log_level, extra_env, src)
    command_for = command or (lambda port: server_command(name, port))
    for attempt in range(1, attempts + 1):
        port = free_port()
        # The log file is where the service writes, as in a deployment; a new session keeps a
        # Ctrl-C in the terminal from reaching the server before we stop it ourselves.
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                command_for(port),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                env=env,
                start_new_session=True,
            )
        server = Server(name=name, port=port, process=process, log_path=log_path)
        try:
            wait_ready(server, ready_timeout)
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


def roo_cli(
    args: Sequence[str], env: Mapping[str, str], stdin: str = "", timeout: float = 60
) -> str:
    """Run the `roo` command (from this virtualenv) with `env`; its stdout, or BenchError."""
    roo = Path(sys.executable).with_name("roo")
    command = [str(roo) if roo.exists() else "roo", *args]
    try:
        done = subprocess.run(
            command,
            input=stdin,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BenchError(f"roo {' '.join(args[:2])} did not finish within {timeout:g}s") from None
    if done.returncode != 0:
        raise BenchError(
            f"roo {' '.join(args[:2])} failed ({done.returncode}):\n{done.stderr[-2000:]}"
        )
    return done.stdout


def create_user(env: Mapping[str, str], email: str, role: str, password: str) -> None:
    """`roo user create --password-stdin` with the server's environment (before it starts)."""
    roo_cli(
        ["user", "create", "--email", email, "--role", role, "--password-stdin"],
        env,
        stdin=password + "\n",
    )


def bench_email(name: str, run_id: str, shared_database: bool) -> str:
    """`<name>@example.com`; tagged with the run's id when the database outlives the run (a
    --database-url), so that a second run does not find its accounts already taken."""
    return f"{name}+{run_id}@example.com" if shared_database else f"{name}@example.com"


@dataclass
class User:
    """A benchmark account: created with `create_users`, signed in with `sign_in`."""

    email: str
    password: str
    token: str = ""

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def create_users(
    env: Mapping[str, str], users: Sequence[tuple[User, str]], parallel: int = 2
) -> float:
    """`roo user create` for each (user, role) with the server's environment (before it starts):
    the first alone (it migrates a new database), the rest `parallel` at a time. Seconds taken."""
    started = time.perf_counter()
    first, *rest = users
    create_user(env, first[0].email, first[1], first[0].password)
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for future in [
            pool.submit(create_user, env, u.email, role, u.password) for u, role in rest
        ]:
            future.result()
    return time.perf_counter() - started


def sign_in(server: Server, users: Sequence[User]) -> None:
    """`POST /api/v1/auth/login` for each user; sets its `token`."""
    client = Client(server.port)
    try:
        for user in users:
            user.token, _ = client.login(user.email, user.password)
    finally:
        client.close()


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
    times = process_cpu_times(pid)
    return None if times is None else sum(times)


def process_cpu_times(pid: int) -> tuple[float, float] | None:
    """(user, system) CPU seconds of a process so far, from /proc (Linux); None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is field 3
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def process_memory(pid: int) -> dict[str, int] | None:
    """VmRSS, VmHWM (peak RSS), RssAnon and RssFile of a process in bytes, from
    /proc/<pid>/status (Linux); None elsewhere."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    memory: dict[str, int] = {}
    for line in status.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            memory[name] = int(value.split()[0]) * 1024  # reported in kB
    return memory


def run_load(
    tool: Tool,
    url: str,
    connections: int,
    duration: int,
    server_pid: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> Measurement:
    """One run of the load tool in its own process (bounded by a timeout)."""
    header_lines = [f"{name}: {value}" for name, value in (headers or {}).items()]
    if tool == "wrk":
        command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
        for line in header_lines:
            command += ["-H", line]
        command.append(url)
    else:
        command = [
            sys.executable,
            str(BENCH_DIR / "loadgen.py"),
            url,
            f"--connections={connections}",
            f"--duration={duration}",
            *(f"--header={line}" for line in header_lines),
        ]
    cpu_before = process_cpu_times(server_pid) if server_pid else None
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 30, check=False
    )
    cpu_after = process_cpu_times(server_pid) if server_pid else None
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
    add_cpu_per_request(measurement, cpu_before, cpu_after)
    return measurement


def add_cpu_per_request(
    measurement: Measurement,
    before: tuple[float, float] | None,
    after: tuple[float, float] | None,
) -> None:
    """The server's CPU time per request of `measurement`, and its system part, from
    `process_cpu_times` before and after the run (nothing when either is None)."""
    if before is None or after is None:
        return
    per_request = 1e6 / measurement["requests"]
    user, system = after[0] - before[0], after[1] - before[1]
    measurement["cpu_us_per_request"] = round((user + system) * per_request, 1)
    measurement["sys_us_per_request"] = round(system * per_request, 1)


def print_round(round_no: int, rounds: int, label: str, result: Measurement) -> None:
    """A measurement's progress line on stderr."""
    system = result.get("sys_us_per_request")
    print(
        f"round {round_no}/{rounds} {label:<14} {result['rps']:>8.0f} req/s  "
        f"p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms  "
        f"server cpu {result['cpu_us_per_request'] or 0:.0f} us/req"
        + (f" (sys {system:.0f})" if system is not None else "")
        + (f"  ({result['errors']} errors)" if result["errors"] else ""),
        file=sys.stderr,
    )


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


# -- single requests -----------------------------------------------------------------------------


class Client:
    """One keep-alive HTTP/1.1 connection to a loopback server, for sequential calls whose
    latency is measured one by one (reconnects once if the server closed it)."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.port = port
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any, float]:
        """(status, decoded JSON body or None, seconds from sending to the last byte)."""
        payload = json.dumps(body).encode() if body is not None else None
        sent = {"Accept": "application/json", **(headers or {})}
        if payload is not None:
            sent["Content-Type"] = "application/json"
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
            try:
                started = time.perf_counter()
                self._conn.request(method, path, body=payload, headers=sent)
                response = self._conn.getresponse()
                raw = response.read()
                elapsed = time.perf_counter() - started
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.close()
                if attempt == 2:
                    raise
                continue
            data = json.loads(raw) if raw else None
            return response.status, data, elapsed
        raise AssertionError("unreachable")

    def expect(
        self,
        method: str,
        path: str,
        status: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Any, float]:
        """Like `call`, but BenchError unless the answer has `status`."""
        got, data, elapsed = self.call(method, path, body, headers)
        if got != status:
            detail = json.dumps(data)[:500] if data is not None else ""
            raise BenchError(f"{method} {path} answered {got}, not {status}: {detail}")
        return data, elapsed

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def login(self, email: str, password: str) -> tuple[str, float]:
        """`POST /api/v1/auth/login`: (access token, seconds it took)."""
        data, elapsed = self.expect(
            "POST", "/api/v1/auth/login", 200, {"email": email, "password": password}
        )
        token: str = data["token"]
        return token, elapsed


def latency_stats(seconds: Iterable[float]) -> dict[str, float]:
    """p50, p99 (nearest rank, as bench/loadgen.py) and max of latencies given in seconds, in ms."""
    ordered = sorted(seconds)
    return {
        "p50_ms": round(percentile(ordered, 50) * 1000, 3),
        "p99_ms": round(percentile(ordered, 99) * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3) if ordered else 0.0,
    }


# -- report --------------------------------------------------------------------------------------


def summarise(rounds: list[Measurement]) -> dict[str, Any]:
    cpu = [m["cpu_us_per_request"] for m in rounds if m["cpu_us_per_request"] is not None]
    system = [m["sys_us_per_request"] for m in rounds if "sys_us_per_request" in m]
    return {
        "rps": round(statistics.median(m["rps"] for m in rounds), 1),
        "p50_ms": round(statistics.median(m["p50_ms"] for m in rounds), 3),
        "p99_ms": round(statistics.median(m["p99_ms"] for m in rounds), 3),
        "cpu_us_per_request": round(statistics.median(cpu), 1) if cpu else None,
        **({"sys_us_per_request": round(statistics.median(system), 1)} if system else {}),
        "rounds": rounds,
    }


def package_versions() -> dict[str, str]:
    versions = {}
    for name in ("roo-core", "fastapi", "starlette", "uvicorn", "httptools", "uvloop", "structlog"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def machine_info() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
    }


def add_source_argument(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """`--source NAME=PATH` (repeatable): versions of roo measured side by side, each a tree
    whose `src/` is imported (e.g. a `git worktree` of an older commit); the first is the
    reference."""
    parser.add_argument(
        "--source",
        action="append",
        default=None if required else [],
        required=required,
        type=_name_and_path,
        metavar="NAME=PATH",
        help="a version to measure: a tree with src/roo (repeat; the first is the reference)",
    )


def _name_and_path(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not (name and sep and path):
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=PATH")
    return name, path


def source_revision(repo: Path | None = None) -> dict[str, Any] | None:
    """The commit measured, and whether src/ had uncommitted changes (None outside git): this
    tree's, or `repo`'s (a version measured side by side)."""
    repo = repo or BENCH_DIR.parent
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


def write_report(report: dict[str, Any], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, output)


# -- main ----------------------------------------------------------------------------------------


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the context managers that stop the servers


def exit_on_sigterm() -> None:
    """Make SIGTERM unwind like Ctrl-C does, so that servers are stopped and temp dirs removed."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def report_and_exit(
    name: str,
    produce: Callable[[], dict[str, Any]],
    output: Path,
    print_summary: Callable[[dict[str, Any], Path], None],
    interrupted: str = "interrupted; server stopped",
) -> int:
    """Run a benchmark's body, then write and summarise its report; the process exit code.

    Expected failures (`BenchError`, `OSError`) are one line on stderr and exit 1; Ctrl-C is 130.
    """
    try:
        report = produce()
    except (BenchError, OSError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{name}: {interrupted}", file=sys.stderr)
        return 130
    write_report(report, output)
    print_summary(report, output)
    return 0


def backend_bench_main(
    name: str,
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace, str], dict[str, Any]],
    print_summary: Callable[[dict[str, Any], Path], None],
) -> int:
    """The body of a benchmark that may run roo on PostgreSQL and Redis: SIGTERM unwinds, the
    backends are checked, `run(args, run_id)` makes the report (a run id of its own), the run's
    Redis keys are deleted after it, the report is written and summarised; the exit code."""
    exit_on_sigterm()
    run_id = secrets.token_hex(4)

    def produce() -> dict[str, Any]:
        check_backends(args)
        with redis_cleaned(args, run_id):
            return run(args, run_id)

    return report_and_exit(name, produce, args.output, print_summary)


@contextlib.contextmanager
def redis_cleaned(args: argparse.Namespace, run_id: str) -> Iterator[None]:
    """Delete this run's Redis keys afterwards (when the run used Redis), however it ends."""
    try:
        yield
    finally:
        if args.redis:
            with contextlib.suppress(Exception):
                redis_cleanup(args.redis, run_id)
