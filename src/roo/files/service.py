"""Files in a session's workspace: open, list, write, create directories, delete.

Every path is resolved by `roo.pathguard` (fd-relative, never following a link out of
the workspace); the blocking work runs in worker threads. Guard and filesystem errors become
the domain errors of `roo.files.exceptions` in `translated`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import hashlib
import os
import stat
import weakref
from collections.abc import AsyncIterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from roo import pathguard
from roo.files import content as http
from roo.files.exceptions import (
    DirectoryNotEmpty,
    FileAlreadyExists,
    FileNotAccessible,
    FileNotFound,
    InvalidPath,
    IsADirectory,
    NotADirectory,
    NotARegularFile,
    ParentMissing,
    PreconditionFailed,
    TooLargeForJson,
    UploadTooLarge,
    WorkspaceChanged,
)
from roo.files.listing import DEFAULT_LIST_LIMIT, list_directory, mtime_of
from roo.files.schemas import DirectoryListing, FileContent, FileInfo
from roo.sessions.exceptions import InsufficientStorage, WorkspaceGone

MAX_JSON_FILE_BYTES = 8 * 1024 * 1024
WRITE_BATCH_BYTES = 1024 * 1024
HASH_CHUNK_BYTES = 1024 * 1024
MIB = 1024 * 1024


@contextlib.contextmanager
def translated(user_path: str) -> Iterator[None]:
    """Guard refusals and filesystem errors -> problem responses (never a 500 for a path)."""
    shown = user_path or "/"
    try:
        yield
    except pathguard.PathRejected as exc:
        raise InvalidPath(f"Invalid path: {exc.reason}") from None
    except pathguard.MissingParent as exc:
        raise ParentMissing(
            f"The directory '{exc.filename}' does not exist; create it first or pass ?parents=true"
        ) from None
    except FileNotFoundError:
        raise FileNotFound(f"Nothing at '{shown}' in this workspace") from None
    except FileExistsError:
        raise FileAlreadyExists(f"'{shown}' already exists") from None
    except NotADirectoryError as exc:
        raise NotADirectory(f"'{exc.filename}' is not a directory") from None
    except IsADirectoryError:
        raise IsADirectory(f"'{shown}' is a directory") from None
    except pathguard.UnsupportedFileType:
        raise NotARegularFile(f"'{shown}' is not a regular file or directory") from None
    except OSError as exc:
        if exc.errno == errno.ENOTEMPTY:
            raise DirectoryNotEmpty(
                f"'{shown}' is not empty; pass ?recursive=true to delete it with its content"
            ) from None
        if exc.errno == errno.ENAMETOOLONG:
            raise InvalidPath("Invalid path: the path is too long") from None
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorage("The disk holding the workspace is full") from None
        if exc.errno in (errno.ENXIO, errno.ENODEV):  # a socket or device node
            raise NotARegularFile(f"'{shown}' is not a regular file or directory") from None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise FileNotAccessible(
                f"The permissions of '{shown}' do not let the service do that"
            ) from None
        if exc.errno == errno.ELOOP:
            raise InvalidPath("Invalid path: too many levels of symbolic links") from None
        if exc.errno in (errno.EBUSY, errno.ESTALE, errno.EAGAIN):
            raise WorkspaceChanged(f"'{shown}' changed during the operation; retry") from None
        raise


def _root(workspace: Path) -> pathguard.Root:
    try:
        return pathguard.Root(workspace)
    except (FileNotFoundError, NotADirectoryError):
        raise WorkspaceGone("This session's workspace no longer exists") from None


def _hash_fd(fd: int) -> str:
    digest = hashlib.sha256()
    offset = 0
    while chunk := os.pread(fd, HASH_CHUNK_BYTES, offset):
        digest.update(chunk)
        offset += len(chunk)
    return digest.hexdigest()


def _read_fd(fd: int, limit: int) -> bytes:
    parts: list[bytes] = []
    offset = 0
    while chunk := os.pread(fd, HASH_CHUNK_BYTES, offset):
        parts.append(chunk)
        offset += len(chunk)
        if offset > limit:
            raise TooLargeForJson(
                f"The JSON format is for files up to {limit} bytes; fetch this one raw"
            )
    return b"".join(parts)


class OpenFile:
    """A regular file opened for reading, with its stat and SHA-256 (its strong ETag).

    Owns the fd: `close()` it, or hand it to a response that does.
    """

    def __init__(self, fd: int, path: str, st: os.stat_result, sha256: str, data: bytes | None):
        self.fd = fd
        self.path = path
        self.size = st.st_size
        self.mtime = mtime_of(st)
        self.mtime_seconds = st.st_mtime
        self.sha256 = sha256
        self.data = data
        self._close = weakref.finalize(self, os.close, fd)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def etag(self) -> str:
        return http.etag_for(self.sha256)

    def head(self) -> bytes:
        if self.data is not None:
            return self.data[: http.SNIFF_BYTES]
        return os.pread(self.fd, http.SNIFF_BYTES, 0)

    def detach(self) -> int:
        """Give up ownership of the fd (a response now closes it)."""
        self._close.detach()
        return self.fd

    def close(self) -> None:
        self._close()


# -- reading --------------------------------------------------------------------------------


def _open(
    workspace: Path, user_path: str, *, recursive: bool, limit: int, with_data: bool
) -> OpenFile | DirectoryListing:
    with _root(workspace) as root:
        fd = root.open(user_path)
    path = pathguard.relative(user_path)
    owned = True
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            return list_directory(fd, path, recursive=recursive, limit=limit)
        if not stat.S_ISREG(st.st_mode):
            raise pathguard.UnsupportedFileType(errno.EINVAL, "not a regular file", path)
        if with_data:
            data = _read_fd(fd, MAX_JSON_FILE_BYTES)
            opened = OpenFile(fd, path, st, hashlib.sha256(data).hexdigest(), data)
        else:
            opened = OpenFile(fd, path, st, _hash_fd(fd), None)
        owned = False
        return opened
    finally:
        if owned:
            os.close(fd)


async def open_path(
    workspace: Path,
    user_path: str,
    *,
    recursive: bool = False,
    limit: int = DEFAULT_LIST_LIMIT,
    with_data: bool = False,
) -> OpenFile | DirectoryListing:
    """The file at `user_path` (opened and hashed; read if `with_data`), or its listing."""
    with translated(user_path):
        return await asyncio.to_thread(
            _open, workspace, user_path, recursive=recursive, limit=limit, with_data=with_data
        )


def as_json(opened: OpenFile) -> FileContent:
    """`?format=json`: UTF-8 text when the content decodes, else base64."""
    data = opened.data if opened.data is not None else b""
    try:
        text, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(data).decode("ascii"), "base64"
    return FileContent(
        path=opened.path,
        size=len(data),
        mtime=opened.mtime,
        sha256=opened.sha256,
        etag=opened.etag,
        content_type=http.media_type(opened.name, data[: http.SNIFF_BYTES]),
        encoding=encoding,
        text=text,
    )


# -- writing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Budget:
    """How much one write may add: the per-request limit, the workspace's disk quota and its
    file limit (files, directories and links)."""

    max_request_bytes: int
    quota_bytes: int
    used_bytes: int
    max_files: int
    used_files: int

    def check_new_entry(self) -> None:
        """Creating a file or directory: refused once the workspace holds its limit."""
        if self.used_files >= self.max_files:
            raise InsufficientStorage(
                f"The workspace holds {self.used_files} files and directories, its limit "
                f"(maxFiles {self.max_files}); delete some first"
            )

    def check(self, replaced_bytes: int, new_bytes: int) -> None:
        if new_bytes > self.max_request_bytes:
            raise UploadTooLarge(f"Uploads are limited to {self.max_request_bytes} bytes")
        after = self.used_bytes - replaced_bytes + new_bytes
        if after > self.quota_bytes and new_bytes > replaced_bytes:  # shrinking is always fine
            raise InsufficientStorage(
                f"Writing {new_bytes} bytes would bring the workspace to {after} bytes, past its "
                f"disk quota of {self.quota_bytes // MIB} MB ({self.used_bytes} bytes used)"
            )


# Stands for the ETag of an existing file when only `*` conditions are checked: unquoted, so no
# tag a client sends can equal it.
_EXISTS = "exists"


def _current_etag(
    workspace: Path, user_path: str, *, parents: bool, need_etag: bool
) -> tuple[int, str] | None:
    """(size, ETag) of the write's destination before the body is read, or None when there is
    no file yet. Fails fast on what the commit would refuse anyway (it checks again)."""
    with _root(workspace) as root:
        try:
            st = root.stat(user_path, follow_symlinks=False)
        except pathguard.MissingParent:
            if parents:
                return None
            raise
        except FileNotFoundError:
            return None
        path = pathguard.relative(user_path)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", path)
        if stat.S_ISLNK(st.st_mode):
            raise pathguard.PathRejected(
                "the path is a symbolic link and writes do not follow links; delete it first"
            )
        if not stat.S_ISREG(st.st_mode):
            raise pathguard.UnsupportedFileType(errno.EINVAL, "not a regular file", path)
        if not need_etag:
            return st.st_size, _EXISTS
        fd = root.open_read(user_path)
        try:
            return st.st_size, http.etag_for(_hash_fd(fd))
        finally:
            os.close(fd)


def _commit(writer: pathguard.AtomicWriter, conditions: http.Preconditions) -> FileInfo:
    """Check the conditions against the file as it is now, then move the new content in."""
    with writer.locked():
        current = writer.current()
        if conditions.if_match is not None or conditions.if_none_match is not None:
            etag: str | None = None if current is None else _EXISTS
            fd = writer.open_current() if conditions.need_etag else None
            if fd is not None:
                try:
                    etag = http.etag_for(_hash_fd(fd))
                finally:
                    os.close(fd)
            failure = conditions.failure(etag)
            if failure is not None:
                raise PreconditionFailed(failure)
        st = writer.commit()
    sha256 = writer.sha256.hexdigest()
    return FileInfo(
        path=writer.path,
        type="file",
        size=st.st_size,
        mtime=mtime_of(st),
        sha256=sha256,
        etag=http.etag_for(sha256),
        created=current is None,
    )


async def write(
    workspace: Path,
    user_path: str,
    body: AsyncIterable[bytes],
    *,
    exclusive: bool,
    parents: bool,
    conditions: http.Preconditions,
    budget: Budget,
    declared_bytes: int | None = None,
) -> FileInfo:
    """Stream `body` into the file at `user_path` and move it into place atomically.

    `exclusive`: the file must not exist (POST). Preconditions, the parent and the quota are
    checked before the body is read (with its declared length) and again as it arrives;
    a refused write leaves nothing behind but, with `parents`, directories it created.
    """
    with translated(user_path):
        current = await asyncio.to_thread(
            _current_etag, workspace, user_path, parents=parents, need_etag=conditions.need_etag
        )
        if exclusive and current is not None:
            raise FileAlreadyExists(f"'{pathguard.relative(user_path)}' already exists")
        if current is None:
            budget.check_new_entry()
        failure = conditions.failure(None if current is None else current[1])
        if failure is not None:
            raise PreconditionFailed(failure)
        replaced = 0 if current is None else current[0]
        budget.check(replaced, declared_bytes or 0)

        def open_writer() -> pathguard.AtomicWriter:
            with _root(workspace) as root:
                return root.open_write(user_path, create_parents=parents, exclusive=exclusive)

        writer = await asyncio.to_thread(open_writer)
        try:
            pending = bytearray()
            async for chunk in body:
                pending += chunk
                budget.check(replaced, writer.size + len(pending))
                if len(pending) >= WRITE_BATCH_BYTES:
                    await asyncio.to_thread(writer.write, bytes(pending))
                    pending.clear()
            if pending:
                await asyncio.to_thread(writer.write, bytes(pending))
            return await asyncio.to_thread(_commit, writer, conditions)
        finally:
            await asyncio.to_thread(writer.close)


async def make_directory(
    workspace: Path, user_path: str, *, parents: bool, budget: Budget
) -> FileInfo:
    budget.check_new_entry()

    def run() -> os.stat_result:
        with _root(workspace) as root:
            return root.mkdir(user_path, parents=parents)

    with translated(user_path):
        st = await asyncio.to_thread(run)
    return FileInfo(
        path=pathguard.relative(user_path), type="dir", size=None, mtime=mtime_of(st), created=True
    )


async def delete(workspace: Path, user_path: str, *, recursive: bool) -> str:
    """Delete a file, a link (not its target) or a directory; returns which it was."""

    def run() -> str:
        with _root(workspace) as root:
            try:
                return root.remove(user_path, recursive=recursive)
            except pathguard.MissingParent:
                raise FileNotFoundError(errno.ENOENT, "not found", user_path) from None

    with translated(user_path):
        return await asyncio.to_thread(run)
