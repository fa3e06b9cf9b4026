"""list_files: a directory's entries (recursive or top level), at most 200, in Roo's order.

The walk is breadth first, so a truncated listing still shows the upper levels. Every directory
is opened through the path guard; a symbolic link is listed only when its target stays inside
the workspace, and is never descended into. `.gitignore` files (at the listed directory, its
ancestors and, recursively, beneath it) hide what they name; so does `.rooignore`, silently.
In recursive mode Roo's heavy directories (node_modules, __pycache__, venv, dist, ...) and every
dot-directory are skipped; `.git` is skipped always.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
from collections import deque
from pathlib import Path
from stat import S_ISDIR
from typing import ClassVar

from pydantic import Field

from roo import pathguard
from roo.agent.tools.base import (
    ApprovalCategory,
    IgnoreRules,
    Tool,
    ToolContext,
    ToolParams,
    ToolResult,
)
from roo.agent.tools.rooignore import GitIgnore, check_path, os_error_text, read_small_text

LIST_LIMIT = 200
TRUNCATED_NOTICE = (
    "(File list truncated. Use list_files on specific subdirectories if you need to explore "
    "further.)"
)
# Roo's DIRS_TO_IGNORE (src/services/glob/constants.ts); dot-directories are skipped as well.
DIRS_TO_IGNORE = frozenset(
    {
        "node_modules",
        "__pycache__",
        "env",
        "venv",
        "dist",
        "out",
        "bundle",
        "vendor",
        "tmp",
        "temp",
        "deps",
        "pkg",
        "Pods",
    }
)
NESTED_DIRS_TO_IGNORE = ("target/dependency", "build/dependencies")

_DIGITS = re.compile(r"(\d+)")


class ListFilesParams(ToolParams):
    path: str = Field(description="Directory to list, relative to the workspace ('.' = root).")
    recursive: bool | None = Field(
        default=False, description="List the whole tree (true) or the top level only (false)."
    )


def _natural(part: str) -> tuple[tuple[int, int | str], ...]:
    """localeCompare(..., {numeric: true, sensitivity: "base"}), near enough."""
    return tuple(
        (0, int(piece)) if piece.isdigit() else (1, piece.casefold())
        for piece in _DIGITS.split(part)
        if piece
    )


def _compare(a: str, b: str) -> int:
    """Roo's order: children under their parents; at one level files before directories."""
    a_parts, b_parts = a.split("/"), b.split("/")
    for i in range(min(len(a_parts), len(b_parts))):
        if a_parts[i] != b_parts[i]:
            if i + 1 == len(a_parts) and i + 1 < len(b_parts):
                return -1
            if i + 1 == len(b_parts) and i + 1 < len(a_parts):
                return 1
            ka, kb = _natural(a_parts[i]), _natural(b_parts[i])
            if ka != kb:
                return -1 if ka < kb else 1
            return -1 if a_parts[i] < b_parts[i] else 1
    return len(a_parts) - len(b_parts)


def sort_listing(paths: list[str]) -> list[str]:
    return sorted(paths, key=functools.cmp_to_key(_compare))


def format_listing(paths: list[str], truncated: bool) -> str:
    if truncated:
        return "\n".join(paths) + "\n\n" + TRUNCATED_NOTICE
    if not paths:
        return "No files found."
    return "\n".join(paths)


def _join(base: str, name: str) -> str:
    return f"{base}/{name}" if base else name


def _heavy(ws_rel: str, name: str) -> bool:
    if name in DIRS_TO_IGNORE or name.startswith("."):
        return True
    return any(ws_rel == n or ws_rel.endswith("/" + n) for n in NESTED_DIRS_TO_IGNORE)


