"""`GET /metrics` on the real app: the exposition parses, requests are counted by route
template (no ids in labels) and status, only `metrics:read` may scrape, and neither the rate
limiter nor the in-flight limit touches the scrape."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.auth.conftest import SignedIn, SignIn
from tests.observability.conftest import ScrapeNow

SESSION_ROUTE = "/api/v1/sessions/{session_id}"

FAMILIES = (
    "roo_http_requests",
    "roo_http_request_duration_seconds",
    "roo_http_requests_in_flight",
    "roo_http_requests_shed",
    "roo_rate_limit_refusals",
    "roo_db_pool_connections_in_use",
    "roo_db_pool_waiting",
    "roo_db_pool_size",
    "roo_sessions_active",
    "roo_tasks",
    "roo_task_events_appended",
    "roo_event_streams_open",
    "roo_sandbox_kills",
    "roo_llm_request_duration_seconds",
    "roo_llm_tokens",
    "roo_llm_cost_dollars",
    "roo_audit_write_duration_seconds",
    "roo_processes",
)


async def test_the_exposition_parses_and_has_every_family(scrape: ScrapeNow) -> None:
    result = await scrape()

    missing = [name for name in FAMILIES if name not in result.families]
    assert missing == []
    assert result.value("roo_processes") == 1
    assert result.value("roo_db_pool_size") > 0


async def test_requests_are_counted_by_route_template_method_and_status(
    client: httpx.AsyncClient, sign_in: SignIn, scrape: ScrapeNow
) -> None:
    member = await sign_in("member")
    created = await client.post("/api/v1/sessions", json={"name": "m"}, headers=member.headers)
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    missing_id = str(uuid.uuid4())
    before = await scrape()

    for _ in range(2):
        found = await client.get(f"/api/v1/sessions/{session_id}", headers=member.headers)
        assert found.status_code == 200
    gone = await client.get(f"/api/v1/sessions/{missing_id}", headers=member.headers)
    assert gone.status_code == 404
    nowhere = await client.get(f"/no/such/{missing_id}")
    assert nowhere.status_code == 404
    after = await scrape()

    def delta(name: str, **labels: str) -> float:
        return after.total(name, **labels) - before.total(name, **labels)

    assert delta("roo_http_requests_total", route=SESSION_ROUTE, method="GET", status="200") == 2
    assert delta("roo_http_requests_total", route=SESSION_ROUTE, method="GET", status="404") == 1
    assert delta("roo_http_requests_total", route="unmatched", status="404") == 1
    assert delta("roo_http_request_duration_seconds_count", route=SESSION_ROUTE) == 3
    routes = after.label_values("roo_http_requests_total", "route")
    assert not [r for r in routes if session_id in r or missing_id in r or "/no/such" in r]
    # The scrape itself is counted under its own template
    assert delta("roo_http_requests_total", route="/metrics", status="200") >= 1


async def test_active_sessions_are_counted_at_scrape_time(
    client: httpx.AsyncClient, sign_in: SignIn, scrape: ScrapeNow, app: object
) -> None:
    member = await sign_in("member")
    before = (await scrape()).value("roo_sessions_active")
    response = await client.post("/api/v1/sessions", json={"name": "s"}, headers=member.headers)
    assert response.status_code == 201
    app.state.metrics_counts._value = None  # type: ignore[attr-defined]  # past its few seconds

    assert (await scrape()).value("roo_sessions_active") == before + 1


@pytest.mark.parametrize("role", ["member", "viewer"])
async def test_only_metrics_read_may_scrape(
    client: httpx.AsyncClient, sign_in: SignIn, role: str
) -> None:
    anonymous = await client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    user = await sign_in(role)
    refused = await client.get("/metrics", headers=user.headers)
    assert refused.status_code == 403
    assert "roo_http_requests" not in refused.text


async def test_an_api_key_scoped_to_metrics_read_scrapes(
    client: httpx.AsyncClient, admin: SignedIn
) -> None:
    created = await client.post(
        "/api/v1/auth/api-keys",
        json={"name": "prometheus", "scopes": ["metrics:read"]},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    key = {"X-API-Key": created.json()["key"]}

    assert (await client.get("/metrics", headers=key)).status_code == 200
    # ...and nothing else
    assert (await client.get("/api/v1/sessions", headers=key)).status_code == 403


async def test_a_made_up_method_is_labelled_other(
    client: httpx.AsyncClient, scrape: ScrapeNow
) -> None:
    """A client chooses its method token freely: each would otherwise be a new series."""
    response = await client.request("BREW1234", "/api/v1/version")
    assert response.status_code == 405

    after = await scrape()
    methods = after.label_values("roo_http_requests_total", "method")
    assert "BREW1234" not in methods
    assert after.total("roo_http_requests_total", method="other") >= 1
