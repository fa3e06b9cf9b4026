"""A small key-value cache with expiry: Redis when configured, process memory otherwise.

Used for what must be fast and may be rebuilt from the database: resolved identities, the
access-token denylist. Values are bytes; callers serialise. `NearCache` puts a per-process copy,
kept coherent over Redis pub/sub, in front of Redis for reads made on every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from roo.kit.logs import get_logger
from roo.kit.loops import cancel_listener

log = get_logger("roo.cache")


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def get_many(self, *keys: str) -> list[bytes | None]: ...

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None: ...

    async def delete(self, *keys: str) -> None: ...

    async def pop(self, key: str) -> bytes | None:
        """Get and delete in one step: of two concurrent callers, only one gets the value."""
        ...


class _Unknown:
    """What a local store answers for a key it holds nothing about (None is a cached miss)."""


UNKNOWN = _Unknown()


class _Entries:
    """Values with an expiry time in process memory, least recently used first."""

    def __init__(self, max_entries: int | None) -> None:
        self._data: OrderedDict[str, tuple[float, bytes | None]] = OrderedDict()
        self._max = max_entries
        self._purge_at = 1024

    def get(self, key: str, now: float) -> bytes | _Unknown | None:
        item = self._data.get(key)
        if item is None:
            return UNKNOWN
        expires, value = item
        if expires <= now:
            del self._data[key]
            return UNKNOWN
        self._data.move_to_end(key)
        return value

    def put(self, key: str, value: bytes | None, expires: float, now: float) -> None:
        self._data[key] = (expires, value)
        self._data.move_to_end(key)
        if self._max is not None:
            while len(self._data) > self._max:
                self._data.popitem(last=False)
        elif len(self._data) >= self._purge_at:
            for stale in [k for k, (at, _) in self._data.items() if at <= now]:
                del self._data[stale]
            self._purge_at = max(1024, 2 * len(self._data))

    def drop(self, *keys: str) -> None:
        for key in keys:
            self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()


class MemoryCache:
    """A dict with per-entry expiry, for one process (embedded mode).

    With `max_entries`, the least recently used entries are evicted beyond it (for what can be
    rebuilt: snapshots). Without, nothing is evicted before it expires (for what must not be
    forgotten early, such as the access-token denylist); expired entries are purged as the
    store grows.
    """

    def __init__(self, max_entries: int | None = 100_000) -> None:
        self._entries = _Entries(max_entries)

    async def get(self, key: str) -> bytes | None:
        value = self._entries.get(key, time.monotonic())
        return None if isinstance(value, _Unknown) else value

    async def get_many(self, *keys: str) -> list[bytes | None]:
        now = time.monotonic()
        get = self._entries.get
        return [None if isinstance(v := get(key, now), _Unknown) else v for key in keys]

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            self._entries.drop(key)
            return
        now = time.monotonic()
        self._entries.put(key, value, now + ttl_seconds, now)

    async def delete(self, *keys: str) -> None:
        self._entries.drop(*keys)

    async def pop(self, key: str) -> bytes | None:
        value = await self.get(key)
        self._entries.drop(key)
        return value


class RedisCache:
    """The same contract on Redis, every key under `prefix`, shared by every process."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(self._prefix + key)
        return value if isinstance(value, bytes) or value is None else value.encode()

    async def get_many(self, *keys: str) -> list[bytes | None]:
        """One round trip for several keys (MGET)."""
        values = await self._redis.mget([self._prefix + k for k in keys])
        return [v.encode() if isinstance(v, str) else v for v in values]

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            await self.delete(key)
            return
        await self._redis.set(self._prefix + key, value, px=max(int(ttl_seconds * 1000), 1))

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._redis.delete(*(self._prefix + k for k in keys))

    async def pop(self, key: str) -> bytes | None:
        value = await self._redis.getdel(self._prefix + key)
        return value.encode() if isinstance(value, str) else value


# How often an idle invalidation subscription is checked (give the subscriber client the same
# `health_check_interval`).
HEALTH_CHECK_SECONDS = 5.0


