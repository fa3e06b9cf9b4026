"""Directory listings: fd-relative, sorted, bounded, never entering a link."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime

from roo import pathguard
from roo.files.schemas import DirectoryListing, EntryType, FileEntry

DEFAULT_LIST_LIMIT = 1000
MAX_LIST_LIMIT = 10_000
MAX_LIST_DEPTH = 64  # also bounds the directory fds a recursive listing holds open


def mtime_of(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime_ns / 1e9, tz=UTC)


def _entry_type(mode: int) -> EntryType:
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def _shown(name: str) -> str:
    """A name as JSON can carry it: bytes that are not UTF-8 (a command may create such names)
    become U+FFFD. The guard refuses such paths, so they can be seen but not addressed."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _scan(dir_fd: int) -> Iterator[os.DirEntry[str]]:
    with os.scandir(dir_fd) as entries:
        items = sorted(entries, key=lambda entry: entry.name)
    return iter(items)


def _entry(dir_fd: int, item: os.DirEntry[str], prefix: str) -> FileEntry | None:
    try:
        st = item.stat(follow_symlinks=False)
    except OSError:
        return None  # removed while listing
    kind = _entry_type(st.st_mode)
    target: str | None = None
    if kind == "symlink":
        with contextlib.suppress(OSError):
            target = _shown(os.readlink(item.name, dir_fd=dir_fd))
    name = _shown(item.name)
    return FileEntry(
        name=name,
        path=f"{prefix}/{name}" if prefix else name,
        type=kind,
        size=st.st_size if kind == "file" else None,
        mtime=mtime_of(st),
        target=target,
    )


def list_directory(dir_fd: int, path: str, *, recursive: bool, limit: int) -> DirectoryListing:
    """The entries of the directory open at `dir_fd` (shown as `path`), sorted by name, depth
    first, at most `limit`; links are listed, never entered. Blocking."""
    entries: list[FileEntry] = []
    truncated = False
    stack: list[tuple[int, str, Iterator[os.DirEntry[str]]]] = []
    stack.append((os.dup(dir_fd), path, _scan(dir_fd)))
    try:
        while stack:
            fd, prefix, items = stack[-1]
            item = next(items, None)
            if item is None:
                os.close(fd)
                stack.pop()
                continue
            entry = _entry(fd, item, prefix)
            if entry is None:
                continue
            if len(entries) == limit:
                truncated = True
                break
            entries.append(entry)
            if not recursive or entry.type != "dir":
                continue
            if len(stack) > MAX_LIST_DEPTH:
                truncated = True
                continue
            try:
                child = pathguard.open_subdir(fd, item.name)
            except OSError:
                continue  # removed or swapped for a link meanwhile: listed, not entered
            stack.append((child, entry.path, _scan(child)))
    finally:
        for fd, _, _ in stack:
            os.close(fd)
    return DirectoryListing(path=path, recursive=recursive, entries=entries, truncated=truncated)
