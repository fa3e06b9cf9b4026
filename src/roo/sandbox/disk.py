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

from roo.security.pathguard import TreeUsage, tree_usage

# Scans run in a worker thread; the pause after each is this multiple of the scan's own
# duration, so watching a huge tree costs at most ~1/(1+FACTOR) of one core.
_PAUSE_FACTOR = 8.0
MIN_INTERVAL = 0.1
MAX_INTERVAL = 5.0


_O_TOP = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def workspace_usage(path: str | os.PathLike[str]) -> TreeUsage:
    """Bytes allocated on disk and inodes used under `path` (the `du` and `df -i` view).

    Walked through directory fds (`roo.security.pathguard.tree_usage`), never by path: symbolic
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
        self._next_at = 0.0

    async def measure(self) -> int:
        """Measure now; the bytes used (the file count is in `last_files`)."""
        started = time.monotonic()
        used = await asyncio.to_thread(workspace_usage, self.workspace)
        elapsed = time.monotonic() - started
        pause = min(MAX_INTERVAL, max(MIN_INTERVAL, elapsed * _PAUSE_FACTOR))
        self._next_at = time.monotonic() + pause
        if self.allowed is None:
            self.allowed = max(self.quota, used.bytes)
        if self.allowed_files is None and self.max_files is not None:
            self.allowed_files = max(self.max_files, used.files)
        self.last, self.last_files = used.bytes, used.files
        return used.bytes

    def due(self) -> bool:
        return time.monotonic() >= self._next_at

    @property
    def exceeded(self) -> bool:
        if self.allowed is not None and self.last is not None and self.last > self.allowed:
            return True
        return (
            self.allowed_files is not None
            and self.last_files is not None
            and self.last_files > self.allowed_files
        )
