"""Resolving beneath a directory fd: each name opened with `O_NOFOLLOW` relative to its parent.

Links are read and followed by this code, never by the kernel, and only while their targets stay
beneath the fd the walk started from.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from stat import S_ISDIR, S_ISLNK

from roo.pathguard.errors import ESCAPES, MissingParent, PathRejected, _oserror

# Links followed (and lost races retried) while resolving one path, as the kernel's MAXSYMLINKS.
MAX_SYMLINKS = 40

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# Intermediate components: must be real directories (a link fails with ENOTDIR or ELOOP).
_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
# The last component: a file or a directory; O_NONBLOCK so a planted FIFO cannot hang the open.
_O_ANY = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC
_O_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC


def _readlink(dir_fd: int, name: str) -> str | None:
    """The target of link `name`, or None when `name` is (no longer) a link."""
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.ENOENT, errno.ENOTDIR):
            return None
        raise


def _changed(dir_fd: int, name: str) -> bool:
    """After an open refused `name` as a link or a non-directory and it is no longer a link:
    True when it is now gone or a directory (a lost race, walked again), False when it simply
    is not a directory."""
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return True
    return S_ISDIR(mode) or S_ISLNK(mode)


def _target_names(target: str) -> list[str]:
    if not target or target.startswith("/"):
        raise PathRejected("a symbolic link on the path points outside the workspace")
    return target.split("/")


@dataclass
class _Cursor:
    """The current directory's fd (owned) and the identities and names of the directories from
    the workspace root down to it.

    One fd whatever the depth: going up (`..` from a link target) opens the parent through `..`
    and checks it is the directory walked down from (device and inode), so a deep path costs no
    more fds than a shallow one and a directory moved meanwhile is refused, not followed.
    """

    fd: int
    ids: list[tuple[int, int]]
    names: list[str] = field(default_factory=list)

    @classmethod
    def at(cls, root_fd: int) -> _Cursor:
        fd = os.dup(root_fd)
        st = os.fstat(fd)
        return cls(fd, [(st.st_dev, st.st_ino)])

    def enter(self, fd: int, name: str) -> None:
        st = os.fstat(fd)
        os.close(self.fd)
        self.fd = fd
        self.ids.append((st.st_dev, st.st_ino))
        self.names.append(name)

    def up(self) -> None:
        if len(self.ids) == 1:
            raise PathRejected(ESCAPES)
        parent = os.open("..", _O_DIR, dir_fd=self.fd)
        st = os.fstat(parent)
        if (st.st_dev, st.st_ino) != self.ids[-2]:
            os.close(parent)
            raise PathRejected("the path changed while it was resolved")
        os.close(self.fd)
        self.fd = parent
        self.ids.pop()
        self.names.pop()

    def take(self) -> int:
        """Hand the current directory's fd over."""
        fd, self.fd = self.fd, -1
        return fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


@dataclass
class _Location:
    """Where a walk ended: the directory holding `name` and, when opened, the object's fd."""

    cursor: _Cursor
    name: str | None  # None: the walk ended on the cursor's directory itself
    fd: int | None = None
    missing: list[str] = field(default_factory=list)  # resolve(): names past the first missing

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.cursor.close()


def _walk(
    root_fd: int,
    names: Sequence[str],
    *,
    follow_last: bool,
    create_parents: bool = False,
    lenient: bool = False,
) -> _Location:
    """Walk `names` beneath `root_fd`, following only links whose targets stay beneath it.

    With `follow_last`, the last object is opened (`_O_ANY`) and returned in `fd`; otherwise the
    walk stops at its parent and returns the last name unopened. `lenient` (for `resolve`)
    returns the names past the first missing one instead of raising.
    """
    cursor = _Cursor.at(root_fd)
    pending = list(reversed(names))
    budget = MAX_SYMLINKS
    try:
        while pending:
            name = pending.pop()
            if name == "..":  # only ever from a link target
                cursor.up()
                continue
            if name in ("", "."):
                continue
            last = not pending
            if last and not follow_last:
                return _Location(cursor, name)
            try:
                fd = os.open(name, _O_ANY if last else _O_DIR, dir_fd=cursor.fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    target = _readlink(cursor.fd, name)
                    if target is None and not _changed(cursor.fd, name):
                        raise _oserror(errno.ENOTDIR, [*cursor.names, name]) from None
                    budget -= 1
                    if budget < 0:
                        raise PathRejected("too many levels of symbolic links") from None
                    # A lost race (a link replaced by a directory) is simply walked again.
                    pending.extend(reversed([name] if target is None else _target_names(target)))
                    continue
                if exc.errno != errno.ENOENT:
                    raise _oserror(exc.errno, [*cursor.names, name]) from None
                if lenient:
                    return _Location(cursor, None, missing=[name, *reversed(pending)])
                if last or (follow_last and not create_parents):
                    raise _oserror(errno.ENOENT, [*cursor.names, name]) from None
                if not create_parents:
                    raise _oserror(errno.ENOENT, [*cursor.names, name], MissingParent) from None
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o777, dir_fd=cursor.fd)
                budget -= 1
                if budget < 0:
                    raise PathRejected("the path kept changing while it was created") from None
                pending.append(name)
                continue
            if last:
                return _Location(cursor, name, fd)
            cursor.enter(fd, name)
        return _Location(cursor, None, os.dup(cursor.fd))
    except BaseException:
        cursor.close()
        raise


def open_subdir(dir_fd: int, name: str) -> int:
    """Open directory `name` of `dir_fd`; a link there (or anything but a directory) fails."""
    return os.open(name, _O_DIR, dir_fd=dir_fd)
