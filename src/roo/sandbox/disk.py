"""Disk use of a workspace, measured the way `du` does it, and the watch that bounds it.

The workspace is a plain host directory, so no filesystem quota applies: RLIMIT_FSIZE bounds
single files, and `DiskWatch` measures the tree while a command runs and reports when it grows
past the quota (the runner then stops the command).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

# Scans run in a worker thread; the pause after each is this multiple of the scan's own
# duration, so watching a huge tree costs at most ~1/(1+FACTOR) of one core.
_PAUSE_FACTOR = 8.0
MIN_INTERVAL = 0.1
MAX_INTERVAL = 5.0


def workspace_usage_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes allocated on disk under `path` (files and directories, each hard link once).

    Symbolic links are not followed and count only as themselves, so a link to `/` costs
    nothing and escapes nothing. Allocated blocks, not apparent sizes: a sparse file costs
    what it really takes, and a directory of a million empty files still costs its entries.
    Entries that vanish during the walk are skipped.
    """
    total = 0
    seen: set[tuple[int, int]] = set()
    stack = [os.fspath(path)]
    while stack:
        current = stack.pop()
        try:
            entries = os.scandir(current)
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                except OSError:
                    continue
                if st.st_nlink > 1 and not entry.is_dir(follow_symlinks=False):
                    key = (st.st_dev, st.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                total += st.st_blocks * 512
    return total


class DiskWatch:
    """Measures a workspace repeatedly; `exceeded` says when it grew past its allowance.

    The allowance is the quota, or the size at the first measurement when the workspace was
    already larger (a command must still be able to run there, e.g. to delete files).
    """

    def __init__(self, workspace: Path, quota_bytes: int) -> None:
        self.workspace = workspace
        self.quota = quota_bytes
        self.allowed: int | None = None
        self.last: int | None = None
        self._next_at = 0.0

    async def measure(self) -> int:
        started = time.monotonic()
        used = await asyncio.to_thread(workspace_usage_bytes, self.workspace)
        elapsed = time.monotonic() - started
        pause = min(MAX_INTERVAL, max(MIN_INTERVAL, elapsed * _PAUSE_FACTOR))
        self._next_at = time.monotonic() + pause
        if self.allowed is None:
            self.allowed = max(self.quota, used)
        self.last = used
        return used

    def due(self) -> bool:
        return time.monotonic() >= self._next_at

    @property
    def exceeded(self) -> bool:
        return self.allowed is not None and self.last is not None and self.last > self.allowed
