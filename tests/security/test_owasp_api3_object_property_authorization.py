"""OWASP API3:2023 Broken Object Property Level Authorization: mass assignment (fields a caller
may not set: owner, role, state, ids) is refused with 422 and changes nothing; responses never
expose secret properties (password or key hashes, provider keys, other users' addresses).

Every JSON request body is a `roo.kit.schema.ApiInput` (pydantic `extra="forbid"`): checked on
the OpenAPI document for every route, present and future, then attacked on the real routes.

Also covered elsewhere: tests/auth/test_rbac.py::test_profile_refuses_what_it_cannot_change
(`roles`, `email`, `provider` in a profile update), tests/security/test_api_key_scope.py
(scopes beyond the caller's), tests/credentials (the provider key is never returned).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.auth.conftest import SignIn, auth, make_user, resources, sign_in

__all__ = ["auth", "make_user", "resources", "sign_in"]

# Bodies deliberately open: a tool's parameters are the tool's own schema, checked by the tool
# (tests/toolsapi), and set nothing but the tool's arguments.
OPEN_BODIES = {("POST", "/api/v1/sessions/{session_id}/tools/{tool_name}")}
SECRET_NAMES = {
    "password",
    "passwordHash",
    "keyHash",
    "tokenHash",
    "secret",
    "apiKeyEncrypted",
    "encryptedKey",
    "ciphertext",
    "refreshTokenHash",
}


def json_bodies(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    found = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            if schema is None:
                continue
            if "$ref" in schema:
                schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
            found.append((method.upper(), path, schema))
    return found


def test_every_json_body_forbids_unknown_fields(app: FastAPI) -> None:
    bodies = json_bodies(app)
    assert len(bodies) >= 12
    open_ = {(m, p) for m, p, schema in bodies if schema.get("additionalProperties") is not False}
    assert open_ == OPEN_BODIES


def _properties(schema: Any, schemas: dict[str, Any], seen: set[str]) -> set[str]:
    names: set[str] = set()
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                names |= _properties(schemas[name], schemas, seen)
        names |= set(schema.get("properties", {}))
        for value in schema.values():
            names |= _properties(value, schemas, seen)
    elif isinstance(schema, list):
        for value in schema:
            names |= _properties(value, schemas, seen)
    return names


def test_no_response_declares_a_secret_property(app: FastAPI) -> None:
    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for status, response in op.get("responses", {}).items():
                names = _properties(response, schemas, set())
                leaked = names & SECRET_NAMES
                assert not leaked, f"{method.upper()} {path} {status} declares {leaked}"


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "/api/v1/sessions", {"userId": "{other}"}),
        ("POST", "/api/v1/sessions", {"owner": "{other}"}),
        ("POST", "/api/v1/sessions", {"state": "archived", "id": "{uuid}"}),
        ("PUT", "/api/v1/sessions/{session}", {"userId": "{other}"}),
        ("PUT", "/api/v1/sessions/{session}", {"createdAt": "2020-01-01T00:00:00Z"}),
        ("POST", "/api/v1/sessions/{session}/tasks", {"input": "x", "state": "completed"}),
        ("POST", "/api/v1/sessions/{session}/tasks", {"input": "x", "userId": "{other}"}),
        ("POST", "/api/v1/auth/api-keys", {"name": "k", "scopes": [], "userId": "{other}"}),
        ("POST", "/api/v1/auth/api-keys", {"name": "k", "scopes": [], "role": "admin"}),
        ("PUT", "/api/v1/auth/profile", {"role": "admin"}),
        ("PUT", "/api/v1/auth/profile", {"userId": "{other}"}),
        ("PUT", "/api/v1/auth/providers/openai", {"apiKey": "sk-" + "a" * 30, "userId": "{other}"}),
    ],
)
async def test_mass_assignment_is_422_and_changes_nothing(
    client: httpx.AsyncClient, sign_in: SignIn, method: str, url: str, body: dict[str, Any]
) -> None:
    user, other = await sign_in(), await sign_in()
    made = await client.post("/api/v1/sessions", headers=user.headers, json={"name": "mine"})
    session = made.json()["id"]
    values = {"other": str(other.user_id), "uuid": str(uuid.uuid4()), "session": session}
    url = url.format(**values)
    body = {k: v.format(**values) if isinstance(v, str) else v for k, v in body.items()}
    before = (await client.get("/api/v1/sessions", headers=user.headers)).json()

    response = await client.request(method, url, headers=user.headers, json=body)
    assert response.status_code == 422, response.text
    refused = [e["field"] for e in response.json()["errors"]]
    assert any(f.startswith("body.") for f in refused), refused

    after = (await client.get("/api/v1/sessions", headers=user.headers)).json()
    assert after["total"] == before["total"]
    assert [s["name"] for s in after["items"]] == [s["name"] for s in before["items"]]
    assert all(s["userId"] == str(user.user_id) for s in after["items"])
    assert (await client.get("/api/v1/sessions", headers=other.headers)).json()["total"] == 0
    me = await client.get("/api/v1/auth/whoami", headers=user.headers)
    assert me.json()["roles"] == ["member"]
    assert (await client.get("/api/v1/auth/api-keys", headers=user.headers)).json() == []
    assert (await client.get("/api/v1/auth/providers", headers=other.headers)).json() == []


async def test_registration_cannot_choose_a_role(client: httpx.AsyncClient) -> None:
    email = f"climber-{uuid.uuid4().hex[:8]}@example.com"
    password = "correct horse battery staple"
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": password, "roles": ["admin"]},
    )
    assert response.status_code == 422, response.text
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 401  # no account was made


async def test_responses_expose_no_secret_property(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    """The values, not only the declared names: what each read route returns to its caller."""
    admin, member = await sign_in("admin"), await sign_in()
    key = await client.post(
        "/api/v1/auth/api-keys",
        headers=member.headers,
        json={"name": "k", "scopes": ["profile:read"]},
    )
    secret_key = key.json()["key"]
    provider_key = "sk-planted-provider-key-0123456789"
    await client.put(
        "/api/v1/auth/providers/openai", headers=member.headers, json={"apiKey": provider_key}
    )
    reads = [
        (member, "/api/v1/auth/api-keys"),
        (member, "/api/v1/auth/providers"),
        (member, "/api/v1/auth/profile"),
        (member, "/api/v1/auth/whoami"),
        (member, "/api/v1/auth/audit"),
        (admin, "/api/v1/users?limit=200"),
        (admin, "/api/v1/admin/audit?limit=200"),
    ]
    for caller, url in reads:
        response = await client.get(url, headers=caller.headers)
        assert response.status_code == 200, f"{url}: {response.text}"
        text = response.text
        assert secret_key not in text, url
        assert secret_key[12:] not in text, url  # nor the key's secret part
        assert provider_key not in text, url
        assert "$argon2" not in text, url  # no password hash
        for name in SECRET_NAMES:
            assert f'"{name}"' not in text, f"{url} has {name}"
    # a member sees no other user's address
    assert admin.email not in (await client.get("/api/v1/auth/audit", headers=member.headers)).text
