"""Fixtures for the console's tests: the real `roo serve` process with the fake LLM behind it,
a member account, and headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from roo.testing.fake_llm import FakeLLM
from tests.e2e.server import LiveServer, fake_llm_env, running_server
from tests.support.browser import chromium

KEY = "sk-console-test-key"
EMAIL, PASSWORD = "console@example.com", "correct horse battery staple"
# Where the tests save their screenshots: the documentation's copies when set (docs/console.md
# links them; refresh them with ROO_CONSOLE_SCREENSHOTS=docs/console), else the test's tmp dir.
SCREENSHOTS_ENV = "ROO_CONSOLE_SCREENSHOTS"


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM(api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def server(
    llm: FakeLLM, database_url: str, redis_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    work = tmp_path_factory.mktemp("console")
    env = {
        **fake_llm_env(llm, KEY),
        "ROO_ALLOW_REGISTRATION": "true",
        # a configured provider, for the sign-in page's button (the flow itself: tests/auth)
        "OAUTH_GITHUB_CLIENT_ID": "console-test-client",
        "OAUTH_GITHUB_CLIENT_SECRET": "console-test-secret",
    }
    with running_server(
        work, data_dir=work / "data", database_url=database_url, redis_url=redis_url, extra_env=env
    ) as live:
        with httpx.Client(base_url=live.base_url, timeout=10.0, trust_env=False) as client:
            response = client.post(
                "/api/v1/auth/register", json={"email": EMAIL, "password": PASSWORD}
            )
            assert response.status_code == 202, response.text
        yield live


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    """The same account over REST, for what the test checks or changes behind the page."""
    with httpx.Client(base_url=server.base_url, timeout=10.0, trust_env=False) as client:
        token = client.post(
            "/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}
        ).json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    where = os.environ.get(SCREENSHOTS_ENV)
    path = Path(where) if where else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path
