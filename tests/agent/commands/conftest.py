"""Fixtures of the command tools' tests: a workspace and a tool context on a real sandbox."""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

import pytest

from roo.agent.tools.base import IgnoreRules, ToolContext
from roo.sandbox import ResourceLimits, Sandbox


class PrefixIgnore(IgnoreRules):
    """Ignores the given paths and everything beneath them."""

    def __init__(self, *prefixes: str) -> None:
        self.prefixes = prefixes

    def ignored(self, relative_path: str) -> bool:
        return any(
            relative_path == p or relative_path.startswith(p.rstrip("/") + "/")
            for p in self.prefixes
        )


def make_context(
    workspace: Path, *, max_output_bytes: int = 1024 * 1024, **kwargs: object
) -> ToolContext:
    limits = ResourceLimits(max_execution_time=10, max_output_bytes=max_output_bytes)
    run_command = functools.partial(Sandbox().run, workspace=workspace, limits=limits)
    return ToolContext(workspace=workspace, run_command=run_command, **kwargs)  # type: ignore[arg-type]


def require_ripgrep() -> None:
    """ripgrep is a system package (.ci/run installs it): fail in CI, skip elsewhere."""
    if shutil.which("rg") is not None:
        return
    if os.environ.get("CI"):
        pytest.fail("ripgrep is required in CI: apt-get install -y ripgrep")
    pytest.skip("ripgrep (rg) is not installed")


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return make_context(tmp_path)
