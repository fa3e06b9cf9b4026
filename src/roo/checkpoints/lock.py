"""One session's checkpoint operations take turns in every process that shares the checkpoints
directory: an exclusive `flock` on `<session directory>/lock`.

Two processes (queue workers, an API process and a worker) saving for one session at once would
otherwise meet Git's `index.lock` and one save would fail. The lock file sits beside the shadow
repository, in the directory git's sandbox has bind-mounted: it is opened beneath directory fds
with no link followed, and must be a regular file. A waiting caller polls (no thread stays
blocked in `flock`, so cancelling the wait leaves nothing behind) and holds no database
connection meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
from collections.abc import AsyncIterator
from pathlib import Path

from roo.pathguard import open_lock_file

LOCK_NAME = "lock"
_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FIRST_WAIT, _LONGEST_WAIT = 0.01, 0.1


class LockTimeout(Exception):
    """The session's checkpoint lock stayed taken longer than the caller would wait."""


def open_lock(root: Path, key: str, *, create: bool = True) -> int:
    """An fd on the session's lock file (made when missing), its directory `root/key` made too
    unless `create` is false (FileNotFoundError then when it is missing). OSError when
    something else than a directory or a regular file stands in the way."""
    if create:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
    root_fd = os.open(root, _O_DIR)
    try:
        return open_lock_file(root_fd, key, LOCK_NAME, make_directory=create)
    finally:
        os.close(root_fd)


@contextlib.asynccontextmanager
async def session_lock(
    root: Path, key: str, wait: float, *, create: bool = True
) -> AsyncIterator[None]:
    """Hold the session's checkpoint lock, waiting at most `wait` seconds for it
    (LockTimeout past that); `create`: as for `open_lock`."""
    fd = await asyncio.to_thread(functools.partial(open_lock, root, key, create=create))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        delay = _FIRST_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if loop.time() >= deadline:
                    raise LockTimeout(
                        f"another checkpoint operation of the session took over {wait:.0f} s"
                    ) from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, _LONGEST_WAIT)
        yield
    finally:
        os.close(fd)
