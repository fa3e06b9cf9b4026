"""cgroup handling: on this host's real hierarchy where it is writable, and the v2 file formats
on a stand-in tree (the kernel's side of v2 is exercised on v2 hosts by the behaviour tests).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from roo.sandbox import ResourceLimits, cgroups
from roo.sandbox.cgroups import CgroupRun, CgroupSupport, detect_cgroups


@pytest.fixture
def support(cgroup_support: CgroupSupport | None) -> CgroupSupport:
    if cgroup_support is None:
        pytest.skip("cgroups are not writable on this host")
    return cgroup_support


def test_run_group_lifecycle(support: CgroupSupport) -> None:
    limits = ResourceLimits(max_memory_mb=64, max_processes=10, max_cpu_percent=150)
    run = support.create(limits, helpers=2)
    child = subprocess.Popen(["sleep", "30"])
    try:
        run.add(child.pid)
        assert run.members() == {child.pid}
        assert not run.oom_killed()
        if support.version == 1:
            mem = run.dirs["memory"] / "memory.limit_in_bytes"
            assert int(mem.read_text()) == 64 << 20
            assert (run.dirs["pids"] / "pids.max").read_text().strip() == "12"
            assert (run.dirs["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "150000"
        else:
            assert int((run.dirs["memory"] / "memory.max").read_text()) == 64 << 20
            assert (run.dirs["cpu"] / "cpu.max").read_text().split() == ["150000", "100000"]
        assert not run.remove()  # still occupied
        run.kill()
        assert child.wait(timeout=5) == -9
    finally:
        child.kill()
        child.wait()
    assert run.remove()
    assert not any(p.exists() for p in run.dirs.values())


def test_stale_groups_of_dead_services_are_swept(support: CgroupSupport) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    parent = next(iter(support.parents.values()))
    stale = parent / f"run-{dead.pid}-abcdef"
    stale.mkdir()
    again = detect_cgroups()
    assert again is not None
    assert not stale.exists()


def _fake_v2(root: Path) -> None:
    """A stand-in cgroup2 tree: the service in /svc, controllers available to siblings."""
    (root / "svc").mkdir()
    (root / "cgroup.controllers").write_text("cpu memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    (root / "svc" / "cgroup.controllers").write_text("cpu memory pids\n")
    sandbox = root / "roo-sandbox"
    sandbox.mkdir()
    (sandbox / "cgroup.controllers").write_text("cpu memory pids\n")
    (sandbox / "cgroup.subtree_control").write_text("")


def test_v2_detection_picks_a_sibling_of_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_v2(tmp_path)
    monkeypatch.setattr(cgroups, "_mounts", lambda: iter([("/", tmp_path, "cgroup2", {"rw"})]))
    monkeypatch.setattr(cgroups, "_own_paths", lambda: {"": "/svc"})
    found = detect_cgroups()
    assert found is not None
    assert found.version == 2
    assert set(found.parents.values()) == {tmp_path / "roo-sandbox"}
    # Controllers were enabled for the run groups (the kernel keeps only the last write
    # in this stand-in file; on cgroupfs each write adds one).
    assert (tmp_path / "roo-sandbox" / "cgroup.subtree_control").read_text().startswith("+")


def test_v2_limits_format(tmp_path: Path) -> None:
    for name in ("memory.max", "memory.swap.max", "pids.max", "cpu.max", "memory.events"):
        (tmp_path / name).write_text("")
    run = CgroupRun(2, dict.fromkeys(("memory", "pids", "cpu"), tmp_path))
    run.limit(ResourceLimits(max_memory_mb=100, max_processes=20, max_cpu_percent=25), helpers=2)
    assert (tmp_path / "memory.max").read_text() == str(100 << 20)
    assert (tmp_path / "memory.swap.max").read_text() == "0"
    assert (tmp_path / "pids.max").read_text() == "22"
    assert (tmp_path / "cpu.max").read_text() == "25000 100000"
    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert run.oom_killed()


def test_no_cgroups_when_nothing_is_mounted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cgroups, "_mounts", lambda: iter([]))
    assert detect_cgroups() is None


def test_service_pid_is_not_moved(support: CgroupSupport) -> None:
    # Run groups hold commands only; the service stays where its operator put it.
    before = Path("/proc/self/cgroup").read_text()
    run = support.create(ResourceLimits(), helpers=0)
    assert run.remove()
    assert Path("/proc/self/cgroup").read_text() == before
    assert os.getpid() not in run.members()


def _memory_limit(group: Path, version: int) -> int:
    return int((group / ("memory.limit_in_bytes" if version == 1 else "memory.max")).read_text())


def test_runs_of_a_session_share_its_group(support: CgroupSupport) -> None:
    key = f"test-{os.getpid()}"
    small = ResourceLimits(max_memory_mb=64, max_processes=10, max_concurrent_tasks=2)
    first = support.create(small, helpers=2, group=key)
    # A later run with raised limits (the session's were changed) raises the shared ones.
    larger = ResourceLimits(max_memory_mb=128, max_processes=10, max_concurrent_tasks=2)
    second = support.create(larger, helpers=2, group=key)
    try:
        for controller in ("memory", "pids"):
            shared = support.parents[controller] / f"session-{key}"
            assert first.dirs[controller].parent == shared
            assert second.dirs[controller].parent == shared
            assert first.dirs[controller] != second.dirs[controller]
        shared_memory = support.parents["memory"] / f"session-{key}"
        assert _memory_limit(shared_memory, support.version) == 128 << 20
        # The run's own group adds no limit of its own: the session's bounds it.
        assert _memory_limit(first.dirs["memory"], support.version) > 128 << 20
        pids = (support.parents["pids"] / f"session-{key}" / "pids.max").read_text().strip()
        assert pids == str(10 + 2 * 2)  # bwrap's two helpers for each of 2 runs at once
        assert "(session)" in second.enforcement["memory"]
        assert first.remove()
        assert shared_memory.is_dir()  # the second run is still inside
    finally:
        first.remove()
        second.remove()
    assert not shared_memory.exists()
    assert not any(p.exists() for p in second.dirs.values())


def test_stale_session_groups_are_swept(support: CgroupSupport) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    parent = next(iter(support.parents.values()))
    session = parent / "session-stale-test"
    session.mkdir()
    (session / f"run-{dead.pid}-abcdef").mkdir()
    again = detect_cgroups()
    assert again is not None
    assert not session.exists()


def test_v2_session_groups_enable_controllers_for_their_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    support = CgroupSupport(2, dict.fromkeys(("memory", "pids", "cpu"), tmp_path))
    (tmp_path / "cgroup.subtree_control").write_text("")
    written: list[tuple[str, object]] = []
    monkeypatch.setattr(cgroups, "_write", lambda path, value: written.append((path.name, value)))
    support._prepare_session(tmp_path)
    assert sorted(written) == [
        ("cgroup.subtree_control", "+cpu"),
        ("cgroup.subtree_control", "+memory"),
        ("cgroup.subtree_control", "+pids"),
    ]
