"""Bad input is a problem response (4xx) that changes nothing: never a 500.

The findings (issue 12, item 12): a naive `expiresAt` (TypeError), `9999-12-31T23:59:59-23:59`
(OverflowError), `offset=9223372036854775808` on the paged lists and `after=` on events
(OverflowError), a NUL byte in names, `q` and emails on PostgreSQL, all answered 500.

The rule for every route, present and future, is checked on the OpenAPI document: every integer
input has a minimum and a maximum, every date-time input a range, every string input refuses
NUL (the shared types of `roo.kit.inputs`). The reported cases are then replayed.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from functools import cache
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select

from roo.api.state import Resources
from roo.app import create_app
from roo.config import load_settings
from roo.db.models import ApiKey, Session
from roo.kit.inputs import MAX_OFFSET, MAX_SEQ
from tests.auth.conftest import SignedIn, SignIn, auth, make_user, resources, sign_in

__all__ = ["auth", "make_user", "resources", "sign_in"]  # fixtures

HUGE = str(2**63)  # 9223372036854775808: one past the largest 64-bit integer

# String inputs checked by their own validators rather than a shared type (each is replayed
# below with a NUL): the provider name is one of a fixed list, the key printable ASCII, the
# base URL a URL without control characters, the file path goes through the path guard.
VALIDATED_ELSEWHERE = {
    "PUT /api/v1/auth/providers/{provider} path:provider",
    "DELETE /api/v1/auth/providers/{provider} path:provider",
    "PUT /api/v1/auth/providers/{provider} body.apiKey",
    "PUT /api/v1/auth/providers/{provider} body.baseUrl",
    "GET /api/v1/sessions/{session_id}/files/{path} path:path",
    "PUT /api/v1/sessions/{session_id}/files/{path} path:path",
    "POST /api/v1/sessions/{session_id}/files/{path} path:path",
    "DELETE /api/v1/sessions/{session_id}/files/{path} path:path",
}


@cache
def spec() -> dict[str, Any]:
    document: dict[str, Any] = create_app(load_settings(env="test")).openapi()
    return document


def _leaves(schema: dict[str, Any], where: str, seen: tuple[str, ...] = ()) -> Iterator[Any]:
    """(where, schema) for every scalar a request can carry in `schema`."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return
        seen = (*seen, name)
        schema = spec()["components"]["schemas"][name]
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            yield from _leaves(sub, where, seen)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        for name, sub in schema.get("properties", {}).items():
            yield from _leaves(sub, f"{where}.{name}", seen)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            yield from _leaves(extra, f"{where}.*", seen)
    elif kind == "array":
        yield from _leaves(schema.get("items", {}), f"{where}[]", seen)
    elif kind in ("string", "integer", "number"):
        yield where, schema


def inputs() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path, operations in spec()["paths"].items():
        for method, operation in operations.items():
            route = f"{method.upper()} {path}"
            for param in operation.get("parameters", []):
                where = f"{route} {param['in']}:{param['name']}"
                found += _leaves(param["schema"], where)
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                if media == "application/json":
                    found += _leaves(content.get("schema", {}), f"{route} body")
    return found


def test_the_walk_sees_the_inputs() -> None:
    where = {w for w, _ in inputs()}
    assert "GET /api/v1/sessions query:offset" in where
    assert "POST /api/v1/sessions body.name" in where
    assert "POST /api/v1/auth/api-keys body.expiresAt" in where
    assert "GET /api/v1/sessions/{session_id}/events query:after" in where


def test_every_integer_input_is_bounded() -> None:
    unbounded = [
        where
        for where, schema in inputs()
        if schema.get("type") in ("integer", "number")
        and not (
            ("minimum" in schema or "exclusiveMinimum" in schema)
            and ("maximum" in schema or "exclusiveMaximum" in schema)
        )
    ]
    assert unbounded == []


def test_every_datetime_input_is_bounded() -> None:
    dates = [(w, s) for w, s in inputs() if s.get("format") == "date-time"]
    assert dates
    assert [w for w, s in dates if not {"formatMinimum", "formatMaximum"} <= set(s)] == []


def _refuses_nul(schema: dict[str, Any]) -> bool:
    if "enum" in schema or "const" in schema:
        return True
    if schema.get("format") in ("uuid", "date-time", "binary"):
        return True
    pattern = schema.get("pattern")
    return pattern is not None and re.search(pattern, "a\x00b") is None


def test_every_string_input_refuses_nul() -> None:
    strings = [(w, s) for w, s in inputs() if s.get("type") == "string"]
    open_to_nul = [w for w, s in strings if not _refuses_nul(s) and w not in VALIDATED_ELSEWHERE]
    assert open_to_nul == []
    stale = VALIDATED_ELSEWHERE - {w for w, _ in strings}
    assert stale == set(), "exemptions for inputs that no longer exist"


# -- the reported cases ------------------------------------------------------------------------


