"""read_file on real files: numbering, caps, notices, notebooks, images, refusals."""

from __future__ import annotations

import base64
import functools
import json
import os
from pathlib import Path

import pytest

from roo.agent.tools.base import ApprovalCategory, ImageBlock, ToolContext
from roo.agent.tools.read_file import ReadFileTool
from tests.agent.tools.conftest import make_ctx

TOOL = ReadFileTool()
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_metadata() -> None:
    assert TOOL.name == "read_file"
    assert TOOL.category is ApprovalCategory.READ
    schema = TOOL.parameters_schema()
    assert schema["required"] == ["path"]
    assert set(schema["properties"]) == {"path", "offset", "limit"}


async def test_numbers_lines_with_equal_width(ws: Path, ctx: ToolContext) -> None:
    (ws / "a.txt").write_text("".join(f"line {i}\n" for i in range(1, 13)))
    result = await TOOL.run({"path": "a.txt"}, ctx)
    assert not result.is_error
    lines = result.text_content.split("\n")
    assert lines[0] == "File: a.txt"
    assert lines[1] == " 1 | line 1"
    assert lines[12] == "12 | line 12"
    assert len(lines) == 13  # no phantom line for the final newline
    assert result.data["totalLines"] == 12
    assert result.data["truncated"] is False


async def test_crlf_and_no_final_newline(ws: Path, ctx: ToolContext) -> None:
    (ws / "w.txt").write_bytes(b"a\r\nb\r\nc")
    result = await TOOL.run({"path": "w.txt"}, ctx)
    assert result.text_content == "File: w.txt\n1 | a\n2 | b\n3 | c"


async def test_offset_and_limit_put_the_truncation_notice_first(ws: Path, ctx: ToolContext) -> None:
    (ws / "big.py").write_text("\n".join(f"x{i}" for i in range(1, 101)) + "\n")
    result = await TOOL.run({"path": "big.py", "offset": 10, "limit": 5}, ctx)
    assert result.text_content == (
        "File: big.py\n"
        "IMPORTANT: File content truncated.\n"
        "Status: Showing lines 10-14 of 100 total lines.\n"
        "To read more: Use the read_file tool with offset=15 and limit=5.\n"
        "\n"
        "10 | x10\n11 | x11\n12 | x12\n13 | x13\n14 | x14"
    )
    assert result.data["truncated"] is True


async def test_default_limit_is_2000_lines(ws: Path, ctx: ToolContext) -> None:
    (ws / "long.txt").write_text("".join(f"{i}\n" for i in range(2500)))
    result = await TOOL.run({"path": "long.txt", "offset": None, "limit": None}, ctx)
    text = result.text_content
    assert "Status: Showing lines 1-2000 of 2500 total lines." in text
    assert "offset=2001 and limit=2000" in text
    assert text.endswith("2000 | 1999")
    assert text.index("IMPORTANT") < text.index("   1 | 0")


async def test_last_page_has_no_notice(ws: Path, ctx: ToolContext) -> None:
    (ws / "f.txt").write_text("a\nb\nc\n")
    result = await TOOL.run({"path": "f.txt", "offset": 2, "limit": 10}, ctx)
    assert result.text_content == "File: f.txt\n2 | b\n3 | c"


async def test_offset_beyond_end_is_an_error(ws: Path, ctx: ToolContext) -> None:
    (ws / "f.txt").write_text("a\nb\n")
    result = await TOOL.run({"path": "f.txt", "offset": 5}, ctx)
    assert result.is_error
    assert result.text_content == "File: f.txt\nError: offset 5 is beyond file end (2 lines)"


async def test_invalid_offset_and_limit(ws: Path, ctx: ToolContext) -> None:
    (ws / "f.txt").write_text("a\n")
    bad = await TOOL.run({"path": "f.txt", "offset": 0}, ctx)
    assert bad.is_error
    assert bad.text_content == (
        "Error: offset must be a 1-indexed line number (got 0). Line numbers start at 1."
    )
    bad_limit = await TOOL.run({"path": "f.txt", "limit": 0}, ctx)
    assert bad_limit.is_error
    assert "limit must be a positive number of lines (got 0)" in bad_limit.text_content


