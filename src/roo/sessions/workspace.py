"""`WorkspaceManager`: one directory per session under WORKSPACE_ROOT.

Directory names are the session id's hex form and nothing else, so that the start-up sweep can
tell a workspace from anything else an operator keeps under the root, and never touches the
latter.

Inside a workspace, a sandboxed command may have planted links anywhere, and may still be
swapping them: everything this module does there as root (measure, empty, delete) goes through
directory fds without following a link (`roo.pathguard.tree`), never by path.

A workspace's hold (`held`: shared by commands and writes, taken alone by an import or a
checkpoint restore) is a `flock` on `<root>/.holds/<name>`, outside the workspace: no command
can take or keep it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from roo.kit.logs import get_logger
from roo.pathguard import TreeUsage, open_lock_file, remove_tree
from roo.sandbox import SandboxPathError, workspace_usage
from roo.sessions.exceptions import WorkspaceBusy, WorkspaceGone

log = get_logger("roo.workspaces")

_WORKSPACE_NAME = re.compile(r"^[0-9a-f]{32}$")
_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
HOLDS = ".holds"  # the workspaces' hold files, under the root (no workspace name)


def workspace_name(session_id: uuid.UUID) -> str:
    return session_id.hex


def empty_directory(dir_fd: int) -> None:
    """Delete everything inside the directory open at `dir_fd`, never following a link.
    Blocking; OSError when something cannot be deleted."""
    with os.scandir(dir_fd) as entries:
        names = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
    for name, is_dir in names:
        try:
            if is_dir:
                remove_tree(dir_fd, name)
            else:
                os.unlink(name, dir_fd=dir_fd)
        except FileNotFoundError:
            continue


def _remove(root: Path, name: str) -> None:
    try:
        root_fd = os.open(root, _O_DIR)
    except FileNotFoundError:
        return
    try:
        with contextlib.suppress(FileNotFoundError):  # already gone
            remove_tree(root_fd, name)
        with contextlib.suppress(FileNotFoundError):  # its hold file, once it is gone
            os.unlink(f"{HOLDS}/{name}", dir_fd=root_fd)
    finally:
        os.close(root_fd)


def _open_hold(root: Path, name: str) -> int:
    """An fd on the workspace's hold file `<root>/.holds/<name>` (made when missing), beside
    the workspaces and out of every sandbox's reach: a command cannot take the hold, and the
    hold does not meet the `flock` the files API's writer takes on a directory of the
    workspace. FileNotFoundError when the workspace is gone."""
    root_fd = os.open(root, _O_DIR)
    try:
        os.close(os.open(name, _O_DIR, dir_fd=root_fd))  # the workspace is there
        return open_lock_file(root_fd, HOLDS, name)
    finally:
        os.close(root_fd)


class WorkspaceManager:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, name: str) -> Path:
        if not _WORKSPACE_NAME.match(name):
            raise ValueError(f"not a workspace name: {name!r}")
        return self.root / name

    async def create(self, name: str) -> Path:
        path = self.path(name)

        def run() -> None:
            path.mkdir(mode=0o700, parents=False, exist_ok=False)
            os.close(_open_hold(self.root, name))  # its hold file, beside it from the start

        await asyncio.to_thread(run)
        return path

    def exists(self, name: str) -> bool:
        return self.path(name).is_dir()

    async def remove(self, name: str) -> bool:
        """Delete the workspace; True when it is gone (also when it was already). Never raises
        for the filesystem: a failure is logged and the directory stays (an orphan the sweep
        retries)."""
        self.path(name)  # checks the name
        try:
            await asyncio.to_thread(_remove, self.root, name)
        except Exception as exc:  # one workspace's failure must never stop the caller's round
            log.warning("workspace.remove_failed", workspace=name, error=repr(exc))
            return False
        return True

    async def empty(self, name: str) -> None:
        """Delete everything in the workspace, keeping the directory (a failed clone)."""

        def run() -> None:
            fd = os.open(self.path(name), _O_DIR)
            try:
                empty_directory(fd)
            finally:
                os.close(fd)

        await asyncio.to_thread(run)

    async def usage(self, name: str) -> TreeUsage:
        """Bytes allocated on disk and files (inodes) used, as the sandbox's disk watch counts
        them."""
        return await asyncio.to_thread(workspace_usage, self.path(name))

    @contextlib.asynccontextmanager
    async def held(
        self, name: str, *, exclusive: bool, busy: str | None = None
    ) -> AsyncIterator[None]:
        """Hold the workspace, in every process sharing the root: shared by commands and writes
        through the API (files API, a tool run on request); alone by what replaces its files
        (an archive import, a checkpoint restore). The one that comes second is refused with
        409 `workspace-busy` (`busy`: its message). SandboxPathError when the workspace is
        gone."""
        fd = await self._take(name, exclusive, busy)
        try:
            yield
        finally:
            os.close(fd)

    @contextlib.asynccontextmanager
    async def writing(self, name: str) -> AsyncIterator[None]:
        """`held` (shared) for a write through the API: 409 `workspace-busy` while an import
        or a restore holds the workspace alone, 409 `workspace-deleted` when it does not exist."""
        try:
            fd = await self._take(name, False, None)
        except SandboxPathError:
            raise WorkspaceGone("This session's workspace no longer exists") from None
        try:
            yield
        finally:
            os.close(fd)

    async def check_free(self, name: str) -> None:
        """Refuse (409 `workspace-busy`) while an import or a restore holds the workspace
        alone: for a task about to start, checked once its creation holds the session's row
        (a restore checks for active tasks after taking the workspace, in the same order)."""
        try:
            fd = await self._take(name, False, None)
        except SandboxPathError:
            raise WorkspaceGone("This session's workspace no longer exists") from None
        os.close(fd)

    async def _take(self, name: str, exclusive: bool, busy: str | None) -> int:
        try:
            fd = await asyncio.to_thread(self.lock, name, exclusive=exclusive)
        except FileNotFoundError:
            raise SandboxPathError("the session's workspace does not exist") from None
        if fd is None:
            raise WorkspaceBusy(
                busy
                or (
                    "Commands or file writes are under way in this workspace; retry when they "
                    "have finished"
                    if exclusive
                    else "This workspace's files are being replaced (an archive import or a "
                    "checkpoint restore); retry when it is done"
                )
            )
        return fd

    def lock(self, name: str, *, exclusive: bool) -> int | None:
        """Lock the workspace against conflicting work, in any process sharing the root:
        commands and writes share it (`exclusive=False`), an archive import or a restore takes
        it alone. Returns an fd holding the lock (close it to release), or None when
        conflicting work holds it now. Blocking (briefly); FileNotFoundError when the
        workspace is gone."""
        self.path(name)  # checks the name
        fd = _open_hold(self.root, name)
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return None
            raise
        return fd

    def on_disk(self, older_than: float = 0.0) -> list[str]:
        """Workspace directory names under the root, last changed more than `older_than`
        seconds ago."""
        if not self.root.is_dir():
            return []
        cutoff = time.time() - older_than
        found = []
        for path in self.root.iterdir():
            if not _WORKSPACE_NAME.match(path.name):
                continue
            with contextlib.suppress(OSError):  # removed meanwhile
                st = path.lstat()
                if path.is_dir() and not path.is_symlink() and st.st_mtime < cutoff:
                    found.append(path.name)
        return found

    async def remove_orphans(self, candidates: Iterable[str], known: Iterable[str]) -> list[str]:
        """Remove the `candidates` that no session owns; return the names removed (one that
        cannot be removed is logged and left for the next sweep)."""
        removed = []
        for name in sorted(set(candidates) - set(known)):
            log.warning("workspace.orphan_removed", workspace=name)
            if await self.remove(name):
                removed.append(name)
        return removed