def assert_problem(response: httpx.Response, *statuses: int) -> None:
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"


async def key_count(resources: Resources, who: SignedIn) -> int:
    async with resources.db_sessions() as db:
        count = await db.scalar(
            select(func.count()).select_from(ApiKey).where(ApiKey.user_id == who.user_id)
        )
    return int(count or 0)


async def session_count(resources: Resources, who: SignedIn) -> int:
    async with resources.db_sessions() as db:
        count = await db.scalar(
            select(func.count()).select_from(Session).where(Session.user_id == who.user_id)
        )
    return int(count or 0)


@pytest.mark.parametrize(
    "expires_at",
    [
        "2030-01-01T00:00:00",  # naive: no offset
        "9999-12-31T23:59:59-23:59",  # past year 9999 in UTC
        "3001-01-01T00:00:00Z",  # beyond the range
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
    ],
)
async def test_bad_expiry_dates_are_422(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources, expires_at: str
) -> None:
    owner = await sign_in()
    response = await client.post(
        "/api/v1/auth/api-keys",
        headers=owner.headers,
        json={"name": "k", "scopes": ["profile:read"], "expiresAt": expires_at},
    )
    assert_problem(response, 422)
    assert response.json()["errors"][0]["field"] == "body.expiresAt"
    assert await key_count(resources, owner) == 0


