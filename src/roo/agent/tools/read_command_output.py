"""`read_command_output`: the whole output of a long command, read in pages (Roo's tool of the
same name, `ReadCommandOutputTool.ts`).

The model gets a command's output cut in the middle when it passes the session's
`maxOutputBytes`. With a `CommandOutputs` store in the tool context, `execute_command` also
keeps the output it streamed (up to `CommandOutputs.max_bytes`, default 16 MiB) as an artifact
(`cmd-<n>.txt`) and names it in its result; this tool reads an artifact by byte `offset` and
`limit` (default 40 KB, as Roo), or the lines matching `search` (a case-insensitive regular
expression, taken literally when it is not a valid one, as Roo's grep-like search).

Artifacts live in a private directory of the run, outside the workspace (the sandbox never sees
it), and are deleted when the run ends (`CommandOutputs.close`): a resumed task cannot read the
artifacts of an earlier run. At most `keep` artifacts are kept; older ones are removed first.
"""

from __future__ import annotations

import itertools
import re
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import IO

from pydantic import Field

from roo.agent.tools.base import ApprovalCategory, Tool, ToolContext, ToolParams, ToolResult

DEFAULT_LIMIT = 40 * 1024  # Roo's default page
MAX_LIMIT = 256 * 1024
_ARTIFACT_ID = re.compile(r"^cmd-\d+\.txt$")


class CommandOutputs:
    """A run's command output artifacts: files in a private temporary directory (created on
    first use), `max_bytes` each at most, the `keep` most recent kept."""

    def __init__(self, max_bytes: int = 16 * 1024 * 1024, keep: int = 20) -> None:
        self.max_bytes = max_bytes
        self.keep = keep
        self._dir: Path | None = None
        self._numbers = itertools.count(1)
        self._sizes: OrderedDict[str, int] = OrderedDict()

    def _directory(self) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="roo-command-output-"))
        return self._dir

    def writer(self) -> ArtifactWriter:
        """A new artifact to write a command's output into."""
        artifact_id = f"cmd-{next(self._numbers)}.txt"
        return ArtifactWriter(self, artifact_id, self._directory() / artifact_id)

    def _saved(self, artifact_id: str, size: int) -> None:
        self._sizes[artifact_id] = size
        while len(self._sizes) > self.keep:
            old, _ = self._sizes.popitem(last=False)
            (self._directory() / old).unlink(missing_ok=True)

    def path(self, artifact_id: str) -> Path | None:
        """The file of a kept artifact, None for an unknown id."""
        if not _ARTIFACT_ID.match(artifact_id) or artifact_id not in self._sizes:
            return None
        return self._directory() / artifact_id

    def close(self) -> None:
        """Delete every artifact (the run ended)."""
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None
        self._sizes.clear()


class ArtifactWriter:
    """Receives a command's output as it streams; `keep()` makes it readable, `discard()`
    drops it (the model got the whole output anyway)."""

    def __init__(self, store: CommandOutputs, artifact_id: str, path: Path) -> None:
        self.store = store
        self.artifact_id = artifact_id
        self.size = 0
        self.cut = False  # more output came than max_bytes
        self._path = path
        self._file: IO[bytes] | None = path.open("wb")

    def write(self, chunk: bytes) -> None:
        if self._file is None:
            return
        room = self.store.max_bytes - self.size
        if len(chunk) > room:
            chunk, self.cut = chunk[: max(room, 0)], True
        if chunk:
            self._file.write(chunk)
            self.size += len(chunk)

    def keep(self) -> None:
        self._close()
        self.store._saved(self.artifact_id, self.size)

    def discard(self) -> None:
        self._close()
        self._path.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class ReadCommandOutputParams(ToolParams):
    artifact_id: str = Field(
        description="The artifact named in the result of execute_command (e.g. cmd-1.txt)."
    )
    search: str | None = Field(
        default=None,
        description="Return only the lines matching this case-insensitive regular expression "
        "(or literal text), with their line numbers; null to read by offset.",
    )
    offset: int = Field(default=0, ge=0, description="Byte offset to start reading from.")
    limit: int = Field(
        default=DEFAULT_LIMIT,
        gt=0,
        le=MAX_LIMIT,
        description=f"Maximum bytes to return (default {DEFAULT_LIMIT}).",
    )


def _pattern(search: str) -> re.Pattern[str]:
    try:
        return re.compile(search, re.IGNORECASE)
    except re.error:
        return re.compile(re.escape(search), re.IGNORECASE)


def read_page(path: Path, offset: int, limit: int) -> tuple[str, int, int]:
    """(text, the offset after it, the artifact's size); text decoded leniently."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(min(offset, size))
        data = handle.read(limit)
    return data.decode("utf-8", errors="replace"), min(offset, size) + len(data), size


def search_lines(path: Path, search: str, offset: int, limit: int) -> tuple[str, int, bool]:
    """The matching lines from `offset` on ("<line number>: <line>"), at most `limit` bytes;
    (text, matches, whether more matches were left out)."""
    pattern = _pattern(search)
    out: list[str] = []
    used = matches = 0
    more = False
    with path.open("rb") as handle:
        position = 0
        for number, raw in enumerate(handle, start=1):
            start, position = position, position + len(raw)
            if start < offset:
                continue
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not pattern.search(line):
                continue
            entry = f"{number}: {line}"
            if used + len(entry) + 1 > limit:
                more = True
                break
            out.append(entry)
            used += len(entry) + 1
            matches += 1
    return "\n".join(out), matches, more


class ReadCommandOutputTool(Tool):
    name = "read_command_output"
    description = (
        "Read the full output of an earlier execute_command whose output was too long to show "
        "whole (its result names an artifact_id such as cmd-1.txt). Read it in pages with "
        "`offset` (bytes) and `limit` (bytes, default 40 KB), or pass `search` (a "
        "case-insensitive regular expression or literal text, like grep) to get only the "
        "matching lines with their line numbers. Artifacts last until the task's run ends."
    )
    Params = ReadCommandOutputParams
    category = ApprovalCategory.READ

    async def execute(self, params: ReadCommandOutputParams, ctx: ToolContext) -> ToolResult:
        store = ctx.command_outputs
        path = store.path(params.artifact_id) if store is not None else None
        if path is None or not path.exists():
            return ToolResult.error(
                f"Artifact '{params.artifact_id}' not found. Artifacts are named in the result "
                "of execute_command when its output was too long, and last until the task's "
                "run ends; run the command again if you need its output."
            )
        if params.search is not None:
            text, matches, more = search_lines(path, params.search, params.offset, params.limit)
            header = (
                f"Artifact {params.artifact_id}: {matches} matching line(s) for "
                f"'{params.search}'{' from byte ' + str(params.offset) if params.offset else ''}"
            )
            if more:
                header += " (more matches left out: narrow the search or raise the limit)"
            return ToolResult.text(f"{header}\n{text}" if text else f"{header}\n(no matches)")
        text, end, size = read_page(path, params.offset, params.limit)
        header = f"Artifact {params.artifact_id}: bytes {min(params.offset, size)}-{end} of {size}"
        if end < size:
            header += f" ({size - end} more: call again with offset={end})"
        return ToolResult.text(f"{header}\n{text}")
