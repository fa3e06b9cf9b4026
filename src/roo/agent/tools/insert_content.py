"""insert_content (Roo's XML-era tool): insert lines before a 1-based line; 0 appends.

A line past the end appends, as Roo's insert-groups does. A missing file may only take line 0
or 1 and is created (with its parent directories).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from pydantic import Field

from roo import pathguard
from roo.agent.tools.base import ApprovalCategory, Tool, ToolContext, ToolParams, ToolResult
from roo.agent.tools.diffview import edit_diff
from roo.agent.tools.rooignore import check_path
from roo.agent.tools.write_to_file import WriteError, read_existing, write_result, write_text


class InsertContentParams(ToolParams):
    path: str = Field(description="Path of the file, relative to the workspace.")
    line: int = Field(
        description=(
            "1-based line number the content is inserted before; 0 appends at the end of the file."
        )
    )
    content: str = Field(description="The lines to insert.")


def insert_lines(original: str, line: int, content: str) -> str:
    """`original` with `content`'s lines inserted before `line` (0 or past the end: append)."""
    newline = "\r\n" if "\r\n" in original else "\n"
    text = original.replace("\r\n", "\n")
    trailing = text.endswith("\n")
    lines = text.split("\n")
    if trailing:
        lines.pop()
    if original == "":
        lines = []
    inserted = content.replace("\r\n", "\n")
    if inserted.endswith("\n"):
        inserted = inserted[:-1]
    new_lines = inserted.split("\n")
    index = len(lines) if line == 0 or line - 1 > len(lines) else line - 1
    result = "\n".join(lines[:index] + new_lines + lines[index:])
    if trailing or (original == "" and content.endswith("\n")):
        result += "\n"
    return result.replace("\n", newline) if newline != "\n" else result


def _insert_sync(ctx: ToolContext, rel: str, line: int, content: str) -> ToolResult:
    try:
        with pathguard.Root(ctx.workspace) as root:
            original = read_existing(root, rel)
            if original is None and line > 1:
                return ToolResult.error(
                    f"Cannot insert content at line {line} into a non-existent file. For new "
                    "files, 'line' must be 0 (to append) or 1 (to insert at the beginning).",
                    path=rel,
                )
            updated = insert_lines(original or "", line, content)
            if original is not None and updated == original:
                return ToolResult.text(f"No changes needed for '{rel}'", path=rel)
            write_text(root, rel, updated)
    except WriteError as exc:
        return ToolResult.error(exc.text, path=rel)
    operation = "created" if original is None else "modified"
    return write_result(rel, operation, line=line, **edit_diff(rel, original, updated))


class InsertContentTool(Tool):
    name = "insert_content"
    description = (
        "Insert new lines into a file without modifying existing content. `line` is the "
        "1-based line number the content goes before (1 = top of the file); 0 appends at the "
        "end. Use it for imports, new functions or configuration blocks."
    )
    Params: ClassVar[type[ToolParams]] = InsertContentParams
    category = ApprovalCategory.WRITE

    async def execute(self, params: InsertContentParams, ctx: ToolContext) -> ToolResult:
        if params.line < 0:
            return ToolResult.error("Invalid line number. Must be a non-negative integer.")
        rel = check_path(ctx, params.path)
        if isinstance(rel, ToolResult):
            return rel
        return await asyncio.to_thread(_insert_sync, ctx, rel, params.line, params.content)
