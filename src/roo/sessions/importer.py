"""Filling an empty workspace from an uploaded archive (`.tar`, `.tar.gz`, `.tar.bz2`, `.tar.xz`,
`.zip`; the format is read from the bytes, not from the request's content type).

Everything is checked before anything is written: member names (no absolute paths, no `..`, no
backslashes or NUL), member types (regular files and directories only: no symbolic or hard
links, no devices), the number of files and directories against the session's file limit, and
the total *declared* uncompressed size against the disk quota. While writing, each member is
read with a cap of its declared size, so a lying header cannot inflate past the check (a zip or
gzip bomb stops at the quota).

The service writes as root into a directory a sandboxed command can change, so nothing is
written by path: every directory is created and opened relative to its parent's fd, and every
file created in it, with `O_NOFOLLOW` (and `O_EXCL` for files). A link planted in the workspace
during the import is never followed, whatever it points to: the import fails instead, and the
workspace is emptied again through fds too. (The service also keeps the session's commands
from running during an import; this module does not rely on it.)
"""

from __future__ import annotations

import bz2
import contextlib
import errno
import gzip
import lzma
import os
import stat
import tarfile
import zipfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from roo.pathguard import open_subdir
from roo.sessions.workspace import empty_directory

MAX_MEMBERS = 50_000
MAX_NAME_BYTES = 4096
_CHUNK = 1024 * 1024
_O_ROOT = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_O_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class ArchiveRejected(Exception):
    """The archive is unsafe or too large; the message says why (safe to show the client)."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    files: int
    directories: int
    bytes: int


@dataclass(frozen=True, slots=True)
class _Member:
    name: str
    is_dir: bool
    size: int
    mode: int


def _safe_name(raw: str) -> str:
    if "\x00" in raw or "\\" in raw:
        raise ArchiveRejected(f"member name {raw!r} contains a NUL byte or backslash")
    if len(raw.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise ArchiveRejected("a member name is too long")
    path = PurePosixPath(raw)
    if path.is_absolute() or raw.startswith("/"):
        raise ArchiveRejected(f"member {raw!r} has an absolute path")
    parts = [p for p in path.parts if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ArchiveRejected(f"member {raw!r} escapes the workspace")
    if not parts:
        return ""
    return "/".join(parts)


def _check(members: list[_Member], quota_bytes: int, max_files: int) -> None:
    if len(members) > MAX_MEMBERS:
        raise ArchiveRejected(f"the archive has more than {MAX_MEMBERS} members")
    # Every file and directory it creates, the directories implied by member names included.
    created = {m.name for m in members}
    for member in members:
        parts = member.name.split("/")
        created.update("/".join(parts[:i]) for i in range(1, len(parts)))
    if len(created) > max_files:
        raise ArchiveRejected(
            f"the archive creates {len(created)} files and directories; "
            f"the workspace may hold {max_files} (maxFiles)"
        )
    total = sum(m.size for m in members if not m.is_dir)
    if total > quota_bytes:
        raise ArchiveRejected(
            f"the archive expands to {total} bytes; the workspace quota is {quota_bytes}"
        )


def _tar_members(archive: tarfile.TarFile) -> list[_Member]:
    members = []
    for info in archive.getmembers():
        name = _safe_name(info.name)
        if info.issym() or info.islnk():
            raise ArchiveRejected(f"member {info.name!r} is a link; links are not imported")
        if not (info.isfile() or info.isdir()):
            raise ArchiveRejected(f"member {info.name!r} is not a regular file or directory")
        if name:
            members.append(_Member(name, info.isdir(), info.size, info.mode))
    return members


def _zip_members(archive: zipfile.ZipFile) -> list[_Member]:
    members = []
    for info in archive.infolist():
        name = _safe_name(info.filename)
        # Unix-made zips keep st_mode in the high 16 bits; the file type bits may be absent.
        mode = (info.external_attr >> 16) & 0xFFFF if info.create_system == 3 else 0
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            raise ArchiveRejected(f"member {info.filename!r} is a link; links are not imported")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise ArchiveRejected(f"member {info.filename!r} is not a regular file or directory")
        if name:
            members.append(_Member(name, info.is_dir(), info.file_size, mode))
    return members


def _copy_capped(source: IO[bytes], fd: int, size: int) -> int:
    """Write at most `size` bytes (the declared size) of `source` to `fd`."""
    written = 0
    while written < size:
        chunk = source.read(min(_CHUNK, size - written))
        if not chunk:
            break
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]
        written += len(chunk)
    return written


OpenMember = Callable[["_Member"], AbstractContextManager[IO[bytes]]]

_CHANGED = "the workspace changed during the import (a link or file where a directory was expected)"


class _Directories:
    """Directories of the workspace by their names, each created and opened beneath its
    parent's fd, never through a link. Keeps the last one open (members come grouped)."""

    def __init__(self, root_fd: int) -> None:
        self._root = root_fd  # borrowed
        self._last: tuple[tuple[str, ...], int] | None = None

    def open(self, names: tuple[str, ...]) -> int:
        """A borrowed fd on the directory at `names`, created (with its parents) if missing."""
        if self._last is not None and self._last[0] == names:
            return self._last[1]
        fd = os.dup(self._root)
        try:
            for name in names:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o777, dir_fd=fd)
                try:
                    child = open_subdir(fd, name)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise ArchiveRejected(_CHANGED) from None
                    raise
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        self.close()
        self._last = (names, fd)
        return fd

    def close(self) -> None:
        if self._last is not None:
            os.close(self._last[1])
            self._last = None