async def test_an_expiry_with_an_offset_is_stored_in_utc(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    owner = await sign_in()
    response = await client.post(
        "/api/v1/auth/api-keys",
        headers=owner.headers,
        json={"name": "k", "scopes": ["profile:read"], "expiresAt": "2999-12-31T23:00:00-00:59"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["expiresAt"] == "2999-12-31T23:59:00Z"


def paged_lists() -> list[str]:
    return sorted(
        path
        for path, operations in spec()["paths"].items()
        if any(p["name"] == "offset" for p in operations.get("get", {}).get("parameters", []))
    )


async def test_offsets_beyond_the_bound_are_422_on_every_paged_list(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    admin = await sign_in("admin")
    made = await client.post("/api/v1/sessions", headers=admin.headers, json={})
    assert made.status_code == 201, made.text
    lists = paged_lists()
    assert len(lists) >= 4  # users, sessions, admin sessions, tasks
    for template in lists:
        path = template.replace("{session_id}", made.json()["id"])
        huge = await client.get(path, headers=admin.headers, params={"offset": HUGE})
        assert_problem(huge, 422)
        assert huge.json()["errors"][0]["field"] == "query.offset", template
        last = await client.get(path, headers=admin.headers, params={"offset": MAX_OFFSET})
        assert last.status_code == 200, (template, last.text)
        assert last.json()["items"] == []


async def test_event_cursors_beyond_the_bound_are_422(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in()
    made = await client.post("/api/v1/sessions", headers=user.headers, json={})
    events = f"/api/v1/sessions/{made.json()['id']}/events"
    assert_problem(await client.get(events, headers=user.headers, params={"after": HUGE}), 422)
    last = await client.get(events, headers=user.headers, params={"after": MAX_SEQ})
    assert last.status_code == 200, last.text
    assert last.json()["items"] == []


NAMES = {
    "NUL": "a\x00b",
    "newline": "two\nlines",
    "right-to-left override": "invoice\u202egnp.exe",
    "first-strong isolate": "x\u2068y",
}


@pytest.mark.parametrize("bad", list(NAMES.values()), ids=list(NAMES))
async def test_names_with_control_characters_are_422_and_create_nothing(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources, bad: str
) -> None:
    user = await sign_in()
    assert_problem(
        await client.post("/api/v1/sessions", headers=user.headers, json={"name": bad}), 422
    )
    assert await session_count(resources, user) == 0
    made = await client.post("/api/v1/sessions", headers=user.headers, json={"name": "ok"})
    sid = made.json()["id"]
    renamed = await client.put(f"/api/v1/sessions/{sid}", headers=user.headers, json={"name": bad})
    assert_problem(renamed, 422)
    kept = await client.get(f"/api/v1/sessions/{sid}", headers=user.headers)
    assert kept.json()["name"] == "ok"
    assert_problem(
        await client.post(
            "/api/v1/auth/api-keys",
            headers=user.headers,
            json={"name": bad, "scopes": ["profile:read"]},
        ),
        422,
    )
    assert await key_count(resources, user) == 0
    assert_problem(
        await client.put("/api/v1/auth/profile", headers=user.headers, json={"displayName": bad}),
        422,
    )


async def test_nul_in_searches_emails_and_texts_is_422(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    made = await client.post("/api/v1/sessions", headers=user.headers, json={})
    sid = made.json()["id"]
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/v1/sessions", {"params": {"q": "a\x00b"}}),
        ("POST", "/api/v1/auth/login", {"json": {"email": "a\x00@example.com", "password": "p"}}),
        (
            "POST",
            "/api/v1/auth/register",
            {"json": {"email": "a\x00b@example.com", "password": "long-enough-pw"}},
        ),
        ("POST", "/api/v1/auth/refresh", {"json": {"refreshToken": "rt_\x00"}}),
        ("POST", f"/api/v1/sessions/{sid}/tasks", {"json": {"input": "hi\x00there"}}),
        (
            "POST",
            "/api/v1/sessions",
            {"json": {"config": {"customInstructions": "a\x00", "model": "m\x00"}}},
        ),
        ("PUT", f"/api/v1/sessions/{sid}/tasks/{uuid.uuid4()}", {"json": {"action": "x\x00"}}),
    ]
    for method, path, kwargs in cases:
        response = await client.request(method, path, headers=user.headers, **kwargs)
        assert_problem(response, 422)
    assert await session_count(resources, user) == 1


async def test_unpaired_surrogates_are_422(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    """JSON can carry `\\ud800` alone; no database driver can encode it."""
    user = await sign_in()
    for body in (b'{"name": "a\\ud800"}', b'{"config": {"customInstructions": "\\udfff"}}'):
        response = await client.post(
            "/api/v1/sessions",
            headers={**user.headers, "content-type": "application/json"},
            content=body,
        )
        assert_problem(response, 422)
    made = await client.post("/api/v1/sessions", headers=user.headers, json={})
    action = await client.put(
        f"/api/v1/sessions/{made.json()['id']}/tasks/{uuid.uuid4()}",
        headers={**user.headers, "content-type": "application/json"},
        content=b'{"action": "answer", "approvalId": "\\ud800"}',
    )
    assert_problem(action, 422)


async def test_inputs_validated_elsewhere_refuse_nul_too(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in()
    made = await client.post("/api/v1/sessions", headers=user.headers, json={})
    sid = made.json()["id"]
    nul = quote("\x00")
    responses = [
        await client.put(
            "/api/v1/auth/providers/openai", headers=user.headers, json={"apiKey": "sk-\x00"}
        ),
        await client.put(
            "/api/v1/auth/providers/openai",
            headers=user.headers,
            json={"baseUrl": "https://x.example/\x00"},
        ),
        await client.put(f"/api/v1/auth/providers/a{nul}", headers=user.headers, json={}),
        await client.delete(f"/api/v1/auth/providers/a{nul}", headers=user.headers),
        await client.get(f"/api/v1/sessions/{sid}/files/a{nul}b", headers=user.headers),
        await client.put(f"/api/v1/sessions/{sid}/files/a{nul}b", headers=user.headers),
        await client.get(f"/api/v1/tools/a{nul}b", headers=user.headers),
        await client.post(f"/api/v1/sessions/{sid}/tools/a{nul}b", headers=user.headers, json={}),
        await client.get(f"/api/v1/auth/oauth/a{nul}/authorize"),
        await client.get("/api/v1/auth/oauth/github/authorize", params={"next": "/a\x00"}),
    ]
    for response in responses:
        assert_problem(response, 400, 404, 422)


ROUNDS = 30


async def test_a_file_put_racing_the_session_delete_is_404_or_409(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    """The PUT marks the session active (an ORM UPDATE of its row) while the DELETE removes the
    row: the UPDATE then matches nothing. That is the session gone, not a server fault."""
    user = await sign_in()
    seen: set[int] = set()
    for _ in range(ROUNDS):
        made = await client.post("/api/v1/sessions", headers=user.headers, json={})
        sid = made.json()["id"]
        put, deleted = await asyncio.gather(
            client.put(
                f"/api/v1/sessions/{sid}/files/notes.txt",
                headers={**user.headers, "content-type": "application/octet-stream"},
                content=b"hello",
            ),
            client.delete(f"/api/v1/sessions/{sid}", headers=user.headers),
        )
        assert deleted.status_code == 204, deleted.text
        assert put.status_code in (200, 201, 404, 409), put.text
        if put.status_code >= 400:
            assert_problem(put, 404, 409)
        seen.add(put.status_code)
    assert seen  # which answers a run sees depends on the scheduling; none may be a 500


async def test_a_rename_racing_the_session_delete_is_404_or_409(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    """The same race where the UPDATE is flushed by the request's own commit (the DbSession
    dependency), after the endpoint returned."""
    user = await sign_in()
    for _ in range(ROUNDS):
        made = await client.post("/api/v1/sessions", headers=user.headers, json={})
        sid = made.json()["id"]
        renamed, deleted = await asyncio.gather(
            client.put(f"/api/v1/sessions/{sid}", headers=user.headers, json={"name": "new"}),
            client.delete(f"/api/v1/sessions/{sid}", headers=user.headers),
        )
        assert deleted.status_code == 204, deleted.text
        assert renamed.status_code in (200, 404, 409), renamed.text
        if renamed.status_code >= 400:
            assert_problem(renamed, 404, 409)
