"""search_files: ripgrep in the sandbox, Roo's output format, caps and filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from roo.agent.tools.base import ToolContext
from roo.agent.tools.search_files import (
    MAX_RESULTS,
    FileResults,
    SearchFilesTool,
    SearchLine,
    format_results,
    parse_rg_json,
    truncate_line,
)
from tests.agent.commands.conftest import PrefixIgnore, make_context, require_ripgrep

pytestmark = pytest.mark.usefixtures("_rg")


@pytest.fixture
def _rg() -> None:
    require_ripgrep()


async def search(ctx: ToolContext, path: str, regex: str, pattern: str | None = None) -> str:
    result = await SearchFilesTool().run(
        {"path": path, "regex": regex, "file_pattern": pattern}, ctx
    )
    assert not result.is_error, result.text_content
    return result.text_content


def write(root: Path, rel: str, text: str) -> None:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


async def test_results_in_roo_format(tmp_path: Path, ctx: ToolContext) -> None:
    write(tmp_path, "src/app.py", "import os\n\ndef main():\n    # TODO: handle errors\n    pass\n")
    text = await search(ctx, ".", "TODO")
    assert text == (
        "Found 1 result.\n\n"
        "# src/app.py\n"
        "  3 | def main():\n"
        "  4 |     # TODO: handle errors\n"
        "  5 |     pass\n"
        "----"
    )


async def test_groups_and_files(tmp_path: Path, ctx: ToolContext) -> None:
    lines = [f"line {i}" for i in range(1, 21)]
    lines[1] = "hit one"
    lines[14] = "hit two"
    write(tmp_path, "a.txt", "\n".join(lines) + "\n")
    write(tmp_path, "sub/b.txt", "hit three\n")
    text = await search(ctx, ".", "hit")
    assert text.startswith("Found 3 results.\n\n")
    assert "# a.txt\n  1 | line 1\n  2 | hit one\n  3 | line 3\n----\n 14 | line 14\n" in text
    assert " 15 | hit two\n 16 | line 16\n----" in text
    assert "# sub/b.txt\n  1 | hit three\n----" in text


async def test_subdirectory_paths_are_workspace_relative(tmp_path: Path, ctx: ToolContext) -> None:
    write(tmp_path, "pkg/mod/x.py", "needle = 1\n")
    write(tmp_path, "other/y.py", "needle = 2\n")
    text = await search(ctx, "pkg", "needle")
    assert "# pkg/mod/x.py" in text
    assert "other" not in text


async def test_file_pattern(tmp_path: Path, ctx: ToolContext) -> None:
    write(tmp_path, "a.ts", "const needle = 1\n")
    write(tmp_path, "b.py", "needle = 1\n")
    text = await search(ctx, ".", "needle", "*.ts")
    assert "# a.ts" in text
    assert "b.py" not in text
    assert text.startswith("Found 1 result.")


async def test_no_results(tmp_path: Path, ctx: ToolContext) -> None:
    write(tmp_path, "a.txt", "nothing here\n")
    assert await search(ctx, ".", "absent_token") == "Found 0 results."


async def test_invalid_regex_is_no_results_found(tmp_path: Path, ctx: ToolContext) -> None:
    write(tmp_path, "a.txt", "x\n")
    result = await SearchFilesTool().run({"path": ".", "regex": "(unclosed"}, ctx)
    assert result.text_content == "No results found"
    assert "regex parse error" in str(result.data.get("error"))


async def test_cap_at_300_with_notice(tmp_path: Path, ctx: ToolContext) -> None:
    # 400 separate groups (matches 4 lines apart) in one file; more output than is read.
    write(tmp_path, "many.txt", "".join(f"match {i}\nfiller\nfiller\nfiller\n" for i in range(400)))
    result = await SearchFilesTool().run({"path": ".", "regex": "^match"}, ctx)
    text = result.text_content
    assert text.startswith(
        "Showing first 300 of 300+ results. Use a more specific search if necessary.\n\n"
    )
    assert text.count("----") == MAX_RESULTS
    assert result.data["truncated"] is True


async def test_rooignored_files_are_filtered(tmp_path: Path) -> None:
    write(tmp_path, "secret/keys.txt", "needle\n")
    write(tmp_path, "open.txt", "needle\n")
    ctx = make_context(tmp_path, ignore=PrefixIgnore("secret"))
    text = await search(ctx, ".", "needle")
    assert "# open.txt" in text
    assert "secret" not in text
    assert text.startswith("Found 1 result.")


async def test_searching_an_ignored_directory_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "secret/keys.txt", "needle\n")
    ctx = make_context(tmp_path, ignore=PrefixIgnore("secret"))
    result = await SearchFilesTool().run({"path": "secret", "regex": "needle"}, ctx)
    assert result.is_error
    assert "Access blocked by .rooignore" in result.text_content


async def test_long_lines_are_cut(tmp_path: Path, ctx: ToolContext) -> None:
    write(tmp_path, "long.txt", "needle" + "x" * 1000 + "\n")
    text = await search(ctx, ".", "needle")
    row = next(line for line in text.splitlines() if line.startswith("  1 | "))
    assert row == "  1 | " + ("needle" + "x" * 1000)[:500] + " [truncated...]"


async def test_path_escaping_the_workspace_is_refused(ctx: ToolContext) -> None:
    result = await SearchFilesTool().run({"path": "../", "regex": "x"}, ctx)
    assert result.is_error
    assert "Invalid path" in result.text_content


async def test_missing_regex_parameter(ctx: ToolContext) -> None:
    result = await SearchFilesTool().run({"path": "."}, ctx)
    assert result.is_error
    assert "Missing value for required parameter 'regex'" in result.text_content


def test_truncate_line() -> None:
    assert truncate_line("abc", 5) == "abc"
    assert truncate_line("abcdefgh", 5) == "abcde [truncated...]"


def test_parse_skips_garbage_and_non_utf8() -> None:
    out = "\n".join(
        [
            "not json",
            '{"type":"begin","data":{"path":{"text":"./a"}}}',
            '{"type":"match","data":{"lines":{"bytes":"/2hpdAo="},"line_number":7}}',
            '{"type":"end","data":{}}',
        ]
    )
    files = parse_rg_json(out)
    assert len(files) == 1
    assert files[0].groups[0][0].number == 7
    assert files[0].groups[0][0].text.endswith("hit\n")


def test_format_count_uses_thousands_separator() -> None:
    files = [FileResults("a", [[SearchLine(1, "x", True)]] * 5)]
    assert format_results(files).startswith("Found 5 results.")
