#!/usr/bin/env python3
"""`make demo`: roo-core from nothing to a finished task, with no model key.

Starts the fake LLM (roo.testing.fake_llm) with a scripted multi-step task and `roo serve` on
it (SQLite under var/demo), creates an account, signs the `roo` client commands in, uploads
greet.py to a new session and runs `roo task run` on it in this terminal: the agent reads the
file, edits it with apply_diff, then asks to run it (the one approval: answer y), and
completes. The service then stays up for you to explore, until Ctrl-C.

    make demo                       # or: .venv/bin/python examples/demo.py
    ROO_DEMO_PORT=3001 make demo    # another port (default 3000; a free one if it is taken)
    ROO_DEMO_DIR=/tmp/x make demo   # its database, log and client config elsewhere (var/demo)

The client's credentials go to var/demo/config (ROO_CONFIG_DIR), not your own config
directory. With a real model instead of the fake one: README.md, "Try it".
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ROO = BIN / "roo"
HOST = "127.0.0.1"
EMAIL = "demo@example.com"
PASSWORD = "correct horse battery staple"
TASK = "Make greet.py greet the person named on its command line, then run it for Ada."

GREET = """import sys


def main() -> None:
    print("Hello, world!")


if __name__ == "__main__":
    main()
"""
DIFF = """<<<<<<< SEARCH
:start_line:4
-------
def main() -> None:
    print("Hello, world!")
=======
def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "world"
    print(f"Hello, {name}!")
