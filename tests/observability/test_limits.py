"""Limits and metrics: 429s counted by policy (and route template), 503s of the in-flight limit
counted as shed, and the scrape exempt from both."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from roo.api.middleware import InFlightLimitMiddleware
from roo.config import Settings
from roo.observability.http import MetricsMiddleware, _route_table
from tests.auth.conftest import SignIn
from tests.observability.conftest import ScrapeNow
from tests.security.test_rate_limits import within_one_window


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"rate_limit_user": "6/minute"})


async def test_refusals_are_counted_by_policy_and_the_scrape_is_never_limited(
    client: httpx.AsyncClient, sign_in: SignIn, scrape: ScrapeNow
) -> None:
    before = await scrape()
    member = await sign_in("member")
    await within_one_window(60, 10)  # 8 requests against 6 a minute: 2 refused, in one window
    statuses = [
        (await client.get("/api/v1/sessions", headers=member.headers)).status_code for _ in range(8)
    ]
    assert statuses.count(429) >= 2, statuses
    # the admin's scrapes are far past the user budget of 6 per minute: none is refused
    scrapes = [await scrape() for _ in range(8)]
    after = scrapes[-1]

    refused = statuses.count(429)
    assert (
        after.value("roo_rate_limit_refusals_total", {"policy": "user"})
        - before.value("roo_rate_limit_refusals_total", {"policy": "user"})
        == refused
    )
    # the 429 answered before routing still carries its route's template
    counted = after.total(
        "roo_http_requests_total", route="/api/v1/sessions", status="429"
    ) - before.total("roo_http_requests_total", route="/api/v1/sessions", status="429")
    assert counted == refused


async def test_shed_requests_are_counted_and_scrapes_are_never_shed() -> None:
    """The in-flight limit at 1 with a request held: the next is shed (503, counted), while
    /metrics and the probes pass."""
    release = asyncio.Event()
    entered = asyncio.Event()

    async def held(scope: dict[str, object], receive: object, send: object) -> None:
        if scope["path"] == "/slow":
            entered.set()
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]

    app = MetricsMiddleware(InFlightLimitMiddleware(held, limit=1))  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    shed_before = _sample("roo_http_requests_shed_total")
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        slow = asyncio.create_task(http.get("/slow"))
        await entered.wait()
        assert _sample("roo_http_requests_in_flight") >= 1
        assert (await http.get("/other")).status_code == 503
        assert (await http.get("/metrics")).status_code == 200
        assert (await http.get("/healthz")).status_code == 200
        release.set()
        assert (await slow).status_code == 200

    assert _sample("roo_http_requests_shed_total") - shed_before == 1


def _sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def test_the_route_table_is_the_documented_routes_and_needs_no_openapi_document(
    app: FastAPI,
) -> None:
    """Finding a refused request's template does not build the OpenAPI document (its first
    build holds the event loop for a quarter of a second, when the service is busiest), and
    finds every documented route, with each of its methods."""
    app.openapi_schema = None
    table = _route_table(app)
    assert app.openapi_schema is None
    documented = {
        (template, method.upper())
        for template, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert {(template, method) for _, methods, template in table for method in methods} == (
        documented
    )
