"""How many commands of one group (a session) run at once: slots, taken before a command starts.

Slot `i` of group `g` is an exclusive `flock(2)` on the file `<directory>/<g>.<i>`, for `i` below
the group's bound. Every service process on the host that uses the same directory sees the same
slots, and the kernel releases a lock when its holder exits, so a crashed process never keeps a
slot. Without a directory, slots are counted in this process only.

Bounds are not cgroup features: they hold with or without cgroups. A command beyond the bound
waits up to `wait` seconds for a slot (polling; no order among waiters), then `SandboxBusy`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path

from roo.sandbox.errors import SandboxBusy

_POLL_FIRST = 0.01
_POLL_MAX = 0.1


class CommandSlots:
    """The slots of every group, in `directory` (shared across processes) or this process."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self._held: dict[str, set[int]] = {}
        self._made = False

    def held(self, group: str) -> int:
        """Slots of `group` this process holds now."""
        return len(self._held.get(group, ()))

    @contextlib.asynccontextmanager
    async def slot(self, group: str, limit: int, wait: float) -> AsyncIterator[None]:
        """Hold one of the `limit` slots of `group` for the body; SandboxBusy when none came
        free within `wait` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        delay = _POLL_FIRST
        while (taken := self._take(group, limit)) is None:
            left = deadline - loop.time()
            if left <= 0:
                raise SandboxBusy(limit, wait)
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, _POLL_MAX)
        index, fd = taken
        try:
            yield
        finally:
            self._give_back(group, index, fd)

    def _take(self, group: str, limit: int) -> tuple[int, int | None] | None:
        # A few non-blocking syscalls on a local directory: done inline, like the cgroup writes.
        held = self._held.setdefault(group, set())
        for index in range(limit):
            if index in held:
                continue
            fd = None if self.directory is None else self._lock(self._path(group, index))
            if self.directory is None or fd is not None:
                held.add(index)
                return index, fd
        if not held:
            del self._held[group]
        return None

    def _path(self, group: str, index: int) -> Path:
        assert self.directory is not None  # noqa: S101 - only called with a directory
        if not self._made:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._made = True
        return self.directory / f"{group}.{index}"

    @staticmethod
    def _lock(path: Path) -> int | None:
        """An fd holding the lock on `path`, or None when another holder has it."""
        for _ in range(3):
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            except BaseException:
                os.close(fd)
                raise
            # Its last holder may have removed the file between our open and our lock: then
            # we hold a lock nobody else can see. Take the file now at that path instead.
            try:
                current = os.stat(path, follow_symlinks=False)
            except FileNotFoundError:
                current = None
            mine = os.fstat(fd)
            if current is not None and (current.st_dev, current.st_ino) == (
                mine.st_dev,
                mine.st_ino,
            ):
                return fd
            os.close(fd)
        return None

    def _give_back(self, group: str, index: int, fd: int | None) -> None:
        held = self._held.get(group)
        if held is not None:
            held.discard(index)
            if not held:
                del self._held[group]
        if fd is not None:
            # Removed while still locked (no file is left per session), then unlocked by close.
            with contextlib.suppress(OSError):
                os.unlink(self._path(group, index))
            os.close(fd)
