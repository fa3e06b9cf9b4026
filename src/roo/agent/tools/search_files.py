"""`search_files`: a regex search over a directory with ripgrep, run inside the session's sandbox.

Roo's behaviour (`src/services/ripgrep/index.ts`): `rg --json -e <regex> [--glob <pattern>]
--context 1 --no-messages <dir>`, at most 300x5 lines of ripgrep output read, at most 300 result
groups, lines cut to 500 characters, `.rooignore`'d files dropped, and any ripgrep error (an
invalid regex, a missing binary) reported to the model as "No results found".
"""

from __future__ import annotations

import asyncio
import base64
import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from roo.agent.tools.base import (
    ApprovalCategory,
    Tool,
    ToolContext,
    ToolParams,
    ToolResult,
    busy_error,
)
from roo.agent.tools.rooignore import check_path
from roo.sandbox import SandboxBusy, SandboxError

MAX_RESULTS = 300
MAX_LINE_LENGTH = 500
MAX_OUTPUT_LINES = MAX_RESULTS * 5
SEARCH_TIMEOUT = 60.0
NO_RESULTS = "No results found"


def truncate_line(line: str, max_length: int = MAX_LINE_LENGTH) -> str:
    """Roo's cut: the first `max_length` characters, then " [truncated...]"."""
    return line[:max_length] + " [truncated...]" if len(line) > max_length else line


@dataclass(slots=True)
class SearchLine:
    number: int
    text: str
    is_match: bool


@dataclass(slots=True)
class FileResults:
    path: str
    groups: list[list[SearchLine]] = field(default_factory=list)

    def add(self, line: SearchLine) -> None:
        """Contiguous lines (a match and its context) form one group; a gap starts a new one."""
        if self.groups and self.groups[-1] and line.number <= self.groups[-1][-1].number + 1:
            self.groups[-1].append(line)
        else:
            self.groups.append([line])


def _text(value: Any) -> str | None:
    """ripgrep's `{"text": ...}` or, for bytes that are not UTF-8, `{"bytes": base64}`."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("text"), str):
        return str(value["text"])
    if isinstance(value.get("bytes"), str):
        try:
            return base64.b64decode(value["bytes"]).decode("utf-8", errors="replace")
        except ValueError:
            return None
    return None


def parse_rg_json(output: str) -> list[FileResults]:
    """The files and their result groups from `rg --json` output (unparsable lines skipped)."""
    results: list[FileResults] = []
    current: FileResults | None = None
    for raw in output.splitlines()[:MAX_OUTPUT_LINES]:
        if not raw.strip():
            continue
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
            continue
        kind, data = event.get("type"), event["data"]
        if kind == "begin":
            path = _text(data.get("path"))
            current = FileResults(path) if path is not None else None
        elif kind == "end":
            if current is not None:
                results.append(current)
            current = None
        elif kind in ("match", "context") and current is not None:
            text = _text(data.get("lines"))
            number = data.get("line_number")
            if text is None or not isinstance(number, int):
                continue
            current.add(SearchLine(number, truncate_line(text), kind == "match"))
    if current is not None and current.groups:  # output cut before the file's "end"
        results.append(current)
    return results


def format_results(files: list[FileResults]) -> str:
    """Roo's text: the count header, then `# path`, `  N | line` rows, groups ended by `----`."""
    total = sum(len(f.groups) for f in files)
    if total >= MAX_RESULTS:
        out = [
            f"Showing first {MAX_RESULTS} of {MAX_RESULTS}+ results. Use a more specific "
            "search if necessary.\n"
        ]
    else:
        out = [f"Found {'1 result' if total == 1 else f'{total:,} results'}.\n"]
    shown = 0
    for file in files:
        if shown >= MAX_RESULTS:
            break
        out.append(f"# {file.path}")
        for group in file.groups:
            if shown >= MAX_RESULTS:
                break
            shown += 1
            out.extend(f"{line.number:>3} | {line.text.rstrip()}" for line in group)
            out.append("----")
        out.append("")
    return "\n".join(out).strip()


class SearchFilesParams(ToolParams):
    path: str = Field(
        description="Directory to search recursively, relative to the workspace ('.' for all)."
    )
    regex: str = Field(description="Regular expression to search for (Rust regex syntax).")
    file_pattern: str | None = Field(
        default=None,
        description="Glob limiting which files are searched (e.g. '*.ts'); null for all files.",
    )


class SearchFilesTool(Tool):
    name = "search_files"
    description = (
        "Request to perform a regex search across files in a specified directory, providing "
        "context-rich results. This tool searches for patterns or specific content across "
        "multiple files, displaying each match with encapsulating context.\n\n"
        "Craft your regex patterns carefully to balance specificity and flexibility. Use this "
        "tool to find code patterns, TODO comments, function definitions, or any text-based "
        "information across the project. The results include surrounding context, so analyze "
        "the surrounding code to better understand the matches. Combine this tool with other "
        "tools for more comprehensive analysis. At most 300 results are shown."
    )
    Params = SearchFilesParams
    category = ApprovalCategory.READ

    async def execute(self, params: SearchFilesParams, ctx: ToolContext) -> ToolResult:
        checked = check_path(ctx, params.path, allow_root=True, directory=True)
        if isinstance(checked, ToolResult):
            return checked
        rel = checked or "."
        argv = ["rg", "--json", "-e", params.regex]
        if params.file_pattern:
            # Roo escapes spaces so that names with spaces match literally.
            argv += ["--glob", params.file_pattern.replace(" ", "\\ ")]
        argv += ["--context", "1", "--no-messages", rel]

        cancel = asyncio.Event()
        seen = 0

        async def count_lines(stream: str, chunk: bytes) -> None:
            # ripgrep cannot stop after N results: stop it once enough output has come.
            nonlocal seen
            if stream == "stdout":
                seen += chunk.count(b"\n")
                if seen > MAX_OUTPUT_LINES:
                    cancel.set()

        try:
            result = await ctx.run_command(
                argv, cwd=".", timeout=SEARCH_TIMEOUT, on_output=count_lines, cancel=cancel
            )
        except SandboxBusy as exc:
            return busy_error(exc)
        except (SandboxError, OSError, ValueError) as exc:
            return ToolResult.text(NO_RESULTS, error=str(exc))
        stderr = result.stderr.decode("utf-8", errors="replace").strip()
        if stderr or (result.killed_reason not in (None, "cancelled")):
            return ToolResult.text(NO_RESULTS, error=stderr or result.killed_reason)
        files = parse_rg_json(result.stdout.decode("utf-8", errors="replace"))
        for file in files:
            file.path = posixpath.normpath(file.path)
        files = [f for f in files if not ctx.ignore.ignored(f.path)]
        total = sum(len(f.groups) for f in files)
        return ToolResult.text(
            format_results(files),
            results=min(total, MAX_RESULTS),
            truncated=total >= MAX_RESULTS,
        )
