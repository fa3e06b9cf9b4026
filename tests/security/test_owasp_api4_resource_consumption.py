"""OWASP API4:2023 Unrestricted Resource Consumption: oversized and deeply nested JSON, unbounded
paging. Each is a 4xx problem, never a 500, and creates nothing.

Also covered elsewhere: tests/security/test_rate_limits.py (per-user and per-address budgets,
429 with Retry-After), test_session_limits.py / test_session_quota.py / test_inode_limit.py /
test_disk_quota_depth.py / test_output_bounds.py (a session's memory, processes, sessions,
files, disk and stored output), test_bad_input.py (every integer input, offsets included, is
bounded in the document and replayed), tests/api (the body limit middleware itself).
"""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI

from roo.files.listing import MAX_LIST_LIMIT
from roo.kit.inputs import MAX_PAGE_LIMIT
from tests.auth.conftest import SignIn, auth, make_user, resources, sign_in

__all__ = ["auth", "make_user", "resources", "sign_in"]

MiB = 1024 * 1024


def nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


async def session_count(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    page = await client.get("/api/v1/sessions", headers=headers)
    assert page.status_code == 200
    total: int = page.json()["total"]
    return total


async def test_an_oversized_json_body_is_413_and_creates_nothing(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in()
    body = json.dumps({"name": "big", "config": {"customInstructions": "x" * (2 * MiB)}})
    response = await client.post(
        "/api/v1/sessions",
        headers={**user.headers, "Content-Type": "application/json"},
        content=body.encode(),
    )
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await session_count(client, user.headers) == 0


async def test_an_oversized_chunked_body_without_a_length_is_413(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in()

    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"name": "'
        for _ in range(3):
            yield b"x" * MiB
        yield b'"}'

    response = await client.post(
        "/api/v1/sessions",
        headers={**user.headers, "Content-Type": "application/json"},
        content=chunks(),
    )
    assert response.status_code == 413, response.text
    assert await session_count(client, user.headers) == 0


@pytest.mark.parametrize(
    "document",
    [
        nested(100_000),  # 200 KB of brackets: the parser's recursion
        nested(100_000, '{"a":', "}").replace("{}", "1", 1),
        '{"name": ' + nested(5_000) + "}",
        '{"name": "n", "config": ' + nested(50_000, '{"x":', "}") + "}",
    ],
    ids=["arrays", "objects", "in-a-field", "in-config"],
)
async def test_deeply_nested_json_is_4xx_never_500(
    client: httpx.AsyncClient, sign_in: SignIn, document: str
) -> None:
    user = await sign_in()
    for method, url in (
        ("POST", "/api/v1/sessions"),
        ("PUT", "/api/v1/auth/profile"),
        ("POST", "/api/v1/auth/api-keys"),
    ):
        response = await client.request(
            method,
            url,
            headers={**user.headers, "Content-Type": "application/json"},
            content=document.encode(),
        )
        assert 400 <= response.status_code < 500, f"{url}: {response.status_code}"
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await session_count(client, user.headers) == 0


async def test_deep_json_on_an_anonymous_route_is_4xx(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        headers={"Content-Type": "application/json"},
        content=nested(200_000).encode(),
    )
    assert 400 <= response.status_code < 500, response.text


# The largest page any list may return (the files listing's entries; the others MAX_PAGE_LIMIT)
LARGEST_PAGE = MAX_LIST_LIMIT


def paged_lists(app: FastAPI) -> dict[str, int]:
    """Every GET route of the document that takes a `limit` query parameter, with its declared
    maximum (0 when it declares none)."""
    found = {}
    for path, item in app.openapi()["paths"].items():
        for parameter in item.get("get", {}).get("parameters", []):
            if parameter["name"] == "limit" and parameter["in"] == "query":
                found[path] = int(parameter["schema"].get("maximum", 0))
    return found


async def test_every_paged_list_caps_its_limit(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    admin = await sign_in("admin")
    session = await client.post("/api/v1/sessions", headers=admin.headers, json={})
    assert session.status_code == 201
    lists = paged_lists(app)
    assert len(lists) >= 5  # sessions, tasks, events, users, audit ...
    for path, maximum in lists.items():
        assert 1 <= maximum <= LARGEST_PAGE, f"{path}: limit without a maximum"
        url = path.replace("{session_id}", session.json()["id"]).replace("{path}", "")
        for limit in (maximum + 1, 10**6, 10**30, -1, 0):
            response = await client.get(url, headers=admin.headers, params={"limit": limit})
            assert response.status_code == 422, f"{path}?limit={limit}: {response.text}"
        allowed = await client.get(url, headers=admin.headers, params={"limit": maximum})
        assert allowed.status_code == 200, f"{path}: {allowed.text}"
        # Without a limit the page is bounded too: never "everything".
        default = await client.get(url, headers=admin.headers)
        assert default.status_code == 200
        body = default.json()
        if isinstance(body, dict) and "limit" in body:
            assert body["limit"] <= MAX_PAGE_LIMIT
