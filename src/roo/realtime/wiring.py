"""Assembling the real-time bus and the inbox wake-ups from settings (used by the app
lifespan)."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.config import Settings
from roo.kit.cache import HEALTH_CHECK_SECONDS
from roo.realtime.bus import EventBus, RedisEventBus
from roo.realtime.wake import InboxWakes, PostgresInboxWakes, RedisInboxWakes


def build_bus(
    settings: Settings, db_sessions: async_sessionmaker[AsyncSession], redis: Redis | None
) -> EventBus:
    """In process without Redis; over Redis pub/sub with it. Start it with `await bus.start()`,
    stop it with `await bus.aclose()`."""
    if redis is None or not settings.redis_url:
        return EventBus(db_sessions)
    # The subscription has a client of its own without retries: a dropped connection must be
    # noticed (subscribers read the log), not silently re-established with messages lost.
    subscriber = Redis.from_url(
        settings.redis_url,
        decode_responses=False,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=int(HEALTH_CHECK_SECONDS),
        socket_keepalive=True,
        client_name="roo-realtime-events",
    )
    return RedisEventBus(db_sessions, redis, subscriber, settings.redis_prefix)


def build_inbox_wakes(
    settings: Settings, db_sessions: async_sessionmaker[AsyncSession], bus: EventBus
) -> InboxWakes:
    """Over the bus's Redis connections with Redis; over LISTEN/NOTIFY on PostgreSQL without
    it; nothing with SQLite (one process). Listen with `await wakes.listen(runner_id, wake)`,
    stop with `await wakes.aclose()` (before the bus's `aclose`)."""
    if isinstance(bus, RedisEventBus):
        return RedisInboxWakes(bus, settings.redis_prefix)
    if settings.is_sqlite:
        return InboxWakes()
    dsn = make_url(settings.db_url).set(drivername="postgresql")
    return PostgresInboxWakes(dsn.render_as_string(hide_password=False), db_sessions)
