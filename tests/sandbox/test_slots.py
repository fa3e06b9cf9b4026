"""Command slots: at most N commands of a group at once, across processes, crash-safe."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from roo.sandbox import ResourceLimits, Sandbox, SandboxBusy
from roo.sandbox.slots import CommandSlots
from tests.support.waiting import eventually


@pytest.fixture(params=["files", "process"])
def slots_pair(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[CommandSlots, CommandSlots]:
    """Two holders of the same slots: two "processes" sharing a directory (flock treats two
    open files like two processes), or one process counting alone."""
    if request.param == "files":
        return CommandSlots(tmp_path / "slots"), CommandSlots(tmp_path / "slots")
    alone = CommandSlots()
    return alone, alone


async def test_the_bound_holds_and_a_slot_comes_back(
    slots_pair: tuple[CommandSlots, CommandSlots],
) -> None:
    one, other = slots_pair
    async with one.slot("s1", 2, wait=0), other.slot("s1", 2, wait=0):
        with pytest.raises(SandboxBusy) as busy:
            async with one.slot("s1", 2, wait=0):
                pass
        assert busy.value.limit == 2
        # Another group has slots of its own.
        async with other.slot("s2", 1, wait=0):
            pass
    async with one.slot("s1", 1, wait=0):
        pass


async def test_a_command_beyond_the_bound_waits_for_a_slot(
    slots_pair: tuple[CommandSlots, CommandSlots],
) -> None:
    one, other = slots_pair
    released = False
    order: list[bool] = []

    async def second() -> None:
        async with other.slot("s", 1, wait=30):
            order.append(released)

    async with one.slot("s", 1, wait=0):
        waiter = asyncio.create_task(second())
        await asyncio.sleep(0)  # its first try runs now, and finds the slot taken
        assert not waiter.done()
        released = True
    await asyncio.wait_for(waiter, 30)
    assert order == [True]


async def test_slot_files_go_with_their_holders(tmp_path: Path) -> None:
    slots = CommandSlots(tmp_path / "slots")
    async with slots.slot("abc", 3, wait=0):
        assert [p.name for p in (tmp_path / "slots").iterdir()] == ["abc.0"]
    assert list((tmp_path / "slots").iterdir()) == []
    assert slots.held("abc") == 0


async def test_a_crashed_holder_keeps_no_slot(tmp_path: Path) -> None:
    directory = tmp_path / "slots"
    directory.mkdir()
    # Another process takes slot 0 of "s" and dies without giving it back.
    holder = subprocess.Popen(  # noqa: ASYNC220 - a plain child, waited on below
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(directory / 's.0')!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert await asyncio.to_thread(holder.stdout.readline) == b"held\n"
        slots = CommandSlots(directory)
        with pytest.raises(SandboxBusy):
            async with slots.slot("s", 1, wait=0):
                pass
    finally:
        holder.kill()
        await asyncio.to_thread(holder.wait)
    async with slots.slot("s", 1, wait=0):
        pass


async def test_sandbox_refuses_a_bad_group_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="group"):
        await Sandbox(backend="plain").run("true", workspace=tmp_path, group="../x")


async def test_the_sandbox_bounds_a_groups_commands(tmp_path: Path) -> None:
    # Without cgroups: the bound is not a cgroup feature.
    sandbox = Sandbox(backend="plain", use_cgroups=False, slots_dir=tmp_path / "slots", slot_wait=0)
    limits = ResourceLimits(max_concurrent_tasks=1)
    first = asyncio.create_task(
        sandbox.run(
            "touch inside; while [ ! -e release ]; do sleep 0.02; done",
            workspace=tmp_path,
            limits=limits,
            group="g",
            timeout=30,
        )
    )
    try:
        await eventually(lambda: (tmp_path / "inside").exists(), within=10)
        with pytest.raises(SandboxBusy):
            await sandbox.run("true", workspace=tmp_path, limits=limits, group="g")
        # Without a group, or in another one, commands are not held back.
        assert (await sandbox.run("true", workspace=tmp_path, limits=limits)).ok
        assert (await sandbox.run("true", workspace=tmp_path, limits=limits, group="h")).ok
    finally:
        (tmp_path / "release").touch()
        assert (await first).ok
    assert (await sandbox.run("true", workspace=tmp_path, limits=limits, group="g")).ok
