"""insert_content on real files: line 0 (append), 1, middle, end, beyond, new files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from roo.agent.tools.base import ApprovalCategory, ToolContext
from roo.agent.tools.insert_content import InsertContentTool
from tests.agent.tools.conftest import make_ctx

TOOL = InsertContentTool()


def test_metadata() -> None:
    assert TOOL.name == "insert_content"
    assert TOOL.category is ApprovalCategory.WRITE


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (1, "X\na\nb\nc\n"),
        (2, "a\nX\nb\nc\n"),
        (3, "a\nb\nX\nc\n"),
        (4, "a\nb\nc\nX\n"),  # the line after the last one: the end
        (0, "a\nb\nc\nX\n"),  # append
        (99, "a\nb\nc\nX\n"),  # beyond the end: appended, as Roo's insert-groups
    ],
)
async def test_insert_positions(ws: Path, ctx: ToolContext, line: int, expected: str) -> None:
    (ws / "f.txt").write_text("a\nb\nc\n")
    result = await TOOL.run({"path": "f.txt", "line": line, "content": "X"}, ctx)
    assert not result.is_error
    assert (ws / "f.txt").read_text() == expected
    assert json.loads(result.text_content)["operation"] == "modified"


async def test_multiline_content_with_trailing_newline(ws: Path, ctx: ToolContext) -> None:
    (ws / "f.py").write_text("import os\ndef f(): pass\n")
    await TOOL.run({"path": "f.py", "line": 2, "content": "import re\nimport sys\n"}, ctx)
    assert (ws / "f.py").read_text() == "import os\nimport re\nimport sys\ndef f(): pass\n"


async def test_append_to_file_without_final_newline(ws: Path, ctx: ToolContext) -> None:
    (ws / "f.txt").write_text("a")
    await TOOL.run({"path": "f.txt", "line": 0, "content": "b"}, ctx)
    assert (ws / "f.txt").read_text() == "a\nb"


async def test_crlf_is_kept(ws: Path, ctx: ToolContext) -> None:
    (ws / "f.txt").write_bytes(b"a\r\nb\r\n")
    await TOOL.run({"path": "f.txt", "line": 2, "content": "X"}, ctx)
    assert (ws / "f.txt").read_bytes() == b"a\r\nX\r\nb\r\n"


@pytest.mark.parametrize("line", [0, 1])
async def test_new_file_lines_0_and_1(ws: Path, ctx: ToolContext, line: int) -> None:
    result = await TOOL.run({"path": "new/dir/f.txt", "line": line, "content": "hello\n"}, ctx)
    assert not result.is_error
    assert json.loads(result.text_content)["operation"] == "created"
    assert (ws / "new/dir/f.txt").read_text() == "hello\n"


async def test_new_file_other_line_is_refused(ws: Path, ctx: ToolContext) -> None:
    result = await TOOL.run({"path": "f.txt", "line": 3, "content": "x"}, ctx)
    assert result.is_error
    assert result.text_content == (
        "Cannot insert content at line 3 into a non-existent file. For new files, 'line' must be "
        "0 (to append) or 1 (to insert at the beginning)."
    )
    assert not (ws / "f.txt").exists()


async def test_negative_line(ctx: ToolContext) -> None:
    result = await TOOL.run({"path": "f.txt", "line": -1, "content": "x"}, ctx)
    assert result.is_error
    assert result.text_content == "Invalid line number. Must be a non-negative integer."


async def test_non_integer_line(ctx: ToolContext) -> None:
    result = await TOOL.run({"path": "f.txt", "line": "two", "content": "x"}, ctx)
    assert result.is_error
    assert result.text_content.startswith("Invalid parameters for tool 'insert_content'")


async def test_rooignored_and_escaping(ws: Path) -> None:
    (ws / ".rooignore").write_text("locked.txt\n")
    (ws / "locked.txt").write_text("a\n")
    ctx = make_ctx(ws)
    denied = await TOOL.run({"path": "locked.txt", "line": 0, "content": "x"}, ctx)
    assert json.loads(denied.text_content)["type"] == "access_denied"
    escape = await TOOL.run({"path": "../x.txt", "line": 0, "content": "x"}, ctx)
    assert escape.is_error
    assert "'..' segments are not allowed" in escape.text_content
