"""The apply_diff tool on real files in a temporary workspace."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from roo.agent.tools.apply_diff import ApplyDiffTool
from roo.agent.tools.base import ApprovalCategory, IgnoreRules, ToolContext


async def _never_called(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("apply_diff must not run commands")


class _IgnoreSecrets(IgnoreRules):
    def ignored(self, relative_path: str) -> bool:
        return relative_path.startswith("secrets/")


def _ctx(workspace: Path, **options: Any) -> ToolContext:
    return ToolContext(workspace=workspace, run_command=_never_called, **options)


def block(search: str, replace: str, start: int = 1) -> str:
    hint = f":start_line:{start}\n-------\n"
    return f"<<<<<<< SEARCH\n{hint}{search}\n=======\n{replace}\n>>>>>>> REPLACE"


def test_tool_metadata() -> None:
    assert ApplyDiffTool.name == "apply_diff"
    assert ApplyDiffTool.category is ApprovalCategory.WRITE
    schema = ApplyDiffTool.parameters_schema()
    assert sorted(schema["required"]) == ["diff", "path"]


async def test_success_writes_file_and_returns_roo_text(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    target = tmp_path / "src" / "app.py"
    target.write_text("def f():\n    return 1\n")
    os.chmod(target, 0o700)
    result = await ApplyDiffTool().run(
        {"path": "src/app.py", "diff": block("    return 1", "    return 2", 2)}, _ctx(tmp_path)
    )
    assert not result.is_error
    assert target.read_text() == "def f():\n    return 2\n"
    assert os.stat(target).st_mode & 0o777 == 0o700
    text = result.text_content
    payload, notice = text.split("\n\n", 1)
    assert json.loads(payload) == {
        "path": "src/app.py",
        "operation": "modified",
        "notice": "You do not need to re-read the file, as you have seen all changes Proceed "
        "with the task using these changes as the new baseline.",
    }
    assert notice.startswith("<notice>Making multiple related changes in a single apply_diff")
    assert result.data["applied"] == 1


async def test_multi_block_success_has_no_batching_notice(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one\ntwo\n")
    diff = block("one", "1", 1) + "\n" + block("two", "2", 2)
    result = await ApplyDiffTool().run({"path": "a.txt", "diff": diff}, _ctx(tmp_path))
    assert (tmp_path / "a.txt").read_text() == "1\n2\n"
    assert "<notice>" not in result.text_content


async def test_partial_success_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("first\nsecond\nthird\n")
    diff = "\n".join([block("first", "1", 1), block("nope", "x", 2), block("third", "3", 3)])
    result = await ApplyDiffTool().run({"path": "a.txt", "diff": diff}, _ctx(tmp_path))
    assert not result.is_error
    assert (tmp_path / "a.txt").read_text() == "1\nsecond\n3\n"
    assert result.text_content.startswith(
        "But unable to apply all diff parts to file: a.txt. Use the read_file tool to check the "
        "newest file version and re-apply diffs.\n{"
    )
    assert result.data["applied"] == 2
    assert result.data["total"] == 3
    assert [b["index"] for b in result.data["failed_blocks"]] == [1]


async def test_no_match_leaves_file_unchanged(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello\n")
    result = await ApplyDiffTool().run({"path": "a.txt", "diff": block("bye", "x")}, _ctx(tmp_path))
    assert result.is_error
    assert result.text_content.startswith(
        "Unable to apply diff to file: a.txt\n\n<error_details>\nNo sufficiently similar match"
    )
    assert result.text_content.endswith("\n</error_details>")
    assert (tmp_path / "a.txt").read_text() == "hello\n"


async def test_malformed_diff_is_a_tool_error(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello\n")
    result = await ApplyDiffTool().run(
        {"path": "a.txt", "diff": "<<<<<<< SEARCH\nhello\n>>>>>>> REPLACE"}, _ctx(tmp_path)
    )
    assert result.is_error
    assert "ERROR: Diff block is malformed" in result.text_content


async def test_fuzzy_threshold_comes_from_context(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("const value = computeTotal(items)\n")
    diff = block("const value = computeTotl(items)", "const value = 0")
    strict = await ApplyDiffTool().run({"path": "a.txt", "diff": diff}, _ctx(tmp_path))
    assert strict.is_error
    loose = await ApplyDiffTool().run(
        {"path": "a.txt", "diff": diff}, _ctx(tmp_path, fuzzy_threshold=0.9)
    )
    assert not loose.is_error
    assert (tmp_path / "a.txt").read_text() == "const value = 0\n"


async def test_crlf_file_round_trip(tmp_path: Path) -> None:
    (tmp_path / "w.txt").write_bytes(b"a\r\nb\r\n")
    await ApplyDiffTool().run({"path": "w.txt", "diff": block("b", "c", 2)}, _ctx(tmp_path))
    assert (tmp_path / "w.txt").read_bytes() == b"a\r\nc\r\n"


async def test_file_not_found(tmp_path: Path) -> None:
    result = await ApplyDiffTool().run(
        {"path": "nope.txt", "diff": block("a", "b")}, _ctx(tmp_path)
    )
    assert result.is_error
    assert result.text_content == (
        "File does not exist at path: nope.txt\n\n<error_details>\nThe specified file could not "
        "be found. Please verify the file path and try again.\n</error_details>"
    )


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "a/../../x"])
async def test_path_escaping_workspace_is_refused(tmp_path: Path, path: str) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (tmp_path / "outside.txt").write_text("a\n")
    result = await ApplyDiffTool().run({"path": path, "diff": block("a", "b")}, _ctx(workspace))
    assert result.is_error
    assert json.loads(result.text_content)["status"] == "error"
    assert (tmp_path / "outside.txt").read_text() == "a\n"


async def test_symlink_leading_outside_is_refused(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (tmp_path / "outside.txt").write_text("a\n")
    (workspace / "link.txt").symlink_to(tmp_path / "outside.txt")
    result = await ApplyDiffTool().run(
        {"path": "link.txt", "diff": block("a", "b")}, _ctx(workspace)
    )
    assert result.is_error
    assert (tmp_path / "outside.txt").read_text() == "a\n"


async def test_ignored_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "key.txt").write_text("a\n")
    result = await ApplyDiffTool().run(
        {"path": "./secrets/key.txt", "diff": block("a", "b")},
        _ctx(tmp_path, ignore=_IgnoreSecrets()),
    )
    assert result.is_error
    assert json.loads(result.text_content) == {
        "status": "error",
        "type": "access_denied",
        "message": "Access blocked by .rooignore",
        "path": "secrets/key.txt",
        "suggestion": "Try to continue without this file, or ask the user to update the "
        ".rooignore file",
    }
    assert (tmp_path / "secrets" / "key.txt").read_text() == "a\n"


@pytest.mark.parametrize(
    ("params", "missing"),
    [({"path": "a.txt"}, "diff"), ({"diff": "x"}, "path"), ({"path": "a.txt", "diff": ""}, "diff")],
)
async def test_missing_parameters(tmp_path: Path, params: dict[str, str], missing: str) -> None:
    result = await ApplyDiffTool().run(params, _ctx(tmp_path))
    assert result.is_error
    assert result.text_content == (
        f"Missing value for required parameter '{missing}'. Please retry with complete response."
    )


async def test_unknown_parameter_is_an_error(tmp_path: Path) -> None:
    result = await ApplyDiffTool().run({"path": "a", "diff": "x", "extra": 1}, _ctx(tmp_path))
    assert result.is_error
    assert "Invalid parameters for tool 'apply_diff'" in result.text_content


async def test_directory_and_binary_files_are_errors(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00")
    as_dir = await ApplyDiffTool().run({"path": "d", "diff": block("a", "b")}, _ctx(tmp_path))
    assert as_dir.is_error
    binary = await ApplyDiffTool().run({"path": "bin", "diff": block("a", "b")}, _ctx(tmp_path))
    assert binary.is_error
    assert "not UTF-8" in binary.text_content
