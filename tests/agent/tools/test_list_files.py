"""list_files on real trees: order, cap, heavy dirs, .gitignore, .rooignore, links."""

from __future__ import annotations

import os
from pathlib import Path

from roo.agent.tools.base import ApprovalCategory, ToolContext
from roo.agent.tools.list_files import ListFilesTool, sort_listing
from tests.agent.tools.conftest import make_ctx

TOOL = ListFilesTool()
NOTICE = (
    "(File list truncated. Use list_files on specific subdirectories if you need to explore "
    "further.)"
)


def touch(root: Path, *paths: str) -> None:
    for path in paths:
        target = root / path
        if path.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("x\n")


def test_metadata() -> None:
    assert TOOL.name == "list_files"
    assert TOOL.category is ApprovalCategory.READ


def test_sort_children_under_parents_files_first() -> None:
    paths = ["src/", "z.txt", "src/b.py", "a.txt", "src/lib/", "src/lib/x.py", "file10", "file2"]
    assert sort_listing(paths) == [
        "a.txt",
        "file2",
        "file10",
        "z.txt",
        "src/",
        "src/b.py",
        "src/lib/",
        "src/lib/x.py",
    ]


async def test_top_level(ws: Path, ctx: ToolContext) -> None:
    touch(ws, "README.md", "src/main.py", ".env", "node_modules/pkg/index.js")
    result = await TOOL.run({"path": ".", "recursive": False}, ctx)
    assert not result.is_error
    assert result.text_content == ".env\nREADME.md\nnode_modules/\nsrc/"


async def test_recursive(ws: Path, ctx: ToolContext) -> None:
    touch(ws, "README.md", "src/main.py", "src/util/helpers.py", "docs/")
    result = await TOOL.run({"path": "", "recursive": True}, ctx)
    assert result.text_content == (
        "README.md\ndocs/\nsrc/\nsrc/main.py\nsrc/util/\nsrc/util/helpers.py"
    )
    assert result.data["count"] == 6
    assert result.data["truncated"] is False


async def test_subdirectory_paths_are_relative_to_it(ws: Path, ctx: ToolContext) -> None:
    touch(ws, "src/a.py", "src/lib/b.py")
    result = await TOOL.run({"path": "src", "recursive": True}, ctx)
    assert result.text_content == "a.py\nlib/\nlib/b.py"


async def test_heavy_and_dot_dirs_are_skipped_when_recursive(ws: Path, ctx: ToolContext) -> None:
    touch(
        ws,
        "app.py",
        "node_modules/x/index.js",
        "__pycache__/a.pyc",
        "venv/bin/python",
        "env/lib/x",
        "dist/out.js",
        "vendor/lib.go",
        "tmp/t",
        "Pods/p",
        ".git/HEAD",
        ".idea/workspace.xml",
        "pkg/p.go",
        "target/dependency/dep.jar",
        "target/classes/A.class",
        "build/dependencies/d",
        "build/main.o",
        "sub/node_modules/y.js",
        ".hidden-file",
    )
    result = await TOOL.run({"path": ".", "recursive": True}, ctx)
    assert result.text_content.split("\n") == [
        ".hidden-file",
        "app.py",
        "build/",
        "build/main.o",
        "sub/",
        "target/",
        "target/classes/",
        "target/classes/A.class",
    ]


async def test_git_dir_hidden_even_at_top_level(ws: Path, ctx: ToolContext) -> None:
    touch(ws, ".git/HEAD", "a.txt")
    result = await TOOL.run({"path": ".", "recursive": False}, ctx)
    assert result.text_content == "a.txt"


async def test_explicitly_listing_a_heavy_dir_works(ws: Path, ctx: ToolContext) -> None:
    touch(ws, "node_modules/left-pad/index.js")
    result = await TOOL.run({"path": "node_modules", "recursive": True}, ctx)
    assert result.text_content == "left-pad/\nleft-pad/index.js"


async def test_gitignore_is_respected(ws: Path, ctx: ToolContext) -> None:
    (ws / ".gitignore").write_text("*.log\ncoverage/\n!keep.log\n")
    touch(ws, "a.log", "keep.log", "coverage/index.html", "src/b.log", "src/c.py")
    touch(ws, "src/gen/out.txt", "src/gen/in.txt")
    (ws / "src" / ".gitignore").write_text("gen/out.txt\n")
    result = await TOOL.run({"path": ".", "recursive": True}, ctx)
    assert result.text_content.split("\n") == [
        ".gitignore",
        "keep.log",
        "src/",
        "src/.gitignore",
        "src/c.py",
        "src/gen/",
        "src/gen/in.txt",
    ]
    top = await TOOL.run({"path": ".", "recursive": False}, ctx)
    assert "coverage/" not in top.text_content
    # an ancestor's .gitignore applies when listing a subdirectory
    sub = await TOOL.run({"path": "src", "recursive": True}, ctx)
    assert sub.text_content == ".gitignore\nc.py\ngen/\ngen/in.txt"


