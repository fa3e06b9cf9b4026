"""read_file: one file, `offset`/`limit` lines, numbered `N | text`, Roo's notices.

Text files are decoded as UTF-8 (invalid bytes replaced). `.ipynb` notebooks are reduced to their
cells' sources with a marker line per cell. Images (png, jpg, jpeg, gif, webp, bmp, ico, avif,
tiff) come back as an image block when the model takes images, up to 5 MB per file. SVG is
XML text and is read as text, as Roo does (its image path only sees binary files). Any other
binary file is refused as binary.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import os
from stat import S_ISDIR, S_ISREG
from typing import Any, ClassVar

from pydantic import Field

from roo import pathguard
from roo.agent.tools.base import (
    ApprovalCategory,
    ImageBlock,
    TextBlock,
    Tool,
    ToolContext,
    ToolParams,
    ToolResult,
)
from roo.agent.tools.rooignore import check_path, os_error_text

DEFAULT_LINE_LIMIT = 2000
MAX_LINE_LENGTH = 2000
MAX_IMAGE_FILE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_FILE_MB = 5
BINARY_SAMPLE_BYTES = 8192
# Files are read whole to count and slice their lines: past this, reading would cost the service
# more memory than any answer is worth (the model is pointed to search_files instead).
MAX_TEXT_FILE_BYTES = 64 * 1024 * 1024

IMAGE_MIME_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".ico": "image/x-icon",
    ".avif": "image/avif",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
}


class ReadFileParams(ToolParams):
    path: str = Field(description="Path of the file to read, relative to the workspace.")
    offset: int | None = Field(
        default=None, description="1-based line number to start reading from (default 1)."
    )
    limit: int | None = Field(
        default=None,
        description=f"Maximum number of lines to return (default {DEFAULT_LINE_LIMIT}).",
    )


def split_lines(text: str) -> list[str]:
    """Lines as an editor counts them: `\\n` or `\\r\\n` separated, no phantom last line."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def number_lines(lines: list[str], start: int) -> str:
    """`N | text` with the numbers right-aligned to one width; long lines cut with `...`."""
    width = len(str(start + len(lines) - 1))
    out = []
    for index, line in enumerate(lines):
        if len(line) > MAX_LINE_LENGTH:
            line = line[:MAX_LINE_LENGTH] + "..."
        out.append(f"{start + index:>{width}} | {line}")
    return "\n".join(out)


def slice_text(text: str, offset: int, limit: int) -> tuple[str, bool, dict[str, Any]]:
    """(the body after `File: ...`, is_error, data) for `offset`/`limit` of `text`."""
    lines = split_lines(text)
    total = len(lines)
    if total == 0:
        return "Note: File is empty", False, {"totalLines": 0, "truncated": False}
    if offset > total:
        return (
            f"Error: offset {offset} is beyond file end ({total} lines)",
            True,
            {"totalLines": total},
        )
    end = min(total, offset - 1 + limit)
    body = number_lines(lines[offset - 1 : end], offset)
    truncated = end < total
    if end < total:
        body = (
            "IMPORTANT: File content truncated.\n"
            f"Status: Showing lines {offset}-{end} of {total} total lines.\n"
            f"To read more: Use the read_file tool with offset={end + 1} and limit={limit}.\n\n"
            + body
        )
    return body, False, {"totalLines": total, "truncated": truncated, "lines": [offset, end]}


def looks_binary(sample: bytes) -> bool:
    """isbinaryfile's idea: a NUL byte, or (for non-UTF-8 data) many control bytes."""
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return False
    except UnicodeDecodeError:
        pass
    suspicious = sum(1 for b in sample if b < 7 or (14 <= b < 32 and b != 27))
    return suspicious * 10 > len(sample)


def notebook_text(raw: bytes) -> str:
    """The sources of a Jupyter notebook's cells, each under a `# %% [type]` marker line."""
    notebook = json.loads(raw.decode("utf-8", errors="replace"))
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError("not a Jupyter notebook (no 'cells' list)")
    parts: list[str] = []
    for number, cell in enumerate(notebook["cells"], start=1):
        if not isinstance(cell, dict):
            continue
        kind = str(cell.get("cell_type", "code"))
        source = cell.get("source", "")
        text = "".join(str(s) for s in source) if isinstance(source, list) else str(source)
        parts.append(f"# %% [{kind}] cell {number}")
        parts.append(text.rstrip("\n"))
    return "\n".join(parts) + ("\n" if parts else "")


def _read_all(fd: int, limit: int = MAX_TEXT_FILE_BYTES) -> bytes | None:
    """The file's bytes, or None when it holds more than `limit` (it may grow while read)."""
    chunks: list[bytes] = []
    total = 0
    while chunk := os.read(fd, 1 << 20):
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _format_size(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}"


