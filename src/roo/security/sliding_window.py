"""Hits of `limits` sliding-window counters and their windows' stats, many in one Redis round trip.

The rate limiter and the session budgets count every request with the `limits` library's
`SlidingWindowCounterRateLimiter`: `hit` to count, then `get_window_stats` for the `RateLimit`
header. On Redis that is two EVALSHA round trips per request (limits' `acquire_sliding_window.lua`
then `sliding_window.lua`); `limits` has no call that counts and reads the window at once.
`SlidingWindowCounter.hit` does both in one script of its own on a redis-py `RedisStorage`, in
a dict of its own on a `MemoryStorage` (`_MemoryWindows`: limits' windows and answers for a third
of the instructions), and makes the library's two calls on any other storage.

A round trip through redis-py's asyncio client costs far more of the service's CPU than the
script's work in Redis: about 400,000 instructions of Python per EVALSHA (callgrind, redis-py
8.2), an eighth of everything an authenticated read costs. Under load many requests reach the
limiter in the same turn of the event loop, so the hits made in one turn are counted together:
the first schedules a send for the end of the turn, the others join it, and one EVALSHA counts
them all, in the order they were made, each answered as if it had been sent alone (the script
counts them one after the other, atomically as always). One call is in flight at a time: the
hits made meanwhile go in the next, sent when it returns. A hit made alone is sent alone, a turn
later than before (no timer: the end of the turn, not a delay).

The script counts in limits' own keys (`{key}` and `{key}/-1`, under the storage's prefix) with
the same semantics as limits' scripts (the window shift, the weighted count, the refusal, the
counter's expiry), so a budget counted here and one counted through `limits` are the same
budget. It relies on those internals: `tests/security/test_sliding_window.py` drives a budget
through both on a real Redis and pins this module to the installed `limits` version.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from math import floor, inf
from typing import cast

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.util import WindowStats

# KEYS: for each hit, its previous window's counter and its current window's. ARGV: for each
# hit, its limit, expiry (s) and cost. Counts the hits one after the other and returns, for each
# in turn, {allowed (1 or 0), previous count, previous TTL (ms), current count, current TTL
# (ms)}: its window as read after it; a missing counter is 0 with a TTL of 0.
HIT_AND_READ = """
local function ttl_of(key)
    return math.max(tonumber(redis.call('pttl', key)), 0)
end

local function count_of(key)
    return tonumber(redis.call('get', key) or 0)
end

local function hit(previous_key, current_key, limit, expiry, cost)
    local function read()
        return count_of(previous_key), ttl_of(previous_key), count_of(current_key),
            ttl_of(current_key)
    end

    -- a current window older than one expiry becomes the previous one
    local current_ttl = ttl_of(current_key)
    if current_ttl > 0 and current_ttl < expiry then
        redis.call('rename', current_key, previous_key)
        redis.call('set', current_key, 0, 'PX', current_ttl + expiry)
    end

    local previous_count, previous_ttl, current_count
    previous_count, previous_ttl, current_count, current_ttl = read()
    local weighted = math.floor(previous_count * previous_ttl / expiry) + current_count
    local allowed = cost <= limit and weighted + cost <= limit
    if allowed then
        if redis.call('exists', current_key) == 1 then
            redis.call('incrby', current_key, cost)
        else
            redis.call('set', current_key, cost, 'PX', expiry * 2)
        end
        previous_count, previous_ttl, current_count, current_ttl = read()
    end
    return allowed and 1 or 0, previous_count, previous_ttl, current_count, current_ttl
end

