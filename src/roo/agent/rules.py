"""Rules files: what the workspace tells the model beyond the session's instructions (Roo's
`src/core/prompts/sections/custom-instructions.ts`, reference section 3).

In Roo's order, each under Roo's heading:

1. the mode's rules: the files of `.roo/rules-{mode}/` (recursively, sorted by file name, each
   "# Rules from <path>:"), else `.roorules-{mode}`, else `.clinerules-{mode}`;
2. `AGENTS.md` (else `AGENT.md`) as "# Agent Rules Standard (AGENTS.md):", then
   `AGENTS.local.md` under the same kind of heading;
3. the generic rules: the files of `.roo/rules/`, else `.roorules`, else `.clinerules`.

Differences from Roo, for a shared service: paths are shown relative to the workspace (Roo shows
absolute paths of the user's machine); only the workspace is read (no global `~/.roo`); files are
read through the path guard (`roo.pathguard`: a link is followed only while it stays inside the
workspace, since sandboxed commands write it); and the whole is capped (`max_bytes`): the file
that crosses the cap is cut with a note, and later files are listed as left out.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISDIR, S_ISREG

from roo import pathguard

DEFAULT_MAX_BYTES = 64 * 1024
MAX_DEPTH = 5  # Roo's MAX_DEPTH for rules directories
MAX_DIR_FILES = 200  # files taken from one rules directory
# Roo's shouldIncludeRuleFile: cache and system files are not rules.
_EXCLUDED_SUFFIXES = (
    ".DS_Store",
    ".bak",
    ".cache",
    ".crdownload",
    ".db",
    ".dmp",
    ".dump",
    ".eslintcache",
    ".lock",
    ".log",
    ".old",
    ".part",
    ".partial",
    ".pyc",
    ".pyo",
    ".stackdump",
    ".swo",
    ".swp",
    ".temp",
    ".tmp",
)


@dataclass(frozen=True, slots=True)
class RuleFile:
    """A rules file: its workspace-relative path, its size, and how much of it the prompt got."""

    path: str
    bytes: int
    included: int

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "bytes": self.bytes,
            "includedBytes": self.included,
            "truncated": self.included < self.bytes,
        }


@dataclass(slots=True)
class Rules:
    """The rules for one mode: the text of each part (already under Roo's headings) and the
    files read, in order."""

    mode: str = ""
    agents: str = ""
    generic: str = ""
    files: list[RuleFile] = field(default_factory=list)
    truncated: bool = False

    def parts(self) -> list[str]:
        return [p for p in (self.mode, self.agents, self.generic) if p.strip()]

    def to_dicts(self) -> list[dict[str, object]]:
        return [f.to_dict() for f in self.files]


# A loader: the mode's slug -> its rules. Blocking (the engine runs it in a thread).
RulesLoader = Callable[[str], Rules]


def _excluded(name: str) -> bool:
    return name == "Thumbs.db" or name.endswith(_EXCLUDED_SUFFIXES)


class _Reader:
    """Reads files beneath the workspace within the remaining budget."""

    def __init__(self, root: pathguard.Root, max_bytes: int) -> None:
        self.root = root
        self.left = max_bytes
        self.max_bytes = max_bytes
        self.files: list[RuleFile] = []
        self.truncated = False

    def read(self, rel: str) -> str | None:
        """The trimmed text of the regular file `rel` (None: missing, refused, not a file),
        cut to what the budget has left."""
        try:
            fd = self.root.open_read(rel)
        except (OSError, pathguard.PathRejected):
            return None
        try:
            size = os.fstat(fd).st_size
            data = os.read(fd, self.left) if self.left > 0 else b""
        except OSError:
            return None
        finally:
            os.close(fd)
        self.files.append(RuleFile(rel, size, len(data)))
        if self.left <= 0:  # past the cap: listed as left out, nothing more in the prompt
            self.truncated = self.truncated or size > 0
            return None
        self.left -= len(data)
        text = data.decode("utf-8", errors="ignore").strip()
        if len(data) < size:
            self.truncated = True
            note = (
                f"[... {rel} cut here: the rules files exceed the limit of "
                f"{self.max_bytes} bytes; {size - len(data)} more bytes not included]"
            )
            text = f"{text}\n{note}" if text else note
        return text

    def is_dir(self, rel: str) -> bool:
        try:
            return S_ISDIR(self.root.stat(rel).st_mode)
        except (OSError, pathguard.PathRejected):
            return False

    def dir_files(self, rel: str) -> list[str]:
        """The regular files beneath `rel` (links inside the workspace followed, up to
        MAX_DEPTH), sorted by file name as Roo sorts them (case-insensitive basename)."""
        found: list[str] = []

        def walk(directory: str, depth: int) -> None:
            if depth > MAX_DEPTH or len(found) >= MAX_DIR_FILES:
                return
            try:
                names = self.root.listdir(directory)
            except (OSError, pathguard.PathRejected):
                return
            for name in names:
                path = f"{directory}/{name}"
                try:
                    mode = self.root.stat(path).st_mode
                except (OSError, pathguard.PathRejected):
                    continue  # a link out of the workspace, a dangling link...
                if S_ISREG(mode) and not _excluded(name):
                    found.append(path)
                elif S_ISDIR(mode):
                    walk(path, depth + 1)
                if len(found) >= MAX_DIR_FILES:
                    return

        walk(rel, 0)
        return sorted(found, key=lambda p: (p.rsplit("/", 1)[-1].lower(), p))

    def directory(self, rel: str) -> str:
        """Roo's formatDirectoryContent: each file under "# Rules from <path>:"."""
        parts = []
        for path in self.dir_files(rel):
            text = self.read(path)
            if text:
                parts.append(f"# Rules from {path}:\n{text}")
        return "\n\n".join(parts)

    def first_file(self, names: tuple[str, ...], heading: Callable[[str], str]) -> str:
        for name in names:
            text = self.read(name)
            if text:
                return f"{heading(name)}\n{text}"
        return ""


def load_rules(workspace: Path, mode: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Rules:
    """The rules files of `workspace` for `mode`, in Roo's order (see the module's doc).
    Blocking: run it in a thread."""
    rules = Rules()
    try:
        root = pathguard.Root(workspace)
    except OSError:
        return rules
    with root:
        reader = _Reader(root, max_bytes)
        mode_dir = f".roo/rules-{mode}"
        if reader.is_dir(mode_dir):
            rules.mode = reader.directory(mode_dir)
        if not rules.mode:
            rules.mode = reader.first_file(
                (f".roorules-{mode}", f".clinerules-{mode}"), lambda n: f"# Rules from {n}:"
            )
        rules.agents = reader.first_file(
            ("AGENTS.md", "AGENT.md"), lambda n: f"# Agent Rules Standard ({n}):"
        )
        local = reader.first_file(("AGENTS.local.md",), lambda n: f"# Agent Rules Standard ({n}):")
        if local:
            rules.agents = f"{rules.agents}\n\n{local}" if rules.agents else local
        if reader.is_dir(".roo/rules"):
            rules.generic = reader.directory(".roo/rules")
        if not rules.generic:
            rules.generic = reader.first_file(
                (".roorules", ".clinerules"), lambda n: f"# Rules from {n}:"
            )
        rules.files = reader.files
        rules.truncated = reader.truncated
    return rules
