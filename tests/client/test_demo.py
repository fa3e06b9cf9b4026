"""`make demo`'s script (examples/demo.py) in a pseudo-terminal, as someone with no model key
would run it: the fake LLM's scripted task shown live, its one approval answered at the prompt,
the service left running for exploring (a client command against it works), then Ctrl-C stops
everything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pexpect

from tests.e2e.server import ROO, free_port

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"
TIMEOUT = 90  # seconds for one step: the service starts (and migrates) on a loaded machine


def test_make_demo_runs_the_scripted_task_and_leaves_the_service_up(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROO_")}
    env.update(ROO_DEMO_PORT=str(port), ROO_DEMO_DIR=str(tmp_path / "demo"), TERM="xterm")
    child = pexpect.spawn(sys.executable, [str(DEMO)], env=env, encoding="utf-8",
                          timeout=TIMEOUT, dimensions=(50, 200))  # fmt: skip
    child.logfile_read = sys.stdout
    try:
        child.expect(r"> read_file")
        child.expect(r"> apply_diff")
        child.expect(r"approve execute_command python3 greet.py Ada")
        child.expect(r"\[y\]es")
        child.sendline("y")
        child.expect("Hello, Ada!")  # the edited script's output
        child.expect("completed")
        child.expect(r"the task ended \(exit code 0\)")
        child.expect("Ctrl-C stops the service")

        # the service is still up, and the client is signed in to it
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", trust_env=False).status_code == 200
        got = subprocess.run(
            [str(ROO), "files", "get", "greet.py", "-o", "-"], capture_output=True, text=True,
            env={**env, "ROO_CONFIG_DIR": str(tmp_path / "demo" / "config")}, timeout=60,
        )  # fmt: skip
        assert got.returncode == 0, got.stderr
        assert 'name = sys.argv[1] if len(sys.argv) > 1 else "world"' in got.stdout

        child.sendintr()
        child.expect("stopping the service")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    try:
        httpx.get(f"http://127.0.0.1:{port}/healthz", trust_env=False, timeout=2)
        stopped = False
    except httpx.TransportError:
        stopped = True
    assert stopped
