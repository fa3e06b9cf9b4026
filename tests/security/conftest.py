"""Fixtures of the security tests: signed-in users (tests/auth), sessions with their
workspaces (tests/files), and deep trees that are removed again whatever the test did."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.auth.conftest import auth, make_user, resources, sign_in
from tests.files.conftest import make_workspace
from tests.support.workspaces import build_deep_tree, remove_with_rm

__all__ = ["auth", "make_user", "make_workspace", "resources", "sign_in"]

DeepTree = Callable[..., Path]


@pytest.fixture
def deep_tree() -> Iterator[DeepTree]:
    """`deep_tree(top, depth)` builds `top/d/d/.../leaf.txt` and returns `top/d`; whatever is
    left of it is removed after the test (pytest's own clean-up cannot remove deep trees)."""
    made: list[Path] = []

    def make(top: Path, depth: int, name: str = "d", leaf_bytes: int = 6) -> Path:
        made.append(top / name)
        build_deep_tree(top, depth, name, leaf_bytes)
        return top / name

    yield make
    for path in made:
        remove_with_rm(path)
