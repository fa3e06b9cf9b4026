"""The MCP board: where the processes of a deployment (API processes, `roo worker`s) tell each
other about the MCP servers they run, and ask each other to restart one.

Entries are JSON objects under (kind, scope, name), each with a lifetime: a process that ends
without a word leaves nothing behind for longer than that. Over Redis (`REDIS_URL`): one hash
per (kind, scope), `<ROO_REDIS_PREFIX>mcp:<kind>:<scope>`, a field per name holding the entry and
its expiry (the hash itself expires with its latest entry); over PostgreSQL without Redis: the
`mcp_board` table, one row an entry, the expired rows swept now and then. With SQLite there is
one process and no board.

Every call is one short command or unit of work; none waits on anything else meanwhile.
"""

from __future__ import annotations

import json
import math
import time
from datetime import timedelta
from typing import Any, Protocol

from redis.asyncio import Redis
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.db.engine import unit_of_work
from roo.db.models import McpBoardEntry
from roo.db.types import utcnow

Entry = dict[str, Any]


class Board(Protocol):
    async def put(self, kind: str, scope: str, name: str, data: Entry, ttl: float) -> None:
        """Write (or replace) an entry that lives `ttl` seconds."""

    async def read(self, kind: str, scope: str) -> dict[str, Entry]:
        """The live entries of (kind, scope) by name."""

    async def take(self, kind: str, scope: str) -> dict[str, Entry]:
        """As `read`, and remove them (each taken by one reader)."""

    async def delete(self, kind: str, scope: str, name: str) -> None: ...

    async def sweep(self) -> None:
        """Forget the expired entries (where they do not expire by themselves)."""


class RedisBoard:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{prefix}mcp:"

    def _key(self, kind: str, scope: str) -> str:
        return f"{self._prefix}{kind}:{scope}"

    async def put(self, kind: str, scope: str, name: str, data: Entry, ttl: float) -> None:
        key = self._key(kind, scope)
        value = json.dumps({"expires": time.time() + ttl, "data": data}, separators=(",", ":"))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, name, value)
            pipe.expire(key, math.ceil(ttl))
            await pipe.execute()

    def _live(self, raw: dict[Any, Any]) -> tuple[dict[str, Entry], list[str]]:
        now, live, stale = time.time(), {}, []
        for field, value in raw.items():
            name = field.decode() if isinstance(field, bytes) else str(field)
            try:
                entry = json.loads(value)
                fresh = float(entry["expires"]) > now and isinstance(entry["data"], dict)
            except (ValueError, TypeError, KeyError):
                fresh = False
            if fresh:
                live[name] = entry["data"]
            else:
                stale.append(name)
        return live, stale

    async def read(self, kind: str, scope: str) -> dict[str, Entry]:
        key = self._key(kind, scope)
        live, stale = self._live(await self._redis.hgetall(key))
        if stale:
            await self._redis.hdel(key, *stale)
        return live

    async def take(self, kind: str, scope: str) -> dict[str, Entry]:
        key = self._key(kind, scope)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(key)
            pipe.delete(key)
            raw, _ = await pipe.execute()
        return self._live(raw)[0]

    async def delete(self, kind: str, scope: str, name: str) -> None:
        await self._redis.hdel(self._key(kind, scope), name)

    async def sweep(self) -> None:
        """Redis expires the hashes; stale fields go when read."""


class PostgresBoard:
    def __init__(self, db_sessions: async_sessionmaker[AsyncSession]) -> None:
        self._db_sessions = db_sessions

    async def put(self, kind: str, scope: str, name: str, data: Entry, ttl: float) -> None:
        expires = utcnow() + timedelta(seconds=ttl)
        statement = insert(McpBoardEntry).values(
            kind=kind, scope=scope, name=name, data=data, expires_at=expires
        )
        statement = statement.on_conflict_do_update(
            index_elements=["kind", "scope", "name"],
            set_={"data": statement.excluded.data, "expires_at": statement.excluded.expires_at},
        )
        async with unit_of_work(self._db_sessions) as db:
            await db.execute(statement)

    async def read(self, kind: str, scope: str) -> dict[str, Entry]:
        async with unit_of_work(self._db_sessions) as db:
            rows = await db.execute(
                select(McpBoardEntry.name, McpBoardEntry.data).where(
                    McpBoardEntry.kind == kind,
                    McpBoardEntry.scope == scope,
                    McpBoardEntry.expires_at > utcnow(),
                )
            )
            return {str(name): data for name, data in rows.all()}

    async def take(self, kind: str, scope: str) -> dict[str, Entry]:
        async with unit_of_work(self._db_sessions) as db:
            rows = await db.execute(
                delete(McpBoardEntry)
                .where(McpBoardEntry.kind == kind, McpBoardEntry.scope == scope)
                .returning(McpBoardEntry.name, McpBoardEntry.data, McpBoardEntry.expires_at)
            )
            now = utcnow()
            return {name: data for name, data, expires in rows.all() if expires > now}

    async def delete(self, kind: str, scope: str, name: str) -> None:
        async with unit_of_work(self._db_sessions) as db:
            await db.execute(
                delete(McpBoardEntry).where(
                    McpBoardEntry.kind == kind,
                    McpBoardEntry.scope == scope,
                    McpBoardEntry.name == name,
                )
            )

    async def sweep(self) -> None:
        async with unit_of_work(self._db_sessions) as db:
            await db.execute(delete(McpBoardEntry).where(McpBoardEntry.expires_at <= utcnow()))
