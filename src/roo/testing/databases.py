"""Scratch databases for tests and benchmarks: a PostgreSQL database created and dropped, or
a SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from roo.config import normalise_database_url


def is_postgres(url: str) -> bool:
    return normalise_database_url(url).startswith("postgresql")


def _admin_dsn(server_url: str) -> str:
    url = make_url(normalise_database_url(server_url)).set(
        drivername="postgresql", database="postgres"
    )
    return url.render_as_string(hide_password=False)


async def _admin(server_url: str, statement: str) -> None:
    conn = await asyncpg.connect(_admin_dsn(server_url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def scratch_database(server_url: str | None, tmp_dir: Path, name: str) -> Iterator[str]:
    """Yield the URL of an empty database named `name`; remove it afterwards."""
    if server_url is None:
        yield f"sqlite+aiosqlite:///{(tmp_dir / f'{name}.db').as_posix()}"
        return
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(normalise_database_url(server_url)).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def delete_redis_prefix(url: str, prefix: str) -> None:
    redis = Redis.from_url(url)
    try:
        async for key in redis.scan_iter(match=f"{prefix}*", count=500):
            await redis.delete(key)
    finally:
        await redis.aclose()
