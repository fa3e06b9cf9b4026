"""`roo.security.sliding_window.SlidingWindowCounter` against the `limits` library it stands in
for: twin budgets driven through the same hits, one counted by it, the other by limits' own
`hit` and `get_window_stats`, answer alike at every step (in process memory, and on Redis,
where its script must follow limits' scripts); on Redis a hit is one command, and the hits made
in one turn of the event loop, or while a call is in flight, share one, each answered as if
counted alone. The Redis half is skipped without REDIS_URL (CI's second pass runs it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest
import redis.exceptions
from limits import parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.util import WindowStats

from roo.auth.throttle import create_limit_storage
from roo.config import Settings
from roo.security import sliding_window
from roo.security.sliding_window import MAX_BATCH, SlidingWindowCounter

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


async def test_in_memory_a_budget_unused_for_two_windows_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr(sliding_window, "time", SimpleNamespace(time=lambda: clock[0]))
    monkeypatch.setattr(sliding_window._MemoryWindows, "SWEEP_EVERY", 2)
    counter = SlidingWindowCounter(MemoryStorage())
    assert counter._memory is not None
    windows = counter._memory._windows
    minute = parse("5/minute")

    await counter.hit(minute, "sweep", "idle")
    await counter.hit(minute, "sweep", "busy")  # a sweep: nothing is old yet
    assert len(windows) == 2
    clock[0] += 60
    await counter.hit(minute, "sweep", "busy")
    allowed, stats = await counter.hit(minute, "sweep", "busy")  # a sweep, one window on
    assert len(windows) == 2  # the idle budget's count still weighs in the next window
    clock[0] += 60
    await counter.hit(minute, "sweep", "busy")
    await counter.hit(minute, "sweep", "busy")  # a sweep, two windows on
    assert list(windows) == [minute.key_for("sweep", "busy")]
    # 2 hits in this window, and the window before's 1 weighing a third (40 s into this one)
    assert (allowed, stats.remaining) == (True, 3)


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


async def test_hits_made_in_one_turn_are_one_command_each_answered_as_if_alone(
    redis_storage: RedisStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = SlidingWindowCounter(redis_storage)
    await counter.hit(ITEM, "turn", "warm-up")
    sent = count_commands(redis_storage, monkeypatch)

    # started in one turn: 7 hits of a budget of 5, and 3 of another budget between them
    together = await asyncio.gather(
        *[counter.hit(ITEM, "turn", "a") for _ in range(4)],
        *[counter.hit(ITEM, "turn", "b") for _ in range(3)],
        *[counter.hit(ITEM, "turn", "a") for _ in range(3)],
    )
    assert sent == ["EVALSHA"]
    a = [(allowed, stats.remaining) for allowed, stats in together[:4] + together[7:]]
    b = [(allowed, stats.remaining) for allowed, stats in together[4:7]]

    # the same hits one after the other, on twin budgets
    alone = [await counter.hit(ITEM, "turn", "twin-a") for _ in range(7)]
    alone_b = [await counter.hit(ITEM, "turn", "twin-b") for _ in range(3)]
    assert a == [(allowed, stats.remaining) for allowed, stats in alone]
    assert b == [(allowed, stats.remaining) for allowed, stats in alone_b]
    assert a == [(True, 4), (True, 3), (True, 2), (True, 1), (True, 0), (False, 0), (False, 0)]
    assert len(sent) == 1 + 10


async def test_hits_made_while_a_call_is_in_flight_share_the_next(
    redis_storage: RedisStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = SlidingWindowCounter(redis_storage)
    await counter.hit(ITEM, "flight", "warm-up")
    gate, arrived = asyncio.Event(), asyncio.Event()
    sent = count_commands(redis_storage, monkeypatch, gate=gate, arrived=arrived)

    first = asyncio.create_task(counter.hit(ITEM, "flight", "x"))
    await arrived.wait()  # its call is out, held at the gate
    later = [asyncio.create_task(counter.hit(ITEM, "flight", "x")) for _ in range(3)]
    for _ in range(5):  # turns go by: the later hits wait for the call in flight
        await asyncio.sleep(0)
    assert len(sent) == 1
    gate.set()
    answers = await asyncio.gather(first, *later)

    assert len(sent) == 2  # the three later hits in one call
    assert [stats.remaining for _, stats in answers] == [4, 3, 2, 1]


async def test_a_turn_with_more_hits_than_a_call_takes_makes_several_calls(
    redis_storage: RedisStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = SlidingWindowCounter(redis_storage)
    await counter.hit(ITEM, "many", "warm-up")
    sent = count_commands(redis_storage, monkeypatch)
    budget = parse(f"{3 * MAX_BATCH}/minute")

    answers = await asyncio.gather(*[counter.hit(budget, "many", "x") for _ in range(300)])

    assert len(sent) == -(-300 // MAX_BATCH)
    assert [stats.remaining for _, stats in answers] == list(range(3 * MAX_BATCH - 1, 83, -1))


async def test_a_failed_call_fails_each_of_its_hits_and_the_next_go_on(
    redis_storage: RedisStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = SlidingWindowCounter(redis_storage)
    await counter.hit(ITEM, "fails", "warm-up")
    failure = redis.exceptions.ConnectionError("Redis went away")
    sent = count_commands(redis_storage, monkeypatch, failure=failure)

    answers = await asyncio.gather(
        *[counter.hit(ITEM, "fails", "x") for _ in range(3)], return_exceptions=True
    )
    assert answers == [failure] * 3
    assert len(sent) == 1

    monkeypatch.undo()
    allowed, stats = await counter.hit(ITEM, "fails", "x")
    assert (allowed, stats.remaining) == (True, 4)  # nothing was counted by the failed call


async def test_a_hit_whose_caller_went_away_costs_the_others_nothing(
    redis_storage: RedisStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = SlidingWindowCounter(redis_storage)
    await counter.hit(ITEM, "gone", "warm-up")
    gate, arrived = asyncio.Event(), asyncio.Event()
    sent = count_commands(redis_storage, monkeypatch, gate=gate, arrived=arrived)

    first = asyncio.create_task(counter.hit(ITEM, "gone", "x"))
    await arrived.wait()
    gone, staying = (asyncio.create_task(counter.hit(ITEM, "gone", "x")) for _ in range(2))
    await asyncio.sleep(0)
    gone.cancel()
    first.cancel()
    gate.set()
    allowed, stats = await staying

    assert gone.cancelled()
    assert first.cancelled()
    # both counted all the same (the hits were made; a request that goes away while its hit
    # is in flight is counted too)
    assert (allowed, stats.remaining) == (True, 2)
    assert len(sent) == 2


async def test_a_call_cancelled_cancels_its_hits_and_those_waiting_and_the_next_go_on(
    redis_storage: RedisStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = SlidingWindowCounter(redis_storage)
    await counter.hit(ITEM, "closing", "warm-up")
    gate, arrived = asyncio.Event(), asyncio.Event()
    count_commands(redis_storage, monkeypatch, gate=gate, arrived=arrived)

    in_flight = asyncio.create_task(counter.hit(ITEM, "closing", "x"))
    await arrived.wait()
    waiting = asyncio.create_task(counter.hit(ITEM, "closing", "x"))
    await asyncio.sleep(0)
    assert counter._redis is not None
    sending = counter._redis._sending
    assert sending is not None
    sending.cancel()  # as the loop's shutdown cancels every task
    await asyncio.gather(in_flight, waiting, return_exceptions=True)

    assert in_flight.cancelled()
    assert waiting.cancelled()
    monkeypatch.undo()
    # not left waiting for ever (a failure here, not a hung suite)
    allowed, stats = await asyncio.wait_for(counter.hit(ITEM, "closing", "y"), 5)
    assert (allowed, stats.remaining) == (True, 4)


def count_commands(
    storage: RedisStorage,
    monkeypatch: pytest.MonkeyPatch,
    *,
    gate: asyncio.Event | None = None,
    arrived: asyncio.Event | None = None,
    failure: Exception | None = None,
) -> list[str]:
    """The names of the commands the storage's client sends from now on; each sets `arrived`,
    then waits for `gate` to be set, then fails with `failure` (those given)."""
    client = storage.bridge.get_connection()
    execute: Callable[..., Awaitable[Any]] = client.execute_command
    sent: list[str] = []

    async def counted(*args: Any, **options: Any) -> Any:
        sent.append(str(args[0]).upper())
        if arrived is not None:
            arrived.set()
        if gate is not None:
            await gate.wait()
        if failure is not None:
            raise failure
        return await execute(*args, **options)

    monkeypatch.setattr(client, "execute_command", counted)
    return sent
