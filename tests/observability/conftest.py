"""Fixtures: the app with users of each role (tests/auth), and an admin's scrape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.auth.conftest import SignedIn, SignIn, auth, make_user, resources, sign_in
from tests.observability.scrapes import Scrape

__all__ = ["auth", "make_user", "resources", "sign_in"]

ScrapeNow = Callable[[], Awaitable[Scrape]]


@pytest.fixture
async def admin(sign_in: SignIn) -> SignedIn:
    return await sign_in("admin")


@pytest.fixture
def scrape(client: httpx.AsyncClient, admin: SignedIn) -> ScrapeNow:
    async def now() -> Scrape:
        response = await client.get("/metrics", headers=admin.headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        return Scrape(response.text)

    return now
