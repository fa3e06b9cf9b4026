"""Provider credentials: stored encrypted, never returned or logged, owner-only, resolvable."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import delete, select, text

from roo.api.state import Resources
from roo.app import create_app
from roo.auth.permissions import ROLE_PERMISSIONS, Permission, Role
from roo.config import Settings
from roo.credentials.service import PROVIDERS, ResolvedCredential
from roo.db.engine import unit_of_work
from roo.db.models import AuditEvent, ProviderCredential, User
from roo.kit.errors import PROBLEM_CONTENT_TYPE
from roo.kit.logs import configure_logging, flush_logs
from tests.auth.conftest import SignedIn, SignIn
from tests.support.lifespan import app_lifespan

URL = "/api/v1/auth/providers"
BASE_URL = "https://llm-gateway.example.com/anthropic"


def new_key() -> str:
    # Shaped like a real key, and not one the log redaction patterns would catch by themselves.
    return "sk-ant-api03-" + secrets.token_urlsafe(40)


async def put(
    client: httpx.AsyncClient, who: SignedIn, provider: str = "anthropic", **body: Any
) -> httpx.Response:
    return await client.put(f"{URL}/{provider}", headers=who.headers, json=body)


async def resolve(
    resources: Resources, user_id: uuid.UUID, provider: str = "anthropic"
) -> ResolvedCredential | None:
    async with unit_of_work(resources.db_sessions) as db:
        return await resources.credentials.resolve(db, user_id, provider)


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[tuple[Resources, httpx.AsyncClient]]:
    """Another process of the service (another configuration) on the same database."""
    app = create_app(settings)
    async with app_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield app.state.resources, c


@pytest.fixture
def json_logs() -> Iterator[None]:
    configure_logging("INFO", json=True)
    yield
    configure_logging("INFO", json=False)


async def test_round_trip(client: httpx.AsyncClient, sign_in: SignIn, resources: Resources) -> None:
    user = await sign_in()
    key = new_key()
    response = await put(client, user, apiKey=key, baseUrl=BASE_URL)
    assert response.status_code == 200, response.text
    body = response.json()
    assert key not in response.text
    assert body["provider"] == "anthropic"
    assert body["baseUrl"] == BASE_URL
    assert body["hasApiKey"] is True
    assert body["keyHint"] == "…" + key[-4:]
    assert set(body) == {
        "provider",
        "baseUrl",
        "hasApiKey",
        "keyHint",
        "createdAt",
        "updatedAt",
    }

    listing = await client.get(URL, headers=user.headers)
    assert listing.status_code == 200
    assert key not in listing.text
    assert listing.json() == [body]

    resolved = await resolve(resources, user.user_id)
    assert resolved == ResolvedCredential(provider="anthropic", api_key=key, base_url=BASE_URL)
    assert key not in repr(resolved)
    assert await resolve(resources, user.user_id, "openai") is None
    assert await resolve(resources, user.user_id, "no-such-provider") is None


async def test_the_database_holds_only_ciphertext(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    key = new_key()
    assert (await put(client, user, apiKey=key)).status_code == 200
    async with resources.db_sessions() as db:
        stored = (
            await db.execute(
                select(ProviderCredential.api_key_encrypted).where(
                    ProviderCredential.user_id == user.user_id
                )
            )
        ).scalar_one()
        dump = [
            str(row)
            for table in ("provider_credentials", "audit_events")
            for row in (await db.execute(text(f"SELECT * FROM {table}"))).all()  # noqa: S608
        ]
    assert stored is not None
    assert stored.startswith("gAAAA")  # a Fernet token
    assert key not in stored
    assert dump
    assert not any(key in row for row in dump)
    assert not any(key[-12:] in row for row in dump)  # not even a tail longer than the hint


async def test_partial_updates_keep_what_is_not_sent(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    first, second = new_key(), new_key()

    created = (await put(client, user, apiKey=first)).json()
    assert created["hasApiKey"] is True
    assert created["baseUrl"] is None

    with_url = (await put(client, user, baseUrl=BASE_URL)).json()
    assert with_url["hasApiKey"] is True
    assert with_url["keyHint"] == created["keyHint"]
    assert with_url["baseUrl"] == BASE_URL
    assert with_url["createdAt"] == created["createdAt"]
    assert with_url["updatedAt"] > created["updatedAt"]
    assert await resolve(resources, user.user_id) == ResolvedCredential(
        "anthropic", first, BASE_URL
    )

    replaced = (await put(client, user, apiKey=second)).json()
    assert replaced["keyHint"] == "…" + second[-4:]
    assert replaced["baseUrl"] == BASE_URL
    assert await resolve(resources, user.user_id) == ResolvedCredential(
        "anthropic", second, BASE_URL
    )

    cleared = (await put(client, user, apiKey=None)).json()
    assert cleared["hasApiKey"] is False
    assert cleared["keyHint"] is None
    assert cleared["baseUrl"] == BASE_URL
    # A base URL alone: the runner must not send the service-wide key there.
    only_url = await resolve(resources, user.user_id)
    assert only_url == ResolvedCredential("anthropic", None, BASE_URL)
    assert only_url.over_defaults("service-key", None) == (None, BASE_URL)

    nothing = (await put(client, user, baseUrl=None)).json()
    assert nothing["hasApiKey"] is False
    assert nothing["baseUrl"] is None
    assert await resolve(resources, user.user_id) is None

    empty = await put(client, user)
    assert empty.status_code == 422
    assert [e["field"] for e in empty.json()["errors"]] == ["body"]


def test_over_defaults_never_sends_the_service_key_to_a_users_url() -> None:
    both = ResolvedCredential("openai", "user-key", "https://mine.example.com/v1")
    assert both.over_defaults("svc", "https://svc") == ("user-key", "https://mine.example.com/v1")
    url_only = ResolvedCredential("openai", None, "https://mine.example.com/v1")
    assert url_only.over_defaults("svc", "https://svc") == (None, "https://mine.example.com/v1")
    key_only = ResolvedCredential("openai", "user-key", None)
    assert key_only.over_defaults("svc", "https://svc") == ("user-key", "https://svc")
    assert key_only.over_defaults("svc", None) == ("user-key", None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"baseUrl": "ftp://example.com/v1"}, "body.baseUrl"),
        ({"baseUrl": "https://user:s3cret-pw@example.com/v1"}, "body.baseUrl"),
        ({"baseUrl": "https://token@example.com/v1"}, "body.baseUrl"),
        ({"baseUrl": "example.com/v1"}, "body.baseUrl"),
        ({"baseUrl": "https://"}, "body.baseUrl"),
        ({"baseUrl": "https://example.com/v1?key=s3cret"}, "body.baseUrl"),
        ({"baseUrl": "https://example.com/v1#frag"}, "body.baseUrl"),
        ({"baseUrl": "https://example.com:99999/v1"}, "body.baseUrl"),
        ({"baseUrl": "https://exa mple.com/v1"}, "body.baseUrl"),
        ({"baseUrl": "https://example.com/" + "a" * 2000}, "body.baseUrl"),
        ({"apiKey": "sk-ant-api03-with space-inside"}, "body.apiKey"),
        ({"apiKey": "sk-ant-api03-trailing-newline\n"}, "body.apiKey"),
        ({"apiKey": "sk-ant-api03-tab\there"}, "body.apiKey"),
        ({"apiKey": "sk-ant-api03-nön-ascii"}, "body.apiKey"),
        ({"apiKey": ""}, "body.apiKey"),
        ({"apiKey": "k" * 501}, "body.apiKey"),
        ({"apiKey": 1234567890123}, "body.apiKey"),
        ({"apiKey": "sk-ant-api03-fine-key", "model": "claude"}, "body.model"),
    ],
)
async def test_invalid_values_are_422_problems_that_echo_nothing(
    client: httpx.AsyncClient, sign_in: SignIn, body: dict[str, Any], field: str
) -> None:
    user = await sign_in()
    response = await put(client, user, **body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_CONTENT_TYPE)
    problem = response.json()
    assert problem["type"] == "urn:roo:problem:validation-error"
    assert field in [e["field"] for e in problem["errors"]]
    for value in body.values():
        if isinstance(value, str) and value:
            assert value not in response.text
    assert "s3cret" not in response.text
    assert (await client.get(URL, headers=user.headers)).json() == []


async def test_unknown_provider_is_404_naming_the_known_ones(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in()
    for response in (
        await put(client, user, "ollama", apiKey=new_key()),
        await client.delete(f"{URL}/ollama", headers=user.headers),
    ):
        assert response.status_code == 404
        problem = response.json()
        assert problem["type"] == "urn:roo:problem:unknown-provider"
        assert problem["providers"] == list(PROVIDERS) == ["anthropic", "openai"]
        assert "anthropic, openai" in problem["detail"]


async def test_delete(client: httpx.AsyncClient, sign_in: SignIn, resources: Resources) -> None:
    user = await sign_in()
    none = await client.delete(f"{URL}/openai", headers=user.headers)
    assert none.status_code == 404
    assert none.json()["type"] == "urn:roo:problem:provider-credential-not-found"

    assert (await put(client, user, "openai", apiKey=new_key())).status_code == 200
    assert (await put(client, user, "anthropic", baseUrl=BASE_URL)).status_code == 200
    listing = (await client.get(URL, headers=user.headers)).json()
    assert [item["provider"] for item in listing] == ["anthropic", "openai"]

    gone = await client.delete(f"{URL}/openai", headers=user.headers)
    assert gone.status_code == 204
    assert gone.content == b""
    assert await resolve(resources, user.user_id, "openai") is None
    listing = (await client.get(URL, headers=user.headers)).json()
    assert [item["provider"] for item in listing] == ["anthropic"]
    assert (await client.delete(f"{URL}/openai", headers=user.headers)).status_code == 404


async def test_viewer_manages_its_own_credentials_as_the_table_says(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    # They are the viewer's own settings, like its profile: the RBAC table grants both.
    viewer_permissions = ROLE_PERMISSIONS[Role.VIEWER]
    assert Permission.PROFILE_READ in viewer_permissions
    assert Permission.PROFILE_WRITE in viewer_permissions
    viewer = await sign_in("viewer")
    assert (await put(client, viewer, apiKey=new_key())).status_code == 200
    listing = await client.get(URL, headers=viewer.headers)
    assert listing.status_code == 200
    assert len(listing.json()) == 1
    assert (await client.delete(f"{URL}/anthropic", headers=viewer.headers)).status_code == 204


async def test_other_users_see_and_touch_nothing_of_mine(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    alice = await sign_in()
    bob = await sign_in()
    admin = await sign_in("admin")
    key = new_key()
    assert (await put(client, alice, apiKey=key, baseUrl=BASE_URL)).status_code == 200
    for other in (bob, admin):
        listing = await client.get(URL, headers=other.headers)
        assert listing.status_code == 200
        assert listing.json() == []
        assert (await client.delete(f"{URL}/anthropic", headers=other.headers)).status_code == 404
        assert await resolve(resources, other.user_id) is None
    # Bob storing his own leaves Alice's alone.
    assert (await put(client, bob, apiKey=new_key())).status_code == 200
    assert await resolve(resources, alice.user_id) == ResolvedCredential("anthropic", key, BASE_URL)


async def create_api_key(client: httpx.AsyncClient, owner: SignedIn, scopes: list[str]) -> str:
    response = await client.post(
        "/api/v1/auth/api-keys", headers=owner.headers, json={"name": "ci", "scopes": scopes}
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


async def test_api_key_scopes_are_respected(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    owner = await sign_in("member")
    read_only = {"X-API-Key": await create_api_key(client, owner, ["profile:read"])}
    assert (await client.get(URL, headers=read_only)).status_code == 200
    for response in (
        await client.put(f"{URL}/anthropic", headers=read_only, json={"apiKey": new_key()}),
        await client.delete(f"{URL}/anthropic", headers=read_only),
    ):
        assert response.status_code == 403
        assert response.json()["permission"] == "profile:write"

    write_only = {"X-API-Key": await create_api_key(client, owner, ["profile:write"])}
    stored = await client.put(f"{URL}/anthropic", headers=write_only, json={"apiKey": new_key()})
    assert stored.status_code == 200
    denied = await client.get(URL, headers=write_only)
    assert denied.status_code == 403
    assert denied.json()["permission"] == "profile:read"
    assert len((await client.get(URL, headers=read_only)).json()) == 1


async def test_anonymous_callers_are_401(client: httpx.AsyncClient) -> None:
    assert (await client.get(URL)).status_code == 401
    put_anon = await client.put(f"{URL}/anthropic", json={"apiKey": new_key()})
    assert put_anon.status_code == 401


@pytest.mark.usefixtures("json_logs")
async def test_the_key_is_in_no_log_line_and_no_audit_detail(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    resources: Resources,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user = await sign_in()
    key, other = new_key(), new_key()
    assert (await put(client, user, apiKey=key, baseUrl=BASE_URL)).status_code == 200
    assert (await put(client, user, baseUrl=None)).status_code == 200
    assert (await put(client, user, "openai", apiKey=other)).status_code == 200
    assert (await client.get(URL, headers=user.headers)).status_code == 200
    assert await resolve(resources, user.user_id) is not None
    assert (await put(client, user, "anthropic", apiKey="bad key")).status_code == 422
    assert (await client.delete(f"{URL}/openai", headers=user.headers)).status_code == 204

    flush_logs()  # the audit rows' lines are written with their loop iteration's access lines
    err = capsys.readouterr().err
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    audits = [
        e
        for e in events
        if e.get("event") == "audit" and str(e.get("action")).startswith("credentials.")
    ]
    assert [a["action"] for a in audits] == [
        "credentials.put",
        "credentials.put",
        "credentials.put",
        "credentials.delete",
    ]
    assert key not in err
    assert other not in err

    async with resources.db_sessions() as db:
        rows = (
            (
                await db.execute(
                    select(AuditEvent)
                    .where(AuditEvent.actor_id == user.user_id)
                    .where(AuditEvent.action.like("credentials.%"))
                    .order_by(AuditEvent.at)
                )
            )
            .scalars()
            .all()
        )
    assert [(r.action, r.target, r.detail) for r in rows] == [
        ("credentials.put", "provider:anthropic", {"stored": ["apiKey", "baseUrl"], "cleared": []}),
        ("credentials.put", "provider:anthropic", {"stored": [], "cleared": ["baseUrl"]}),
        ("credentials.put", "provider:openai", {"stored": ["apiKey"], "cleared": []}),
        ("credentials.delete", "provider:openai", {}),
    ]
    assert all(r.request_id for r in rows)
    assert not any(key in str(r.detail) or other in str(r.detail) for r in rows)


@pytest.mark.usefixtures("json_logs")
async def test_a_changed_encryption_key_reads_as_absent_never_a_500(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user = await sign_in()
    key = new_key()
    assert (await put(client, user, apiKey=key, baseUrl=BASE_URL)).status_code == 200

    # Restarted with another key (and none of the old ones): the stored key is unreadable.
    changed = settings.model_copy(
        update={
            "encryption_key": SecretStr(Fernet.generate_key().decode()),
            "data_dir": tmp_path / "elsewhere",
        }
    )
    async with serve(changed) as (resources, other_client):
        assert await resolve(resources, user.user_id) is None
        listing = await other_client.get(URL, headers=user.headers)
        assert listing.status_code == 200
        (item,) = listing.json()
        assert item["hasApiKey"] is True
        assert item["keyHint"] == "…" + key[-4:]
        # Changing only the base URL keeps the unreadable key; storing a new one heals it.
        assert (await put(other_client, user, baseUrl=None)).status_code == 200
        assert await resolve(resources, user.user_id) is None
        fresh = new_key()
        assert (await put(other_client, user, apiKey=fresh)).status_code == 200
        assert await resolve(resources, user.user_id) == ResolvedCredential(
            "anthropic", fresh, None
        )

    err = capsys.readouterr().err
    warnings = [
        e
        for e in (json.loads(line) for line in err.splitlines() if line.startswith("{"))
        if e.get("event") == "credentials.undecryptable"
    ]
    assert len(warnings) == 2
    assert warnings[0]["level"] == "warning"
    assert warnings[0]["provider"] == "anthropic"
    assert warnings[0]["user_id"] == str(user.user_id)
    assert key not in err


async def test_setting_an_encryption_key_later_keeps_what_is_stored_and_rotates_it(
    client: httpx.AsyncClient, sign_in: SignIn, settings: Settings, tmp_path: Path
) -> None:
    user = await sign_in()
    key = new_key()
    assert (await put(client, user, apiKey=key)).status_code == 200

    explicit = SecretStr("an explicit encryption key of at least 32 bytes " + uuid.uuid4().hex)
    # Same data directory: the generated key becomes a retired key, still decrypting.
    with_key = settings.model_copy(update={"encryption_key": explicit})
    async with serve(with_key) as (resources, other_client):
        assert await resolve(resources, user.user_id) == ResolvedCredential("anthropic", key, None)
        # Any change re-encrypts the kept key under the new one.
        assert (await put(other_client, user, baseUrl=BASE_URL)).status_code == 200

    only_new = settings.model_copy(
        update={"encryption_key": explicit, "data_dir": tmp_path / "elsewhere"}
    )
    async with serve(only_new) as (resources, _):
        assert await resolve(resources, user.user_id) == ResolvedCredential(
            "anthropic", key, BASE_URL
        )


async def test_credentials_go_with_their_user(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    assert (await put(client, user, apiKey=new_key())).status_code == 200
    async with unit_of_work(resources.db_sessions) as db:
        await db.execute(delete(User).where(User.id == user.user_id))
    async with resources.db_sessions() as db:
        left = await db.execute(
            select(ProviderCredential).where(ProviderCredential.user_id == user.user_id)
        )
        assert left.scalars().all() == []