async def test_rooignore_hides_paths(ws: Path) -> None:
    (ws / ".rooignore").write_text("secrets/\n*.pem\n")
    touch(ws, "secrets/a.txt", "key.pem", "src/deep/cert.pem", "src/ok.py")
    ctx = make_ctx(ws)
    result = await TOOL.run({"path": ".", "recursive": True}, ctx)
    assert result.text_content.split("\n") == [
        ".rooignore",
        "src/",
        "src/ok.py",
        "src/deep/",
    ]
    denied = await TOOL.run({"path": "secrets", "recursive": False}, ctx)
    assert denied.is_error
    assert '"type": "access_denied"' in denied.text_content


async def test_cap_at_200_with_notice(ws: Path, ctx: ToolContext) -> None:
    for i in range(250):
        (ws / f"f{i:03}.txt").write_text("")
    result = await TOOL.run({"path": ".", "recursive": False}, ctx)
    lines = result.text_content.split("\n")
    assert lines[:200] == [f"f{i:03}.txt" for i in range(200)]
    assert lines[200:] == ["", NOTICE]
    assert result.data["truncated"] is True
    assert result.data["count"] == 200


async def test_exactly_200_is_not_truncated(ws: Path, ctx: ToolContext) -> None:
    for i in range(200):
        (ws / f"f{i:03}.txt").write_text("")
    result = await TOOL.run({"path": ".", "recursive": True}, ctx)
    assert NOTICE not in result.text_content
    assert len(result.text_content.split("\n")) == 200


async def test_truncated_recursive_listing_keeps_upper_levels(ws: Path, ctx: ToolContext) -> None:
    for i in range(5):
        touch(ws, f"d{i}/")
        for j in range(60):
            (ws / f"d{i}" / f"x{j:02}.txt").write_text("")
    touch(ws, "top.txt")
    result = await TOOL.run({"path": ".", "recursive": True}, ctx)
    lines = result.text_content.split("\n")
    assert result.data["truncated"] is True
    assert lines[-1] == NOTICE
    for i in range(5):
        assert f"d{i}/" in lines
    assert "top.txt" in lines
    assert len(lines) == 202


async def test_empty_directory(ws: Path, ctx: ToolContext) -> None:
    touch(ws, "empty/")
    result = await TOOL.run({"path": "empty", "recursive": True}, ctx)
    assert not result.is_error
    assert result.text_content == "No files found."


async def test_errors(ws: Path, ctx: ToolContext) -> None:
    touch(ws, "file.txt")
    missing = await TOOL.run({"path": "nope", "recursive": False}, ctx)
    assert missing.is_error
    assert missing.text_content == "Directory not found: nope"
    not_dir = await TOOL.run({"path": "file.txt", "recursive": False}, ctx)
    assert not_dir.is_error
    assert not_dir.text_content == (
        "Cannot list 'file.txt' because it is not a directory. Use read_file to read a file."
    )
    absolute = await TOOL.run({"path": "/etc", "recursive": False}, ctx)
    assert absolute.is_error
    assert absolute.text_content.startswith("Invalid path '/etc': absolute paths")
    escape = await TOOL.run({"path": "..", "recursive": False}, ctx)
    assert escape.is_error


async def test_symlinks(ws: Path, tmp_path: Path, ctx: ToolContext) -> None:
    outside = tmp_path / "outside"
    touch(outside, "secret.txt")
    touch(ws, "real/inner.txt", "a.txt")
    os.symlink(outside, ws / "out-dir")
    os.symlink(outside / "secret.txt", ws / "out-file")
    os.symlink("real", ws / "in-dir")
    os.symlink("a.txt", ws / "in-file")
    os.symlink("missing", ws / "dangling")
    result = await TOOL.run({"path": ".", "recursive": True}, ctx)
    assert result.text_content.split("\n") == [
        "a.txt",
        "in-file",
        "in-dir/",
        "real/",
        "real/inner.txt",
    ]
    refused = await TOOL.run({"path": "out-dir", "recursive": True}, ctx)
    assert refused.is_error
    assert "outside the workspace" in refused.text_content
    followed = await TOOL.run({"path": "in-dir", "recursive": False}, ctx)
    assert followed.text_content == "inner.txt"


async def test_recursive_defaults_to_false(ws: Path, ctx: ToolContext) -> None:
    touch(ws, "d/e.txt")
    result = await TOOL.run({"path": "."}, ctx)
    assert result.text_content == "d/"
