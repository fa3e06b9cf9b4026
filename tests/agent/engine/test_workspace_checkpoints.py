"""The engine's seam for workspace checkpoints: `before_write(step, position)` once per step
that may write (a file tool or a command), after approval, before the tool runs; never for a
step that only reads, nor for a denied call."""

from __future__ import annotations

from roo.agent.approval import ApprovalPolicy
from roo.agent.state import Answer
from roo.testing import ToolCall
from tests.agent.engine.conftest import Harness, calls, complete


class Snapshots:
    """Records each call with what the workspace held then (the tool has not run yet)."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.calls: list[tuple[int, int, list[str]]] = []

    async def before_write(self, step: int, position: int) -> None:
        names = sorted(p.name for p in self.harness.workspace.iterdir())
        self.calls.append((step, position, names))


def write(path: str) -> ToolCall:
    return ToolCall("write_to_file", {"path": path, "content": "x\n"})


async def test_once_per_writing_step_before_its_first_write(harness: Harness) -> None:
    harness.policy = ApprovalPolicy(auto_approve_write=True)
    harness.llm.script(
        calls(ToolCall("list_files", {"path": "."})),  # step 0: reads only
        calls(write("a.txt"), write("b.txt")),  # step 1: two writes, one snapshot
        calls(ToolCall("read_file", {"path": "a.txt"})),  # step 2: reads only
        calls(write("c.txt")),  # step 3
        complete(),
    )
    snapshots = Snapshots(harness)

    outcome = await harness.run(workspace_checkpoints=snapshots)

    assert outcome.status == "completed"
    history = harness.state.history
    assert [(step, names) for step, _, names in snapshots.calls] == [
        (1, []),
        (3, ["a.txt", "b.txt"]),
    ]
    for _step, position, _ in snapshots.calls:
        # the position is that of the step's assistant turn: a restore keeps what came before
        assert history[position]["role"] == "assistant"
        assert history[position - 1]["role"] == "user"
    assert [p for _, p, _ in snapshots.calls] == [3, 7]


async def test_a_denied_write_takes_no_snapshot(harness: Harness) -> None:
    harness.llm.script(calls(write("a.txt")), complete())
    harness.interaction.answer(Answer("deny"))
    snapshots = Snapshots(harness)

    await harness.run(workspace_checkpoints=snapshots)

    assert snapshots.calls == []
    assert not (harness.workspace / "a.txt").exists()
