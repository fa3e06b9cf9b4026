"""The key-value cache: the same contract in memory and on Redis."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from roo.kit.cache import Cache, MemoryCache, RedisCache


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    if request.param == "memory":
        yield MemoryCache()
        return
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL not set: the Redis half runs in CI's second pass")
    redis = Redis.from_url(url)
    prefix = f"roo-test-cache-{uuid.uuid4().hex}:"
    try:
        yield RedisCache(redis, prefix)
    finally:
        keys = [k async for k in redis.scan_iter(match=prefix + "*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_set_get_delete(cache: Cache) -> None:
    assert await cache.get("a") is None
    await cache.set("a", b"1", 30)
    await cache.set("b", b"2", 30)
    assert await cache.get("a") == b"1"
    assert await cache.get_many("a", "missing", "b") == [b"1", None, b"2"]
    await cache.delete("a", "b")
    assert await cache.get_many("a", "b") == [None, None]


async def test_expiry(cache: Cache) -> None:
    await cache.set("short", b"x", 0.05)
    await cache.set("gone", b"x", 0)
    assert await cache.get("gone") is None
    await asyncio.sleep(0.15)
    assert await cache.get("short") is None


async def test_pop_hands_the_value_to_one_caller(cache: Cache) -> None:
    await cache.set("state", b"v", 30)
    results = await asyncio.gather(*(cache.pop("state") for _ in range(10)))
    assert results.count(b"v") == 1
    assert await cache.get("state") is None


async def test_bounded_memory_cache_evicts_least_recently_used() -> None:
    cache = MemoryCache(max_entries=3)
    for key in "abc":
        await cache.set(key, key.encode(), 30)
    await cache.get("a")  # a is now the most recent
    await cache.set("d", b"d", 30)
    assert await cache.get_many("a", "b", "c", "d") == [b"a", None, b"c", b"d"]


async def test_unbounded_memory_cache_never_evicts_live_entries() -> None:
    denylist = MemoryCache(max_entries=None)
    await denylist.set("revoked", b"1", 60)
    for i in range(5000):  # anonymous traffic writing short-lived entries
        await denylist.set(f"noise-{i}", b"x", 0.001)
    await asyncio.sleep(0.01)
    await denylist.set("trigger-purge", b"x", 60)
    assert await denylist.get("revoked") == b"1"
    assert len(denylist._data) < 5000  # expired noise was purged