async def test_long_lines_are_cut(ws: Path, ctx: ToolContext) -> None:
    (ws / "min.js").write_text("x" * 2500 + "\nshort\n")
    result = await TOOL.run({"path": "min.js"}, ctx)
    first = result.text_content.split("\n")[1]
    assert first == "1 | " + "x" * 2000 + "..."
    exactly = "y" * 2000
    (ws / "edge.js").write_text(exactly + "\n")
    edge = await TOOL.run({"path": "edge.js"}, ctx)
    assert edge.text_content == f"File: edge.js\n1 | {exactly}"


async def test_empty_file(ws: Path, ctx: ToolContext) -> None:
    (ws / "empty.txt").write_text("")
    result = await TOOL.run({"path": "empty.txt"}, ctx)
    assert not result.is_error
    assert result.text_content == "File: empty.txt\nNote: File is empty"


async def test_directory_points_to_list_files(ws: Path, ctx: ToolContext) -> None:
    (ws / "src").mkdir()
    result = await TOOL.run({"path": "src"}, ctx)
    assert result.is_error
    assert result.text_content == (
        "File: src\nError: Cannot read 'src' because it is a directory. Use list_files tool "
        "instead."
    )


async def test_missing_file(ctx: ToolContext) -> None:
    result = await TOOL.run({"path": "nope/x.py"}, ctx)
    assert result.is_error
    assert result.text_content == "File: nope/x.py\nError: File not found: nope/x.py"


async def test_missing_path_parameter(ctx: ToolContext) -> None:
    result = await TOOL.run({}, ctx)
    assert result.is_error
    assert result.text_content.startswith("Missing value for required parameter 'path'.")


async def test_unknown_parameter_is_an_error(ctx: ToolContext) -> None:
    result = await TOOL.run({"path": "a", "mode": "slice", "bogus": 1}, ctx)
    assert result.is_error
    assert result.data["invalid_parameters"] is True


async def test_absolute_and_escaping_paths_are_refused(ws: Path, ctx: ToolContext) -> None:
    (ws / "a.txt").write_text("a\n")
    absolute = await TOOL.run({"path": str(ws / "a.txt")}, ctx)
    assert absolute.is_error
    assert absolute.text_content.startswith(f"Invalid path '{ws / 'a.txt'}': absolute paths")
    escape = await TOOL.run({"path": "../outside.txt"}, ctx)
    assert escape.is_error
    assert escape.text_content == ("Invalid path '../outside.txt': '..' segments are not allowed.")
    home = await TOOL.run({"path": "~/x"}, ctx)
    assert home.is_error


async def test_symlink_to_outside_is_refused(ws: Path, tmp_path: Path, ctx: ToolContext) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    os.symlink(secret, ws / "link.txt")
    os.symlink("../secret.txt", ws / "rel-link.txt")
    for name in ("link.txt", "rel-link.txt"):
        result = await TOOL.run({"path": name}, ctx)
        assert result.is_error
        assert "top secret" not in result.text_content
        assert "outside the workspace" in result.text_content


async def test_symlink_inside_is_followed(ws: Path, ctx: ToolContext) -> None:
    (ws / "real.txt").write_text("hello\n")
    os.symlink("real.txt", ws / "alias.txt")
    result = await TOOL.run({"path": "alias.txt"}, ctx)
    assert result.text_content == "File: alias.txt\n1 | hello"


async def test_rooignored_file_is_denied(ws: Path) -> None:
    (ws / ".rooignore").write_text("secrets/\n*.key\n")
    (ws / "secrets").mkdir()
    (ws / "secrets" / "db.txt").write_text("pw\n")
    (ws / "id.key").write_text("k\n")
    ctx = make_ctx(ws)
    for path in ("secrets/db.txt", "id.key", "./secrets/db.txt"):
        result = await TOOL.run({"path": path}, ctx)
        assert result.is_error
        payload = json.loads(result.text_content)
        assert payload["type"] == "access_denied"
        assert payload["message"] == "Access blocked by .rooignore"
        assert payload["path"] == path.removeprefix("./")


