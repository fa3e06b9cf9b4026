"""The workspace: `Root` resolves every operation beneath one directory fd; one-shot helpers."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from stat import S_ISDIR, S_ISLNK, S_ISREG
from types import TracebackType

from roo.pathguard.errors import ESCAPES, PathRejected, UnsupportedFileType, _oserror
from roo.pathguard.rules import split
from roo.pathguard.tree import remove_tree
from roo.pathguard.walker import _O_DIR, _walk
from roo.pathguard.writer import AtomicWriter


class Root:
    """A workspace directory, opened once; every operation resolves beneath it.

    Use it as a context manager (or call `close`). Blocking: call it from a worker thread.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, _O_DIR)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Root:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def open(self, user_path: str) -> int:
        """An fd on the file or directory at `user_path` (links inside followed). Caller closes."""
        location = _walk(self._fd, split(user_path), follow_last=True)
        fd = location.fd
        location.fd = None
        location.close()
        assert fd is not None  # noqa: S101 - follow_last always opens
        return fd

    def open_read(self, user_path: str) -> int:
        """An fd on the regular file at `user_path`, opened for reading."""
        fd = self.open(user_path)
        mode = os.fstat(fd).st_mode
        if S_ISREG(mode):
            return fd
        os.close(fd)
        names = split(user_path)
        if S_ISDIR(mode):
            raise _oserror(errno.EISDIR, names)
        raise _oserror(errno.EINVAL, names, UnsupportedFileType)

    def open_dir(self, user_path: str) -> int:
        """An fd on the directory at `user_path`, for `os.scandir` and `*at` calls."""
        fd = self.open(user_path)
        if S_ISDIR(os.fstat(fd).st_mode):
            return fd
        os.close(fd)
        raise _oserror(errno.ENOTDIR, split(user_path))

    def stat(self, user_path: str, *, follow_symlinks: bool = True) -> os.stat_result:
        names = split(user_path)
        if follow_symlinks or not names:
            fd = self.open(user_path)
            try:
                return os.fstat(fd)
            finally:
                os.close(fd)
        location = _walk(self._fd, names, follow_last=False)
        try:
            assert location.name is not None  # noqa: S101 - names is not empty
            try:
                return os.stat(location.name, dir_fd=location.cursor.fd, follow_symlinks=False)
            except OSError as exc:
                raise _oserror(exc.errno, names) from None
        finally:
            location.close()

    def listdir(self, user_path: str) -> list[str]:
        """The names in the directory at `user_path`, sorted."""
        fd = self.open_dir(user_path)
        try:
            with os.scandir(fd) as entries:
                return sorted(entry.name for entry in entries)
        finally:
            os.close(fd)

    def _parent(self, names: tuple[str, ...], *, create_parents: bool) -> tuple[int, str]:
        """(an owned fd on the directory that holds the last name, that name)."""
        location = _walk(self._fd, names, follow_last=False, create_parents=create_parents)
        assert location.name is not None  # noqa: S101 - names is not empty
        return location.cursor.take(), location.name

    def open_write(
        self, user_path: str, *, create_parents: bool = False, exclusive: bool = False
    ) -> AtomicWriter:
        """A writer for the file at `user_path`; `exclusive`: fail if it exists at commit."""
        names = split(user_path)
        if not names:
            raise _oserror(errno.EISDIR, names)
        dir_fd, name = self._parent(names, create_parents=create_parents)
        try:
            return AtomicWriter(dir_fd, name, "/".join(names), exclusive=exclusive)
        except BaseException:
            os.close(dir_fd)
            raise

    def mkdir(self, user_path: str, *, parents: bool = False) -> os.stat_result:
        """Create the directory at `user_path` (FileExistsError when something is there)."""
        names = split(user_path)
        if not names:
            raise _oserror(errno.EEXIST, names)
        dir_fd, name = self._parent(names, create_parents=parents)
        try:
            try:
                os.mkdir(name, 0o777, dir_fd=dir_fd)
            except OSError as exc:
                raise _oserror(exc.errno, names) from None
            return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        finally:
            os.close(dir_fd)

    def remove(self, user_path: str, *, recursive: bool = False) -> str:
        """Delete a file, a link (never its target) or a directory; returns which it was.

        A non-empty directory needs `recursive` (else OSError ENOTEMPTY).
        """
        names = split(user_path)
        if not names:
            raise PathRejected("the workspace root cannot be deleted")
        dir_fd, name = self._parent(names, create_parents=False)
        try:
            try:
                mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
                if not S_ISDIR(mode):
                    os.unlink(name, dir_fd=dir_fd)
                    return "symlink" if S_ISLNK(mode) else "file"
                if recursive:
                    remove_tree(dir_fd, name)
                else:
                    os.rmdir(name, dir_fd=dir_fd)
                return "dir"
            except OSError as exc:
                raise _oserror(exc.errno, names) from None
        finally:
            os.close(dir_fd)

    def resolve(self, user_path: str) -> Path:
        """The host path `user_path` resolves to, links inside followed; names that do not
        exist yet are appended as given. For handing a path to code that needs one (a sandboxed
        command); a Path can be raced, so do I/O with the `open*` methods instead."""
        location = _walk(self._fd, split(user_path), follow_last=True, lenient=True)
        try:
            names = list(location.cursor.names)
            if location.name is not None:
                names.append(location.name)
            for name in location.missing:
                if name == "..":
                    if not names:
                        raise PathRejected(ESCAPES)
                    names.pop()
                elif name not in ("", "."):
                    names.append(name)
            return self.path.joinpath(*names)
        finally:
            location.close()


def resolve(workspace: Path, user_path: str) -> Path:
    """Check `user_path` and resolve it beneath `workspace` (see `Root.resolve`)."""
    with Root(workspace) as root:
        return root.resolve(user_path)


def open_read(workspace: Path, user_path: str) -> int:
    """An fd on a regular file beneath `workspace`, opened for reading. Caller closes."""
    with Root(workspace) as root:
        return root.open_read(user_path)


def open_write(
    workspace: Path, user_path: str, *, create_parents: bool = False, exclusive: bool = False
) -> AtomicWriter:
    """An `AtomicWriter` for a file beneath `workspace`: write, then `commit()`, then close."""
    with Root(workspace) as root:
        return root.open_write(user_path, create_parents=create_parents, exclusive=exclusive)


def stat(workspace: Path, user_path: str, *, follow_symlinks: bool = True) -> os.stat_result:
    with Root(workspace) as root:
        return root.stat(user_path, follow_symlinks=follow_symlinks)


def listdir(workspace: Path, user_path: str) -> list[str]:
    with Root(workspace) as root:
        return root.listdir(user_path)


def remove(workspace: Path, user_path: str, *, recursive: bool = False) -> str:
    with Root(workspace) as root:
        return root.remove(user_path, recursive=recursive)


def mkdir(workspace: Path, user_path: str, *, parents: bool = False) -> os.stat_result:
    with Root(workspace) as root:
        return root.mkdir(user_path, parents=parents)
