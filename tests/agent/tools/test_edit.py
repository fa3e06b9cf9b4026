"""edit / search_and_replace on real files: Roo's error texts, uniqueness and replace_all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from roo.agent.tools.base import ApprovalCategory, ToolContext
from roo.agent.tools.edit import EditTool
from roo.agent.tools.registry import ToolRegistry
from tests.agent.tools.conftest import make_ctx

TOOL = EditTool()


def test_metadata_and_alias() -> None:
    assert TOOL.name == "edit"
    assert TOOL.category is ApprovalCategory.WRITE
    registry = ToolRegistry([TOOL])
    assert registry.get("search_and_replace") is TOOL
    schema = TOOL.parameters_schema()
    assert set(schema["required"]) == {"file_path", "old_string", "new_string"}


async def test_unique_replacement(ws: Path, ctx: ToolContext) -> None:
    (ws / "a.py").write_text("def f():\n    return 1\n")
    result = await TOOL.run(
        {"file_path": "a.py", "old_string": "return 1", "new_string": "return 2"}, ctx
    )
    assert not result.is_error
    assert (ws / "a.py").read_text() == "def f():\n    return 2\n"
    assert json.loads(result.text_content)["operation"] == "modified"
    assert result.data["operation"] == "modified"
    assert result.data["replacements"] == 1


async def test_ambiguous_match_is_refused(ws: Path, ctx: ToolContext) -> None:
    (ws / "a.py").write_text("x = 1\nx = 1\nx = 1\n")
    result = await TOOL.run({"file_path": "a.py", "old_string": "x = 1", "new_string": "y"}, ctx)
    assert result.is_error
    assert result.text_content == (
        "Found 3 matches of 'old_string' in the file. Use 'replace_all: true' to replace all "
        "occurrences, or provide more context in 'old_string' to make it unique."
    )
    assert (ws / "a.py").read_text() == "x = 1\nx = 1\nx = 1\n"


async def test_replace_all(ws: Path, ctx: ToolContext) -> None:
    (ws / "a.py").write_text("x = 1\nx = 1\nz = 0\n")
    result = await TOOL.run(
        {"file_path": "a.py", "old_string": "x = 1", "new_string": "y = $1", "replace_all": True},
        ctx,
    )
    assert not result.is_error
    assert result.data["replacements"] == 2
    assert (ws / "a.py").read_text() == "y = $1\ny = $1\nz = 0\n"


async def test_not_found(ws: Path, ctx: ToolContext) -> None:
    (ws / "a.py").write_text("    indented\n")
    result = await TOOL.run(
        {"file_path": "a.py", "old_string": "  indented\t", "new_string": "x"}, ctx
    )
    assert result.is_error
    assert result.text_content == (
        "No match found for 'old_string' in a.py. Make sure the text to find appears exactly in "
        "the file, including whitespace and indentation."
    )


async def test_identical_strings(ws: Path, ctx: ToolContext) -> None:
    result = await TOOL.run({"file_path": "a.py", "old_string": "x", "new_string": "x"}, ctx)
    assert result.is_error
    assert result.text_content == (
        "'old_string' and 'new_string' are identical. No changes needed. If you want to make a "
        "change, ensure 'old_string' and 'new_string' are different."
    )


async def test_file_not_found(ctx: ToolContext) -> None:
    result = await TOOL.run({"file_path": "gone.py", "old_string": "a", "new_string": "b"}, ctx)
    assert result.is_error
    assert result.text_content == (
        "File not found: gone.py. Cannot perform edit on a non-existent file."
    )


async def test_empty_old_string(ws: Path, ctx: ToolContext) -> None:
    result = await TOOL.run({"file_path": "a.py", "old_string": "", "new_string": "b"}, ctx)
    assert result.is_error
    assert result.text_content == (
        "Missing value for required parameter 'old_string'. Please retry with complete response."
    )


async def test_crlf_file_keeps_crlf(ws: Path, ctx: ToolContext) -> None:
    (ws / "w.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    result = await TOOL.run(
        {"file_path": "w.txt", "old_string": "one\ntwo", "new_string": "1\n2"}, ctx
    )
    assert not result.is_error
    assert (ws / "w.txt").read_bytes() == b"1\r\n2\r\nthree\r\n"


async def test_multiline_and_deletion(ws: Path, ctx: ToolContext) -> None:
    (ws / "a.py").write_text("a\nb\nc\n")
    result = await TOOL.run({"file_path": "a.py", "old_string": "b\n", "new_string": ""}, ctx)
    assert not result.is_error
    assert (ws / "a.py").read_text() == "a\nc\n"


@pytest.mark.parametrize("path", ["../x.py", "/etc/passwd"])
async def test_bad_paths(ctx: ToolContext, path: str) -> None:
    result = await TOOL.run({"file_path": path, "old_string": "a", "new_string": "b"}, ctx)
    assert result.is_error
    assert result.text_content.startswith(f"Invalid path '{path}':")


async def test_rooignored(ws: Path) -> None:
    (ws / ".rooignore").write_text("*.secret\n")
    (ws / "k.secret").write_text("a\n")
    result = await TOOL.run(
        {"file_path": "k.secret", "old_string": "a", "new_string": "b"}, make_ctx(ws)
    )
    assert result.is_error
    assert json.loads(result.text_content)["type"] == "access_denied"
    assert (ws / "k.secret").read_text() == "a\n"
