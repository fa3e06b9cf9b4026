"""BoundedOutput: a tool call's streamed output as events, within a byte budget."""

from __future__ import annotations

from roo.agent.output import EVENT_COST, BoundedOutput


async def test_output_past_the_budget_is_counted_not_emitted() -> None:
    emitted: list[str] = []

    async def emit(chunk: str) -> None:
        emitted.append(chunk)

    out = BoundedOutput(emit, budget=2 * EVENT_COST + 10)
    await out("abcdef")  # 6 + 128
    await out("é" * 10)  # 20 bytes, 4 left: cut between characters, not inside one
    await out("more")
    assert emitted == ["abcdef", "éé"]
    assert out.counts() == {"outputBytes": 6 + 20 + 4, "outputDropped": 16 + 4}


async def test_without_a_budget_everything_goes_and_nothing_is_dropped() -> None:
    emitted: list[str] = []

    async def emit(chunk: str) -> None:
        emitted.append(chunk)

    out = BoundedOutput(emit, budget=None)
    for _ in range(100):
        await out("x" * 1000)
    assert len(emitted) == 100
    assert out.counts() == {"outputBytes": 100_000, "outputDropped": 0}
    assert BoundedOutput(emit, budget=10).counts() == {}
