"""Shared fixtures: one database per test run, settings pointing at it, the app and a client.

With `DATABASE_URL` pointing at PostgreSQL, a database `roo_test_<random>` is created on that
server for the run and dropped at the end; otherwise a SQLite file in a temporary directory is
used. With `REDIS_URL` set, the run's keys carry a prefix of their own and are deleted at the end.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings

from roo.app import create_app
from roo.config import Settings, load_settings
from roo.db import migrate
from roo.db.engine import create_engine
from roo.kit.logs import configure_logging
from roo.worker import taking_jobs
from tests.support import databases
from tests.support.lifespan import app_lifespan

RUN_ID = uuid.uuid4().hex[:10]

# CI (`.ci/run`) draws the property tests' examples from a fixed seed, so whether a commit lands
# never hangs on a random draw; a developer's run keeps exploring new examples, and a failure it
# finds is fixed and kept as an explicit case. HYPOTHESIS_PROFILE=ci reproduces CI's draws.
hypothesis_settings.register_profile("ci", derandomize=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session", autouse=True)
def _logging() -> None:
    """Log as the service does (structured, to stderr) so tests see what operators would."""
    configure_logging("INFO", json=False)


@pytest.fixture(scope="session")
def server_url() -> str | None:
    """The PostgreSQL server URL this run was given (DATABASE_URL), or None for SQLite."""
    url = os.environ.get("DATABASE_URL")
    return url if url and databases.is_postgres(url) else None


@pytest.fixture(scope="session")
def database_url(server_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of this run's own."""
    with databases.scratch_database(
        server_url, tmp_path_factory.mktemp("db"), f"roo_test_{RUN_ID}"
    ) as url:
        asyncio.run(_upgrade(url))
        yield url


async def _upgrade(url: str) -> None:
    engine = create_engine(load_settings(env="test", database_url=url))
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str | None]:
    url = os.environ.get("REDIS_URL") or None
    yield url
    if url:
        asyncio.run(databases.delete_redis_prefix(url, f"roo-test-{RUN_ID}:"))


@pytest.fixture
def settings(database_url: str, redis_url: str | None, tmp_path: Path) -> Settings:
    return load_settings(
        env="test",
        database_url=database_url,
        redis_url=redis_url,
        # one prefix per test: counters and caches in Redis never leak between tests
        redis_prefix=f"roo-test-{RUN_ID}:{uuid.uuid4().hex[:8]}:",
        # ROO_TEST_TASK_RUNNER=queue (CI's PostgreSQL pass) runs the suite's tasks through the
        # job queue, each test's on a queue of its own (no test's worker takes another's jobs)
        task_runner=TASK_RUNNER,
        task_queue=f"roo-test-{RUN_ID}-{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path / "var",
        auto_migrate=False,
        # a full collection at every test app's start would cost the suite a minute
        gc_freeze=False,
        # Every test signs users in from one address: the per-address budgets of real clients
        # would refuse a test's tenth user. tests/security/test_rate_limits.py uses the defaults.
        **GENEROUS_RATE_LIMITS,
    )


@pytest.fixture
def redis_settings(settings: Settings) -> Settings:
    """`settings`, for a test of the Redis half: skipped without REDIS_URL."""
    if not settings.redis_url:
        pytest.skip("REDIS_URL not set: the Redis half runs in CI's second pass")
    return settings


# Where the suite's tasks run (the service's ROO_TASK_RUNNER, for the `settings` fixture only:
# tests that build SQLite settings of their own keep the default)
TASK_RUNNER = os.environ.get("ROO_TEST_TASK_RUNNER") or "inprocess"

GENEROUS_RATE_LIMITS = {
    "rate_limit_auth": "10000/minute",
    "rate_limit_anonymous": "10000/minute",
    # one user's many sockets and a session's many tool calls in a test are not what is tested
    # (tests/security/test_session_budgets.py and tests/realtime/test_ws_budgets.py lower them)
    "rate_limit_session_tools": "10000/minute",
    "rate_limit_session_commands": "10000/minute",
    "rate_limit_ws_connect": "10000/minute",
    "rate_limit_ws_attempts": "10000/minute",
}


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with started(create_app(settings)) as application:
        yield application


@asynccontextmanager
async def started(application: FastAPI) -> AsyncIterator[FastAPI]:
    """The service's lifespan; with ROO_TASK_RUNNER=queue, also a worker in the same process
    taking the jobs it queues (through procrastinate on PostgreSQL, as `roo worker` does)."""
    async with app_lifespan(application):
        if application.state.settings.task_runner == "queue":
            async with taking_jobs(application):
                yield application
        else:
            yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