class NearCache:
    """The Redis cache with a copy, in this process's memory, of what this process read.

    For reads that run on every request (who is calling) and must not each cost a Redis round
    trip. Every write (set, delete, pop) goes to Redis and publishes its keys on a pub/sub
    channel; every process drops the keys it receives from its copy, so a write reaches the
    other processes as fast as Redis delivers the message (well under a millisecond on one host).

    The copy is trusted only while the subscription is up. Misses are kept too (a token that is
    not on the denylist is the common case). What could make the copy stale is handled:
    - the subscription drops (Redis restarts, the connection is killed): a message sent
      meanwhile would be lost, so the copy is cleared and reads go to Redis until the
      subscription is back (and it is cleared again then);
    - a read from Redis that raced a write: it is kept only if no invalidation arrived
      while it was in flight (a generation counter);
    - an entry expiring in Redis: the copy expires with it (its remaining TTL is read along
      with the value), and never later than `max_age_seconds`.
    """

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        subscriber: Redis,
        *,
        max_entries: int = 100_000,
        max_age_seconds: float = 60.0,
    ) -> None:
        """`subscriber`: a client of its own for the subscription (closed with this cache), made
        without retries (`retry=Retry(NoBackoff(), 0)`), so that a lost connection surfaces
        here instead of being silently re-established with messages lost in between."""
        self._redis = redis
        self._prefix = prefix
        self._subscriber = subscriber
        self.channel = f"{prefix}invalidations"
        self._local = _Entries(max_entries)
        self._max_age = max_age_seconds
        self._generation = 0
        self._live = asyncio.Event()  # set while the subscription is up
        self.subscriptions = 0  # how often the subscription was (re)established
        self._listener: asyncio.Task[None] | None = None

    @property
    def live(self) -> bool:
        """Whether the copy is in use (the invalidation subscription is up)."""
        return self._live.is_set()

    async def start(self, wait_seconds: float = 2.0) -> None:
        """Subscribe (in the background); wait up to `wait_seconds` for the subscription. Until
        it is up every read goes to Redis, so starting never fails for it."""
        self._listener = asyncio.create_task(self._listen(), name="near-cache-invalidations")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._live.wait(), wait_seconds)

    async def aclose(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None and not await cancel_listener(listener):
            log.warning("cache.listener_did_not_stop")
        self._reset(live=False)
        await self._subscriber.aclose()

    # -- reads ------------------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        return (await self.get_many(key))[0]

    async def get_many(self, *keys: str) -> list[bytes | None]:
        if self._live.is_set():
            now = time.monotonic()
            get = self._local.get
            local = [get(key, now) for key in keys]
            if not any(isinstance(v, _Unknown) for v in local):
                return local  # type: ignore[return-value]  # no _Unknown left
        names = [self._prefix + key for key in keys]
        if not self._live.is_set():
            values = await self._redis.mget(names)
            return [v.encode() if isinstance(v, str) else v for v in values]
        generation = self._generation
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.mget(names)
            for name in names:
                pipe.pttl(name)
            values, *ttls = await pipe.execute()
        found: list[bytes | None] = [v.encode() if isinstance(v, str) else v for v in values]
        if self._live.is_set() and generation == self._generation:
            now = time.monotonic()
            for key, value, ttl_ms in zip(keys, found, ttls, strict=True):
                age = self._max_age if ttl_ms < 0 else min(ttl_ms / 1000, self._max_age)
                if value is None or ttl_ms != -2:  # -2: it expired between the two reads
                    self._local.put(key, value, now + age, now)
        return found

    # -- writes: to Redis, then every process drops the keys ---------------------------------

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            await self.delete(key)
            return
        px = max(int(ttl_seconds * 1000), 1)
        await self._write([key], lambda pipe, name: pipe.set(name, value, px=px))

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._write(list(keys), lambda pipe, *names: pipe.delete(*names))

    async def pop(self, key: str) -> bytes | None:
        value = await self._write([key], lambda pipe, name: pipe.getdel(name))
        return value.encode() if isinstance(value, str) else value

    async def _write(self, keys: list[str], command: Callable[..., object]) -> Any:
        """`command(pipe, *names)` queues the write; it goes with its invalidation in one
        MULTI/EXEC: no write without its message."""
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                command(pipe, *(self._prefix + key for key in keys))
                pipe.publish(self.channel, json.dumps(keys))
                result, _receivers = await pipe.execute()
        finally:  # even when it failed: it may have been applied all the same
            self._invalidate(keys)  # (and a read of this process that raced it is not kept)
        return result

    # -- the subscription -------------------------------------------------------------------

    def _invalidate(self, keys: list[str]) -> None:
        self._generation += 1
        self._local.drop(*keys)

    def _reset(self, *, live: bool) -> None:
        self._generation += 1
        self._local.clear()
        if live:
            self._live.set()
        else:
            self._live.clear()

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            pubsub = self._subscriber.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while True:
                    # a timeout now and then lets the client's health check ping the server
                    message = await pubsub.get_message(timeout=HEALTH_CHECK_SECONDS)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self.subscriptions += 1
                        self._reset(live=True)
                        delay = 0.1
                    elif message["type"] == "message":
                        self._invalidate(_keys_of(message["data"]))
            except (RedisError, OSError) as exc:
                log.warning("cache.subscription_lost", error=f"{type(exc).__name__}: {exc}")
            finally:
                self._reset(live=False)
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def _keys_of(data: bytes | str) -> list[str]:
    try:
        keys = json.loads(data)
    except ValueError:
        keys = None
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise RedisError(f"unreadable invalidation message: {data!r}")  # reconnect, clear all
    return keys
