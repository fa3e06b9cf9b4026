"""Per-process resource limits, set on the gated child with prlimit(2) before it runs anything.

Setting them from the parent (`resource.prlimit(pid, ...)`) while the child waits at its gate
avoids `preexec_fn`, which is unsafe in a threaded process, and needs no helper binary.

What each limit can and cannot do (see docs/sandbox.md):
- RLIMIT_FSIZE bounds single files; RLIMIT_CORE=0 keeps core dumps out of the workspace.
- RLIMIT_AS bounds address space per process. Only used without a memory cgroup: runtimes that
  reserve large virtual ranges (Go, the JVM, V8) fail under it even when they need little.
- RLIMIT_NPROC counts every process of the *host* uid, and not at all when that uid is 0 (the
  kernel exempts root). So it is only a fallback for non-root services, set to what the uid
  already runs plus the command's allowance; a root service relies on the pids cgroup, or on
  the runner's process-count watch.
- RLIMIT_CPU bounds CPU seconds per process: a total budget, not a share.
"""

from __future__ import annotations

import math
import os
import resource

from roo.sandbox import procs
from roo.sandbox.limits import ResourceLimits

NOFILE = 4096


def plan(
    limits: ResourceLimits,
    *,
    wall_seconds: float,
    fsize_bytes: int,
    cgroup_memory: bool,
    cgroup_pids: bool,
    cgroup_cpu: bool,
    helpers: int,
) -> tuple[dict[int, tuple[int, int]], dict[str, str]]:
    """The rlimits for one run (resource -> (soft, hard)) and how each limit is enforced."""
    rl: dict[int, tuple[int, int]] = {
        resource.RLIMIT_CORE: (0, 0),
        resource.RLIMIT_FSIZE: (fsize_bytes, fsize_bytes),
        resource.RLIMIT_NOFILE: (NOFILE, NOFILE),
    }
    how: dict[str, str] = {"file_size": f"RLIMIT_FSIZE={fsize_bytes}"}
    if not cgroup_memory:
        rl[resource.RLIMIT_AS] = (limits.memory_bytes, limits.memory_bytes)
        how["memory"] = f"RLIMIT_AS={limits.memory_bytes} per process"
    if not cgroup_pids:
        uid = os.getuid()
        if uid == 0:
            how["processes"] = f"watch: process count > {limits.max_processes} (root: no NPROC)"
        else:
            allowance = procs.tasks_of_uid(uid) + limits.max_processes + helpers
            rl[resource.RLIMIT_NPROC] = (allowance, allowance)
            how["processes"] = f"RLIMIT_NPROC={allowance} (uid-wide) + process-count watch"
    if not cgroup_cpu:
        seconds = max(1, math.ceil(wall_seconds * limits.max_cpu_percent / 100))
        # SIGXCPU at the soft limit names the cause; SIGKILL a second later if it is ignored.
        rl[resource.RLIMIT_CPU] = (seconds, seconds + 1)
        how["cpu"] = f"RLIMIT_CPU={seconds}s per process (a budget, not a share)"
    return rl, how


def apply(pid: int, rl: dict[int, tuple[int, int]]) -> None:
    """Set the limits of `pid`; never above the hard limit it already has (only root may raise)."""
    for res, (soft, hard) in rl.items():
        _, current = resource.prlimit(pid, res)
        if current != resource.RLIM_INFINITY:
            soft, hard = min(soft, current), min(hard, current)
        resource.prlimit(pid, res, (soft, hard))
