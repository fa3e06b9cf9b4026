"""Background loops end between rounds: a round in progress is finished, not cut off."""

from __future__ import annotations

import asyncio

from roo.kit.loops import stop_loop, wait_or_stop


async def test_a_round_in_progress_finishes_before_the_loop_ends() -> None:
    stop = asyncio.Event()
    rounds: list[str] = []

    async def loop() -> None:
        while True:
            rounds.append("start")
            await asyncio.sleep(0.05)  # the "query" of this round
            rounds.append("end")
            if await wait_or_stop(stop, 60):
                return

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.01)  # mid-round
    await stop_loop(task, stop)
    assert rounds == ["start", "end"]
    assert task.done()
    assert not task.cancelled()


async def test_a_loop_that_ignores_the_request_is_cancelled_after_the_grace() -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(asyncio.sleep(60))
    await stop_loop(task, stop, grace=0.05)  # type: ignore[arg-type]
    assert task.cancelled()


async def test_wait_or_stop_sleeps_or_wakes() -> None:
    stop = asyncio.Event()
    assert await wait_or_stop(stop, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, stop.set)
    assert await wait_or_stop(stop, 60) is True
    assert await wait_or_stop(stop, 60) is True  # already set: at once


async def test_wait_or_stop_returns_early_when_woken_without_stopping() -> None:
    stop, wake = asyncio.Event(), asyncio.Event()
    asyncio.get_running_loop().call_later(0.01, wake.set)
    assert await asyncio.wait_for(wait_or_stop(stop, 60, wake), 5) is False  # woken: go on
    assert await wait_or_stop(stop, 60, wake) is False  # still set: at once
    stop.set()
    assert await wait_or_stop(stop, 60, wake) is True
