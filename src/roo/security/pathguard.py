"""The one path guard: every file access on behalf of a client or the agent goes through here.

Two layers:

- `split(user_path)` checks the *text* of a path and returns its names. It refuses absolute
  paths, `..`, backslashes, NUL and control characters, invalid UTF-8, Windows drive paths, `~`,
  empty segments, names over 255 bytes, paths over 4096 bytes, and percent-escapes left in an
  already-decoded path when they hide `.`, `/`, `\\`, `%`, a control or a non-ASCII byte (double
  encoding such as `%252e%252e%252f`).
- `Root` opens the workspace once and resolves every path *beneath* it in user space: each name
  is opened relative to its parent's directory fd with `O_NOFOLLOW`, so the kernel never follows
  a symbolic link on our behalf. A link met on the way is read and followed by this code only
  while its target stays inside the workspace: absolute targets and targets that climb above
  the root are refused. `..` in a link target pops a directory fd this code already holds; it is
  never opened on disk, so renaming or swapping directories concurrently cannot lead outside.

Symlink policy: links inside the workspace that point inside it are followed for reads and for
the directories leading to a write; the last name of a write is never followed (writing to a
link is refused) and deleting a link removes the link, never its target. A link planted by a
sandboxed command that points to `/etc/passwd` or `../other-workspace` is refused wherever it
appears, however it is swapped in and out during a request.

Pure module: it raises `PathRejected` (the reason is safe to show a client) and the standard
`OSError` subclasses (their `filename` is the relative path, never a host path).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import secrets
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_IMODE, S_ISDIR, S_ISLNK, S_ISREG
from types import TracebackType

MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096
# Links followed (and lost races retried) while resolving one path, as the kernel's MAXSYMLINKS.
MAX_SYMLINKS = 40

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# Intermediate components: must be real directories (a link fails with ENOTDIR or ELOOP).
_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
# The last component: a file or a directory; O_NONBLOCK so a planted FIFO cannot hang the open.
_O_ANY = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC
_O_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | _CLOEXEC

_DRIVE = re.compile(r"^[A-Za-z]:")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# Bidirectional overrides make a name display differently from what it is ("Trojan Source").
_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_BAD_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_HIDDEN_BYTES = frozenset(b"./\\%")

ESCAPES = "a symbolic link on the path leads outside the workspace"
TEMP_PREFIX = ".roo-upload-"


class PathRejected(ValueError):
    """A path that must not be used; `reason` is safe to show the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MissingParent(FileNotFoundError):
    """A directory leading to the path does not exist (`filename`: the missing prefix)."""


class UnsupportedFileType(OSError):
    """The path names something other than a regular file or directory (a FIFO, a socket)."""


# -- the text of a path ---------------------------------------------------------------------


def _check_characters(user_path: str) -> None:
    for char in user_path:
        if char in _BIDI or unicodedata.category(char) in _BAD_CATEGORIES:
            raise PathRejected(f"the path contains a control character (U+{ord(char):04X})")


def _check_escapes(user_path: str) -> None:
    """The server decoded the URL once; an escape still present is a second level of encoding.

    Harmless ones (`%20` in a name) stay literal text; those that would decode to a separator,
    a dot, another escape, a control or a non-ASCII byte (overlong UTF-8) are refused."""
    for match in _ESCAPE.finditer(user_path):
        byte = int(match.group(1), 16)
        if byte in _HIDDEN_BYTES or byte < 0x20 or byte >= 0x7F:
            raise PathRejected(
                f"the path is percent-encoded twice ({match.group(0)!r} after decoding); "
                "encode each byte once"
            )


