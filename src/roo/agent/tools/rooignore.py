""".rooignore (gitignore syntax) and the path checks every file tool makes first.

`RooIgnore` is the session's `IgnoreRules`: the paths it names are invisible to list_files and
read_file and refused for writes, with Roo's access-denied result. `.gitignore` files use the
same matcher (`GitIgnore`), for list_files.

`check_path` turns what the model sent into a workspace-relative path through the path guard's
rules (absolute, `..`, `~` ... are refused with the guard's reason) and applies the .rooignore.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterable
from pathlib import Path

import pathspec

from roo import pathguard
from roo.agent.tools.base import IgnoreRules, ToolContext, ToolResult

ROOIGNORE_FILE = ".rooignore"
# A .rooignore/.gitignore larger than this is not a real ignore file; it is not loaded whole.
MAX_IGNORE_FILE_BYTES = 1024 * 1024


def _spec(lines: Iterable[str]) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(list(lines))


class RooIgnore(IgnoreRules):
    """Gitignore-style rules; `ignored("dir/")` (trailing slash) asks about a directory."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self.patterns = [p for p in patterns if p.strip() and not p.lstrip().startswith("#")]
        self._spec = _spec(self.patterns)

    @classmethod
    def load(cls, workspace: Path) -> RooIgnore:
        """The workspace's `.rooignore`; none (or an unreadable one) ignores nothing."""
        text = read_small_text(workspace, ROOIGNORE_FILE)
        return cls(text.splitlines() if text else ())

    def ignored(self, relative_path: str) -> bool:
        if not self.patterns:
            return False
        path = relative_path.strip("/") if relative_path != "/" else ""
        if not path or path == ".":
            return False
        if self._spec.match_file(path):
            return True
        return relative_path.endswith("/") and bool(self._spec.match_file(path + "/"))


class GitIgnore:
    """The `.gitignore` files met on the way down: each one applies beneath its directory."""

    def __init__(self) -> None:
        self._specs: list[tuple[str, pathspec.GitIgnoreSpec]] = []

    def add(self, base: str, text: str) -> None:
        lines = text.splitlines()
        if any(line.strip() and not line.lstrip().startswith("#") for line in lines):
            self._specs.append((base, _spec(lines)))

    def ignored(self, rel: str, *, is_dir: bool) -> bool:
        """`rel`: workspace-relative path without a trailing slash."""
        for base, spec in self._specs:
            if base:
                if not rel.startswith(base + "/"):
                    continue
                sub = rel[len(base) + 1 :]
            else:
                sub = rel
            if spec.match_file(sub + "/" if is_dir else sub):
                return True
        return False


def read_small_text(workspace: Path, rel: str, root: pathguard.Root | None = None) -> str | None:
    """The text of a small regular file beneath the workspace, or None (missing, refused...)."""
    try:
        if root is None:
            fd = pathguard.open_read(workspace, rel)
        else:
            fd = root.open_read(rel)
    except (OSError, pathguard.PathRejected):
        return None
    try:
        data = os.read(fd, MAX_IGNORE_FILE_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data.decode("utf-8", errors="replace")


def rooignore_error(rel: str) -> str:
    """Roo's result for a path the .rooignore blocks."""
    return json.dumps(
        {
            "status": "error",
            "type": "access_denied",
            "message": "Access blocked by .rooignore",
            "path": rel,
            "suggestion": (
                "Try to continue without this file, or ask the user to update the .rooignore file"
            ),
        }
    )


def check_path(
    ctx: ToolContext, user_path: str, *, allow_root: bool = False, directory: bool = False
) -> str | ToolResult:
    """The workspace-relative form of `user_path`, or the tool error that refuses it.

    `directory`: the path names a directory (rules such as `secrets/` apply to it)."""
    try:
        rel = pathguard.relative(user_path)
    except pathguard.PathRejected as exc:
        return ToolResult.error(f"Invalid path '{user_path}': {exc.reason}.", path_rejected=True)
    if not rel and not allow_root:
        return ToolResult.error(
            f"Invalid path '{user_path}': it names the workspace directory, not a file."
        )
    if rel and (ctx.ignore.ignored(rel) or (directory and ctx.ignore.ignored(rel + "/"))):
        return ToolResult.error(rooignore_error(rel), access_denied=True)
    return rel


def os_error_text(exc: OSError, rel: str) -> str:
    """A short, host-path-free description of a path guard OSError."""
    if isinstance(exc, pathguard.MissingParent) or exc.errno == errno.ENOENT:
        return f"File not found: {rel}"
    if exc.errno == errno.EISDIR:
        return f"'{rel}' is a directory"
    if exc.errno == errno.ENOTDIR:
        return f"A component of '{rel}' is not a directory"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"Permission denied: {rel}"
    if isinstance(exc, pathguard.UnsupportedFileType):
        return f"'{rel}' is not a regular file"
    return f"{exc.strerror or 'I/O error'}: {rel}"
