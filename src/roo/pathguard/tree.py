"""Whole trees beneath a directory fd: measuring one (`tree_usage`) and deleting one
(`remove_tree`), whatever a sandboxed command does to the tree meanwhile.

Both go down one directory at a time, each opened relative to its parent's fd with `O_NOFOLLOW`,
so a link, however it is swapped in, is never entered. No path string is built (no depth meets
PATH_MAX), nothing recurses (no depth meets Python's recursion limit), and at most four fds
are open at once (no depth meets the fd limit). Going back up opens `..` of the current
directory and keeps it only if it is the directory the walk came down from (same device and
inode); if a command moved things meanwhile, the parent is opened again by its names from the
top, one `O_NOFOLLOW` step at a time. The walk therefore never leaves the tree it started in:
every directory it holds was reached from the top by names alone, or is one the walk itself
came down from.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from stat import S_ISDIR

from roo.pathguard.walker import _O_DIR, open_subdir

# Entries that vanish, turn into links or non-directories, or reappear while a tree is deleted
# (a command still writing there). Past this many, `remove_tree` gives up with EBUSY instead
# of racing the writer for ever.
MAX_CHANGES = 10_000

# An entry that is no longer what the listing said: gone, or replaced by a link or a file.
_CHANGED = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)

_Id = tuple[int, int]


def _identity(st: os.stat_result) -> _Id:
    return st.st_dev, st.st_ino


class _Descent:
    """The walk's position: one fd on the current directory, the names leading to it from the
    top, and the identity of every directory on the way (for checking `..`)."""

    def __init__(self, top_fd: int) -> None:
        self._top = top_fd  # borrowed
        self.fd = os.dup(top_fd)
        self.names: list[str] = []
        self._ids: list[_Id] = [_identity(os.fstat(top_fd))]

    @property
    def depth(self) -> int:
        return len(self.names)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _move(self, fd: int) -> None:
        os.close(self.fd)
        self.fd = fd

    def down(self, name: str) -> bool:
        """Enter subdirectory `name`; False when it is gone or no longer a directory."""
        try:
            fd = open_subdir(self.fd, name)
        except OSError as exc:
            if exc.errno in _CHANGED:
                return False
            raise
        self._move(fd)
        self.names.append(name)
        self._ids.append(_identity(os.fstat(fd)))
        return True

    def up(self) -> bool:
        """Go back to the parent. True when there; False when the tree changed and the walk
        had to stop higher up (at the deepest ancestor still reachable by its names)."""
        target = self.depth - 1
        fd = os.dup(self._top) if target == 0 else self._open_parent()
        if fd is not None:
            self._move(fd)
            self.names.pop()
            self._ids.pop()
            return True
        self._reopen(target)
        return False

    def _open_parent(self) -> int | None:
        try:
            fd = os.open("..", _O_DIR, dir_fd=self.fd)
        except OSError:
            return None
        if _identity(os.fstat(fd)) == self._ids[-2]:
            return fd
        os.close(fd)
        return None

    def _reopen(self, depth: int) -> None:
        """Go to `names[:depth]` from the top by names, or as deep along them as still works."""
        fd = os.dup(self._top)
        reached = 0
        try:
            for name in self.names[:depth]:
                try:
                    child = open_subdir(fd, name)
                except OSError as exc:
                    if exc.errno in _CHANGED:
                        break
                    raise
                os.close(fd)
                fd = child
                reached += 1
        except BaseException:
            os.close(fd)
            raise
        self._move(fd)
        del self.names[reached:]
        del self._ids[reached + 1 :]
        self._ids[reached] = _identity(os.fstat(fd))


@dataclass(frozen=True, slots=True)
class TreeUsage:
    """What a tree holds below its top: allocated bytes and inodes (files, directories, links
    and anything else, each hard-linked inode once), the top directory itself not counted."""

    bytes: int
    files: int


def _scan(dir_fd: int, seen: set[_Id], totals: list[int]) -> list[str]:
    """Count the entries of one directory; return the names of its subdirectories."""
    subdirs: list[str] = []
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # removed meanwhile
            if S_ISDIR(st.st_mode):
                subdirs.append(entry.name)
            elif st.st_nlink > 1:
                key = _identity(st)
                if key in seen:
                    continue
                seen.add(key)
            totals[0] += st.st_blocks * 512
            totals[1] += 1
    return subdirs


def tree_usage(top_fd: int) -> TreeUsage:
    """Bytes allocated and inodes used below the directory open at `top_fd`. Blocking.

    Links count as themselves and are never followed. A subtree a command renames or swaps
    during the walk may be missed by this measurement (it is counted by the next).
    """
    seen: set[_Id] = set()
    totals = [0, 0]
    descent = _Descent(top_fd)
    try:
        pending = [_scan(descent.fd, seen, totals)]  # subdirectories still to visit, per depth
        while pending:
            if pending[-1]:
                if descent.down(pending[-1].pop()):
                    pending.append(_scan(descent.fd, seen, totals))
                continue
            pending.pop()
            if pending and not descent.up():
                del pending[descent.depth + 1 :]
    finally:
        descent.close()
    return TreeUsage(totals[0], totals[1])


def _clear(dir_fd: int) -> tuple[str | None, int]:
    """Unlink every non-directory of one directory; (a subdirectory's name or None, changes)."""
    changes = 0
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    return entry.name, changes
                os.unlink(entry.name, dir_fd=dir_fd)
            except FileNotFoundError:
                changes += 1
            except IsADirectoryError:  # became a directory since the listing
                return entry.name, changes + 1
    return None, changes


def remove_tree(parent_fd: int, name: str) -> None:
    """Delete directory `name` of `parent_fd` and everything below it. Blocking.

    Links are unlinked, never entered. OSError when it cannot (ENOTDIR/ELOOP: `name` is not a
    directory; EBUSY: something kept writing into the tree; EACCES, EROFS, ...).
    """
    top = os.open(name, _O_DIR, dir_fd=parent_fd)
    changes = 0
    try:
        descent = _Descent(top)
        try:
            while True:
                child, changed = _clear(descent.fd)
                changes += changed
                if child is not None:
                    if not descent.down(child):
                        changes += 1
                elif descent.depth == 0:
                    break
                else:
                    emptied = descent.names[-1]
                    if descent.up():
                        try:
                            os.rmdir(emptied, dir_fd=descent.fd)
                        except OSError as exc:
                            if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST):
                                raise
                            changes += 1
                    else:
                        changes += 1
                if changes > MAX_CHANGES:
                    raise OSError(errno.EBUSY, "the tree kept changing while it was deleted")
        finally:
            descent.close()
    finally:
        os.close(top)
    os.rmdir(name, dir_fd=parent_fd)
