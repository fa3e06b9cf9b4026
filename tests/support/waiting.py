"""Waiting in tests for what happens in the background (another process, a subscription)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], within: float = 5.0, what: str = "the condition"
) -> None:
    """Poll `check` until it holds; fail the test if it does not within `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        assert loop.time() < deadline, f"{what} never held within {within:g} s"
        await asyncio.sleep(0.005)
