"""apply_diff: Roo's multi search/replace edit of one existing file in the workspace.

Reads and writes go through the path guard; the file is replaced atomically. Failures (missing
file, refused path, `.rooignore`, blocks that match nowhere) are tool errors with Roo's texts.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import ClassVar

from roo import pathguard
from roo.agent.diff import DiffResult, apply_diff
from roo.agent.tools.base import ApprovalCategory, Tool, ToolContext, ToolParams, ToolResult
from roo.agent.tools.diffview import edit_diff

_READ_CHUNK = 1 << 20
WRITE_NOTICE = (
    "You do not need to re-read the file, as you have seen all changes Proceed with the task "
    "using these changes as the new baseline."
)
SINGLE_BLOCK_NOTICE = (
    "<notice>Making multiple related changes in a single apply_diff is more efficient. If other "
    "changes are needed in this file, please include them as additional SEARCH/REPLACE "
    "blocks.</notice>"
)


def _json(value: dict[str, object]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def missing_parameter(name: str) -> str:
    return f"Missing value for required parameter '{name}'. Please retry with complete response."


def rooignore_error(path: str) -> str:
    return _json(
        {
            "status": "error",
            "type": "access_denied",
            "message": "Access blocked by .rooignore",
            "path": path,
            "suggestion": (
                "Try to continue without this file, or ask the user to update the .rooignore file"
            ),
        }
    )


def tool_error(error: str) -> str:
    return _json({"status": "error", "message": "The tool execution failed", "error": error})


def file_not_found(path: str) -> str:
    return (
        f"File does not exist at path: {path}\n\n<error_details>\nThe specified file could not "
        "be found. Please verify the file path and try again.\n</error_details>"
    )


def unable_to_apply(path: str, details: str) -> str:
    return f"Unable to apply diff to file: {path}\n\n<error_details>\n{details}\n</error_details>"


def _read(workspace: Path, path: str) -> bytes:
    fd = pathguard.open_read(workspace, path)
    try:
        chunks = []
        while chunk := os.read(fd, _READ_CHUNK):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _write(workspace: Path, path: str, data: bytes) -> None:
    with pathguard.open_write(workspace, path) as writer:
        writer.write(data)
        writer.commit()


class ApplyDiffParams(ToolParams):
    path: str
    diff: str


class ApplyDiffTool(Tool):
    name: ClassVar[str] = "apply_diff"
    description: ClassVar[str] = (
        "Apply precise, targeted modifications to an existing file using one or more "
        "search/replace blocks. Each block names the exact existing lines to find (SEARCH, "
        "including whitespace and indentation) and the lines to put in their place (REPLACE). "
        "Put several blocks in one call to make several related changes to the same file; "
        "blocks that cannot be matched are reported one by one while the others are applied. "
        "Read the file first if you are not sure of its current content.\n\n"
        "Format of each block:\n"
        "<<<<<<< SEARCH\n"
        ":start_line:[line number where the search content starts]\n"
        "-------\n"
        "[exact content to find]\n"
        "=======\n"
        "[new content to replace with]\n"
        ">>>>>>> REPLACE\n\n"
        "Lines of the file that look like these markers must be escaped with a leading "
        "backslash (\\=======, \\<<<<<<<, \\>>>>>>>)."
    )
    Params: ClassVar[type[ToolParams]] = ApplyDiffParams
    category: ClassVar[ApprovalCategory] = ApprovalCategory.WRITE

    async def execute(self, params: ApplyDiffParams, ctx: ToolContext) -> ToolResult:
        if not params.path:
            return ToolResult.error(missing_parameter("path"), invalid_parameters=True)
        if not params.diff:
            return ToolResult.error(missing_parameter("diff"), invalid_parameters=True)
        try:
            relative = "/".join(pathguard.split(params.path))
        except pathguard.PathRejected as exc:
            return ToolResult.error(tool_error(f"Path '{params.path}' refused: {exc.reason}"))
        if ctx.ignore.ignored(relative):
            return ToolResult.error(rooignore_error(relative), access_denied=True)

        try:
            raw = await asyncio.to_thread(_read, ctx.workspace, relative)
        except pathguard.PathRejected as exc:
            return ToolResult.error(tool_error(f"Path '{relative}' refused: {exc.reason}"))
        except FileNotFoundError:
            return ToolResult.error(file_not_found(relative))
        except IsADirectoryError:
            return ToolResult.error(tool_error(f"'{relative}' is a directory, not a file"))
        except OSError as exc:
            return ToolResult.error(tool_error(f"Cannot read '{relative}': {exc.strerror}"))
        try:
            original = raw.decode("utf-8")
        except UnicodeDecodeError:
            return ToolResult.error(
                unable_to_apply(
                    relative, "The file is not UTF-8 text; apply_diff edits text files."
                )
            )

        result = apply_diff(original, params.diff, fuzzy_threshold=ctx.fuzzy_threshold)
        data = _result_data(result)
        if not result.success or result.content is None:
            details = result.error or "\n\n".join(part.error for part in result.fail_parts)
            return ToolResult.error(unable_to_apply(relative, details), **data)

        try:
            await asyncio.to_thread(_write, ctx.workspace, relative, result.content.encode("utf-8"))
        except pathguard.PathRejected as exc:
            return ToolResult.error(tool_error(f"Path '{relative}' refused: {exc.reason}"), **data)
        except OSError as exc:
            return ToolResult.error(
                tool_error(f"Cannot write '{relative}': {exc.strerror}"), **data
            )

        data.update(await asyncio.to_thread(edit_diff, relative, original, result.content))
        message = _json({"path": relative, "operation": "modified", "notice": WRITE_NOTICE})
        if result.fail_parts:
            message = (
                f"But unable to apply all diff parts to file: {relative}. Use the read_file tool "
                "to check the newest file version and re-apply diffs.\n" + message
            )
        if result.total == 1:
            message += "\n\n" + SINGLE_BLOCK_NOTICE
        return ToolResult.text(message, operation="modified", **data)


def _result_data(result: DiffResult) -> dict[str, object]:
    return {
        "applied": result.applied,
        "total": result.total,
        "failed_blocks": [
            {"index": part.index, "start_line": part.start_line, "error": part.error}
            for part in result.fail_parts
        ],
    }