async def test_notebook_text_is_extracted(ws: Path, ctx: ToolContext) -> None:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["# Title\n", "Some text"]},
            {
                "cell_type": "code",
                "source": "import os\nprint(os.getcwd())\n",
                "outputs": [{"output_type": "stream", "text": ["SHOULD NOT APPEAR"]}],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (ws / "nb.ipynb").write_text(json.dumps(notebook))
    result = await TOOL.run({"path": "nb.ipynb"}, ctx)
    assert not result.is_error
    assert result.text_content == (
        "File: nb.ipynb\n"
        "1 | # %% [markdown] cell 1\n"
        "2 | # Title\n"
        "3 | Some text\n"
        "4 | # %% [code] cell 2\n"
        "5 | import os\n"
        "6 | print(os.getcwd())"
    )


async def test_broken_notebook_is_an_error(ws: Path, ctx: ToolContext) -> None:
    (ws / "bad.ipynb").write_text("{not json")
    result = await TOOL.run({"path": "bad.ipynb"}, ctx)
    assert result.is_error
    assert result.text_content.startswith("File: bad.ipynb\nError: Error extracting text:")


async def test_image_is_returned_as_an_image_block(ws: Path, ctx: ToolContext) -> None:
    (ws / "dot.png").write_bytes(PNG)
    result = await TOOL.run({"path": "dot.png"}, ctx)
    assert not result.is_error
    image = result.content[1]
    assert isinstance(image, ImageBlock)
    assert image.media_type == "image/png"
    assert base64.b64decode(image.data) == PNG
    assert result.text_content == "File: dot.png\nNote: Image file (0 KB)"


async def test_jpeg_media_type(ws: Path, ctx: ToolContext) -> None:
    (ws / "p.JPG").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    result = await TOOL.run({"path": "p.JPG"}, ctx)
    image = result.content[1]
    assert isinstance(image, ImageBlock)
    assert image.media_type == "image/jpeg"


async def test_image_over_5_mb_is_refused(ws: Path, ctx: ToolContext) -> None:
    (ws / "huge.png").write_bytes(PNG + b"\x00" * (5 * 1024 * 1024))
    result = await TOOL.run({"path": "huge.png"}, ctx)
    assert result.is_error
    assert len(result.content) == 1
    assert result.text_content == (
        "File: huge.png\nError: Image file is too large (5.0 MB). The maximum allowed size is 5 MB."
    )
    (ws / "max.png").write_bytes(b"\x89PNG" + b"\x00" * (5 * 1024 * 1024 - 4))
    at_cap = await TOOL.run({"path": "max.png"}, ctx)
    assert not at_cap.is_error


async def test_image_without_model_support(ws: Path) -> None:
    (ws / "dot.png").write_bytes(PNG)
    result = await TOOL.run({"path": "dot.png"}, make_ctx(ws, supports_images=False))
    assert not result.is_error
    assert len(result.content) == 1
    assert "current model does not support images" in result.text_content


async def test_svg_is_read_as_text(ws: Path, ctx: ToolContext) -> None:
    (ws / "icon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>\n')
    result = await TOOL.run({"path": "icon.svg"}, ctx)
    assert result.text_content == 'File: icon.svg\n1 | <svg xmlns="http://www.w3.org/2000/svg"/>'


async def test_binary_file_is_refused(ws: Path, ctx: ToolContext) -> None:
    (ws / "prog.bin").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)))
    result = await TOOL.run({"path": "prog.bin"}, ctx)
    assert result.is_error
    assert result.data["binary"] is True
    assert result.text_content == (
        "File: prog.bin\nError: Cannot read 'prog.bin': it is a binary file (bin), and its "
        "content cannot be displayed as text."
    )
    (ws / "noext").write_bytes(b"\x00\x01\x02")
    assert (await TOOL.run({"path": "noext"}, ctx)).is_error


async def test_non_utf8_text_is_read_lossily(ws: Path, ctx: ToolContext) -> None:
    (ws / "latin.txt").write_bytes("café\n".encode("latin-1"))
    result = await TOOL.run({"path": "latin.txt"}, ctx)
    assert not result.is_error
    assert result.text_content == "File: latin.txt\n1 | caf\ufffd"


async def test_fifo_is_not_read(ws: Path, ctx: ToolContext) -> None:
    os.mkfifo(ws / "pipe")
    result = await TOOL.run({"path": "pipe"}, ctx)
    assert result.is_error
    assert "not a regular file" in result.text_content


async def test_files_too_large_to_read_are_refused(
    ws: Path, ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from roo.agent.tools import read_file as module

    monkeypatch.setattr(module, "_read_all", functools.partial(module._read_all, limit=1024))
    (ws / "big.log").write_text("line\n" * 1000)
    (ws / "small.log").write_text("line\n" * 10)
    big = await module.ReadFileTool().run({"path": "big.log"}, ctx)
    assert big.is_error
    assert "larger than" in big.text_content
    assert "search_files" in big.text_content
    small = await module.ReadFileTool().run({"path": "small.log"}, ctx)
    assert not small.is_error
