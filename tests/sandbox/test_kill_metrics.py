"""A command the sandbox ends is counted by its reason in `roo_sandbox_kills_total`; one that
ends by itself is not."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY

from roo.sandbox import ResourceLimits, Sandbox
from tests.sandbox.conftest import go


def _kills(reason: str) -> float:
    return REGISTRY.get_sample_value("roo_sandbox_kills_total", {"reason": reason}) or 0.0


async def test_a_timeout_is_counted_as_one_kill(plain_sandbox: Sandbox, workspace: Path) -> None:
    before = _kills("timeout")

    ended = await go(plain_sandbox, "true", workspace=workspace)
    assert ended.killed_reason is None
    assert _kills("timeout") == before

    r = await go(
        plain_sandbox, "sleep 30", workspace=workspace, limits=ResourceLimits(max_execution_time=1)
    )

    assert r.killed_reason == "timeout"
    assert _kills("timeout") == before + 1
