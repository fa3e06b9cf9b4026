"""One hit of a `limits` sliding-window counter and its window's stats, in one Redis round trip.

The rate limiter and the session budgets count every request with the `limits` library's
`SlidingWindowCounterRateLimiter`: `hit` to count, then `get_window_stats` for the `RateLimit`
header. On Redis that is two EVALSHA round trips per request (limits' `acquire_sliding_window.lua`
then `sliding_window.lua`), about 5% of the service's CPU under load on PostgreSQL + Redis, and
most of what the rate limiter costs; `limits` has no call that counts and reads the window at
once. `SlidingWindowCounter.hit` does both in one script of its own on a redis-py `RedisStorage`,
and makes the library's two calls on any other storage.

The script counts in limits' own keys (`{key}` and `{key}/-1`, under the storage's prefix) with
the same semantics as limits' scripts (the window shift, the weighted count, the refusal, the
counter's expiry), so a budget counted here and one counted through `limits` are the same
budget. It relies on those internals: `tests/security/test_sliding_window.py` drives a budget
through both on a real Redis and pins this module to the installed `limits` version.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from math import floor, inf
from typing import cast

from limits import RateLimitItem
from limits.aio.storage import RedisStorage, Storage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.util import WindowStats

# KEYS: the previous window's counter, the current window's. ARGV: the limit, the expiry (s),
# the cost. Returns {allowed (1 or 0), previous count, previous TTL (ms), current count,
# current TTL (ms)}, the window as read after the hit; a missing counter is 0 with a TTL of 0.
HIT_AND_READ = """
local previous_key, current_key = KEYS[1], KEYS[2]
local limit = tonumber(ARGV[1])
local expiry = tonumber(ARGV[2]) * 1000
local cost = tonumber(ARGV[3])

local function ttl_of(key)
    return math.max(tonumber(redis.call('pttl', key)), 0)
end

local function count_of(key)
    return tonumber(redis.call('get', key) or 0)
end

local function read()
    return count_of(previous_key), ttl_of(previous_key), count_of(current_key), ttl_of(current_key)
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
return {allowed and 1 or 0, previous_count, previous_ttl, current_count, current_ttl}
"""

_Script = Callable[[Sequence[str], Sequence[int]], Awaitable[Sequence[int]]]


class SlidingWindowCounter:
    """Counts hits on `storage` as limits' `SlidingWindowCounterRateLimiter` does, returning
    the window's stats with each; one round trip on a redis-py `RedisStorage`."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._redis: RedisStorage | None = None
        self._script: _Script | None = None
        if isinstance(storage, RedisStorage) and type(storage.bridge) is RedispyBridge:
            self._redis = storage
            script = storage.bridge.get_connection().register_script(HIT_AND_READ.encode())
            self._script = cast(_Script, script)

    async def hit(self, item: RateLimitItem, *identifiers: str) -> tuple[bool, WindowStats]:
        """Count one hit of `item` for `identifiers`: whether it was allowed, and the window's
        stats after it (what `hit` then `get_window_stats` of limits would answer)."""
        if self._redis is None or self._script is None:
            allowed = await self._limiter.hit(item, *identifiers)
            return allowed, await self._limiter.get_window_stats(item, *identifiers)
        key = item.key_for(*identifiers)
        keys = [
            self._redis.bridge.prefixed_key(self._redis._previous_window_key(key)),
            self._redis.bridge.prefixed_key(self._redis._current_window_key(key)),
        ]
        answer = await self._script(keys, [item.amount, item.get_expiry(), 1])
        acquired, previous_count, previous_ttl, current_count, current_ttl = map(int, answer)
        stats = window_stats(
            item, previous_count, previous_ttl / 1000, current_count, current_ttl / 1000
        )
        return bool(acquired), stats


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
