"""Control groups on cgroup v2 or v1: memory, pids and CPU limits for a whole tree, and for
all the commands of one session together.

rlimits bound one process at a time; a cgroup bounds everything a command starts, whatever it
does (fork, setsid, double fork), and lets the kernel's OOM killer act inside it alone.

Layout: one parent (`roo-sandbox`) per controller. A run of a session gets its own group inside
the session's (`session-<key>`), which carries the session's limits for all its runs together:
made by its first run, written again by each (so changed limits apply), removed with its last
run (or by the start-up sweep). A run without a session has a group of its own, with the
limits, right below the parent. Run groups are removed when their run ends.

On v1 (or a v1/v2 hybrid whose controllers sit on v1) the parent lives under the service's own
cgroup of each controller, so the host's limits on the service still apply. On v2
a group with controllers enabled for its children may hold no process, so the parent cannot sit
inside the service's own group: it is the operator's delegated group (`parent=`) or a sibling
of the service's group. `docs/sandbox.md` describes what a host must offer.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from roo.kit.logs import get_logger
from roo.sandbox import procs
from roo.sandbox.limits import ResourceLimits

log = get_logger("roo.sandbox")

PARENT_NAME = "roo-sandbox"
CPU_PERIOD_US = 100_000
# cpuacct (v1 only: v2 accounts CPU in `cpu`) limits nothing; it measures CPU time for `usage`.
CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
_RUN_NAME = re.compile(r"^run-(\d+)-[0-9a-f]+$")
GROUP_PREFIX = "session-"
_GROUP_NAME = re.compile(r"^session-[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class CgroupSupport:
    """Where run groups can be created: one parent directory per usable controller."""

    version: Literal[1, 2]
    parents: Mapping[str, Path]

    def describe(self) -> str:
        names = ", ".join(f"{c}={p}" for c, p in sorted(self.parents.items()))
        return f"cgroup v{self.version} ({names})"

    def create(self, limits: ResourceLimits, helpers: int, group: str | None = None) -> CgroupRun:
        """New groups (one per controller) for one run; the caller adds the pid.

        `helpers` is how many sandbox processes (bwrap and its init) share `max_processes`.
        `group`: the key of the session the run belongs to. Its groups then sit inside the
        session's, whose limits (`limits`, with `helpers` counted for each of the
        `max_concurrent_tasks` runs it may hold) bound all its runs together. Without it, the
        run's own groups carry `limits`.
        """
        tries = 3
        while True:
            tries -= 1
            try:
                return self._create(limits, helpers, group)
            except FileNotFoundError:
                # Another service process removed the (then empty) session group between our
                # making it and making the run's group inside: make both again.
                if not tries:
                    raise

    def _create(self, limits: ResourceLimits, helpers: int, group: str | None) -> CgroupRun:
        name = f"run-{os.getpid()}-{secrets.token_hex(6)}"
        shared: CgroupRun | None = None
        if group is not None:
            shared = CgroupRun(
                self.version, {c: p / f"{GROUP_PREFIX}{group}" for c, p in self.parents.items()}
            )
        run = CgroupRun(self.version, {}, session=shared)
        try:
            bases: Mapping[str, Path] = self.parents
            if shared is not None:
                for path in shared._distinct():
                    path.mkdir(exist_ok=True)
                    self._prepare_session(path)
                shared.limit(limits, helpers * limits.max_concurrent_tasks, scope=" (session)")
                bases = shared.dirs
            for controller, base in bases.items():
                path = base / name
                if path not in run.dirs.values():
                    path.mkdir()
                run.dirs[controller] = path
            if shared is None:
                run.limit(limits, helpers)
            else:
                run.enforcement = dict(shared.enforcement)
        except OSError:
            run.remove()
            raise
        return run

    def _prepare_session(self, path: Path) -> None:
        """What a session group needs before runs go inside: charges counted up the tree (v1
        kernels before 5.x could turn that off), and the run groups' own files (v2, for usage
        and OOM kills per run)."""
        if self.version == 1:
            _write_if_present(path / "memory.use_hierarchy", 1)
        else:
            for controller in self.parents:
                _write_if_present(path / "cgroup.subtree_control", f"+{controller}")


@dataclass(frozen=True, slots=True)
class RunUsage:
    memory_bytes: int | None
    cpu_seconds: float | None
    processes: int


@dataclass(slots=True)
class CgroupRun:
    """The groups of one run: place the process, read what happened, kill, remove."""

    version: Literal[1, 2]
    dirs: dict[str, Path]
    enforcement: dict[str, str] = field(default_factory=dict)
    session: CgroupRun | None = None
    """The session's groups this run's sit in (None: the run's own carry its limits)."""

    def limit(self, limits: ResourceLimits, helpers: int, scope: str = "") -> None:
        """Write `limits` into these groups; `scope` is added to each enforcement note."""
        v = self.version
        if mem := self.dirs.get("memory"):
            if v == 1:
                memsw = mem / "memory.memsw.limit_in_bytes"
                try:
                    _write(mem / "memory.limit_in_bytes", limits.memory_bytes)
                except OSError:
                    # A session's limit raised: memory may not pass memory+swap, so that goes first.
                    _write_if_present(memsw, limits.memory_bytes)
                    _write(mem / "memory.limit_in_bytes", limits.memory_bytes)
                # With swap accounting, memory+swap gets the same bound: a hog is killed, not
                # swapped out for minutes.
                _write_if_present(memsw, limits.memory_bytes)
                self.enforcement["memory"] = (
                    f"cgroup v1 memory.limit_in_bytes={limits.memory_bytes}{scope}"
                )
            else:
                _write(mem / "memory.max", limits.memory_bytes)
                _write_if_present(mem / "memory.swap.max", 0)
                self.enforcement["memory"] = f"cgroup v2 memory.max={limits.memory_bytes}{scope}"
        if pids := self.dirs.get("pids"):
            _write(pids / "pids.max", limits.max_processes + helpers)
            note = f" ({helpers} of them bwrap's)" if helpers else ""
            self.enforcement["processes"] = (
                f"cgroup v{v} pids.max={limits.max_processes + helpers}{note}{scope}"
            )
        if cpu := self.dirs.get("cpu"):
            quota = limits.max_cpu_percent * CPU_PERIOD_US // 100
            if v == 1:
                _write(cpu / "cpu.cfs_period_us", CPU_PERIOD_US)
                _write(cpu / "cpu.cfs_quota_us", quota)
                self.enforcement["cpu"] = (
                    f"cgroup v1 cpu.cfs_quota_us={quota}/{CPU_PERIOD_US}{scope}"
                )
            else:
                _write(cpu / "cpu.max", f"{quota} {CPU_PERIOD_US}")
                self.enforcement["cpu"] = f"cgroup v2 cpu.max={quota} {CPU_PERIOD_US}{scope}"

    def _distinct(self) -> list[Path]:
        return list(dict.fromkeys(self.dirs.values()))

    def add(self, pid: int) -> None:
        """Move `pid` into every group of this run (before it starts the command)."""
        for path in self._distinct():
            _write(path / "cgroup.procs", pid)

    def members(self) -> set[int]:
        found: set[int] = set()
        for path in self._distinct():
            with contextlib.suppress(OSError, ValueError):
                found.update(int(x) for x in (path / "cgroup.procs").read_text().split())
        return found

    def usage(self) -> RunUsage:
        """What the run uses now: memory (bytes), CPU time (seconds), processes. A figure is None
        where the host's groups do not tell (e.g. v1 without a cpuacct group)."""
        memory = cpu = None
        if mem := self.dirs.get("memory"):
            name = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
            with contextlib.suppress(OSError, ValueError):
                memory = int((mem / name).read_text())
        if self.version == 2 and (cpu_dir := self.dirs.get("cpu")):
            usec = _counter(cpu_dir / "cpu.stat", "usage_usec")
            cpu = usec / 1_000_000
        elif self.version == 1 and (acct := self.dirs.get("cpuacct")):
            with contextlib.suppress(OSError, ValueError):
                cpu = int((acct / "cpuacct.usage").read_text()) / 1_000_000_000
        return RunUsage(memory_bytes=memory, cpu_seconds=cpu, processes=len(self.members()))

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer struck inside this run's memory group."""
        mem = self.dirs.get("memory")
        if mem is None:
            return False
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        return _counter(mem / name, "oom_kill") > 0

    def kill(self) -> None:
        """SIGKILL every member now (v2 in one write, v1 member by member)."""
        if self.version == 2:
            for path in self._distinct():
                with contextlib.suppress(OSError):
                    _write(path / "cgroup.kill", 1)
        procs.send(self.members(), 9)

    def remove(self) -> bool:
        """Remove the groups; False while some still hold processes (retry after they exit).
        The session's groups go too once this was their last run (else the last one's removal
        takes them)."""
        done = True
        for path in self._distinct():
            try:
                path.rmdir()
            except FileNotFoundError:
                continue
            except OSError:
                done = False
        if done and self.session is not None:
            self.session.remove()  # busy while other runs (of any process) are inside
        return done


def _write(path: Path, value: object) -> None:
    # cgroupfs files take one value per write(2); open without truncating or creating.
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def _write_if_present(path: Path, value: object) -> None:
    if path.exists():
        with contextlib.suppress(OSError):
            _write(path, value)


def _counter(path: Path, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


def _unescape(field_: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field_)


def _mounts() -> Iterator[tuple[str, Path, str, set[str]]]:
    """(mount root, mount point, fstype, super options) of each cgroup mount."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            left, _, right = line.partition(" - ")
            parts, rparts = left.split(), right.split()
            if len(parts) >= 5 and len(rparts) >= 3 and rparts[0] in ("cgroup", "cgroup2"):
                opts = set(rparts[2].split(","))
                yield _unescape(parts[3]), Path(_unescape(parts[4])), rparts[0], opts


def _own_paths() -> dict[str, str]:
    """Controller (or "" for v2) -> this process's cgroup path, from /proc/self/cgroup."""
    own: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                own[c] = path
    return own


def _host_dir(mount_root: str, mount_point: Path, own: str) -> Path | None:
    if mount_root == "/":
        return mount_point / own.lstrip("/")
    if own == mount_root or own.startswith(mount_root.rstrip("/") + "/"):
        return mount_point / own[len(mount_root) :].lstrip("/")
    return None


def _probe(parent: Path) -> bool:
    """Whether a child group can be made (and removed) under `parent`."""
    probe = parent / f"probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        parent.mkdir(exist_ok=True)
        probe.mkdir()
        probe.rmdir()
    except OSError:
        return False
    return True


def _v1_parents(parent_name: str) -> dict[str, Path]:
    own = _own_paths()
    parents: dict[str, Path] = {}
    for mount_root, point, fstype, opts in _mounts():
        if fstype != "cgroup":
            continue
        for controller in CONTROLLERS:
            if controller in opts and controller not in parents and controller in own:
                base = _host_dir(mount_root, point, own[controller])
                if base is not None and _probe(base / parent_name):
                    parents[controller] = base / parent_name
    return parents


def _v2_parent(configured: Path | None, parent_name: str) -> tuple[Path, list[str]] | None:
    own = _own_paths().get("")
    mount = next(((r, p) for r, p, t, _ in _mounts() if t == "cgroup2"), None)
    if own is None or mount is None:
        return None
    base = _host_dir(mount[0], mount[1], own)
    candidates: list[Path] = []
    if configured is not None:
        candidates.append(configured)
    elif base is not None:
        # A sibling of the service's own group (its parent was delegated to us or we are
        # root), then the own group itself, which only works at the root of the hierarchy.
        if base != mount[1]:
            candidates.append(base.parent / parent_name)
        candidates.append(base / parent_name)
    for parent in candidates:
        with contextlib.suppress(OSError):
            parent.mkdir(exist_ok=True)
            available = (parent / "cgroup.controllers").read_text().split()
            wanted = [c for c in CONTROLLERS if c in available]
            for c in wanted:
                _write(parent / "cgroup.subtree_control", f"+{c}")
            if wanted and _probe(parent):
                return parent, wanted
    return None


def _v2_controllers() -> set[str]:
    own = _own_paths().get("")
    for root, point, fstype, _ in _mounts():
        if fstype == "cgroup2" and own is not None:
            base = _host_dir(root, point, own)
            with contextlib.suppress(OSError):
                if base is not None:
                    return set((base / "cgroup.controllers").read_text().split())
    return set()


def detect_cgroups(
    parent: Path | None = None, parent_name: str = PARENT_NAME
) -> CgroupSupport | None:
    """The cgroup support this process can use, or None (then rlimits alone bound commands).

    `parent`: a v2 group delegated to the service for its sandboxes (e.g. by systemd
    `Delegate=yes`); without it a place is looked for as the module docstring says.
    """
    if _v2_controllers() & set(CONTROLLERS):
        found = _v2_parent(parent, parent_name)
        if found is None:
            return None
        path, wanted = found
        support = CgroupSupport(2, dict.fromkeys(wanted, path))
    else:
        v1 = _v1_parents(parent_name)
        if not v1:
            return None
        support = CgroupSupport(1, v1)
    _sweep(support)
    return support


def _sweep(support: CgroupSupport) -> None:
    """Remove run groups left by service processes that no longer exist (a crash, a kill -9),
    and session groups no run is left in."""
    for parent in set(support.parents.values()):
        _sweep_runs(parent, support.version)
        with contextlib.suppress(OSError):
            for child in parent.iterdir():
                if _GROUP_NAME.match(child.name):
                    _sweep_runs(child, support.version)
                    with contextlib.suppress(OSError):
                        child.rmdir()  # busy while runs of live processes are inside
                        log.info("sandbox.cgroup_swept", path=str(child))


def _sweep_runs(directory: Path, version: Literal[1, 2]) -> None:
    with contextlib.suppress(OSError):
        for child in directory.iterdir():
            m = _RUN_NAME.match(child.name)
            if m and not Path(f"/proc/{m.group(1)}").exists():
                stale = CgroupRun(version, {"x": child})
                stale.kill()
                if stale.remove():
                    log.info("sandbox.cgroup_swept", path=str(child))
