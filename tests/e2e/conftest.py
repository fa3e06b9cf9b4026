"""Fixtures for the end-to-end tests: the real service as a subprocess on loopback.

`live_server` runs `roo serve` against this run's scratch database (`database_url`: SQLite or
PostgreSQL) and Redis (`redis_url`, when set), one process per test module.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.server import LiveServer, running_server


@pytest.fixture(scope="module")
def live_server(
    database_url: str, redis_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    work_dir = tmp_path_factory.mktemp("live-server")
    with running_server(
        work_dir, data_dir=work_dir / "data", database_url=database_url, redis_url=redis_url
    ) as server:
        yield server


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    """A client for the live server over real sockets (no proxy from the environment)."""
    with httpx.Client(base_url=live_server.base_url, timeout=10.0, trust_env=False) as client:
        yield client
