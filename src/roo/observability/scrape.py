"""The exposition of `GET /metrics`: the recorded metrics plus what is read at scrape time.

Recorded metrics come from prometheus-client's default registry, or, in multiprocess mode
(`PROMETHEUS_MULTIPROC_DIR`, set by `roo serve --workers N`), from the files of every process,
merged. Read at scrape time, never on a request's path:

- the database pool of the answering process (connections in use, callers waiting for one);
- active sessions, running and queued tasks: one query of three counts, kept `COUNTS_TTL`
  seconds, so a scraper polling fast (or several) costs the database at most one query per TTL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from roo.db.models import Session, Task
from roo.db.reads import Reads
from roo.kit.logs import get_logger
from roo.observability.metrics import multiprocess_dir

log = get_logger("roo.metrics")

COUNTS_TTL = 5.0


@dataclass(frozen=True, slots=True)
class Counts:
    active_sessions: int
    running_tasks: int
    queued_tasks: int


def _count(model: Any, state: str) -> Any:
    return select(func.count()).select_from(model).where(model.state == state).scalar_subquery()


_COUNTS = select(
    _count(Session, "active").label("active_sessions"),
    _count(Task, "running").label("running_tasks"),
    _count(Task, "queued").label("queued_tasks"),
)


class CountsCache:
    """The three counts, read at most once per `ttl` seconds by one caller at a time."""

    def __init__(self, ttl: float = COUNTS_TTL) -> None:
        self.ttl = ttl
        self._value: Counts | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self, reads: Reads) -> Counts:
        async with self._lock:
            if self._value is None or time.monotonic() - self._read_at >= self.ttl:
                row = await reads.first(_COUNTS)
                assert row is not None  # noqa: S101 (a SELECT of aggregates has one row)
                self._value = Counts(
                    int(row["active_sessions"]), int(row["running_tasks"]), int(row["queued_tasks"])
                )
                self._read_at = time.monotonic()
            return self._value


def _pool_families(engine: AsyncEngine) -> Iterator[Metric]:
    pool = engine.sync_engine.pool
    checkedout = getattr(pool, "checkedout", None)
    if checkedout is None:  # a pool without stats (NullPool, StaticPool)
        return
    in_use = GaugeMetricFamily(
        "roo_db_pool_connections_in_use",
        "Database connections checked out of the pool of the process that answered the scrape",
    )
    in_use.add_metric([], float(checkedout()))
    yield in_use
    size = GaugeMetricFamily(
        "roo_db_pool_size", "Connections the pool keeps at most (ROO_DB_POOL_MAX)"
    )
    size.add_metric([], float(pool.size()))  # type: ignore[attr-defined]
    yield size
    waiting = GaugeMetricFamily(
        "roo_db_pool_waiting",
        "Callers waiting for a free database connection in the process that answered the scrape",
    )
    waiting.add_metric([], float(_waiters(pool)))
    yield waiting


def _waiters(pool: Any) -> int:
    # SQLAlchemy keeps no count of waiters: its asyncio queue does (the futures of `get`).
    queue = getattr(getattr(pool, "_pool", None), "_queue", None)
    getters = getattr(queue, "_getters", None)
    return sum(1 for waiter in getters if not waiter.done()) if getters else 0


def _count_families(counts: Counts) -> Iterator[Metric]:
    sessions = GaugeMetricFamily("roo_sessions_active", "Sessions in the `active` state")
    sessions.add_metric([], float(counts.active_sessions))
    yield sessions
    tasks = GaugeMetricFamily("roo_tasks", "Tasks by state (running, queued)", labels=["state"])
    tasks.add_metric(["running"], float(counts.running_tasks))
    tasks.add_metric(["queued"], float(counts.queued_tasks))
    yield tasks


class _Families:
    """Metric families built for one scrape, in the shape `generate_latest` reads."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


def recorded_registry() -> CollectorRegistry:
    """The default registry, or one merging every process's files in multiprocess mode."""
    path = multiprocess_dir()
    if path is None:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return registry


async def exposition(engine: AsyncEngine, reads: Reads, counts: CountsCache) -> bytes:
    """The text exposition of one scrape."""
    read_now = list(_pool_families(engine))
    try:
        read_now.extend(_count_families(await counts.get(reads)))
    except Exception as exc:  # the database is away: the rest is worth the most right now
        log.warning("metrics.counts_failed", error=type(exc).__name__)
    recorded = generate_latest(recorded_registry())
    return recorded + generate_latest(_Families(read_now))
