"""Helpers of the workspace security tests: a session's row, trees deeper than any path can
name, a lower fd limit, and commands that report when they are ready."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from roo.api.state import Resources
from roo.db.models import Session

_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


async def session_row(resources: Resources, sid: str) -> Session:
    async with resources.db_sessions() as db:
        session = await db.get(Session, uuid.UUID(sid))
    assert session is not None
    return session


def build_deep_tree(top: Path, depth: int, name: str = "d", leaf_bytes: int = 6) -> None:
    """`top/name/name/.../name/leaf.txt`, `depth` directories deep, made through directory fds
    (the path of the bottom is far longer than PATH_MAX) with two fds open at a time. The leaf
    has `leaf_bytes` allocated (fallocate).

    Use the `deep_tree` fixture, which also removes what it made: a tree left behind breaks
    pytest's clean-up of old temporary directories (its rmtree recurses)."""
    fd = os.open(top, _O_DIR)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            child = os.open(name, _O_DIR, dir_fd=fd)
            os.close(fd)
            fd = child
        out = os.open("leaf.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=fd)
        try:
            os.posix_fallocate(out, 0, leaf_bytes)
        finally:
            os.close(out)
    finally:
        os.close(fd)


@contextlib.contextmanager
def fd_limit(spare: int) -> Iterator[int]:
    """Lower this process's soft RLIMIT_NOFILE to the fds open now plus `spare`; yields the
    limit. A walk that holds one fd per level then fails below `spare` levels, on any host."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = len(os.listdir("/proc/self/fd")) + spare
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, soft), hard))
    try:
        yield limit
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@dataclass
class Output:
    """Collects a command's output (`on_output`) and says when a marker line has appeared."""

    text: str = ""
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, _stream: str, chunk: bytes) -> None:
        self.text += chunk.decode("utf-8", "replace")
        self._changed.set()

    async def wait_for(self, marker: str, within: float = 10.0) -> None:
        try:
            async with asyncio.timeout(within):
                while marker not in self.text:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"{marker!r} never appeared; output: {self.text!r}") from None


def remove_with_rm(path: Path) -> None:
    """Delete a tree of any depth with coreutils' `rm -rf` (independent of the code tested)."""
    rm = shutil.which("rm")
    assert rm is not None
    subprocess.run([rm, "-rf", "--one-file-system", str(path)], check=False)