def read_file_sync(ctx: ToolContext, rel: str, offset: int, limit: int) -> ToolResult:
    def error(message: str, **data: Any) -> ToolResult:
        return ToolResult.error(f"File: {rel}\nError: {message}", path=rel, **data)

    try:
        with pathguard.Root(ctx.workspace) as root:
            fd = root.open(rel)
    except pathguard.PathRejected as exc:
        return error(f"Invalid path '{rel}': {exc.reason}.", path_rejected=True)
    except OSError as exc:
        return error(os_error_text(exc, rel))
    try:
        mode = os.fstat(fd).st_mode
        if S_ISDIR(mode):
            return error(
                f"Cannot read '{rel}' because it is a directory. Use list_files tool instead."
            )
        if not S_ISREG(mode):
            return error(f"Cannot read '{rel}': it is not a regular file.")
        ext = os.path.splitext(rel)[1].lower()
        if ext in IMAGE_MIME_TYPES:
            return _read_image(ctx, fd, rel, ext)
        raw = _read_all(fd)
        if raw is None:
            return error(
                f"Cannot read '{rel}': the file is larger than "
                f"{_format_size(MAX_TEXT_FILE_BYTES)} MB. Use search_files to find the part you "
                "need, or execute_command with head, tail or sed to see a section.",
                too_large=True,
            )
    except OSError as exc:
        return error(os_error_text(exc, rel))
    finally:
        os.close(fd)
    if ext == ".ipynb":
        try:
            text = notebook_text(raw)
        except ValueError as exc:
            return error(f"Error extracting text: {exc}")
    elif looks_binary(raw[:BINARY_SAMPLE_BYTES]):
        fmt = ext[1:] or "bin"
        return error(
            f"Cannot read '{rel}': it is a binary file ({fmt}), and its content cannot be "
            "displayed as text.",
            binary=True,
        )
    else:
        text = raw.decode("utf-8", errors="replace")
    body, is_error, data = slice_text(text, offset, limit)
    result_text = f"File: {rel}\n{body}"
    if is_error:
        return ToolResult.error(result_text, path=rel, **data)
    return ToolResult.text(result_text, path=rel, **data)


def _read_image(ctx: ToolContext, fd: int, rel: str, ext: str) -> ToolResult:
    if not ctx.supports_images:
        return ToolResult.text(
            f"File: {rel}\nNote: Image file detected but current model does not support images. "
            "Skipping image processing.",
            path=rel,
            image=False,
        )
    size = os.fstat(fd).st_size
    if size > MAX_IMAGE_FILE_BYTES:
        return ToolResult.error(
            f"File: {rel}\nError: Image file is too large ({_format_size(size)} MB). "
            f"The maximum allowed size is {MAX_IMAGE_FILE_MB} MB.",
            path=rel,
            size=size,
        )
    raw = _read_all(fd, MAX_IMAGE_FILE_BYTES)
    if raw is None:  # grew since the stat
        return ToolResult.error(
            f"File: {rel}\nError: Image file is too large (over {MAX_IMAGE_FILE_MB} MB). "
            f"The maximum allowed size is {MAX_IMAGE_FILE_MB} MB.",
            path=rel,
        )
    kilobytes = round(len(raw) / 1024)
    return ToolResult(
        (
            TextBlock(f"File: {rel}\nNote: Image file ({kilobytes} KB)"),
            ImageBlock.from_bytes(IMAGE_MIME_TYPES[ext], raw),
        ),
        False,
        {"path": rel, "image": True, "size": len(raw)},
    )


class ReadFileTool(Tool):
    name = "read_file"
    description = (
        "Read a file and return its contents with line numbers (`N | text`) for diffing or "
        "discussion. Reads up to `limit` lines (default 2000) from the 1-based line `offset`; "
        "when a file is longer, a notice before the content says how to read the rest. Text is "
        "extracted from Jupyter notebooks (.ipynb); images (png, jpg, gif, webp, ...) are "
        "returned as images when the model supports them. Use list_files for directories. To "
        "read several files, call this tool several times."
    )
    Params: ClassVar[type[ToolParams]] = ReadFileParams
    category = ApprovalCategory.READ

    async def execute(self, params: ReadFileParams, ctx: ToolContext) -> ToolResult:
        offset = 1 if params.offset is None else params.offset
        limit = DEFAULT_LINE_LIMIT if params.limit is None else params.limit
        if offset < 1:
            return ToolResult.error(
                f"Error: offset must be a 1-indexed line number (got {offset}). Line numbers "
                "start at 1."
            )
        if limit < 1:
            return ToolResult.error(
                f"Error: limit must be a positive number of lines (got {limit})."
            )
        rel = check_path(ctx, params.path)
        if isinstance(rel, ToolResult):
            return rel
        return await asyncio.to_thread(read_file_sync, ctx, rel, offset, limit)
