"""Process-table helpers over /proc: who descends from whom, and signals that ignore the dead.

Used to find every process a command started (for the SIGTERM grace and the kill), to count
them where no pids cgroup can, and by tests to prove nothing survives a run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable


def process_table() -> dict[int, int]:
    """pid -> parent pid for every process visible in /proc (threads excluded)."""
    table: dict[int, int] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # exited while we looked
        # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
        rest = stat[stat.rfind(b")") + 2 :].split()
        if len(rest) >= 2:
            table[int(name)] = int(rest[1])
    return table


def descendants(root: int, table: dict[int, int]) -> list[int]:
    """The processes below `root` in `table` (not `root` itself), parents before children."""
    children: dict[int, list[int]] = {}
    for pid, ppid in table.items():
        children.setdefault(ppid, []).append(pid)
    found: list[int] = []
    stack = list(children.get(root, ()))
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, ()))
    return found


def task_count(pid: int) -> int:
    """Threads of `pid` (each counts against pids limits); 0 when it is gone."""
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def tasks_of_uid(uid: int) -> int:
    """Threads owned by real uid `uid` on this host (what RLIMIT_NPROC counts)."""
    count = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid == uid:
                count += task_count(int(name))
        except OSError:
            continue
    return count


def send(pids: Iterable[int], sig: int) -> None:
    """Signal each pid; processes that already exited are skipped silently."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def send_group(pgid: int, sig: int) -> None:
    """Signal a process group; an empty group is not an error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def state(pid: int) -> str | None:
    """The one-letter state of `pid` (R, S, D, T, Z...), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2 :].split(b" ", 1)[0].decode()


def kill_tree_frozen(pid: int, settle: float = 0.2) -> None:
    """SIGKILL `pid` and every process below it, stopping `pid` first so it cannot fork a
    child that would escape the sweep.

    bwrap needs this: its sandbox init arms "die with parent" only some time after it was
    cloned, so killing bwrap in that window would orphan a running sandbox. A stopped bwrap
    keeps its children, and the sweep finds them. Blocking (up to `settle` seconds while the
    stop lands): call it from a thread.
    """
    send([pid], signal.SIGSTOP)
    deadline = time.monotonic() + settle
    while state(pid) not in (None, "T", "t", "Z", "X") and time.monotonic() < deadline:
        time.sleep(0.001)
    send([*descendants(pid, process_table()), pid], signal.SIGKILL)


def processes_with(marker: str) -> list[int]:
    """Pids whose command line contains `marker` (tests use it to look for survivors)."""
    needle = marker.encode()
    found: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if needle in cmdline:
            found.append(int(name))
    return found
