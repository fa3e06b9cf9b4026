"""write_to_file on real files: created/modified, parents, fences, omission guard, refusals."""

from __future__ import annotations

import json
import os
from pathlib import Path

from roo.agent.tools.base import ApprovalCategory, ToolContext
from roo.agent.tools.write_to_file import (
    WRITE_NOTICE,
    WriteToFileTool,
    detect_omission,
    strip_code_fences,
)
from tests.agent.tools.conftest import make_ctx

TOOL = WriteToFileTool()


def test_metadata() -> None:
    assert TOOL.name == "write_to_file"
    assert TOOL.category is ApprovalCategory.WRITE
    assert TOOL.parameters_schema()["required"] == ["path", "content"]


async def test_creates_file_and_parents(ws: Path, ctx: ToolContext) -> None:
    result = await TOOL.run({"path": "a/b/c.py", "content": "print('hi')\n"}, ctx)
    assert not result.is_error
    assert (ws / "a/b/c.py").read_text() == "print('hi')\n"
    assert json.loads(result.text_content) == {
        "path": "a/b/c.py",
        "operation": "created",
        "notice": WRITE_NOTICE,
    }
    assert result.data["operation"] == "created"


async def test_modifies_existing_file(ws: Path, ctx: ToolContext) -> None:
    (ws / "x.txt").write_text("old\n")
    os.chmod(ws / "x.txt", 0o640)
    result = await TOOL.run({"path": "x.txt", "content": "new\n"}, ctx)
    assert json.loads(result.text_content)["operation"] == "modified"
    assert result.data["operation"] == "modified"
    assert (ws / "x.txt").read_text() == "new\n"
    assert (ws / "x.txt").stat().st_mode & 0o777 == 0o640  # the file's mode is kept


async def test_empty_content_writes_an_empty_file(ws: Path, ctx: ToolContext) -> None:
    result = await TOOL.run({"path": "empty.txt", "content": ""}, ctx)
    assert not result.is_error
    assert (ws / "empty.txt").read_text() == ""


def test_strip_code_fences() -> None:
    assert strip_code_fences("```python\nx = 1\n```") == "x = 1\n"
    assert strip_code_fences("```\nx = 1\n```\n") == "x = 1\n"
    assert strip_code_fences("x = 1\n") == "x = 1\n"
    assert strip_code_fences("```") == ""
    # a fence inside the content stays
    assert strip_code_fences("a\n```\nb\n") == "a\n```\nb\n"


async def test_fences_are_stripped_on_write(ws: Path, ctx: ToolContext) -> None:
    await TOOL.run({"path": "f.py", "content": "```python\ndef f():\n    pass\n```"}, ctx)
    assert (ws / "f.py").read_text() == "def f():\n    pass\n"


def _program(lines: int) -> str:
    return "".join(f"value_{i} = {i}\n" for i in range(lines))


async def test_omission_is_refused_with_roos_explanation(ws: Path, ctx: ToolContext) -> None:
    original = _program(150)
    (ws / "m.py").write_text(original)
    truncated = "value_0 = 0\n# ... existing code ...\nvalue_149 = 149\n"
    result = await TOOL.run({"path": "m.py", "content": truncated}, ctx)
    assert result.is_error
    assert result.text_content == (
        "Content appears to be truncated (file has 4 lines but the existing file has 151 lines), "
        "and found comments indicating omitted code (e.g., '// rest of code unchanged', "
        "'/* previous code */'). Please provide the complete file content without any omissions "
        "if possible, or otherwise use the 'apply_diff' tool to apply the diff to the original "
        "file."
    )
    assert (ws / "m.py").read_text() == original


def test_detect_omission_variants() -> None:
    original = _program(120)
    for comment in (
        "// rest of code unchanged",
        "/* previous code */",
        "<!-- same as before -->",
        "# ... existing code ...",
        "  // ... remains",
    ):
        assert detect_omission(original, f"x = 1\n{comment}\n"), comment
    # no comment keyword
    assert not detect_omission(original, "x = 1\n# a short file now\n")
    # a small original file is never guarded
    assert not detect_omission(_program(50), "// rest of code unchanged\n")
    # content not much shorter: allowed
    long_new = _program(110) + "// rest of code unchanged\n"
    assert not detect_omission(original, long_new)
    # the comment was already in the original file
    with_comment = "# ... existing code ...\n" + _program(120)
    assert not detect_omission(with_comment, "# ... existing code ...\n")
    # a new file (empty original)
    assert not detect_omission("", "// rest of code unchanged\n")


async def test_new_file_with_omission_comment_is_written(ws: Path, ctx: ToolContext) -> None:
    result = await TOOL.run({"path": "n.js", "content": "// rest of code unchanged\n"}, ctx)
    assert not result.is_error


async def test_directory_target_is_an_error(ws: Path, ctx: ToolContext) -> None:
    (ws / "d").mkdir()
    result = await TOOL.run({"path": "d", "content": "x"}, ctx)
    assert result.is_error
    assert result.text_content == "Cannot write to 'd' because it is a directory."


async def test_rooignored_path_is_refused(ws: Path) -> None:
    (ws / ".rooignore").write_text("private/\n")
    ctx = make_ctx(ws)
    result = await TOOL.run({"path": "private/new.txt", "content": "x"}, ctx)
    assert result.is_error
    assert result.data["access_denied"] is True
    assert json.loads(result.text_content) == {
        "status": "error",
        "type": "access_denied",
        "message": "Access blocked by .rooignore",
        "path": "private/new.txt",
        "suggestion": (
            "Try to continue without this file, or ask the user to update the .rooignore file"
        ),
    }
    assert not (ws / "private").exists()


async def test_escaping_and_absolute_paths_are_refused(ws: Path, tmp_path: Path) -> None:
    ctx = make_ctx(ws)
    for path in ("../evil.txt", "/tmp/evil.txt", "a/../../evil.txt", ""):
        result = await TOOL.run({"path": path, "content": "x"}, ctx)
        assert result.is_error, path
        assert result.text_content.startswith(f"Invalid path '{path}':")
    assert not (tmp_path / "evil.txt").exists()


async def test_symlink_to_outside_is_refused(ws: Path, tmp_path: Path, ctx: ToolContext) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, ws / "out")
    result = await TOOL.run({"path": "out/pwned.txt", "content": "x"}, ctx)
    assert result.is_error
    assert "outside the workspace" in result.text_content
    assert not (outside / "pwned.txt").exists()
    target = tmp_path / "target.txt"
    target.write_text("keep\n")
    os.symlink(target, ws / "file-link.txt")
    result = await TOOL.run({"path": "file-link.txt", "content": "x"}, ctx)
    assert result.is_error
    assert target.read_text() == "keep\n"


async def test_missing_content_parameter(ctx: ToolContext) -> None:
    result = await TOOL.run({"path": "a.txt"}, ctx)
    assert result.is_error
    assert result.text_content.startswith("Missing value for required parameter 'content'.")
