"""write_to_file: create or replace a whole file; Roo's clean-up and truncation guard.

Also the helpers the other writing tools share (`read_existing`, `write_text`, `write_result`).
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
from typing import ClassVar

from pydantic import Field

from roo import pathguard
from roo.agent.tools.base import ApprovalCategory, Tool, ToolContext, ToolParams, ToolResult
from roo.agent.tools.diffview import edit_diff
from roo.agent.tools.rooignore import check_path, os_error_text

WRITE_NOTICE = (
    "You do not need to re-read the file, as you have seen all changes Proceed with the task "
    "using these changes as the new baseline."
)

# detect-omission: a new comment line with one of these words, in content at least 20 % shorter
# than a file of 100+ lines, is the model leaving code out ("// rest of code unchanged").
OMISSION_MIN_LINES = 100
OMISSION_MAX_RATIO = 0.8
OMISSION_KEYWORDS = frozenset(
    {"remain", "remains", "unchanged", "rest", "previous", "existing", "content", "same", "..."}
)
_COMMENT = re.compile(r"^\s*(?://|#|/\*|\{\s*/\*|<!--|\[)")


class WriteError(Exception):
    """A write refused or failed; `text` is for the model."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def read_existing(root: pathguard.Root, rel: str) -> str | None:
    """The current text of `rel` (None when it does not exist); WriteError when unusable."""
    try:
        fd = root.open_read(rel)
    except FileNotFoundError:
        return None
    except pathguard.PathRejected as exc:
        raise WriteError(f"Invalid path '{rel}': {exc.reason}.") from None
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise WriteError(f"Cannot write to '{rel}' because it is a directory.") from None
        raise WriteError(f"Error reading file '{rel}': {os_error_text(exc, rel)}") from None
    try:
        chunks: list[bytes] = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    except OSError as exc:
        raise WriteError(f"Error reading file '{rel}': {os_error_text(exc, rel)}") from None
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", errors="replace")


def write_text(root: pathguard.Root, rel: str, text: str) -> None:
    """Replace (or create, with its parent directories) `rel` atomically."""
    try:
        with root.open_write(rel, create_parents=True) as writer:
            writer.write(text.encode("utf-8"))
            writer.commit()
    except pathguard.PathRejected as exc:
        raise WriteError(f"Invalid path '{rel}': {exc.reason}.") from None
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise WriteError(f"Cannot write to '{rel}' because it is a directory.") from None
        raise WriteError(f"Error writing file '{rel}': {os_error_text(exc, rel)}") from None


def write_result(rel: str, operation: str, **data: object) -> ToolResult:
    """Roo's result for a successful write (the JSON of the native-protocol era)."""
    text = json.dumps({"path": rel, "operation": operation, "notice": WRITE_NOTICE})
    return ToolResult.text(text, operation=operation, path=rel, **data)


def strip_code_fences(content: str) -> str:
    """Drop a leading ``` line and a trailing ``` line that weaker models wrap content in."""
    if content.startswith("```"):
        content = content.split("\n", 1)[1] if "\n" in content else ""
    stripped = content.rstrip()
    if stripped.endswith("```"):
        lines = stripped.split("\n")
        if lines[-1].strip().startswith("```"):
            content = "\n".join(lines[:-1])
            if content:
                content += "\n"
    return content


def detect_omission(original: str, new: str) -> bool:
    """Roo's detect-omission, with the existing file's length as the predicted length."""
    predicted = len(original.split("\n")) if original else 0
    if predicted < OMISSION_MIN_LINES:
        return False
    new_lines = new.split("\n")
    if len(new_lines) / predicted > OMISSION_MAX_RATIO:
        return False
    original_lines = set(original.split("\n"))
    for line in new_lines:
        if not _COMMENT.match(line) or line in original_lines:
            continue
        if any(word in OMISSION_KEYWORDS for word in line.lower().split()):
            return True
    return False


def omission_error(new: str, original: str) -> str:
    return (
        f"Content appears to be truncated (file has {len(new.split(chr(10)))} lines but the "
        f"existing file has {len(original.split(chr(10)))} lines), and found comments indicating "
        "omitted code (e.g., '// rest of code unchanged', '/* previous code */'). Please provide "
        "the complete file content without any omissions if possible, or otherwise use the "
        "'apply_diff' tool to apply the diff to the original file."
    )


class WriteToFileParams(ToolParams):
    path: str = Field(description="Path of the file to write, relative to the workspace.")
    content: str = Field(
        description="The COMPLETE new content of the file, without omissions or line numbers."
    )


def _write_sync(ctx: ToolContext, rel: str, content: str) -> ToolResult:
    try:
        with pathguard.Root(ctx.workspace) as root:
            original = read_existing(root, rel)
            if original is not None and detect_omission(original, content):
                return ToolResult.error(omission_error(content, original), omission=True)
            write_text(root, rel, content)
    except WriteError as exc:
        return ToolResult.error(exc.text, path=rel)
    return write_result(
        rel, "created" if original is None else "modified", **edit_diff(rel, original, content)
    )


class WriteToFileTool(Tool):
    name = "write_to_file"
    description = (
        "Write complete content to a file. If the file exists it is overwritten, otherwise it "
        "is created; missing directories are created. Always provide the COMPLETE file: "
        "partial content or placeholders such as '// rest of code unchanged' are refused. For "
        "changes to existing files prefer apply_diff or edit."
    )
    Params: ClassVar[type[ToolParams]] = WriteToFileParams
    category = ApprovalCategory.WRITE
    aliases = ("write_file",)

    async def execute(self, params: WriteToFileParams, ctx: ToolContext) -> ToolResult:
        rel = check_path(ctx, params.path)
        if isinstance(rel, ToolResult):
            return rel
        content = strip_code_fences(params.content)
        return await asyncio.to_thread(_write_sync, ctx, rel, content)
