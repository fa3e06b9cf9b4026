"""The README's two commands: `make test` runs the suite (CI calls it) and `make run` the
service, and the Makefile defines each target once (a target defined twice is one make
silently overrides: a merge once turned `make test` into the load test)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-n", "-W", ".venv/.installed-stamp", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("target", "command"),
    [
        ("test", ".venv/bin/pytest"),
        ("run", ".venv/bin/roo serve"),
        ("loadtest", ".venv/bin/python bench/loadtest.py"),
        ("demo", ".venv/bin/python examples/demo.py"),
    ],
)
def test_each_target_runs_its_command_and_is_defined_once(target: str, command: str) -> None:
    done = dry_run(target)
    assert done.returncode == 0, done.stderr
    assert "overriding recipe" not in done.stderr, done.stderr
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    assert any(line.startswith(command) for line in lines), done.stdout
