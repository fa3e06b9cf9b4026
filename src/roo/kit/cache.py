"""A small key-value cache with expiry: Redis when configured, process memory otherwise.

Used for what must be fast and may be rebuilt from the database: resolved identities, the
access-token denylist. Values are bytes; callers serialise.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

from redis.asyncio import Redis


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def get_many(self, *keys: str) -> list[bytes | None]: ...

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None: ...

    async def delete(self, *keys: str) -> None: ...

    async def pop(self, key: str) -> bytes | None:
        """Get and delete in one step: of two concurrent callers, only one gets the value."""
        ...


class MemoryCache:
    """A dict with per-entry expiry, for one process (embedded mode).

    With `max_entries`, the least recently used entries are evicted beyond it (for what can be
    rebuilt: snapshots). Without, nothing is evicted before it expires (for what must not be
    forgotten early, such as the access-token denylist); expired entries are purged as the
    store grows.
    """

    def __init__(self, max_entries: int | None = 100_000) -> None:
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max = max_entries
        self._purge_at = 1024

    async def get(self, key: str) -> bytes | None:
        return self._get(key, time.monotonic())

    async def get_many(self, *keys: str) -> list[bytes | None]:
        now = time.monotonic()
        return [self._get(key, now) for key in keys]

    def _get(self, key: str, now: float) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        expires, value = item
        if expires <= now:
            self._data.pop(key, None)
            return None
        self._data.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            self._data.pop(key, None)
            return
        self._data[key] = (time.monotonic() + ttl_seconds, value)
        self._data.move_to_end(key)
        if self._max is not None:
            while len(self._data) > self._max:
                self._data.popitem(last=False)
        elif len(self._data) >= self._purge_at:
            now = time.monotonic()
            for stale in [k for k, (expires, _) in self._data.items() if expires <= now]:
                del self._data[stale]
            self._purge_at = max(1024, 2 * len(self._data))

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._data.pop(key, None)

    async def pop(self, key: str) -> bytes | None:
        value = await self.get(key)
        self._data.pop(key, None)
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
