"""Background loops that stop between rounds, never in the middle of one.

Cancelling a loop while it waits on the database leaves the driver's work running in its thread
(aiosqlite) or the connection in an unknown state; at shutdown that work can outlive the event
loop. A loop written with `wait_or_stop` finishes its round and returns when asked to stop.
"""

from __future__ import annotations

import asyncio

STOP_GRACE_SECONDS = 10.0


async def wait_or_stop(
    stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None
) -> bool:
    """Sleep `seconds`, or less if `stop` (or `wake`, when given) is set meanwhile; True when the
    loop should end (`stop` is set)."""
    if stop.is_set() or (wake is not None and wake.is_set()):
        return stop.is_set()
    waits = [asyncio.ensure_future(e.wait()) for e in (stop, wake) if e is not None]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
    return stop.is_set()


async def stop_loop(
    task: asyncio.Task[None], stop: asyncio.Event, grace: float = STOP_GRACE_SECONDS
) -> None:
    """Ask a loop to end after its current round; cancel it if that takes over `grace` seconds."""
    stop.set()
    _done, pending = await asyncio.wait({task}, timeout=grace)
    for late in pending:
        late.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def cancel_listener(task: asyncio.Task[None]) -> bool:
    """Cancel a pub/sub listener and wait for it to end; False when it would not stop.

    redis-py can swallow a cancellation that lands while it reconnects, so the cancel is asked
    again (every 0.25 s, 5 s in all).
    """
    for _ in range(20):
        task.cancel()
        await asyncio.wait({task}, timeout=0.25)
        if task.done():
            return True
    return False