>>>>>>> REPLACE"""

# What the fake model answers, request after request (roo.testing.fake_llm's JSON form).
SCRIPT = [
    {
        "text": "I'll read greet.py first to see how it greets.",
        "tool_calls": [{"name": "read_file", "arguments": {"path": "greet.py"}}],
        "usage": {"input_tokens": 2400, "output_tokens": 40},
        "delay_per_chunk": 0.02,
    },
    {
        "text": "It always prints the same greeting. I'll make it take the name from its "
        "command line, keeping the old greeting when none is given.",
        "tool_calls": [{"name": "apply_diff", "arguments": {"path": "greet.py", "diff": DIFF}}],
        "usage": {"input_tokens": 2700, "output_tokens": 120},
        "delay_per_chunk": 0.02,
    },
    {
        "text": "Now let me run it to check.",
        "tool_calls": [
            {"name": "execute_command", "arguments": {"command": "python3 greet.py Ada"}}
        ],
        "usage": {"input_tokens": 3000, "output_tokens": 30},
        "delay_per_chunk": 0.02,
    },
    {
        "text": "It greets Ada.",
        "tool_calls": [
            {
                "name": "attempt_completion",
                "arguments": {
                    "result": "greet.py now greets the person named on its command line "
                    "(`python3 greet.py Ada` prints `Hello, Ada!`), and the world otherwise."
                },
            }
        ],
        "usage": {"input_tokens": 3100, "output_tokens": 60},
    },
]
FAKE_KEY = "sk-demo-fake-model"


def say(text: str) -> None:
    print(f"\033[1;34m==>\033[0m {text}", flush=True)


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(
                f"demo: the service exited ({process.returncode}); its log:\n{log.read_text()}"
            )
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/healthz", timeout=1, trust_env=False).status_code == 200:
                return
        time.sleep(0.2)
    sys.exit(f"demo: the service did not start within {timeout:g}s; its log:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def ignoring_sigint() -> Iterator[None]:
    """While a child owns the terminal, Ctrl-C is its (it cancels the task), not the demo's."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def main() -> int:
    var = Path(os.environ.get("ROO_DEMO_DIR") or ROOT / "var" / "demo").absolute()
    shutil.rmtree(var, ignore_errors=True)  # a fresh demo each time
    var.mkdir(parents=True)
    port = int(os.environ.get("ROO_DEMO_PORT", "3000"))
    if not port_free(port):
        port = free_port()
    url = f"http://{HOST}:{port}"
    script = var / "fake-llm-script.json"
    script.write_text(json.dumps(SCRIPT))

    say("starting the fake LLM (a scripted model: no key, no network)")
    llm = subprocess.Popen(
        [sys.executable, "-m", "roo.testing.fake_llm", "--port", "0", "--script", str(script),
         "--api-key", FAKE_KEY, "--default-text", "(the demo's script is over)"],
        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    processes = [llm]
    try:
        first = llm.stdout.readline().decode() if llm.stdout else ""
        if "listening on" not in first:
            sys.exit("demo: the fake LLM did not start")
        llm_url = first.rsplit(" ", 1)[1].strip()
        own = ("ROO_", "OPENAI_", "ANTHROPIC_", "DATABASE_", "REDIS_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
        env.update({
            "ROO_ENV": "development", "ROO_DATA_DIR": str(var / "data"), "LOG_LEVEL": "WARNING",
            "OPENAI_BASE_URL": f"{llm_url}/v1", "OPENAI_API_KEY": FAKE_KEY,
            "ROO_DEFAULT_PROVIDER": "openai", "ROO_DEFAULT_MODEL": "gpt-4o",
            "ROO_CONFIG_DIR": str(var / "config"), "PYTHONUNBUFFERED": "1",
        })  # fmt: skip

        say(f"creating the account {EMAIL}")
        subprocess.run([str(ROO), "user", "create", "--email", EMAIL, "--role", "admin",
                        "--password-stdin"], input=f"{PASSWORD}\n".encode(), env=env,
                       check=True, stdout=subprocess.DEVNULL)  # fmt: skip

        log = var / "service.log"
        say(f"starting the service on {url} (log: {log})")
        with log.open("wb") as out:
            service = subprocess.Popen(
                [str(ROO), "serve", "--host", HOST, "--port", str(port)], env=env,
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        processes.append(service)
        wait_for(url, service, log)

        def roo(*args: str, stdin: str | None = None) -> str:
            done = subprocess.run([str(ROO), *args], input=stdin, env=env, text=True,
                                  capture_output=True)  # fmt: skip
            if done.returncode != 0:
                sys.exit(f"demo: roo {' '.join(args)} failed:\n{done.stderr}")
            return done.stdout

        say("roo login")
        roo("login", "--url", url, "--email", EMAIL, "--stdin", stdin=f"{PASSWORD}\n")
        session = json.loads(
            roo("sessions", "new", "demo", "--auto-approve", "read,write", "--json")
        )["id"]
        say(f"roo sessions new demo --auto-approve read,write  ->  {session}")
        with tempfile.TemporaryDirectory() as tmp:
            greet = Path(tmp) / "greet.py"
            greet.write_text(GREET)
            roo("files", "put", str(greet), "--session", session)
        say("roo files put greet.py")
        say(f'roo task run "{TASK}"')
        print(flush=True)
        with ignoring_sigint():
            run = subprocess.run([str(ROO), "task", "run", TASK, "--session", session], env=env)
        print(flush=True)
        say(f"the task ended (exit code {run.returncode}); the service stays up: explore it")
        config = var / "config"
        print(
            f"""
    In another terminal:
      export ROO_CONFIG_DIR={config}
      {ROO} sessions ls
      {ROO} task ls
      {ROO} files get greet.py -o -
      {ROO} tools ls
    The API's documentation: {url}/api/v1/docs   (sign in as {EMAIL} / {PASSWORD})

    Ctrl-C stops the service.""",
            flush=True,
        )
        try:
            service.wait()
        except KeyboardInterrupt:
            return 0
        sys.exit(f"demo: the service exited; its log:\n{log.read_text()}")
    except KeyboardInterrupt:
        return 130
    finally:
        say("stopping the service and the fake LLM")
        for process in reversed(processes):
            stop(process)


if __name__ == "__main__":
    sys.exit(main())
