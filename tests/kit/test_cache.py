"""The key-value cache: the same contract in memory and on Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from roo.kit.cache import Cache, MemoryCache, NearCache, RedisCache
from tests.support.waiting import eventually


def _redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL not set: the Redis half runs in CI's second pass")
    return url


def _subscriber(url: str) -> Redis:
    return Redis.from_url(
        url,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=5,
        client_name=f"roo-test-near-{uuid.uuid4().hex[:8]}",
    )


@contextlib.asynccontextmanager
async def _redis_scope() -> AsyncIterator[tuple[Redis, str]]:
    """A client and a key prefix of this test's own, its keys deleted at the end."""
    redis = Redis.from_url(_redis_url())
    prefix = f"roo-test-cache-{uuid.uuid4().hex}:"
    try:
        yield redis, prefix
    finally:
        keys = [k async for k in redis.scan_iter(match=prefix + "*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


NearCaches = Callable[[], Awaitable[NearCache]]


@contextlib.asynccontextmanager
async def _near_scope(redis: Redis, prefix: str) -> AsyncIterator[NearCaches]:
    """Near caches on one Redis prefix, as the processes of one deployment have."""
    made: list[NearCache] = []

    async def make() -> NearCache:
        near = NearCache(redis, prefix, _subscriber(_redis_url()))
        made.append(near)
        await near.start()
        assert near.live
        return near

    try:
        yield make
    finally:
        for near in made:
            await near.aclose()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[tuple[Redis, str]]:
    async with _redis_scope() as scope:
        yield scope


@pytest.fixture
async def near_caches(redis_prefix: tuple[Redis, str]) -> AsyncIterator[NearCaches]:
    async with _near_scope(*redis_prefix) as make:
        yield make


@pytest.fixture(params=["memory", "redis", "near"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    if request.param == "memory":
        yield MemoryCache()
        return
    async with _redis_scope() as (redis, prefix):
        if request.param == "redis":
            yield RedisCache(redis, prefix)
            return
        async with _near_scope(redis, prefix) as make:
            yield await make()


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
    assert len(denylist._entries._data) < 5000  # expired noise was purged


# -- the near cache: a copy per process, kept coherent through Redis ---------------------------


async def test_near_cache_serves_reads_from_its_copy(
    near_caches: NearCaches, redis_prefix: tuple[Redis, str]
) -> None:
    redis, prefix = redis_prefix
    near = await near_caches()
    # (written without an invalidation: one in flight would keep the first read out of the copy)
    await redis.set(prefix + "user", b"v1", ex=30)
    assert await near.get_many("user", "denied") == [b"v1", None]  # read once from Redis
    # Written behind its back (no invalidation): the copy still answers, misses included
    await redis.set(prefix + "user", b"behind")
    await redis.set(prefix + "denied", b"1")
    assert await near.get_many("user", "denied") == [b"v1", None]


async def test_a_write_in_one_process_reaches_the_copies_of_the_others(
    near_caches: NearCaches,
) -> None:
    a, b = await near_caches(), await near_caches()
    await a.set("user", b"v1", 30)
    assert await b.get_many("user", "deny") == [b"v1", None]  # b keeps both in its copy
    await a.set("deny", b"1", 30)  # a logout
    await a.set("user", b"v2", 30)  # a role change
    await eventually(lambda: _equals(b.get_many("user", "deny"), [b"v2", b"1"]))
    await a.delete("user")
    await eventually(lambda: _equals(b.get("user"), None))
    await b.set("state", b"s", 30)
    assert await a.get("state") == b"s"
    assert await b.pop("state") == b"s"
    await eventually(lambda: _equals(a.get("state"), None))


async def _equals(value: Awaitable[object], expected: object) -> bool:
    return await value == expected


async def test_a_read_that_raced_a_write_is_not_kept(
    near_caches: NearCaches, redis_prefix: tuple[Redis, str]
) -> None:
    redis, _ = redis_prefix
    a, b = await near_caches(), await near_caches()
    await a.set("user", b"old", 30)
    # b's read of the old value is in flight when a's write and its invalidation arrive
    real_pipeline = redis.pipeline
    in_flight, go_on = asyncio.Event(), asyncio.Event()

    def slow_pipeline(*args: object, **kwargs: object) -> object:
        pipe = real_pipeline(*args, **kwargs)  # type: ignore[arg-type]
        execute = pipe.execute

        async def late_execute(*a: object, **k: object) -> object:
            result = await execute(*a, **k)  # type: ignore[arg-type]
            in_flight.set()
            await go_on.wait()
            return result

        pipe.execute = late_execute  # type: ignore[method-assign]
        return pipe

    redis.pipeline = slow_pipeline  # type: ignore[method-assign]
    read = asyncio.create_task(b.get("user"))
    try:
        await in_flight.wait()
        redis.pipeline = real_pipeline  # type: ignore[method-assign]
        generation = b._generation
        await a.set("user", b"new", 30)
        await eventually(lambda: b._generation > generation)  # b got the invalidation
    finally:
        go_on.set()
    assert await read == b"old"  # what Redis answered then
    assert await b.get("user") == b"new"  # but it was not kept


async def test_a_lost_subscription_clears_the_copy_until_it_is_back(
    near_caches: NearCaches, redis_prefix: tuple[Redis, str]
) -> None:
    redis, prefix = redis_prefix
    near = await near_caches()
    await near.set("user", b"v1", 30)
    assert await near.get("user") == b"v1"
    # The subscription drops; a write made meanwhile has its invalidation lost
    await redis.execute_command("CLIENT", "KILL", "ID", await _subscriber_id(redis, near))
    await redis.set(prefix + "user", b"v2")
    await eventually(lambda: near.subscriptions == 2 and near.live)
    assert await near.get("user") == b"v2"  # the copy was cleared, not trusted
    await redis.set(prefix + "user", b"v3")  # behind its back: the copy is in use again
    assert await near.get("user") == b"v2"
    await near.set("user", b"v4", 30)
    assert await near.get("user") == b"v4"


async def _subscriber_id(redis: Redis, near: NearCache) -> str:
    """The Redis client id of the near cache's subscription (a test kills it)."""
    name = near._subscriber.get_connection_kwargs()["client_name"]
    listing = (await redis.execute_command("CLIENT", "LIST", "TYPE", "pubsub")).decode()
    for line in listing.splitlines():
        fields = dict(field.split("=", 1) for field in line.split(" ") if "=" in field)
        if fields.get("name") == name:
            return fields["id"]
    raise AssertionError(f"no subscription named {name}: {listing}")


async def test_a_copy_expires_with_the_redis_entry(near_caches: NearCaches) -> None:
    near = await near_caches()
    await near.set("short", b"x", 0.2)
    assert await near.get("short") == b"x"
    await asyncio.sleep(0.3)
    assert await near.get("short") is None
