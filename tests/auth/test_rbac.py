"""Every route declares who may call it; each role gets exactly what the table grants."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import event

from roo.api.deps import is_public
from roo.api.state import Resources
from roo.app import create_app
from roo.auth.deps import Authorize
from roo.auth.permissions import ROLE_PERMISSIONS, Permission, Role
from roo.config import load_settings
from tests.auth.conftest import MakeUser, SignIn

# Documentation pages are served by roo.api.docs and carry no data.
DOCS = re.compile(r"^/api/v1/(openapi\.json|docs(/swagger-init\.js)?|redoc)$")


def _declarations(dependant: Dependant) -> Iterator[Any]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _declarations(dep)


def routes(app: FastAPI) -> list[tuple[APIRoute, Permission | None, bool]]:
    """(route, permission or None for any signed-in caller, is_public) for every API route."""
    found = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if not isinstance(route, APIRoute):
            continue
        calls = list(_declarations(route.dependant))
        guards = [c for c in calls if isinstance(c, Authorize)]
        found.append((route, guards[0].permission if guards else None, is_public(route.endpoint)))
    return found


def test_every_route_declares_its_permission() -> None:
    app = create_app(load_settings(env="test"))
    undeclared = []
    for route, _permission, public in routes(app):
        if DOCS.match(route.path):
            continue
        guarded = any(isinstance(c, Authorize) for c in _declarations(route.dependant))
        if guarded == public:  # neither, or both (a public route that checks a permission)
            undeclared.append(f"{sorted(route.methods)} {route.path}")
    assert undeclared == [], "routes without exactly one declaration (permission or @public)"


def test_public_routes_are_the_expected_few() -> None:
    app = create_app(load_settings(env="test"))
    public_paths = sorted(r.path for r, _, public in routes(app) if public)
    allowed = {
        "/healthz",
        "/readyz",
        "/api/v1/auth/login",
        "/api/v1/auth/oauth/providers",
        "/api/v1/auth/refresh",
        "/api/v1/auth/register",
        "/api/v1/version",
    }
    oauth = re.compile(r"^/api/v1/auth/oauth/\{provider\}/(authorize|callback)$")
    assert [p for p in public_paths if p not in allowed and not oauth.match(p)] == []


def test_viewer_never_writes_or_executes() -> None:
    viewer = ROLE_PERMISSIONS[Role.VIEWER]
    forbidden = {p for p in Permission if p.value.endswith((":write", ":execute", ":admin"))}
    assert viewer & forbidden == {Permission.PROFILE_WRITE}  # its own profile, nothing else
    admin_reads = {Permission.AUDIT_READ, Permission.METRICS_READ}
    assert {p for p in Permission if p.value.endswith(":read")} - viewer == admin_reads


def _matrix() -> list[tuple[str, str, str, Permission]]:
    app = create_app(load_settings(env="test"))
    cases = []
    for route, permission, _ in routes(app):
        if permission is None:
            continue
        for method in sorted(route.methods):
            for role in Role:
                cases.append((role.value, method, route.path, permission))
    return cases


MATRIX = _matrix()


@pytest.mark.parametrize(
    ("role", "method", "path", "permission"),
    MATRIX,
    ids=[f"{r}-{m}-{p}" for r, m, p, _ in MATRIX],
)
async def test_role_route_matrix(
    client: httpx.AsyncClient,
    resources: Resources,
    make_user: MakeUser,
    role: str,
    method: str,
    path: str,
    permission: Permission,
) -> None:
    user_id = await make_user(role=role)
    token = resources.auth.resolver.tokens.issue(user_id, [role], 1, None).token
    url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
    response = await client.request(
        method,
        url,
        headers={"Authorization": f"Bearer {token}"},
        json={} if method in {"POST", "PUT", "PATCH"} else None,
    )
    allowed = permission in ROLE_PERMISSIONS[Role(role)]
    if allowed:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["permission"] == permission.value


async def test_identity_needs_no_database_round_trip_when_cached(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *rest: object) -> None:
        statements.append(statement)

    assert (await client.get("/api/v1/sessions", headers=user.headers)).status_code == 200
    event.listen(resources.engine.sync_engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            r = await client.get("/api/v1/sessions", headers=user.headers)
            assert r.status_code == 200
    finally:
        event.remove(resources.engine.sync_engine, "before_cursor_execute", count)
    identity_tables = ("users", "api_keys", "refresh_tokens", "revoked_access_tokens")
    assert [s for s in statements if any(t in s for t in identity_tables)] == []


async def test_profile_read_and_update(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    user = await sign_in("viewer")
    got = await client.get("/api/v1/auth/profile", headers=user.headers)
    assert got.status_code == 200
    assert got.json()["preferences"] == {}
    updated = await client.put(
        "/api/v1/auth/profile",
        headers=user.headers,
        json={
            "displayName": "  Ada  ",
            "preferences": {"theme": "dark", "defaultMode": "architect"},
        },
    )
    assert updated.status_code == 200
    body = updated.json()
    assert body["displayName"] == "Ada"
    assert body["preferences"]["theme"] == "dark"
    assert body["preferences"]["defaultMode"] == "architect"
    again = await client.get("/api/v1/auth/profile", headers=user.headers)
    assert again.json()["displayName"] == "Ada"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "evil@example.com"}, "body.email"),
        ({"roles": ["admin"]}, "body.roles"),
        ({"provider": "google"}, "body.provider"),
        ({"preferences": {"theme": "neon"}}, "body.preferences.theme"),
        ({"preferences": {"unknownKey": 1}}, "body.preferences.unknownKey"),
        ({"displayName": "x" * 201}, "body.displayName"),
    ],
)
async def test_profile_refuses_what_it_cannot_change(
    client: httpx.AsyncClient, sign_in: SignIn, body: dict[str, object], field: str
) -> None:
    user = await sign_in()
    response = await client.put("/api/v1/auth/profile", headers=user.headers, json=body)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    unchanged = await client.get("/api/v1/auth/profile", headers=user.headers)
    assert unchanged.json()["roles"] == ["member"]
    assert unchanged.json()["email"] == user.email


async def test_admin_lists_users(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    admin = await sign_in("admin")
    await sign_in("viewer")
    page = await client.get("/api/v1/users?limit=1", headers=admin.headers)
    assert page.status_code == 200
    body = page.json()
    assert body["limit"] == 1
    assert len(body["items"]) == 1
    assert body["total"] >= 2
    assert (
        await client.patch(f"/api/v1/users/{uuid.uuid4()}", headers=admin.headers, json={})
    ).status_code == 404
