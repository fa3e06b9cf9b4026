"""RooIgnore: gitignore semantics, loading from the workspace, the shared path check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from roo.agent.tools.base import IgnoreRules, ToolResult
from roo.agent.tools.rooignore import GitIgnore, RooIgnore, check_path
from tests.agent.tools.conftest import make_ctx


def test_is_an_ignore_rules() -> None:
    assert isinstance(RooIgnore(), IgnoreRules)
    assert not RooIgnore().ignored("anything")


@pytest.mark.parametrize(
    ("path", "ignored"),
    [
        ("secrets/a.txt", True),
        ("secrets/", True),
        ("secrets", False),  # a *file* called secrets: `secrets/` names directories only
        ("deep/secrets/x", True),
        ("a.env", True),
        ("sub/b.env", True),
        ("keep.env", False),  # negated
        ("build/x", True),
        ("sub/build/x", False),  # anchored pattern
        ("src/main.py", False),
        ("", False),
        (".", False),
    ],
)
def test_gitignore_semantics(path: str, ignored: bool) -> None:
    rules = RooIgnore(["# comment", "", "secrets/", "*.env", "!keep.env", "/build"])
    assert rules.ignored(path) is ignored


def test_load_from_workspace(tmp_path: Path) -> None:
    assert not RooIgnore.load(tmp_path).ignored("x.log")
    (tmp_path / ".rooignore").write_text("*.log\n")
    assert RooIgnore.load(tmp_path).ignored("x.log")


def test_load_refuses_a_link_to_outside(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "evil").write_text("*\n")
    os.symlink(tmp_path / "evil", ws / ".rooignore")
    assert not RooIgnore.load(ws).ignored("x")


def test_gitignore_nested_bases() -> None:
    gi = GitIgnore()
    gi.add("", "*.tmp\n")
    gi.add("src", "gen/\n# only comments below\n")
    gi.add("docs", "# nothing\n")
    assert gi.ignored("a.tmp", is_dir=False)
    assert gi.ignored("src/x/a.tmp", is_dir=False)
    assert gi.ignored("src/gen", is_dir=True)
    assert not gi.ignored("src/gen", is_dir=False)
    assert not gi.ignored("gen", is_dir=True)


def test_check_path(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, ignore=RooIgnore(["private/"]))
    assert check_path(ctx, "./src/") == "src"
    assert check_path(ctx, ".", allow_root=True) == ""
    root = check_path(ctx, ".")
    assert isinstance(root, ToolResult)
    assert root.is_error
    assert "names the workspace directory" in root.text_content
    denied = check_path(ctx, "private", directory=True)
    assert isinstance(denied, ToolResult)
    assert denied.data["access_denied"] is True
    assert check_path(ctx, "private") == "private"
    bad = check_path(ctx, "a\x00b")
    assert isinstance(bad, ToolResult)
    assert bad.data["path_rejected"] is True
    assert bad.text_content == "Invalid path 'a\x00b': the path contains a NUL byte."
