"""Hardening headers on every answer (roo.api.headers), the docs pages' strict CSP, and `Allow`
listing every method of a path on 405. Event streams: tests/realtime/test_sse.py; the
WebSocket: tests/realtime/test_ws.py."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from roo.app import create_app
from roo.config import Settings
from tests.auth.conftest import PASSWORD, MakeUser, SignIn, auth, make_user, resources, sign_in
from tests.e2e.server import running_server
from tests.support.lifespan import app_lifespan

__all__ = ["auth", "make_user", "resources", "sign_in"]

API_CSP = "default-src 'none'; frame-ancestors 'none'"


def assert_hardened(response: httpx.Response, *, no_store: bool = True) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-security-policy"] == API_CSP
    if no_store:
        assert response.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in response.headers  # plain http, no ROO_HSTS


async def test_json_and_problem_answers_carry_the_headers(client: httpx.AsyncClient) -> None:
    ok = await client.get("/api/v1/version")
    assert ok.status_code == 200
    assert_hardened(ok)
    for problem in (
        await client.get("/api/v1/nope"),  # 404 from the router
        await client.get("/api/v1/auth/profile"),  # 401 from a route's guard
        await client.post("/api/v1/auth/login", json={}),  # 422
    ):
        assert problem.headers["content-type"] == "application/problem+json"
        assert_hardened(problem)
    probe = await client.get("/healthz")  # outside /api: no caching rule of ours
    assert probe.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in probe.headers


async def test_answers_carrying_tokens_and_keys_are_not_stored(
    client: httpx.AsyncClient, make_user: MakeUser, sign_in: SignIn
) -> None:
    email = f"headers-{uuid.uuid4().hex[:8]}@example.com"
    await make_user(email)
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    assert_hardened(login)
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refreshToken": login.json()["refreshToken"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    assert_hardened(refreshed)
    user = await sign_in()
    key = await client.post(
        "/api/v1/auth/api-keys",
        json={"name": "ci", "scopes": ["sessions:read"]},
        headers=user.headers,
    )
    assert key.status_code == 201, key.text
    assert_hardened(key)


async def test_a_route_setting_its_own_caching_keeps_it(client: httpx.AsyncClient) -> None:
    asset = await client.get("/api/v1/docs/assets/swagger-ui.css")
    assert asset.status_code == 200
    assert "no-store" not in asset.headers.get("cache-control", "")
    assert asset.headers["x-content-type-options"] == "nosniff"


async def test_405_allows_every_method_of_the_path(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in()
    wrong = await client.post(f"/api/v1/sessions/{uuid.uuid4()}", headers=user.headers)
    assert wrong.status_code == 405
    # three routes serve the path (GET, PUT, DELETE); the router matched only the first
    assert wrong.headers["allow"] == "GET, PUT, DELETE"
    assert wrong.json()["detail"] == "POST is not allowed here; allowed: GET, PUT, DELETE"
    assert_hardened(wrong)
    version = await client.delete("/api/v1/version")
    assert version.headers["allow"] == "GET"
    asset = await client.post("/api/v1/docs/assets/swagger-ui.css")
    assert asset.status_code == 405
    assert asset.headers["allow"] == "GET, HEAD"


async def test_docs_pages_run_no_inline_script_and_keep_no_token(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/api/v1/docs", "/api/v1/redoc"):
        page = await client.get(path)
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        script_src = re.search(r"script-src ([^;]*)", csp)
        assert script_src is not None
        assert script_src.group(1).split() == ["'self'"], csp
        assert "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        # every script element loads a file: none has a body
        for body in re.findall(r"<script\b[^>]*>(.*?)</script>", page.text, flags=re.S):
            assert body.strip() == "", (path, body)
    swagger = await client.get("/api/v1/docs")
    assert 'src="/api/v1/docs/swagger-init.js" data-openapi-url="/api/v1/openapi.json"' in (
        swagger.text
    )
    init = await client.get("/api/v1/docs/swagger-init.js")
    assert init.status_code == 200
    assert init.headers["content-type"].startswith("text/javascript")
    assert "persistAuthorization: false" in init.text
    assert "localStorage" not in init.text


@pytest.fixture
async def hsts_app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings.model_copy(update={"hsts": "max-age=600"}))
    async with app_lifespan(application):
        yield application


async def test_hsts_only_over_tls(hsts_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=hsts_app)
    for base, expected in (("https://testserver", "max-age=600"), ("http://testserver", None)):
        async with httpx.AsyncClient(transport=transport, base_url=base) as c:
            response = await c.get("/api/v1/version")
        assert response.headers.get("strict-transport-security") == expected, base


def test_hsts_setting_accepts_seconds_or_a_header_value(settings: Settings) -> None:
    def load(value: str) -> str | None:
        return Settings.model_validate({**settings.model_dump(), "hsts": value}).hsts

    assert load("63072000") == "max-age=63072000"
    assert load("max-age=600; includeSubDomains") == "max-age=600; includeSubDomains"
    assert load("0") is None
    assert load("") is None
    with pytest.raises(ValueError, match="not an HSTS value"):
        load("forever")


async def test_hsts_behind_a_trusted_proxy_only(
    database_url: str, redis_url: str | None, tmp_path: Path
) -> None:
    """`roo serve`: `X-Forwarded-Proto: https` means TLS only from a proxy in TRUSTED_PROXIES."""
    https = {"X-Forwarded-Proto": "https"}
    for trusted, expected in (("127.0.0.1", "max-age=600"), ("", None)):
        env = {"ROO_HSTS": "600", **({"TRUSTED_PROXIES": trusted} if trusted else {})}
        work = tmp_path / (trusted or "untrusted")
        with running_server(
            work, data_dir=work / "data", database_url=database_url, redis_url=redis_url,
            extra_env=env,
        ) as server:  # fmt: skip
            async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
                forwarded = await http.get(f"{server.base_url}/api/v1/version", headers=https)
                plain = await http.get(f"{server.base_url}/api/v1/version")
        assert forwarded.headers.get("strict-transport-security") == expected, trusted
        assert "strict-transport-security" not in plain.headers
        assert forwarded.headers["x-content-type-options"] == "nosniff"
