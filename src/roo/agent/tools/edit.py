"""edit (alias search_and_replace): exact `old_string` -> `new_string` in one file.

Matching is exact after normalising CRLF to LF in the file and in both strings; a file that used
CRLF keeps CRLF when written back.
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


class EditParams(ToolParams):
    file_path: str = Field(description="Path of the file to modify, relative to the workspace.")
    old_string: str = Field(
        description="The exact text to replace (whitespace and indentation included)."
    )
    new_string: str = Field(description="The text to replace it with.")
    replace_all: bool | None = Field(
        default=False,
        description="Replace every occurrence (default false: old_string must be unique).",
    )


def _edit_sync(ctx: ToolContext, rel: str, old: str, new: str, replace_all: bool) -> ToolResult:
    try:
        with pathguard.Root(ctx.workspace) as root:
            original = read_existing(root, rel)
            if original is None:
                return ToolResult.error(
                    f"File not found: {rel}. Cannot perform edit on a non-existent file.",
                    path=rel,
                )
            crlf = "\r\n" in original
            content = original.replace("\r\n", "\n") if crlf else original
            matches = content.count(old)
            if matches == 0:
                return ToolResult.error(
                    f"No match found for 'old_string' in {rel}. Make sure the text to find "
                    "appears exactly in the file, including whitespace and indentation.",
                    path=rel,
                    matches=0,
                )
            if matches > 1 and not replace_all:
                return ToolResult.error(
                    f"Found {matches} matches of 'old_string' in the file. Use 'replace_all: "
                    "true' to replace all occurrences, or provide more context in 'old_string' "
                    "to make it unique.",
                    path=rel,
                    matches=matches,
                )
            updated = content.replace(old, new) if replace_all else content.replace(old, new, 1)
            if updated == content:
                return ToolResult.text(f"No changes needed for '{rel}'", path=rel, replacements=0)
            write_text(root, rel, updated.replace("\n", "\r\n") if crlf else updated)
    except WriteError as exc:
        return ToolResult.error(exc.text, path=rel)
    return write_result(rel, "modified", replacements=matches, **edit_diff(rel, content, updated))


class EditTool(Tool):
    name = "edit"
    description = (
        "Replace text in an existing file by exact string matching. `old_string` must match "
        "the file exactly (whitespace and indentation included) and, unless `replace_all` is "
        "true, occur exactly once; add surrounding lines to make it unique."
    )
    Params: ClassVar[type[ToolParams]] = EditParams
    category = ApprovalCategory.WRITE
    aliases = ("search_and_replace",)

    async def execute(self, params: EditParams, ctx: ToolContext) -> ToolResult:
        if not params.file_path:
            return ToolResult.error(_missing("file_path"), invalid_parameters=True)
        if not params.old_string:
            return ToolResult.error(_missing("old_string"), invalid_parameters=True)
        old = params.old_string.replace("\r\n", "\n")
        new = params.new_string.replace("\r\n", "\n")
        if old == new:
            return ToolResult.error(
                "'old_string' and 'new_string' are identical. No changes needed. If you want to "
                "make a change, ensure 'old_string' and 'new_string' are different."
            )
        rel = check_path(ctx, params.file_path)
        if isinstance(rel, ToolResult):
            return rel
        return await asyncio.to_thread(_edit_sync, ctx, rel, old, new, bool(params.replace_all))


def _missing(name: str) -> str:
    return f"Missing value for required parameter '{name}'. Please retry with complete response."
