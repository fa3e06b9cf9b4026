"""Fixtures of the sandbox tests: workspaces, sandboxes per backend and limit mode, and helpers
that look for processes a run may have left behind.

Limit modes: `cgroup` (the host's cgroups bound memory, processes and CPU) and `rlimit` (the
fallback when they are not writable, forced with `use_cgroups=False`). Behaviour tests run in
both on a host where cgroups are writable. bwrap tests fail (not skip) in CI when bwrap is
missing: isolation is not optional there.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roo.sandbox import ProcessResult, Sandbox, bwrap, cgroups, detect_cgroups, procs

GRACE = 0.3  # short SIGTERM grace: these tests are about killing


def require_bwrap() -> None:
    problem = bwrap.bwrap_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(
            f"bubblewrap is required in CI and unusable here: {problem}. "
            "Install it in .ci/run: apt-get install -y bubblewrap"
        )
    pytest.skip(f"bubblewrap unusable on this host: {problem}")


@pytest.fixture(scope="session")
def cgroup_support() -> Iterator[cgroups.CgroupSupport | None]:
    support = detect_cgroups()
    yield support
    if support is not None:
        # Leave the host as we found it: the (now empty) parents of our run groups.
        for parent in set(support.parents.values()):
            try:
                parent.rmdir()
            except OSError:
                pass


@pytest.fixture(params=["cgroup", "rlimit"])
def limit_mode(request: pytest.FixtureRequest, cgroup_support: Any) -> str:
    mode: str = request.param
    if mode == "cgroup" and cgroup_support is None:
        pytest.skip("cgroups are not writable on this host; the rlimit variant covers it")
    return mode


@pytest.fixture
def bwrap_sandbox(limit_mode: str) -> Sandbox:
    require_bwrap()
    return Sandbox(backend="bwrap", use_cgroups=limit_mode == "cgroup", kill_grace=GRACE)


@pytest.fixture
def plain_sandbox(limit_mode: str) -> Sandbox:
    return Sandbox(backend="plain", use_cgroups=limit_mode == "cgroup", kill_grace=GRACE)


@pytest.fixture
def isolated() -> Sandbox:
    """bwrap with the host's cgroups: what production runs."""
    require_bwrap()
    return Sandbox(backend="bwrap", require_isolation=True, kill_grace=GRACE)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def marker() -> str:
    """A unique number usable as a `sleep` argument and findable in /proc/*/cmdline."""
    return f"{secrets.randbelow(900) + 100}.{secrets.randbelow(900000) + 100000}"


async def gone(mark: str, within: float = 5.0) -> list[int]:
    """Wait until no process mentions `mark`; return the survivors (empty is success)."""
    deadline = time.monotonic() + within
    while True:
        left = await asyncio.to_thread(procs.processes_with, mark)
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.05)


async def appears(mark: str, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await asyncio.to_thread(procs.processes_with, mark):
            return True
        await asyncio.sleep(0.02)
    return False


async def go(sandbox: Sandbox, command: Any, **kwargs: Any) -> ProcessResult:
    """Run with a hard bound, so a bug in the sandbox fails the test instead of hanging it."""
    return await asyncio.wait_for(sandbox.run(command, **kwargs), 60)
