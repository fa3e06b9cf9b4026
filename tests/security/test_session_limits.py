"""A session's limits hold for the session, not per command (issue 12, item 5).

The probe: three 400 MB commands in a session with `maxMemoryMB: 512` held 1.28 GB, 13+
commands ran at once with `maxConcurrentTasks: 1`, three commands used two cores with
`maxCpuPercent: 100`. Here: small limits (128 MB, 16 processes), two or a few commands at once,
each waiting for the test's `release` file so that they provably overlap.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from roo.agent.tools.base import ToolContext
from roo.agent.tools.execute_command import ExecuteCommandTool
from roo.api.state import Resources
from roo.config import Settings
from roo.db.models import Session
from roo.sandbox import CgroupSupport, ProcessResult, procs
from tests.auth.conftest import SignedIn, SignIn, auth, make_user, resources, sign_in
from tests.support.waiting import eventually

__all__ = ["auth", "make_user", "resources", "sign_in"]

# Each command waits (at most about 60 s) for the test to create this file in the workspace.
WAIT_FOR_RELEASE = "for i in $(seq 1200); do [ -e release ] && break; sleep 0.05; done"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Commands beyond a session's bound are refused at once (no waiting for a slot)."""
    return settings.model_copy(update={"command_slot_wait_seconds": 0.0})


@dataclass
class Opened:
    session: Session
    workspace: Path
    owner: SignedIn


Open = Callable[..., Awaitable[Opened]]


@pytest.fixture
def open_session(client: httpx.AsyncClient, sign_in: SignIn, resources: Resources) -> Open:
    """A new session of a member with the given limits."""

    async def make(**limits: int) -> Opened:
        user = await sign_in()
        body = {"name": "limits", "config": {"limits": limits}}
        response = await client.post("/api/v1/sessions", headers=user.headers, json=body)
        assert response.status_code == 201, response.text
        async with resources.db_sessions() as db:
            session = await db.get(Session, uuid.UUID(response.json()["id"]))
        assert session is not None
        ws = resources.sessions_manager.workspaces.path(session.workspace_dir)
        return Opened(session, ws, user)

    return make


async def cgroups_or_skip(resources: Resources) -> CgroupSupport:
    support = await resources.sandbox.cgroups()
    if support is None:
        pytest.skip("cgroups are not writable here: only the concurrency bound holds then")
    return support


def start(resources: Resources, session: Session, command: str) -> asyncio.Task[ProcessResult]:
    run = resources.sessions_manager.run_command(session, command, timeout=90)
    return asyncio.ensure_future(run)


async def test_commands_of_a_session_share_its_memory_limit(
    resources: Resources, open_session: Open
) -> None:
    await cgroups_or_skip(resources)
    opened = await open_session(maxMemoryMB=128, maxConcurrentTasks=2)
    session, ws = opened.session, opened.workspace
    # Each holds 90 MB (touched, not just reserved): one fits in 128 MB, two do not.
    hold = (
        "python3 -c 'import pathlib, time\n"
        'b = b"x" * (90 << 20)\n'
        'pathlib.Path("held-{n}").touch()\n'
        "for _ in range(1200):\n"
        '    if pathlib.Path("release").exists(): break\n'
        "    time.sleep(0.05)'"
    )
    runs = [start(resources, session, hold.format(n=n)) for n in range(2)]
    try:
        # Both hold their 90 MB at once, or one of them was already stopped.
        await eventually(
            lambda: (
                all((ws / f"held-{n}").exists() for n in range(2)) or any(r.done() for r in runs)
            ),
            within=60,
            what="both commands holding their memory, or one stopped",
        )
    finally:
        (ws / "release").touch()
        results = await asyncio.gather(*runs)
    reasons = [r.killed_reason for r in results]
    assert "memory" in reasons, [(r.exit_code, r.killed_reason, r.text()[-300:]) for r in results]
    assert not all(r.ok for r in results)


async def test_commands_of_a_session_share_its_process_limit(
    resources: Resources, open_session: Open
) -> None:
    await cgroups_or_skip(resources)
    opened = await open_session(maxProcesses=16, maxConcurrentTasks=2)
    session, ws = opened.session, opened.workspace
    # Each tries to start 12 processes that stay until the test releases them.
    forks = (
        "python3 -c 'import os, pathlib, time\n"
        "started = 0\n"
        "for _ in range(12):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        break\n"
        "    if pid == 0:\n"
        "        time.sleep(90)\n"
        "        os._exit(0)\n"
        "    started += 1\n"
        'pathlib.Path("started-{n}").write_text(str(started))\n'
        "for _ in range(1200):\n"
        '    if pathlib.Path("release").exists(): break\n'
        "    time.sleep(0.05)'"
    )
    runs = [start(resources, session, forks.format(n=n)) for n in range(2)]
    try:
        await eventually(
            lambda: (
                all((ws / f"started-{n}").exists() for n in range(2)) or any(r.done() for r in runs)
            ),
            within=60,
            what="both commands done forking",
        )
    finally:
        (ws / "release").touch()
        await asyncio.gather(*runs)
    counts = [int((ws / f"started-{n}").read_text() or 0) for n in range(2)]
    # The two pythons and every child they started count against the session's 16.
    assert sum(counts) + len(counts) <= 16, counts


def _group_of(pid: int, parent: Path) -> Path | None:
    """The group below `parent` whose cgroup.procs lists `pid`."""
    for listing in parent.rglob("cgroup.procs"):
        try:
            if str(pid) in listing.read_text().split():
                return listing.parent
        except OSError:
            continue
    return None


