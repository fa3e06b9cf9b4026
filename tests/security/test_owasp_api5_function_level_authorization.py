"""OWASP API5:2023 Broken Function Level Authorization: a viewer, a narrow API key and a member
on every write (and admin) route they may not use get 403, on their own real objects.

The routes come from the app's route table (tests/auth/test_rbac.py's walk: each route with the
permission it declares), so a new write route is attacked as soon as it exists; the few write
routes a viewer or a narrow key may use are listed by name with the reason, and the lists must
match exactly (a new route that lets them write fails here until it is judged).

Also covered elsewhere: tests/auth/test_rbac.py (every route declares a permission; the
role x route matrix with made-up ids), tests/security/test_api_key_scope.py (a key cannot mint
a wider key), tests/audit/test_denials.py (each 403 leaves an audit row).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI

from roo.auth.permissions import ROLE_PERMISSIONS, Permission, Role
from tests.auth.conftest import SignedIn, SignIn, auth, make_user, resources, sign_in
from tests.auth.test_rbac import routes

__all__ = ["auth", "make_user", "resources", "sign_in"]

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
PARAM = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")

# Write routes a viewer may call: its own profile, its own sign-in (routes that any signed-in
# caller may use, or that are public by design: tests/auth/test_rbac.py lists the public ones).
VIEWER_MAY = {
    "PUT /api/v1/auth/profile",  # profile:write, the viewer's own profile
    "POST /api/v1/auth/logout",  # ends its own sign-in
    "PUT /api/v1/auth/password",  # its own password
    "PUT /api/v1/auth/providers/{provider}",  # profile:write, its own provider credentials
    "DELETE /api/v1/auth/providers/{provider}",
    "POST /api/v1/sessions/{session_id}/ws-ticket",  # tasks:read, to watch a session
}
# ... and a key scoped to `sessions:read` only: signing out or changing the password with a key
# is refused by the route itself (not by a permission), checked in the test.
KEY_MAY: dict[str, int] = {"POST /api/v1/auth/logout": 400}  # a key is not a sign-in


def write_routes(app: FastAPI) -> list[tuple[str, str, Permission | None, bool]]:
    found = []
    for route, permission, public in routes(app):
        for method in sorted(route.methods & WRITES):
            found.append((method, route.path, permission, public))
    return found


async def own_objects(client: httpx.AsyncClient, user: SignedIn) -> dict[str, str]:
    """Real ids of the caller's own, so that only the permission can refuse."""
    session = await client.post("/api/v1/sessions", headers=user.headers, json={})
    if session.status_code != 201:  # a viewer cannot create one: a member makes it for itself
        return {}
    return {"session_id": session.json()["id"]}


def url_for(path: str, real: dict[str, str]) -> str:
    defaults = {"path": "notes.txt", "tool_name": "read_file", "provider": "openai"}
    return PARAM.sub(lambda m: real.get(m.group(1), defaults.get(m.group(1), "0" * 32)), path)


async def attack(
    client: httpx.AsyncClient, headers: dict[str, str], app: FastAPI, real: dict[str, str]
) -> dict[str, int]:
    """The status of every non-public write route called with `headers`."""
    answers = {}
    # signing out last: it ends the credential the walk uses
    ordered = sorted(write_routes(app), key=lambda r: r[1] == "/api/v1/auth/logout")
    for method, path, _permission, public in ordered:
        if public:
            continue
        body: dict[str, Any] = {"json": {}} if method != "DELETE" else {}
        response = await client.request(method, url_for(path, real), headers=headers, **body)
        answers[f"{method} {path}"] = response.status_code
        assert response.status_code < 500, f"{method} {path}: {response.text}"
    return answers


async def test_a_viewer_gets_403_on_every_write_route(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    viewer = await sign_in("viewer")
    answers = await attack(client, viewer.headers, app, {})
    assert len(answers) >= 20
    allowed = {route for route, status in answers.items() if status != 403}
    assert allowed <= VIEWER_MAY, f"a viewer got past the permission: {answers}"
    # every refused route is one whose permission the viewer lacks (the table, not an accident)
    viewer_perms = ROLE_PERMISSIONS[Role.VIEWER]
    for method, path, permission, public in write_routes(app):
        if not public and permission is not None and permission in viewer_perms:
            assert f"{method} {path}" in VIEWER_MAY


async def test_a_narrow_api_key_gets_403_on_every_write_route(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    owner = await sign_in("member")
    real = await own_objects(client, owner)
    made = await client.post(
        "/api/v1/auth/api-keys",
        headers=owner.headers,
        json={"name": "read only", "scopes": ["sessions:read"]},
    )
    assert made.status_code == 201, made.text
    key = {"X-API-Key": made.json()["key"]}
    answers = await attack(client, key, app, real)
    assert len(answers) >= 20
    allowed = {route: status for route, status in answers.items() if status != 403}
    assert allowed == KEY_MAY, f"the sessions:read key got past: {allowed}"
    # ... and the owner's session is as it was
    got = await client.get(f"/api/v1/sessions/{real['session_id']}", headers=owner.headers)
    assert got.status_code == 200
    assert got.json()["state"] == "active"


async def test_a_member_gets_403_on_every_admin_route(
    app: FastAPI, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    member = await sign_in("member")
    admin_only = {Permission.USERS_ADMIN, Permission.AUDIT_READ}
    checked = 0
    for route, permission, _public in routes(app):
        if permission not in admin_only:
            continue
        for method in sorted(route.methods - {"HEAD"}):
            url = url_for(route.path, {"user_id": str(member.user_id)})
            body: dict[str, Any] = {"json": {"roles": ["admin"]}} if method == "PATCH" else {}
            response = await client.request(method, url, headers=member.headers, **body)
            assert response.status_code == 403, f"{method} {route.path}: {response.text}"
            checked += 1
    assert checked >= 5
    me = await client.get("/api/v1/auth/whoami", headers=member.headers)
    assert me.json()["roles"] == ["member"]  # the PATCH of its own roles did nothing
