"""`roo.security.sliding_window.SlidingWindowCounter` against the `limits` library it stands in
for: twin budgets driven through the same hits, one counted by it, the other by limits' own
`hit` and `get_window_stats`, answer alike at every step (in process memory, and on Redis,
where its script must follow limits' scripts); on Redis a hit is one command. The Redis half is
skipped without REDIS_URL (CI's second pass runs it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from limits import parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.util import WindowStats

from roo.auth.throttle import create_limit_storage
from roo.config import Settings
from roo.security.sliding_window import SlidingWindowCounter

ITEM = parse("5/2 second")
# (seconds after the first hit, hits then), the first hit just after the clock enters a window
# (memory's windows are aligned to the clock, Redis's start at a budget's first hit). Windows
# shift at 2.2 s and 4.4 s; at each step the previous window's TTL is 150 ms or more from the
# values where the weighted count changes, so the twins, a few milliseconds apart, never fall
# on either side of one.
SCHEDULE = [(0.0, 7), (2.2, 3), (3.0, 3), (4.4, 4)]
EXPECTED_ALLOWED = [5, 1, 2, 3]
RESET_TOLERANCE = 0.05


@pytest.fixture
async def redis_storage(redis_settings: Settings) -> AsyncIterator[RedisStorage]:
    """The service's own limit storage, under the test's key prefix."""
    storage = create_limit_storage(redis_settings)
    assert isinstance(storage, RedisStorage)
    yield storage
    await storage.bridge.get_connection().aclose()


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest) -> Storage:
    if request.param == "memory":
        return MemoryStorage()
    storage: Storage = request.getfixturevalue("redis_storage")
    return storage


Step = tuple[bool, WindowStats]


async def test_it_answers_as_limits_hit_then_get_window_stats(storage: Storage) -> None:
    ours = SlidingWindowCounter(storage)
    theirs = SlidingWindowCounterRateLimiter(storage)

    async def limits_hit() -> Step:
        allowed = await theirs.hit(ITEM, "parity", "theirs")
        return allowed, await theirs.get_window_stats(ITEM, "parity", "theirs")

    await asyncio.sleep((0.05 - time.time()) % ITEM.get_expiry())
    start = time.monotonic()
    allowed_per_step = []
    for offset, hits in SCHEDULE:
        await asyncio.sleep(max(0.0, start + offset - time.monotonic()))
        allowed = 0
        for _ in range(hits):
            our_allowed, our_stats = await ours.hit(ITEM, "parity", "ours")
            their_allowed, their_stats = await limits_hit()
            assert (our_allowed, our_stats.remaining) == (their_allowed, their_stats.remaining)
            first = not allowed_per_step and not allowed
            assert_same_reset(our_stats.reset_time, their_stats.reset_time, first=first)
            allowed += our_allowed
        allowed_per_step.append(allowed)
    # the schedule ran as designed: refusals, and a budget partly freed by each shift
    assert allowed_per_step == EXPECTED_ALLOWED


def assert_same_reset(ours: float, theirs: float, *, first: bool) -> None:
    """Reset times within the tolerance; on a budget's first hit, limits' may also be a whole
    window earlier. It reads the window after the hit: a counter it created a millisecond or
    more before frees in almost a window (`TTL % expiry`, the TTL two windows less the time
    since), one created in the same millisecond wraps to 0; `SlidingWindowCounter` reads in
    the hit's own script and answers the full window (`_frees_in`)."""
    if first and theirs == pytest.approx(ours - ITEM.get_expiry(), abs=RESET_TOLERANCE):
        return
    assert ours == pytest.approx(theirs, abs=RESET_TOLERANCE)


async def test_a_hit_on_redis_is_one_command(
    redis_storage: RedisStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = SlidingWindowCounter(redis_storage)
    await counter.hit(ITEM, "trips", "warm-up")  # the script loaded on the server, if need be
    sent = count_commands(redis_storage, monkeypatch)

    allowed, stats = await counter.hit(ITEM, "trips", "ours")
    assert (allowed, stats.remaining) == (True, ITEM.amount - 1)
    assert sent == ["EVALSHA"]

    sent.clear()
    limiter = SlidingWindowCounterRateLimiter(redis_storage)
    await limiter.hit(ITEM, "trips", "theirs")
    await limiter.get_window_stats(ITEM, "trips", "theirs")
    assert sent == ["EVALSHA", "EVALSHA"]  # what it replaces


def count_commands(storage: RedisStorage, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the commands the storage's client sends from now on."""
    client = storage.bridge.get_connection()
    execute: Callable[..., Awaitable[Any]] = client.execute_command
    sent: list[str] = []

    async def counted(*args: Any, **options: Any) -> Any:
        sent.append(str(args[0]).upper())
        return await execute(*args, **options)

    monkeypatch.setattr(client, "execute_command", counted)
    return sent