local answers = {}
for i = 1, #KEYS / 2 do
    local answer = {hit(KEYS[2 * i - 1], KEYS[2 * i], tonumber(ARGV[3 * i - 2]),
        tonumber(ARGV[3 * i - 1]) * 1000, tonumber(ARGV[3 * i]))}
    for _, value in ipairs(answer) do
        answers[#answers + 1] = value
    end
end
return answers
"""
ANSWER_LENGTH = 5  # values per hit in the script's answer
# Hits counted by one call at most (a turn of the loop with more sends several): bounds the
# time the script holds Redis, which runs one script at a time.
MAX_BATCH = 128

_Script = Callable[[Sequence[str], Sequence[int]], Awaitable[Sequence[int]]]


class SlidingWindowCounter:
    """Counts hits on `storage` as limits' `SlidingWindowCounterRateLimiter` does, returning
    the window's stats with each; on a redis-py `RedisStorage`, one round trip for all the hits
    made in one turn of the event loop, on a `MemoryStorage` in a dict of its own (see the
    module's docstring)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._redis: _RedisBatches | None = None
        self._memory: _MemoryWindows | None = None
        if isinstance(storage, RedisStorage) and isinstance(storage.bridge, RedispyBridge):
            self._redis = _RedisBatches(storage, storage.bridge)
        elif type(storage) is MemoryStorage:
            self._memory = _MemoryWindows()

    async def hit(self, item: RateLimitItem, *identifiers: str) -> tuple[bool, WindowStats]:
        """Count one hit of `item` for `identifiers`: whether it was allowed, and the window's
        stats after it (what `hit` then `get_window_stats` of limits would answer). Raises what
        the store raised (every hit of the same round trip does)."""
        key = item.key_for(*identifiers)
        if self._memory is not None:
            answer: Sequence[float] = self._memory.hit(key, item.amount, item.get_expiry())
        elif self._redis is not None:
            answer = await self._redis.hit(key, item.amount, item.get_expiry())
        else:
            allowed = await self._limiter.hit(item, *identifiers)
            return allowed, await self._limiter.get_window_stats(item, *identifiers)
        acquired, previous_count, previous_ttl, current_count, current_ttl = answer
        stats = window_stats(
            item, int(previous_count), previous_ttl / 1000, int(current_count), current_ttl / 1000
        )
        return bool(acquired), stats


class _MemoryWindows:
    """limits' sliding windows in process memory (`MemoryStorage`), counted in a dict of the
    counter's own: the same windows (numbered `now // expiry`, as limits' keys are), the same
    weighted count and refusal, the same answers (`tests/security/test_sliding_window.py`
    drives twin budgets through both). limits' own costs ~124,000 instructions a hit and its
    stats (callgrind): a task started on every count to sweep every key, an asyncio lock per
    key, ten wrapped storage calls; a hit here ~36,000, its key and stats included. Budgets
    unused for two windows are dropped every `SWEEP_EVERY` hits."""

    SWEEP_EVERY = 4096

    def __init__(self) -> None:
        # key -> [window number, its count, the previous window's count, expiry (s)]
        self._windows: dict[str, list[int]] = {}
        self._hits = 0

    def hit(self, key: str, limit: int, expiry: int) -> tuple[int, int, float, int, float]:
        """One hit, as `HIT_AND_READ` answers it (TTLs in milliseconds)."""
        now = time.time()
        number = int(now / expiry)
        window = self._windows.get(key)
        if window is None or window[0] < number - 1:
            window = self._windows[key] = [number, 0, 0, expiry]
        elif window[0] == number - 1:  # the current window became the previous one
            window[:3] = [number, 0, window[1]]
        _, current, previous, _ = window
        previous_ttl = (1 - ((now - expiry) / expiry) % 1) * expiry if previous else 0.0
        current_ttl = (1 - (now / expiry) % 1) * expiry + expiry
        allowed = 1 <= limit and floor(previous * previous_ttl / expiry + current) + 1 <= limit
        if allowed:
            window[1] = current = current + 1
        self._hits += 1
        if self._hits % self.SWEEP_EVERY == 0:
            self._sweep(now)
        return int(allowed), previous, previous_ttl * 1000, current, current_ttl * 1000

    def _sweep(self, now: float) -> None:
        for key in [k for k, w in self._windows.items() if w[0] < int(now / w[3]) - 1]:
            del self._windows[key]


@dataclass(slots=True)
class _Hit:
    keys: tuple[str, str]
    args: tuple[int, int, int]
    answer: asyncio.Future[Sequence[int]]


class _RedisBatches:
    """`HIT_AND_READ` on a redis-py storage, one call for many hits: those made in one turn of
    the event loop, and those made while the call before was in flight (one call at a time)."""

    def __init__(self, storage: RedisStorage, bridge: RedispyBridge) -> None:
        self.storage = storage
        self.bridge = bridge
        script = bridge.get_connection().register_script(HIT_AND_READ.encode())
        self._script = cast(_Script, script)
        self._waiting: list[_Hit] = []  # hits not sent yet
        self._sending: asyncio.Future[None] | None = None  # the call in flight
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop of both

    async def hit(self, key: str, limit: int, expiry: int) -> Sequence[int]:
        """One hit of `key`'s budget: the script's answer for it."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # what another loop left (tests run many) is not waited for
            self._loop, self._waiting, self._sending = loop, [], None
        one = _Hit(
            keys=(
                self.bridge.prefixed_key(self.storage._previous_window_key(key)),
                self.bridge.prefixed_key(self.storage._current_window_key(key)),
            ),
            args=(limit, expiry, 1),
            answer=loop.create_future(),
        )
        self._waiting.append(one)
        if len(self._waiting) == 1 and self._sending is None:
            loop.call_soon(self._send_waiting)
        return await one.answer

    def _send_waiting(self) -> None:
        """The hits waiting, sent (at most MAX_BATCH of them): at the end of the turn in which
        the first was made, or when the call before returns."""
        if self._sending is not None or not self._waiting:
            return
        hits, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
        self._sending = asyncio.ensure_future(self._send(hits))

    async def _send(self, hits: list[_Hit]) -> None:
        try:
            answer = await self._script(
                [key for one in hits for key in one.keys],
                [arg for one in hits for arg in one.args],
            )
        except asyncio.CancelledError:  # the loop is closing: nothing more is sent
            waiting, self._waiting, self._sending = self._waiting, [], None
            for one in [*hits, *waiting]:
                one.answer.cancel()
            raise
        except Exception as exc:
            for one in hits:
                if not one.answer.done():  # a hit whose request went away is not waiting
                    one.answer.set_exception(exc)
        else:
            for n, one in enumerate(hits):
                if not one.answer.done():
                    one.answer.set_result(answer[n * ANSWER_LENGTH : (n + 1) * ANSWER_LENGTH])
        self._sending = None
        self._send_waiting()


def window_stats(
    item: RateLimitItem,
    previous_count: int,
    previous_expires_in: float,
    current_count: int,
    current_expires_in: float,
) -> WindowStats:
    """What limits' `SlidingWindowCounterRateLimiter.get_window_stats` answers for this window
    (expiries in seconds): the remaining budget, and when the next hit frees up (read in the
    hit's own script rather than a round trip later: see `_frees_in`)."""
    expiry = item.get_expiry()
    weighted = previous_count * previous_expires_in / expiry + current_count
    remaining = max(0, item.amount - floor(weighted))
    now = time.time()
    previous_reset_in = (
        _frees_in(previous_expires_in, expiry / previous_count) if previous_count else inf
    )
    current_reset_in = _frees_in(current_expires_in, expiry) if current_count else inf
    reset_in = min(previous_reset_in, current_reset_in)
    return WindowStats(now + (reset_in if reset_in < inf else 0), remaining)


def _frees_in(expires_in: float, period: float) -> float:
    """`expires_in % period`, but a full period rather than 0 at an exact multiple. limits reads
    the window a round trip after the hit, when a counter it just created (TTL: two windows)
    has a few milliseconds less and frees in almost a full window; read in the same script, the
    TTL is exactly two windows, and 0 would say the window frees now."""
    return expires_in % period or period