def split(user_path: str) -> tuple[str, ...]:
    """Check a client's path and return its names; `()` is the workspace root.

    `""`, `"."` and a single trailing `/` are allowed (`"src/"` is `("src",)`); `.` segments are
    dropped; anything doubtful raises `PathRejected`.
    """
    if "\x00" in user_path:
        raise PathRejected("the path contains a NUL byte")
    try:
        size = len(user_path.encode("utf-8"))
    except UnicodeEncodeError:
        raise PathRejected("the path is not valid UTF-8") from None
    if "\ufffd" in user_path:
        # What a lenient decoder makes of overlong (%c0%ae) or otherwise invalid UTF-8.
        raise PathRejected("the path is not valid UTF-8 (invalid or overlong byte sequence)")
    if size > MAX_PATH_BYTES:
        raise PathRejected(f"the path is longer than {MAX_PATH_BYTES} bytes")
    _check_characters(user_path)
    if "\\" in user_path:
        raise PathRejected("the path contains a backslash; separate directories with '/'")
    if user_path.startswith("/"):
        raise PathRejected("absolute paths are not allowed; paths are relative to the workspace")
    if _DRIVE.match(user_path):
        raise PathRejected("Windows drive paths are not allowed")
    if user_path.startswith("~"):
        raise PathRejected("'~' (a home directory) is not allowed; paths are workspace-relative")
    _check_escapes(user_path)
    body = user_path[:-1] if user_path.endswith("/") else user_path
    if not body:
        return ()
    names: list[str] = []
    for name in body.split("/"):
        if name == "":
            raise PathRejected("the path contains an empty segment ('//')")
        if name == ".":
            continue
        if name == "..":
            raise PathRejected("'..' segments are not allowed")
        if len(name.encode("utf-8")) > MAX_NAME_BYTES:
            raise PathRejected(f"a name in the path is longer than {MAX_NAME_BYTES} bytes")
        names.append(name)
    return tuple(names)


def relative(user_path: str) -> str:
    """The checked path in its normal form (`"./src//"` is refused, `"./src/"` is `"src"`)."""
    return "/".join(split(user_path))


# -- resolving beneath a directory fd -------------------------------------------------------


def _oserror(code: int | None, names: Sequence[str], kind: type[OSError] = OSError) -> OSError:
    """An OSError naming the relative path only (`OSError(errno, ...)` picks the subclass)."""
    code = code or errno.EIO
    return kind(code, os.strerror(code), "/".join(names) or ".")


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
    """Directory fds from the workspace root down to the current directory (all owned)."""

    fds: list[int]
    names: list[str] = field(default_factory=list)

    @property
    def fd(self) -> int:
        return self.fds[-1]

    def enter(self, fd: int, name: str) -> None:
        self.fds.append(fd)
        self.names.append(name)

    def up(self) -> None:
        if len(self.fds) == 1:
            raise PathRejected(ESCAPES)
        os.close(self.fds.pop())
        self.names.pop()

    def take(self) -> int:
        """Close every fd but the current directory's, and hand that one over."""
        fd = self.fds.pop()
        self.close()
        return fd

    def close(self) -> None:
        while self.fds:
            os.close(self.fds.pop())


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
    cursor = _Cursor([os.dup(root_fd)])
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


def _rmtree_at(parent_fd: int, name: str) -> None:
    """Delete directory `name` of `parent_fd` and everything in it, never following a link.

    Iterative (no recursion limit); each directory is opened with O_NOFOLLOW relative to its
    parent's fd, and links inside are unlinked, never entered.
    """
    stack: list[tuple[int, str, int]] = [(parent_fd, name, os.open(name, _O_DIR, dir_fd=parent_fd))]
    try:
        while stack:
            _, _, dir_fd = stack[-1]
            child: str | None = None
            with os.scandir(dir_fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        child = entry.name
                        break
                    os.unlink(entry.name, dir_fd=dir_fd)
            if child is None:
                up_fd, dir_name, _ = stack.pop()
                os.close(dir_fd)
                os.rmdir(dir_name, dir_fd=up_fd)
            else:
                stack.append((dir_fd, child, os.open(child, _O_DIR, dir_fd=dir_fd)))
    finally:
        for _, _, dir_fd in stack:
            os.close(dir_fd)


def open_subdir(dir_fd: int, name: str) -> int:
    """Open directory `name` of `dir_fd`; a link there (or anything but a directory) fails."""
    return os.open(name, _O_DIR, dir_fd=dir_fd)


# -- writing --------------------------------------------------------------------------------


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
        """Serialise check-then-commit with other writers of this directory (advisory)."""
        fcntl.flock(self._dir, fcntl.LOCK_EX)
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


# -- the workspace --------------------------------------------------------------------------


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
                    _rmtree_at(dir_fd, name)
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


# -- one-shot helpers -----------------------------------------------------------------------


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
