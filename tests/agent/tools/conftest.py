"""Fixtures for the file tools: a real workspace in tmp_path and a context over it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from roo.agent.tools.base import IgnoreRules, ToolContext
from roo.agent.tools.rooignore import RooIgnore


async def _never_run(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("file tools must not run commands")


def make_ctx(
    workspace: Path, *, ignore: IgnoreRules | None = None, supports_images: bool = True
) -> ToolContext:
    return ToolContext(
        workspace=workspace,
        run_command=_never_run,
        ignore=ignore if ignore is not None else RooIgnore.load(workspace),
        supports_images=supports_images,
    )


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return workspace


@pytest.fixture
def ctx(ws: Path) -> ToolContext:
    return make_ctx(ws)