class _Walk:
    def __init__(
        self,
        workspace: Path,
        ignore: IgnoreRules,
        root: pathguard.Root,
        base: str,
        recursive: bool,
    ) -> None:
        self.workspace = workspace
        self.ignore = ignore
        self.root = root
        self.base = base
        self.recursive = recursive
        self.gitignore = GitIgnore()
        self.entries: list[str] = []
        self.truncated = False
        names = base.split("/") if base else []
        for depth in range(len(names) + 1):
            self._load_gitignore("/".join(names[:depth]))

    def _load_gitignore(self, ws_dir: str) -> None:
        text = read_small_text(self.workspace, _join(ws_dir, ".gitignore"), self.root)
        if text:
            self.gitignore.add(ws_dir, text)

    def run(self) -> None:
        queue: deque[str] = deque([""])  # directories relative to the listed one
        while queue and not self.truncated:
            prefix = queue.popleft()
            ws_dir = _join(self.base, prefix.rstrip("/")) if prefix else self.base
            if prefix:
                self._load_gitignore(ws_dir)
            try:
                fd = self.root.open_dir(ws_dir)
            except (OSError, pathguard.PathRejected):
                if not prefix:
                    raise
                continue  # changed or vanished during the walk
            try:
                with os.scandir(fd) as scan:
                    items = sorted(
                        (e.name, e.is_dir(follow_symlinks=False), e.is_symlink()) for e in scan
                    )
            finally:
                os.close(fd)
            for name, is_dir, is_link in items:
                child = self._entry(prefix, ws_dir, name, is_dir, is_link)
                if child is not None:
                    queue.append(child)
                if self.truncated:
                    break

    def _entry(
        self, prefix: str, ws_dir: str, name: str, is_dir: bool, is_link: bool
    ) -> str | None:
        """Record one entry; returns the directory to descend into, if any."""
        ws_rel = _join(ws_dir, name)
        if is_link:
            try:
                is_dir = S_ISDIR(self.root.stat(ws_rel).st_mode)
            except (OSError, pathguard.PathRejected):
                return None  # dangling, or it leads outside the workspace
        if is_dir and (name == ".git" or (self.recursive and _heavy(ws_rel, name))):
            return None
        if self.gitignore.ignored(ws_rel, is_dir=is_dir):
            return None
        if self.ignore.ignored(ws_rel + "/" if is_dir else ws_rel):
            return None
        if len(self.entries) >= LIST_LIMIT:
            self.truncated = True
            return None
        shown = prefix + name + ("/" if is_dir else "")
        self.entries.append(shown)
        return shown if is_dir and self.recursive and not is_link else None


def list_workspace(workspace: Path, ignore: IgnoreRules) -> str:
    """The whole workspace as a recursive `list_files` shows it (sorted, at most LIST_LIMIT
    entries, the same skips and notices): the first request's environment details."""
    with pathguard.Root(workspace) as root:
        walk = _Walk(workspace, ignore, root, "", recursive=True)
        walk.run()
    return format_listing(sort_listing(walk.entries), walk.truncated)


def _list_sync(ctx: ToolContext, rel: str, recursive: bool) -> ToolResult:
    shown = rel or "."
    try:
        with pathguard.Root(ctx.workspace) as root:
            walk = _Walk(ctx.workspace, ctx.ignore, root, rel, recursive)
            walk.run()
    except pathguard.PathRejected as exc:
        return ToolResult.error(f"Invalid path '{shown}': {exc.reason}.", path_rejected=True)
    except NotADirectoryError:
        return ToolResult.error(
            f"Cannot list '{shown}' because it is not a directory. Use read_file to read a file."
        )
    except FileNotFoundError:
        return ToolResult.error(f"Directory not found: {shown}")
    except OSError as exc:
        return ToolResult.error(f"Error listing '{shown}': {os_error_text(exc, shown)}")
    listing = sort_listing(walk.entries)
    return ToolResult.text(
        format_listing(listing, walk.truncated),
        path=shown,
        count=len(listing),
        truncated=walk.truncated,
    )


class ListFilesTool(Tool):
    name = "list_files"
    description = (
        "List files and directories within a directory (relative to the workspace). With "
        "recursive=true the whole tree is listed, otherwise only the top level. Directories end "
        "with '/'. At most 200 entries are returned; dependency, build-output and hidden "
        "directories are skipped when recursive, and .gitignore is respected. Do not use it to "
        "check that files you created exist: the result of the write says so."
    )
    Params: ClassVar[type[ToolParams]] = ListFilesParams
    category = ApprovalCategory.READ

    async def execute(self, params: ListFilesParams, ctx: ToolContext) -> ToolResult:
        rel = check_path(ctx, params.path, allow_root=True, directory=True)
        if isinstance(rel, ToolResult):
            return rel
        return await asyncio.to_thread(_list_sync, ctx, rel, bool(params.recursive))
