"""Lock files the service keeps beside what sandboxed commands can reach (workspace holds,
checkpoint locks): opened beneath a directory fd with no link followed, and only ever a
regular file."""

from __future__ import annotations

import contextlib
import errno
import os
import stat

_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# read-write: over NFS, flock is a POSIX lock, which takes a file open for writing
_O_LOCK = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def open_lock_file(dir_fd: int, directory: str, name: str, *, make_directory: bool = True) -> int:
    """An fd on the lock file `directory/name` beneath `dir_fd`, made (0600) when missing, as
    is `directory` (0700) unless `make_directory` is false (FileNotFoundError then). No link
    is followed (ELOOP); anything but a regular file there is OSError(EINVAL)."""
    if make_directory:
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, 0o700, dir_fd=dir_fd)
    sub_fd = os.open(directory, _O_DIR, dir_fd=dir_fd)
    try:
        fd = os.open(name, _O_LOCK, 0o600, dir_fd=sub_fd)
    finally:
        os.close(sub_fd)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", f"{directory}/{name}")
    return fd
