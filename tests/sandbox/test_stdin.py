"""A long-lived command talking over its stdin (a stdio MCP server): `Sandbox.run(stdin=...)`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from roo.sandbox import ResourceLimits, Sandbox, StdinPipe


async def test_a_command_reads_what_is_written_to_its_stdin(
    isolated: Sandbox, workspace: Path
) -> None:
    pipe = StdinPipe()
    lines: asyncio.Queue[bytes] = asyncio.Queue()

    async def out(name: str, chunk: bytes) -> None:
        if name == "stdout":
            await lines.put(chunk)

    run = asyncio.create_task(
        isolated.run(
            ["/bin/sh", "-c", "while read l; do echo got:$l; done; echo bye >&2"],
            workspace=workspace,
            stdin=pipe,
            on_output=out,
        )
    )
    await asyncio.wait_for(pipe.started.wait(), 10)
    await pipe.write(b"one\n")
    assert await asyncio.wait_for(lines.get(), 10) == b"got:one\n"  # a reply per line, live
    await pipe.write(b"two\n")
    assert await asyncio.wait_for(lines.get(), 10) == b"got:two\n"
    pipe.close()  # end of input: the command ends
    result = await asyncio.wait_for(run, 10)
    assert result.ok
    assert result.stderr == b"bye\n"
    assert result.sandbox == "bwrap"
    with pytest.raises(ConnectionError):
        await pipe.write(b"late\n")


async def test_without_a_slot_a_server_does_not_hold_back_the_groups_commands(
    tmp_path: Path,
) -> None:
    sandbox = Sandbox(backend="plain", use_cgroups=False, slots_dir=tmp_path / "slots", slot_wait=0)
    limits = ResourceLimits(max_concurrent_tasks=1)
    pipe = StdinPipe()
    server = asyncio.create_task(
        sandbox.run(
            ["cat"], workspace=tmp_path, limits=limits, group="g", stdin=pipe, use_slot=False
        )
    )
    await asyncio.wait_for(pipe.started.wait(), 10)
    assert (await sandbox.run("true", workspace=tmp_path, limits=limits, group="g")).ok
    pipe.close()
    assert (await asyncio.wait_for(server, 10)).ok


async def test_a_command_that_cannot_start_releases_the_writer(tmp_path: Path) -> None:
    pipe = StdinPipe()
    with pytest.raises(ValueError, match="group"):
        await Sandbox(backend="plain").run(["cat"], workspace=tmp_path, group="../x", stdin=pipe)
    assert pipe.started.is_set()
    with pytest.raises(ConnectionError):
        await pipe.write(b"x\n")
