"""Disk use of a workspace (bytes as `du` counts them, and inodes), and the watch that bounds it.

The workspace is a plain host directory, so no filesystem quota applies: RLIMIT_FSIZE bounds
single files, and `DiskWatch` measures the tree while a command runs and reports when it grows
past the disk quota or the file-count limit (the runner then stops the command).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from roo.pathguard import TreeUsage, tree_usage

# Scans run in a worker thread; the pause after each is this multiple of the scan's own
# duration, so watching a huge tree costs at most ~1/(1+FACTOR) of one core. A small tree is
# measured every MIN_INTERVAL: a command writes to the page cache at GB/s, so the overshoot is
# what it writes in one pause (~40 MB at 2 GB/s in 20 ms), and a scan of a few hundred files
# takes well under a millisecond.
_PAUSE_FACTOR = 8.0
MIN_INTERVAL = 0.02
MAX_INTERVAL = 5.0
# A tree that grows fast is measured sooner: at half the time its growth rate needs to reach the
# limit, never sooner than FLOOR, nor than URGENT_FACTOR times the scan's duration (so a race
# against a fast writer in a large tree costs at most ~1/(1+URGENT_FACTOR) of a core).
FLOOR = 0.01
_URGENT_FACTOR = 2.0


def next_pause(
    scan_seconds: float,
    headroom: tuple[int, int | None],
    rate: tuple[float, float] | None,
) -> float:
    """Seconds to wait before the next measurement.

    `headroom` is (bytes, files) left under the allowances (files None when not limited), `rate`
    the (bytes, files) per second grown since the previous measurement (None at the baseline).
    """
    pause = min(MAX_INTERVAL, max(MIN_INTERVAL, scan_seconds * _PAUSE_FACTOR))
    if rate is None:
        return pause
    etas = [headroom[0] / rate[0]] if rate[0] > 0 else []
    if headroom[1] is not None and rate[1] > 0:
        etas.append(headroom[1] / rate[1])
    if not etas:
        return pause
    return max(FLOOR, scan_seconds * _URGENT_FACTOR, min(pause, min(etas) / 2))


_O_TOP = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def workspace_usage(path: str | os.PathLike[str]) -> TreeUsage:
    """Bytes allocated on disk and inodes used under `path` (the `du` and `df -i` view).

    Walked through directory fds (`roo.pathguard.tree_usage`), never by path: symbolic
    links count only as themselves and are never entered, however a command swaps them in, and
    no depth is too deep to count. Allocated blocks, not apparent sizes: a sparse file costs
    what it really takes. Hard links count once. A missing workspace uses nothing.
    """
    try:
        fd = os.open(path, _O_TOP)
    except (FileNotFoundError, NotADirectoryError):
        return TreeUsage(0, 0)
    try:
        return tree_usage(fd)
    finally:
        os.close(fd)


def workspace_usage_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes allocated on disk under `path` (see `workspace_usage`)."""
    return workspace_usage(path).bytes


class DiskWatch:
    """Measures a workspace repeatedly; `exceeded` says when it grew past its allowance.

    The allowances are the quota and the file limit, or the size and file count at the first
    measurement when the workspace already held more (a command must still be able to run
    there, e.g. to delete files).
    """

    def __init__(self, workspace: Path, quota_bytes: int, max_files: int | None = None) -> None:
        self.workspace = workspace
        self.quota = quota_bytes
        self.max_files = max_files
        self.allowed: int | None = None
        self.allowed_files: int | None = None
        self.last: int | None = None
        self.last_files: int | None = None
        self.next_at = 0.0
        self._last_at: float | None = None

    async def measure(self) -> int:
        """Measure now; the bytes used (the file count is in `last_files`)."""
        started = time.monotonic()
        used = await asyncio.to_thread(workspace_usage, self.workspace)
        now = time.monotonic()
        if self.allowed is None:
            self.allowed = max(self.quota, used.bytes)
        if self.allowed_files is None and self.max_files is not None:
            self.allowed_files = max(self.max_files, used.files)
        rate: tuple[float, float] | None = None
        if self._last_at is not None and self.last is not None and self.last_files is not None:
            span = max(now - self._last_at, 1e-6)
            rate = ((used.bytes - self.last) / span, (used.files - self.last_files) / span)
        headroom = (
            self.allowed - used.bytes,
            None if self.allowed_files is None else self.allowed_files - used.files,
        )
        self.next_at = now + next_pause(now - started, headroom, rate)
        self.last, self.last_files, self._last_at = used.bytes, used.files, now
        return used.bytes

    def due(self) -> bool:
        return time.monotonic() >= self.next_at

    @property
    def exceeded(self) -> bool:
        if self.allowed is not None and self.last is not None and self.last > self.allowed:
            return True
        return (
            self.allowed_files is not None
            and self.last_files is not None
            and self.last_files > self.allowed_files
        )
