"""Pure pieces: limit validation, the output buffer, disk usage, rlimit planning."""

from __future__ import annotations

import os
import resource
import secrets
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from roo.sandbox import ResourceLimits, procs, truncation_marker, workspace_usage_bytes
from roo.sandbox.disk import FLOOR, MIN_INTERVAL, next_pause
from roo.sandbox.result import OutputCapture
from roo.sandbox.rlimits import plan


def test_defaults_are_the_seed_defaults() -> None:
    limits = ResourceLimits()
    assert (
        limits.max_memory_mb,
        limits.max_cpu_percent,
        limits.max_disk_mb,
        limits.max_execution_time,
        limits.max_concurrent_tasks,
        limits.max_processes,
        limits.max_output_bytes,
        limits.max_file_mb,
    ) == (512, 100, 1024, 300, 1, 128, 1024 * 1024, 256)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_memory_mb", 0),
        ("max_memory_mb", 15),
        ("max_cpu_percent", 0),
        ("max_disk_mb", -1),
        ("max_execution_time", 0),
        ("max_processes", 2),
        ("max_output_bytes", 10),
        ("max_file_mb", 0),
        ("max_memory_mb", True),
        ("max_memory_mb", 1.5),
        ("max_execution_time", 10**9),
    ],
)
def test_out_of_bounds_limits_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        replace(ResourceLimits(), **{field: value})


def test_capture_keeps_everything_under_the_cap() -> None:
    cap = OutputCapture(1024)
    for _ in range(10):
        cap.feed(b"x" * 100)
    assert cap.value() == b"x" * 1000
    assert cap.omitted == 0


def test_capture_keeps_head_and_tail() -> None:
    cap = OutputCapture(1024)
    data = bytes(range(256)) * 40  # 10240 bytes, fed in odd chunks
    for i in range(0, len(data), 333):
        cap.feed(data[i : i + 333])
    omitted = len(data) - 1024
    assert cap.omitted == omitted
    assert cap.value() == data[:512] + truncation_marker(omitted) + data[-512:]


def test_capture_one_big_chunk() -> None:
    cap = OutputCapture(1024)
    cap.feed(b"a" * 600 + b"b" * 600)
    # 1200 bytes: the first 512, the last 512, and 176 counted as dropped.
    assert cap.value() == b"a" * 512 + truncation_marker(176) + b"b" * 512


def test_usage_counts_blocks_once_and_ignores_symlinks(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x" * 100_000)
    os.link(tmp_path / "d" / "f", tmp_path / "hard")
    (tmp_path / "to-root").symlink_to("/")
    with open(tmp_path / "sparse", "wb") as f:
        f.truncate(1 << 30)
    used = workspace_usage_bytes(tmp_path)
    assert 100_000 <= used < 100_000 + 64 * 1024  # the file once, dirs, no 1 GiB, not /
    assert workspace_usage_bytes(tmp_path / "missing") == 0


def test_disk_watch_pace_follows_the_growth_rate() -> None:
    mib = 1 << 20
    # A small tree, quiet or at the baseline: the shortest usual pace.
    assert next_pause(0.0001, (100 * mib, 1000), (0.0, 0.0)) == MIN_INTERVAL
    assert next_pause(0.0001, (100 * mib, 1000), None) == MIN_INTERVAL
    # A large tree (50 ms to scan): eight scans' time, so the watch costs ~1/9 of a core...
    assert next_pause(0.05, (100 * mib, 1000), (0.0, 0.0)) == pytest.approx(0.4)
    # ...unless it grows fast enough to reach the quota sooner: half the time that takes,
    assert next_pause(0.05, (100 * mib, None), (1000.0 * mib, 0.0)) == pytest.approx(0.1)
    # the file count being the nearer limit as well,
    assert next_pause(0.05, (100 * mib, 100), (1.0, 1000.0)) == pytest.approx(0.1)
    # never sooner than twice the scan (the race costs at most a third of a core)...
    assert next_pause(0.05, (1 * mib, None), (2000.0 * mib, 0.0)) == pytest.approx(0.1)
    # ...nor than the floor.
    assert next_pause(0.001, (1 * mib, None), (2000.0 * mib, 0.0)) == FLOOR
    # A shrinking tree is not hurried.
    assert next_pause(0.05, (100 * mib, None), (-50.0 * mib, 0.0)) == pytest.approx(0.4)


def test_fallback_plan_uses_rlimits() -> None:
    limits = ResourceLimits(max_memory_mb=64, max_cpu_percent=50, max_processes=16)
    rl, how = plan(
        limits,
        wall_seconds=10,
        fsize_bytes=1 << 20,
        cgroup_memory=False,
        cgroup_pids=False,
        cgroup_cpu=False,
        helpers=2,
    )
    assert rl[resource.RLIMIT_AS] == (64 << 20, 64 << 20)
    assert rl[resource.RLIMIT_FSIZE] == (1 << 20, 1 << 20)
    assert rl[resource.RLIMIT_CORE] == (0, 0)
    assert rl[resource.RLIMIT_CPU] == (5, 6)
    assert "processes" in how
    if os.getuid() == 0:
        # The kernel does not apply RLIMIT_NPROC to uid 0: the count watch does the job.
        assert resource.RLIMIT_NPROC not in rl
    else:
        assert rl[resource.RLIMIT_NPROC][0] >= 16 + 2


def test_cgroup_plan_leaves_memory_and_cpu_to_cgroups() -> None:
    rl, how = plan(
        ResourceLimits(),
        wall_seconds=10,
        fsize_bytes=1 << 20,
        cgroup_memory=True,
        cgroup_pids=True,
        cgroup_cpu=True,
        helpers=2,
    )
    # RLIMIT_AS would break runtimes that reserve address space (Go, JVM, V8) for nothing.
    assert resource.RLIMIT_AS not in rl
    assert resource.RLIMIT_CPU not in rl
    assert resource.RLIMIT_NPROC not in rl
    assert "memory" not in how


def test_kill_tree_frozen_takes_orphan_candidates_too() -> None:
    # A parent whose child would outlive it (as bwrap's init can, in the moment before it
    # arms "die with parent"): killing the parent alone leaves the child running.
    mark = f"{secrets.randbelow(900) + 100}.{secrets.randbelow(900000) + 100000}"
    code = f"import os, time; os.fork() or time.sleep(60); time.sleep({mark})"
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 10
        while len(procs.processes_with(mark)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(procs.processes_with(mark)) == 2
        procs.kill_tree_frozen(parent.pid)
        assert parent.wait(timeout=5) == -9
        deadline = time.monotonic() + 5
        while procs.processes_with(mark) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert procs.processes_with(mark) == []
    finally:
        parent.kill()
        parent.wait()