def _cpu_quota(group: Path, version: int) -> int:
    if version == 1:
        return int((group / "cpu.cfs_quota_us").read_text())
    quota = (group / "cpu.max").read_text().split()[0]
    return -1 if quota == "max" else int(quota)


def _memory_limit(group: Path, version: int) -> int:
    name = "memory.limit_in_bytes" if version == 1 else "memory.max"
    return int((group / name).read_text())


async def test_commands_of_a_session_sit_in_one_group_with_its_limits(
    resources: Resources, open_session: Open
) -> None:
    support = await cgroups_or_skip(resources)
    opened = await open_session(
        maxMemoryMB=128, maxCpuPercent=50, maxProcesses=16, maxConcurrentTasks=2
    )
    session = opened.session
    marks = [f"{n + 1}{uuid.uuid4().int % 10**6:06d}.5" for n in range(2)]
    runs = [start(resources, session, f"sleep {mark}") for mark in marks]
    try:
        pids: list[int] = []
        for mark in marks:
            await eventually(lambda m=mark: bool(procs.processes_with(m)), within=30)
            pids.append(procs.processes_with(mark)[0])
        found: dict[str, list[Path]] = {}
        for controller in ("memory", "cpu", "pids"):
            parent = support.parents[controller]
            groups: list[Path] = []
            for pid in pids:
                # (the command shows in the process list just before it is placed in its groups)
                await eventually(
                    lambda p=pid, c=parent: _group_of(p, c) is not None,
                    within=10,
                    what=f"the command in a {controller} group",
                )
                group = _group_of(pid, parent)
                assert group is not None
                groups.append(group)
            found[controller] = groups
        for controller, (first, second) in found.items():
            # Each command has a group of its own, both inside one group of the session.
            assert first != second
            assert first.parent == second.parent, controller
        version = support.version
        assert _cpu_quota(found["cpu"][0].parent, version) == 50_000
        assert _memory_limit(found["memory"][0].parent, version) == 128 << 20
        pids_max = int((found["pids"][0].parent / "pids.max").read_text())
        # the session's processes plus bwrap's two helpers per command it may run at once
        assert 16 <= pids_max <= 16 + 2 * 2
    finally:
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)


async def run_tool(
    client: httpx.AsyncClient, user: SignedIn, session: Session, params: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        f"/api/v1/sessions/{session.id}/tools/execute_command", headers=user.headers, json=params
    )


async def test_the_tools_api_refuses_commands_beyond_the_session_bound(
    client: httpx.AsyncClient, resources: Resources, open_session: Open
) -> None:
    opened = await open_session(maxConcurrentTasks=1)
    session, ws, user = opened.session, opened.workspace, opened.owner
    holder = asyncio.ensure_future(
        run_tool(client, user, session, {"command": f"touch inside; {WAIT_FOR_RELEASE}"})
    )
    try:
        await eventually(lambda: (ws / "inside").exists(), within=30, what="the first command")
        # 12 more at once, as the probe sent them: none may start while the first runs.
        more = await asyncio.gather(
            *(run_tool(client, user, session, {"command": f"touch ran-{n}"}) for n in range(12))
        )
    finally:
        (ws / "release").touch()
        first = await holder
    assert first.status_code == 200, first.text
    assert [r.status_code for r in more] == [429] * 12, [r.text for r in more]
    problem = more[0]
    assert problem.headers["content-type"].startswith("application/problem+json")
    assert problem.json()["type"] == "urn:roo:problem:session-commands-busy"
    assert "maxConcurrentTasks" in problem.json()["detail"]
    assert int(problem.headers["retry-after"]) >= 1
    assert not list(ws.glob("ran-*"))
    # The slot is free again once the first command ended.
    after = await run_tool(client, user, session, {"command": "touch ran-after"})
    assert after.status_code == 200, after.text
    assert (ws / "ran-after").exists()


async def test_the_agent_gets_a_clear_tool_error_when_the_session_is_busy(
    resources: Resources, open_session: Open
) -> None:
    opened = await open_session(maxConcurrentTasks=1)
    session, ws = opened.session, opened.workspace
    holder = start(resources, session, f"touch inside; {WAIT_FOR_RELEASE}")
    try:
        await eventually(lambda: (ws / "inside").exists(), within=30, what="the first command")
        ctx = ToolContext(
            workspace=ws,
            run_command=lambda *a, **kw: resources.sessions_manager.run_command(session, *a, **kw),
        )
        result = await ExecuteCommandTool().run({"command": "touch second"}, ctx)
    finally:
        (ws / "release").touch()
        await holder
    assert result.is_error
    assert "already runs 1 command" in result.text_content
    assert not (ws / "second").exists()


async def test_commands_beyond_the_bound_wait_for_a_slot_when_configured(
    resources: Resources, open_session: Open
) -> None:
    resources.sandbox.slot_wait = 30.0
    session = (await open_session(maxConcurrentTasks=2)).session
    # Two places, each taken with an atomic `mkdir`: a third command inside at once fails.
    guarded = (
        "if mkdir inside-a 2>/dev/null; then d=inside-a; "
        "elif mkdir inside-b 2>/dev/null; then d=inside-b; else exit 3; fi; "
        "sleep 1; rmdir $d"
    )
    runs = [start(resources, session, guarded) for _ in range(5)]
    results = await asyncio.gather(*runs)
    assert [r.exit_code for r in results] == [0] * 5, [r.text() for r in results]
