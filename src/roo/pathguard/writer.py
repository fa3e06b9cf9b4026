"""Changing the workspace: the atomic writer (the recursive delete is `tree.remove_tree`)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from stat import S_IMODE, S_ISDIR, S_ISLNK, S_ISREG
from types import TracebackType

from roo.pathguard.errors import PathRejected, UnsupportedFileType, _oserror
from roo.pathguard.walker import _O_ANY, _O_NEW

TEMP_PREFIX = ".roo-upload-"
# How long a writer waits for another writer of the same directory. The lock is advisory on a
# directory a sandboxed command can reach, and a command can hold it for as long as it runs:
# past this the write is refused (EBUSY: "changed during the operation; retry") instead of
# holding a worker thread for as long as the command likes.
LOCK_WAIT_SECONDS = 5.0


class AtomicWriter:
    """A file's new content, written beside it under a temporary name and renamed into place.

    Readers see the old content or the new, never a mix; an aborted write leaves nothing. The
    destination is a name in a directory fd: the rename never follows a link at that name.
    """

    def __init__(self, dir_fd: int, name: str, path: str, *, exclusive: bool) -> None:
        self._dir = dir_fd  # owned
        self.name = name
        self.path = path
        self.exclusive = exclusive
        self.size = 0
        self.sha256 = hashlib.sha256()
        self._temp = f"{TEMP_PREFIX}{secrets.token_hex(8)}.tmp"
        self._fd = os.open(self._temp, _O_NEW, 0o666, dir_fd=dir_fd)
        self._committed = False

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.size += len(data)
        self.sha256.update(data)

    def current(self) -> os.stat_result | None:
        """The destination as it is now (not followed), or None when it does not exist."""
        try:
            return os.stat(self.name, dir_fd=self._dir, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def open_current(self) -> int | None:
        """An fd on the destination's current content (a regular file), or None."""
        try:
            fd = os.open(self.name, _O_ANY, dir_fd=self._dir)
        except (FileNotFoundError, OSError):
            return None
        if not S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        return fd

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise check-then-commit with other writers of this directory (advisory), waiting
        at most `LOCK_WAIT_SECONDS` (then EBUSY): a command of the session may hold the same
        lock (`flock dir ...`) indefinitely."""
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        pause = 0.002
        while True:
            try:
                fcntl.flock(self._dir, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _oserror(errno.EBUSY, [self.path]) from None
                time.sleep(pause)  # in a worker thread (the files API's), not the event loop
                pause = min(pause * 2, 0.05)
        try:
            yield
        finally:
            fcntl.flock(self._dir, fcntl.LOCK_UN)

    def commit(self) -> os.stat_result:
        """Move the new content into place; the stat of the new file."""
        existing = self.current()
        if existing is not None:
            if S_ISDIR(existing.st_mode):
                raise _oserror(errno.EISDIR, [self.path])
            if S_ISLNK(existing.st_mode):
                raise PathRejected(
                    "the path is a symbolic link and writes do not follow links; delete it first"
                )
            if self.exclusive:
                raise _oserror(errno.EEXIST, [self.path])
            if not S_ISREG(existing.st_mode):
                raise _oserror(errno.EINVAL, [self.path], UnsupportedFileType)
            os.fchmod(self._fd, S_IMODE(existing.st_mode) & 0o777)  # keep `chmod +x`
        os.fsync(self._fd)
        result = os.fstat(self._fd)
        if self.exclusive:
            self._link_no_replace()
        else:
            os.replace(self._temp, self.name, src_dir_fd=self._dir, dst_dir_fd=self._dir)
        self._committed = True
        return result

    def _link_no_replace(self) -> None:
        try:
            os.link(
                self._temp,
                self.name,
                src_dir_fd=self._dir,
                dst_dir_fd=self._dir,
                follow_symlinks=False,
            )
        except FileExistsError:
            raise _oserror(errno.EEXIST, [self.path]) from None
        except OSError as exc:  # a filesystem without hard links: check, then rename
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            if self.current() is not None:
                raise _oserror(errno.EEXIST, [self.path]) from None
            os.replace(self._temp, self.name, src_dir_fd=self._dir, dst_dir_fd=self._dir)
            return
        os.unlink(self._temp, dir_fd=self._dir)

    def close(self) -> None:
        """Release the writer; without a commit, the temporary file is removed."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if not self._committed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._temp, dir_fd=self._dir)
        if self._dir >= 0:
            os.close(self._dir)
            self._dir = -1

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
