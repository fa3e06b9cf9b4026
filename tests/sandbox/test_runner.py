"""The runner's contract: results as data, output handling, stdin, cancellation, backends."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from roo.sandbox import (
    ResourceLimits,
    Sandbox,
    SandboxUnavailable,
    bwrap,
    detect_backend,
    procs,
    truncation_marker,
)
from roo.sandbox.cgroups import CgroupSupport
from tests.sandbox.conftest import appears, go, gone, marker, require_bwrap


async def test_detect_backend_is_bwrap_here() -> None:
    require_bwrap()
    assert detect_backend() == "bwrap"


async def test_failure_is_data(isolated: Sandbox, workspace: Path) -> None:
    r = await go(isolated, "echo out; echo err >&2; exit 3", workspace=workspace)
    assert (r.exit_code, r.signal, r.killed_reason, r.timed_out) == (3, None, None, False)
    assert r.stdout == b"out\n"
    assert r.stderr == b"err\n"
    assert not r.ok
    missing = await go(isolated, ["no-such-program"], workspace=workspace)
    assert missing.exit_code != 0
    assert b"no-such-program" in missing.stderr


async def test_signal_is_named(isolated: Sandbox, workspace: Path) -> None:
    r = await go(isolated, "kill -KILL $$", workspace=workspace)
    assert (r.exit_code, r.signal) == (137, "SIGKILL")


async def test_stdin_is_at_eof(isolated: Sandbox, workspace: Path) -> None:
    r = await go(isolated, "cat; read x; echo read=$?", workspace=workspace, timeout=10)
    assert r.ok
    assert r.stdout == b"read=1\n"
    assert r.duration < 5


async def test_output_is_truncated_with_marker(isolated: Sandbox, workspace: Path) -> None:
    limits = ResourceLimits(max_output_bytes=4096)
    script = "import sys; sys.stdout.write('HEAD' + 'x' * 20000 + 'TAIL')"
    r = await go(isolated, ["python3", "-c", script], workspace=workspace, limits=limits)
    assert r.ok
    omitted = 20008 - 4096
    assert r.stdout_omitted == omitted
    assert truncation_marker(omitted) in r.stdout
    assert r.stdout.startswith(b"HEAD")
    assert r.stdout.endswith(b"TAIL")  # the end of a long output is kept, too
    assert len(r.stdout) == 4096 + len(truncation_marker(omitted))
    assert r.truncated


async def test_endless_output_is_stopped(isolated: Sandbox, workspace: Path) -> None:
    limits = ResourceLimits(max_output_bytes=1024, max_execution_time=30)
    r = await go(isolated, "yes", workspace=workspace, limits=limits)
    assert r.killed_reason == "output"
    assert r.duration < 10
    assert len(r.stdout) < 1024 + 100


async def test_output_streams_as_it_comes(isolated: Sandbox, workspace: Path) -> None:
    chunks: list[tuple[str, bytes, float]] = []

    async def sink(stream: str, chunk: bytes) -> None:
        chunks.append((stream, chunk, asyncio.get_running_loop().time()))

    r = await go(
        isolated,
        "echo one; sleep 0.5; echo two >&2",
        workspace=workspace,
        on_output=sink,
    )
    assert r.ok
    assert [(s, c) for s, c, _ in chunks] == [("stdout", b"one\n"), ("stderr", b"two\n")]
    assert chunks[1][2] - chunks[0][2] > 0.3  # delivered live, not at the end


async def test_merge_stderr_interleaves(isolated: Sandbox, workspace: Path) -> None:
    r = await go(isolated, "echo a; echo b >&2; echo c", workspace=workspace, merge_stderr=True)
    assert r.stdout == b"a\nb\nc\n"
    assert r.stderr == b""


async def test_failing_sink_stops_the_command_and_raises(
    isolated: Sandbox, workspace: Path
) -> None:
    mark = marker()

    async def sink(stream: str, chunk: bytes) -> None:
        raise RuntimeError("event store down")

    with pytest.raises(RuntimeError, match="event store down"):
        await go(isolated, f"echo start; sleep {mark}", workspace=workspace, on_output=sink)
    assert await gone(mark) == []


async def test_background_jobs_do_not_outlive_the_command(
    isolated: Sandbox, workspace: Path
) -> None:
    mark = marker()
    r = await go(isolated, f"sleep {mark} & echo started", workspace=workspace)
    assert r.ok
    assert r.duration < 5
    assert await gone(mark) == []


@pytest.mark.parametrize("backend", ["bwrap", "plain"])
async def test_cancelling_the_task_kills_the_command(
    backend: str, workspace: Path, limit_mode: str
) -> None:
    if backend == "bwrap":
        require_bwrap()
    sandbox = Sandbox(backend=backend, use_cgroups=limit_mode == "cgroup")  # type: ignore[arg-type]
    mark = marker()
    task = asyncio.ensure_future(
        sandbox.run(f"sleep {mark} & sleep {mark}; wait", workspace=workspace, timeout=30)
    )
    assert await appears(mark)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await gone(mark) == []


async def test_cancel_at_any_moment_leaves_nothing(bwrap_sandbox: Sandbox, workspace: Path) -> None:
    # Cancelling while bwrap is still setting up is the hard case: its init arms "die with
    # parent" only after it was cloned. Hit that window from many angles.
    marks = []
    for i in range(25):
        mark = marker()
        marks.append(mark)
        task = asyncio.ensure_future(
            bwrap_sandbox.run(f"sleep {mark} & sleep {mark}; wait", workspace=workspace)
        )
        if i % 2:
            await appears(mark, within=10)
        else:
            await asyncio.sleep(0.002 * i)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    for mark in marks:
        assert await gone(mark) == []


async def test_cancel_event_returns_a_result(isolated: Sandbox, workspace: Path) -> None:
    mark = marker()
    cancel = asyncio.Event()
    task = asyncio.ensure_future(
        go(isolated, f"sleep {mark}", workspace=workspace, cancel=cancel, timeout=30)
    )
    assert await appears(mark)
    cancel.set()
    r = await task
    assert r.killed_reason == "cancelled"
    assert not r.timed_out
    assert await gone(mark) == []


async def test_run_groups_are_removed(
    isolated: Sandbox, workspace: Path, cgroup_support: CgroupSupport | None
) -> None:
    if cgroup_support is None:
        pytest.skip("cgroups are not writable on this host")
    await go(isolated, "true", workspace=workspace)
    await go(isolated, "sleep 5", workspace=workspace, timeout=0.5)
    mine = f"run-{os.getpid()}-"
    for parent in cgroup_support.parents.values():
        assert not [p for p in await asyncio.to_thread(os.listdir, parent) if p.startswith(mine)]


@pytest.mark.parametrize("backend", ["bwrap", "plain"])
async def test_environment_is_clean(
    backend: str, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "bwrap":
        require_bwrap()
    monkeypatch.setenv("JWT_SECRET", "jwt-never-inside")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///never-inside.db")
    sandbox = Sandbox(backend=backend)  # type: ignore[arg-type]
    r = await go(sandbox, "env", workspace=workspace, env={"FOO": "bar"})
    names = {line.split("=", 1)[0] for line in r.stdout.decode().splitlines()}
    assert "JWT_SECRET" not in names
    assert "DATABASE_URL" not in names
    assert b"never-inside" not in r.stdout
    assert "FOO" in names
    assert names <= {
        "PATH", "HOME", "TMPDIR", "LANG", "TERM", "USER", "LOGNAME", "SHELL",
        "GIT_TERMINAL_PROMPT", "FOO", "PWD", "SHLVL", "_",
    }  # fmt: skip


async def test_plain_backend_does_not_claim_isolation(workspace: Path) -> None:
    r = await go(Sandbox(backend="plain"), "true", workspace=workspace, network=False)
    assert r.sandbox == "plain"
    assert r.enforcement["isolation"] == "plain"
    assert r.enforcement["network"] == "host network"


async def test_require_isolation_without_bwrap(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bwrap, "bwrap_problem", lambda: "bwrap is not installed")
    assert detect_backend() == "plain"
    with pytest.raises(SandboxUnavailable, match="not installed"):
        await Sandbox(require_isolation=True).run("true", workspace=workspace)
    with pytest.raises(SandboxUnavailable):
        await Sandbox(backend="bwrap").run("true", workspace=workspace)
    # Without the requirement, the same host runs commands in the plain fallback.
    r = await Sandbox().run("echo fallback", workspace=workspace)
    assert (r.sandbox, r.stdout) == ("plain", b"fallback\n")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"env": {"BAD-NAME": "x"}}, ValueError),
        ({"env": {"X": "a\0b"}}, ValueError),
        ({"timeout": 0}, ValueError),
        ({"ro_binds": {"relative": Path("/usr")}}, ValueError),
    ],
)
async def test_invalid_requests_raise(
    workspace: Path, kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        await Sandbox(backend="plain").run("true", workspace=workspace, **kwargs)  # type: ignore[arg-type]


async def test_missing_workspace_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        await Sandbox(backend="plain").run("true", workspace=tmp_path / "nope")


async def test_timeout_is_capped_by_the_limit(workspace: Path) -> None:
    limits = ResourceLimits(max_execution_time=1)
    r = await go(
        Sandbox(backend="plain"), "sleep 5", workspace=workspace, limits=limits, timeout=60
    )
    assert r.timed_out
    assert r.duration < 4


def test_processes_with_finds_nothing_for_a_fresh_marker() -> None:
    assert procs.processes_with(marker()) == []
