"""Start the real `roo serve` process on loopback, wait until it answers, stop it afterwards.

The end-to-end tests talk to it over real sockets; its log (stdout and stderr) goes to a file that
the tests read, and that a failure message quotes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from roo.testing.fake_llm import FakeLLM

# The console script installed next to the interpreter running the tests (roo has no __main__).
ROO = Path(sys.executable).parent / "roo"
HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 60.0  # generous: a loaded machine starts a process slowly
STOP_TIMEOUT_SECONDS = 10.0
# Tries when the free port we picked was taken by someone else before the server bound it.
PORT_ATTEMPTS = 3

# Settings the service reads from the environment. The process gets only the values a test gives
# it, whatever the shell running pytest has set.
_SERVICE_VARS = frozenset(
    {"HOST", "PORT", "DATABASE_URL", "REDIS_URL", "JWT_SECRET", "ALLOWED_ORIGINS", "LOG_LEVEL"}
)
_SERVICE_PREFIXES = ("ROO_", "DATABASE_", "OAUTH_", "OPENAI_", "ANTHROPIC_")


@dataclass(frozen=True)
class LiveServer:
    """A running `roo serve` process."""

    base_url: str
    port: int
    log_path: Path
    data_dir: Path
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log_line(self, *needles: str, timeout: float = 5.0) -> str:
        """The first log line containing every needle; fail, quoting the log, if none comes."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_text().splitlines():
                if all(needle in line for needle in needles):
                    return line
            if time.monotonic() > deadline:
                pytest.fail(
                    f"no server log line with {needles!r} within {timeout:g}s; the log:\n"
                    + self.log_text()
                )
            time.sleep(0.05)


def fake_llm_env(llm: FakeLLM, key: str) -> dict[str, str]:
    """The settings that make a `roo serve` process use `llm` (the fake LLM) as its default
    model, through the OpenAI protocol: `{**fake_llm_env(llm, KEY), ...}` in its extra env."""
    return {
        "OPENAI_BASE_URL": llm.openai_base_url,
        "OPENAI_API_KEY": key,
        "ROO_DEFAULT_PROVIDER": "openai",
        "ROO_DEFAULT_MODEL": "gpt-4o",
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def service_env(overrides: Mapping[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _SERVICE_VARS and not key.startswith(_SERVICE_PREFIXES)
    }
    env.update(overrides)
    return env


@contextmanager
def running_server(
    work_dir: Path,
    *,
    data_dir: Path,
    database_url: str | None = None,
    redis_url: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    command: Sequence[str] = ("serve", "--host", HOST, "--port"),
) -> Iterator[LiveServer]:
    """Run `roo serve --host 127.0.0.1 --port <free port>` until the block ends.

    Without `database_url` the service runs embedded (SQLite in `data_dir`); without `redis_url`,
    with no Redis. `command`: another `roo` command whose last option takes the port, e.g.
    `("worker", "--health-port")` (its probes answer at `base_url`).
    """
    if not ROO.exists():
        pytest.fail(f"the roo console script is missing at {ROO}: install the project (make test)")
    work_dir.mkdir(parents=True, exist_ok=True)
    overrides = {
        "ROO_ENV": "development",
        # tests sign in many users from one address (see tests/conftest.py)
        "ROO_RATE_LIMIT_AUTH": "10000/minute",
        "ROO_RATE_LIMIT_ANONYMOUS": "10000/minute",
        "ROO_RATE_LIMIT_SESSION_TOOLS": "10000/minute",
        "ROO_RATE_LIMIT_SESSION_COMMANDS": "10000/minute",
        "ROO_RATE_LIMIT_WS_CONNECT": "10000/minute",
        "ROO_RATE_LIMIT_WS_ATTEMPTS": "10000/minute",
        "ROO_DATA_DIR": str(data_dir),
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    if database_url:
        overrides["DATABASE_URL"] = database_url
    # The keys the server writes get a prefix of their own, deleted when it has stopped.
    redis_prefix = f"roo-e2e-{uuid.uuid4().hex[:10]}:"
    if redis_url:
        overrides["REDIS_URL"] = redis_url
        overrides["ROO_REDIS_PREFIX"] = redis_prefix
    overrides.update(extra_env or {})
    env = service_env(overrides)

    for attempt in range(1, PORT_ATTEMPTS + 1):
        port = free_port()
        log_path = work_dir / f"{command[0]}-{port}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [str(ROO), *command, str(port)],
                cwd=work_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        server = LiveServer(f"http://{HOST}:{port}", port, log_path, data_dir, process)
        try:
            if _wait_until_live(server):
                break
            log = server.log_text()
            if "address already in use" in log and attempt < PORT_ATTEMPTS:
                continue
            pytest.fail(
                f"roo {command[0]} exited with code {process.returncode} before answering "
                f"GET /healthz; its log:\n{log}"
            )
        except BaseException:
            _stop(process)
            raise
    try:
        yield server
    finally:
        _stop(process)
        if redis_url:
            _delete_redis_prefix(redis_url, redis_prefix)


def _wait_until_live(server: LiveServer) -> bool:
    """True once GET /healthz answers 200; False if the process exits first."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    with httpx.Client(base_url=server.base_url, timeout=1.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                return False
            try:
                if client.get("/healthz").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    pytest.fail(
        f"roo serve did not answer GET /healthz within {START_TIMEOUT_SECONDS:g}s; its log:\n"
        + server.log_text()
    )


def _delete_redis_prefix(url: str, prefix: str) -> None:
    # The synchronous client: teardown may run while Playwright's sync API holds an event loop.
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"{prefix}*", count=500):
            client.delete(key)
    finally:
        client.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
