"""`roo serve --workers 2` (real processes, PostgreSQL): every scrape shows the requests of both
processes, whichever process answers it (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.auth.conftest import PASSWORD
from tests.e2e import server
from tests.e2e.server import HOST, ROO, running_server, service_env
from tests.observability.scrapes import Scrape

REQUESTS = 40
SCRAPES = 6


def _fresh_connection(base_url: str, headers: dict[str, str] | None = None) -> httpx.Client:
    # No keep-alive: each request is a new connection, which either process may accept.
    return httpx.Client(
        base_url=base_url,
        headers=headers,
        timeout=10.0,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def _scrape(base_url: str, token: str) -> Scrape:
    with _fresh_connection(base_url, {"Authorization": f"Bearer {token}"}) as http:
        response = http.get("/metrics")
    assert response.status_code == 200, response.text
    return Scrape(response.text)


def test_counts_are_merged_across_worker_processes(
    server_url: str | None,
    database_url: str,
    redis_url: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if server_url is None:
        pytest.skip("--workers above 1 needs PostgreSQL (DATABASE_URL)")
    # Two processes each import the whole service before answering: slower than one
    monkeypatch.setattr(server, "START_TIMEOUT_SECONDS", 90.0)
    data_dir = tmp_path / "data"
    email = f"metrics-{uuid.uuid4().hex[:8]}@example.com"
    created = subprocess.run(
        [ROO, "user", "create", "--email", email, "--role", "admin", "--password-stdin"],
        env=service_env(
            {"DATABASE_URL": database_url, "ROO_DATA_DIR": str(data_dir), "ROO_ENV": "development"}
        ),
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    command = ("serve", "--workers", "2", "--host", HOST, "--port")
    with running_server(
        tmp_path,
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        command=command,
    ) as live:
        with _fresh_connection(live.base_url) as http:
            login = http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        token = login.json()["token"]
        # The second process may still be starting: wait until both write metrics.
        deadline = time.monotonic() + 30
        while _scrape(live.base_url, token).value("roo_processes") < 2:
            assert time.monotonic() < deadline, live.log_text()
            time.sleep(0.2)
        before = _scrape(live.base_url, token)
        route = {"route": "/api/v1/version", "method": "GET", "status": "200"}

        for _ in range(REQUESTS):
            with _fresh_connection(live.base_url) as http:
                assert http.get("/api/v1/version").status_code == 200
        scrapes = [_scrape(live.base_url, token) for _ in range(SCRAPES)]

    counted = {
        s.total("roo_http_requests_total", **route)
        - before.total("roo_http_requests_total", **route)
        for s in scrapes
    }
    assert counted == {REQUESTS}
    assert {s.value("roo_processes") for s in scrapes} == {2}
    # Each process writes files of its own into the shared directory under the data dir
    pids = {p.stem.rsplit("_", 1)[-1] for p in (data_dir / "metrics").glob("counter_*.db")}
    assert len(pids) >= 2