def _write(root_fd: int, members: list[_Member], open_member: OpenMember) -> ImportResult:
    files = directories = total = 0
    tree = _Directories(root_fd)
    try:
        for member in members:
            names = tuple(member.name.split("/"))
            if member.is_dir:
                tree.open(names)
                directories += 1
                continue
            parent = tree.open(names[:-1])
            mode = 0o755 if member.mode & 0o111 else 0o644
            try:
                fd = os.open(names[-1], _O_NEW_FILE, mode, dir_fd=parent)
            except FileExistsError:
                raise ArchiveRejected(f"member {member.name!r} appears twice") from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise ArchiveRejected(_CHANGED) from None
                raise
            try:
                with open_member(member) as source:
                    total += _copy_capped(source, fd, member.size)
                os.fchmod(fd, mode)  # exactly, whatever the umask
            finally:
                os.close(fd)
            files += 1
    finally:
        tree.close()
    return ImportResult(files, directories, total)


_COMPRESSED = (
    (b"\x1f\x8b", gzip.open),
    (b"BZh", bz2.open),
    (b"\xfd7zXZ\x00", lzma.open),
)


def _decompress_capped(path: Path, cap: int) -> Path | None:
    """If `path` is a compressed stream, inflate it next to itself, refusing to produce more
    than `cap` bytes (a compression bomb stops there). None when it is not compressed."""
    with path.open("rb") as fh:
        head = fh.read(6)
    for magic, opener in _COMPRESSED:
        if head.startswith(magic):
            target = path.with_suffix(".inflated")
            produced = 0
            with opener(path, "rb") as src, target.open("wb") as out:
                while chunk := src.read(_CHUNK):
                    produced += len(chunk)
                    if produced > cap:
                        raise ArchiveRejected(
                            f"the archive expands past the workspace quota ({cap} bytes)"
                        )
                    out.write(chunk)
            return target
    return None


def extract(archive_path: Path, root_fd: int, quota_bytes: int, max_files: int) -> ImportResult:
    """Check, then extract `archive_path` into the directory open at `root_fd`, whatever it
    holds already (`import_archive` is the whole import). Blocking."""
    if zipfile.is_zipfile(archive_path):
        with zipfile.ZipFile(archive_path) as zf:
            members = _zip_members(zf)
            _check(members, quota_bytes, max_files)
            by_name = {_safe_name(i.filename): i for i in zf.infolist()}
            return _write(root_fd, members, lambda m: zf.open(by_name[m.name]))
    # tar headers and padding: allow some slack over the quota for the inflated stream
    inflated = _decompress_capped(archive_path, quota_bytes + quota_bytes // 10 + _CHUNK)
    tar_path = inflated or archive_path
    try:
        with tarfile.open(tar_path, "r:") as tf:
            members = _tar_members(tf)
            _check(members, quota_bytes, max_files)
            infos = {_safe_name(i.name): i for i in tf.getmembers()}

            def open_tar(m: _Member) -> AbstractContextManager[IO[bytes]]:
                handle = tf.extractfile(infos[m.name])
                if handle is None:
                    raise ArchiveRejected(f"member {m.name!r} has no data")
                return handle

            return _write(root_fd, members, open_tar)
    finally:
        if inflated is not None:
            inflated.unlink(missing_ok=True)


def import_archive(
    archive_path: Path, workspace: Path, quota_bytes: int, max_files: int
) -> ImportResult:
    """Check, then extract `archive_path` into the (empty) `workspace`. Blocking: run it in a
    thread. Unsafe archives raise ArchiveRejected; on any failure the workspace is emptied
    again, so an import is all or nothing."""
    root_fd = os.open(workspace, _O_ROOT)
    try:
        with os.scandir(root_fd) as entries:
            if any(True for _ in entries):
                raise ArchiveRejected("the workspace is not empty; import into a new session")
        return _extract_or_empty(archive_path, root_fd, quota_bytes, max_files)
    finally:
        os.close(root_fd)


def _extract_or_empty(
    archive_path: Path, root_fd: int, quota_bytes: int, max_files: int
) -> ImportResult:
    try:
        return extract(archive_path, root_fd, quota_bytes, max_files)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            empty_directory(root_fd)
        if isinstance(exc, tarfile.TarError | zipfile.BadZipFile | EOFError | lzma.LZMAError):
            raise ArchiveRejected(
                "the upload is not a readable tar, tar.gz, tar.bz2, tar.xz or zip archive"
            ) from None
        if isinstance(exc, OSError) and not isinstance(exc, ArchiveRejected):
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise ArchiveRejected(f"the archive could not be read: {type(exc).__name__}") from None
        raise
