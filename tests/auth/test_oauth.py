"""Sign-in with OAuth 2 / OpenID Connect, end to end over loopback sockets.

The OpenID provider is a real one (panva/node-oidc-provider, `tests/support/oidc/provider.mjs`)
requiring PKCE S256; GitHub is a local double (`tests/support/github_double.py`) that checks the
PKCE verifier too. The service runs with uvicorn in a thread, so the providers can redirect the
"browser" (an httpx client that keeps cookies and submits the provider's HTML forms) back to it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from roo.api.state import Resources
from roo.app import create_app
from roo.auth.oauth import (
    API_BASE,
    OAuthConfig,
    OAuthFailed,
    OAuthService,
    PendingLogin,
    ProviderSpec,
    binding_cookie_name,
    state_key,
)
from roo.config import Settings, load_settings
from roo.db.engine import unit_of_work
from roo.db.models import AuditEvent, User, UserIdentity
from roo.kit.cache import MemoryCache
from tests.conftest import GENEROUS_RATE_LIMITS
from tests.support import databases
from tests.support.github_double import (
    GitHubDouble,
    GitHubUser,
    ThreadedServer,
    bind_socket,
    serving,
)
from tests.support.lifespan import app_lifespan

OIDC_DIR = Path(__file__).resolve().parents[1] / "support" / "oidc"
CLIENT_ID = "roo-test-client"
CLIENT_SECRET = secrets.token_urlsafe(24)
GITHUB_CLIENT_ID = "Iv1.roo-test"
GITHUB_CLIENT_SECRET = secrets.token_hex(20)
FRONTEND = "http://127.0.0.1:9/app/signed-in"  # never requested: the tests read the Location
START_TIMEOUT_SECONDS = 20.0
NPM_TIMEOUT_SECONDS = 240
MIN_NODE_MAJOR = 20

# Accounts at the OpenID provider: the login form takes the key.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "new-verified": {"email": "new.verified@example.test", "email_verified": True, "name": "Ada"},
    "returning": {"email": "returning@example.test", "email_verified": True},
    "local-verified": {"email": "Local.Verified@Example.test", "email_verified": True},
    "local-unverified": {"email": "local.unverified@example.test", "email_verified": False},
    "pre-hijacked": {"email": "pre.hijacked@example.test", "email_verified": True},
    "nobody-unverified": {"email": "nobody.unverified@example.test", "email_verified": False},
    "userinfo-only": {
        "email": "userinfo.only@example.test",
        "email_verified": True,
        "userinfo_only": True,
    },
    "fragment": {"email": "fragment@example.test", "email_verified": True},
    "replay": {"email": "replay@example.test", "email_verified": True},
    "two-browsers": {"email": "two.browsers@example.test", "email_verified": True},
    "nonce": {"email": "nonce@example.test", "email_verified": True},
    "pkce": {"email": "pkce@example.test", "email_verified": True},
    "gmail": {"email": "someone.oauth@gmail.com", "email_verified": True},
    "workspace": {"email": "boss@corp.example", "email_verified": True, "hd": "corp.example"},
    "google-other": {"email": "other.domain@example.test", "email_verified": True},
    "google-new": {"email": "google.new@example.test", "email_verified": True},
    "disabled": {"email": "disabled@example.test", "email_verified": True},
}

T = TypeVar("T")


# -- the OpenID provider --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ensure_node_modules() -> str:
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(
            "node and npm are needed for the OAuth tests (a real OpenID provider runs on "
            "loopback): install Node.js 20+ (Debian: apt-get install nodejs npm)"
            + (" — CI must install it in .ci/run" if os.environ.get("CI") else "")
        )
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    if int(version.lstrip("v").split(".")[0] or 0) < MIN_NODE_MAJOR:
        pytest.fail(
            f"the OAuth tests need Node.js {MIN_NODE_MAJOR}+ (oidc-provider 9); found {version}"
        )
    if not (OIDC_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        command = "ci" if (OIDC_DIR / "package-lock.json").exists() else "install"
        result = subprocess.run(
            [npm, command, "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=OIDC_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"npm {command} in {OIDC_DIR} failed:\n{result.stdout}\n{result.stderr}")
    return node


@dataclass
class OpenIDProvider:
    issuer: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _start_provider(node: str, env: dict[str, str], log_dir: Path) -> OpenIDProvider:
    for _ in range(3):
        port = _free_port()
        log_path = log_dir / f"oidc-provider-{port}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [node, str(OIDC_DIR / "provider.mjs"), str(port)],
                cwd=OIDC_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        provider = OpenIDProvider(f"http://127.0.0.1:{port}", process, log_path)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if f"ready {provider.issuer}" in provider.log():
                return provider
            if process.poll() is not None:
                break
            time.sleep(0.05)
        _stop_process(process)
        if "EADDRINUSE" not in provider.log():
            pytest.fail(f"the OpenID provider did not start; its log:\n{provider.log()}")
    pytest.fail("the OpenID provider found no free port in 3 tries")


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def app_socket() -> socket.socket:
    """The service's socket, bound first: the provider must know the redirect URI's port."""
    return bind_socket()


@pytest.fixture(scope="module")
def public_url(app_socket: socket.socket) -> str:
    return f"http://127.0.0.1:{app_socket.getsockname()[1]}"


@pytest.fixture(scope="module")
def op(public_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenIDProvider]:
    node = _ensure_node_modules()
    clients = [
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [
                f"{public_url}{API_BASE}/oidc/callback",
                f"{public_url}{API_BASE}/google/callback",
            ],
        }
    ]
    env = {
        **os.environ,
        "OIDC_CLIENTS": json.dumps(clients),
        "OIDC_ACCOUNTS": json.dumps(ACCOUNTS),
        "NODE_NO_WARNINGS": "1",
    }
    provider = _start_provider(node, env, tmp_path_factory.mktemp("oidc"))
    try:
        yield provider
    finally:
        _stop_process(provider.process)


@pytest.fixture(scope="module")
def github() -> Iterator[tuple[GitHubDouble, ThreadedServer]]:
    double = GitHubDouble(GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET)
    with serving(double.app()) as server:
        yield double, server


# -- the service ----------------------------------------------------------------------------------


@dataclass
class Live:
    server: ThreadedServer
    app: FastAPI
    url: str

    @property
    def resources(self) -> Resources:
        res: Resources = self.app.state.resources
        return res

    def call(self, coro: Awaitable[T]) -> T:
        async def run() -> T:
            return await coro

        return self.server.call(run())

    def db(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async def run() -> T:
            async with unit_of_work(self.resources.db_sessions) as session:
                return await work(session)

        return self.server.call(run())

    def identities(self, provider: str, subject: str) -> list[UserIdentity]:
        async def work(db: AsyncSession) -> list[UserIdentity]:
            query = select(UserIdentity).where(
                UserIdentity.provider == provider, UserIdentity.subject == subject
            )
            return list((await db.execute(query)).scalars())

        return self.db(work)

    def user(self, email: str) -> User | None:
        async def work(db: AsyncSession) -> User | None:
            query = select(User).where(User.email == email.lower())
            return (await db.execute(query)).scalar_one_or_none()

        return self.db(work)

    def make_local_user(
        self, email: str, *, disabled: bool = False, email_verified: bool = True
    ) -> uuid.UUID:
        """A password account; `email_verified=False` is what self-registration makes."""

        async def work(db: AsyncSession) -> uuid.UUID:
            user = await self.resources.auth.create_user(
                db, email, password="local pass phrase", email_verified=email_verified
            )
            user.disabled = disabled
            return user.id

        return self.db(work)

    def audit(self, action: str, subject: str) -> list[AuditEvent]:
        async def work(db: AsyncSession) -> list[AuditEvent]:
            rows = (
                await db.execute(select(AuditEvent).where(AuditEvent.action == action))
            ).scalars()
            return [row for row in rows if row.detail.get("subject") == subject]

        return self.db(work)

    def pending(self, state: str) -> PendingLogin | None:
        raw = self.call(self.resources.cache.get(state_key(state)))
        return PendingLogin.load(raw) if raw is not None else None

    def tamper(self, state: str, **changes: Any) -> None:
        """Rewrite the server-side pending login of `state` (what an attacker cannot do)."""
        pending = self.pending(state)
        assert pending is not None
        changed = replace(pending, **changes)
        self.call(self.resources.cache.set(state_key(state), changed.dump(), 600))


def _settings(database_url: str, redis_url: str | None, prefix: str, data_dir: Path) -> Settings:
    return load_settings(
        env="test",
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=prefix,
        data_dir=data_dir,
        auto_migrate=False,
        **GENEROUS_RATE_LIMITS,  # one app for the module's many sign-ins from one address
    )


@pytest.fixture(scope="module")
def live(
    database_url: str,
    redis_url: str | None,
    app_socket: socket.socket,
    public_url: str,
    op: OpenIDProvider,
    github: tuple[GitHubDouble, ThreadedServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Live]:
    prefix = f"roo-test-oauth-{uuid.uuid4().hex[:10]}:"
    settings = _settings(database_url, redis_url, prefix, tmp_path_factory.mktemp("var"))
    app = create_app(settings)
    github_url = github[1].url
    app.state.oauth_config = OAuthConfig(
        public_url=public_url,
        oauth_frontend_redirect=FRONTEND,
        oauth_oidc_discovery_url=f"{op.issuer}/.well-known/openid-configuration",
        oauth_oidc_client_id=CLIENT_ID,
        oauth_oidc_client_secret=CLIENT_SECRET,
        oauth_oidc_name="Test IdP",
        # "Google" is the same local provider: the Google-specific rules are what is tested.
        oauth_google_discovery_url=f"{op.issuer}/.well-known/openid-configuration",
        oauth_google_client_id=CLIENT_ID,
        oauth_google_client_secret=CLIENT_SECRET,
        oauth_github_client_id=GITHUB_CLIENT_ID,
        oauth_github_client_secret=GITHUB_CLIENT_SECRET,
        oauth_github_authorize_url=f"{github_url}/login/oauth/authorize",
        oauth_github_token_url=f"{github_url}/login/oauth/access_token",
        oauth_github_api_url=github_url,
    )
    try:
        with serving(app, app_socket) as server:
            yield Live(server, app, public_url)
    finally:
        if redis_url:
            asyncio.run(databases.delete_redis_prefix(redis_url, prefix))


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    """A browser: keeps cookies, does not follow redirects by itself."""
    with httpx.Client(timeout=10.0, trust_env=False, follow_redirects=False) as client:
        yield client


# -- driving a sign-in ----------------------------------------------------------------------------


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((values.get("action", ""), {}))
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1][1][values["name"]] = values.get("value", "")


def _location(response: httpx.Response) -> str:
    return urljoin(str(response.url), response.headers["location"])


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def start(
    live: Live, browser: httpx.Client, provider: str, **params: str
) -> tuple[httpx.Response, str]:
    """GET our authorize endpoint: the 302 to the provider, and the state it carries."""
    response = browser.get(f"{live.url}{API_BASE}/{provider}/authorize", params=params)
    assert response.status_code == 302, response.text
    return response, _query(response.headers["location"])["state"]


def to_callback(live: Live, browser: httpx.Client, url: str, account: str) -> str:
    """Follow the browser through the provider (login and consent forms) until it is sent back
    to our callback; return that URL without requesting it."""
    for _ in range(12):
        if url.startswith(live.url + "/"):
            return url
        page = browser.get(url)
        if page.is_redirect:
            url = _location(page)
            continue
        assert page.status_code == 200, f"{page.status_code} at {url}: {page.text[:500]}"
        parser = _Forms()
        parser.feed(page.text)
        assert parser.forms, f"no form at {url}: {page.text[:500]}"
        action, fields = parser.forms[0]
        if fields.get("prompt") == "login":
            fields.update(login=account, password="any")
        posted = browser.post(urljoin(str(page.url), action), data=fields)
        assert posted.is_redirect, f"{posted.status_code} from {action}: {posted.text[:500]}"
        url = _location(posted)
    raise AssertionError("the provider never sent the browser back")


def sign_in(
    live: Live, browser: httpx.Client, provider: str, account: str, **params: str
) -> tuple[httpx.Response, str]:
    """A whole sign-in; the callback's response and the state used."""
    first, state = start(live, browser, provider, **params)
    callback = to_callback(live, browser, _location(first), account)
    return browser.get(callback), state


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:roo:problem:{slug}", body
    return body


def profile(live: Live, token: str) -> dict[str, Any]:
    response = httpx.get(
        f"{live.url}/api/v1/auth/profile",
        headers={"Authorization": f"Bearer {token}"},
        trust_env=False,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- authorize ------------------------------------------------------------------------------------


def test_authorize_redirect_carries_pkce_state_and_nonce(
    live: Live, op: OpenIDProvider, browser: httpx.Client
) -> None:
    response, state = start(live, browser, "oidc")
    location = response.headers["location"]
    assert location.startswith(f"{op.issuer}/auth?")
    query = _query(location)
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == f"{live.url}{API_BASE}/oidc/callback"
    assert set(query["scope"].split()) == {"openid", "email", "profile"}
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) >= 43
    assert len(state) >= 43
    assert len(query["nonce"]) >= 43
    assert response.headers["cache-control"] == "no-store"

    pending = live.pending(state)
    assert pending is not None
    assert pending.provider == "oidc"
    assert pending.nonce == query["nonce"]
    assert 43 <= len(pending.verifier) <= 128
    digest = hashlib.sha256(pending.verifier.encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"]
    assert pending.verifier not in location

    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{binding_cookie_name(state)}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert f"Path={API_BASE}/oidc/callback" in cookie
    assert "Max-Age=600" in cookie
    # The cookie holds a secret whose hash the server keeps, not the state.
    assert state not in cookie


def test_each_authorize_gets_a_fresh_state_and_verifier(live: Live, browser: httpx.Client) -> None:
    _, first = start(live, browser, "oidc")
    _, second = start(live, browser, "oidc")
    assert first != second
    one, two = live.pending(first), live.pending(second)
    assert one is not None
    assert two is not None
    assert one.verifier != two.verifier
    assert one.nonce != two.nonce


def test_configured_providers_are_listed_without_credentials(
    live: Live, browser: httpx.Client
) -> None:
    response = browser.get(f"{live.url}{API_BASE}/providers")
    assert response.status_code == 200
    assert response.json() == {
        "providers": [
            {"name": "github", "displayName": "GitHub"},
            {"name": "google", "displayName": "Google"},
            {"name": "oidc", "displayName": "Test IdP"},
        ]
    }


def test_unknown_and_unconfigured_providers_are_404(live: Live, browser: httpx.Client) -> None:
    body = problem(
        browser.get(f"{live.url}{API_BASE}/myspace/authorize"), 404, "oauth-provider-not-found"
    )
    assert "myspace" in body["detail"]
    body = problem(
        browser.get(f"{live.url}{API_BASE}/myspace/callback?code=x&state=y"),
        404,
        "oauth-provider-not-found",
    )


async def test_unconfigured_provider_is_404(settings: Settings) -> None:
    app = create_app(settings)
    app.state.oauth_config = OAuthConfig(oauth_oidc_client_id="half-configured")  # no discovery
    async with (
        app_lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        listed = await client.get(f"{API_BASE}/providers")
        assert listed.status_code == 200
        assert listed.json() == {"providers": []}  # the half-configured one is not offered
        for provider in ("google", "github", "oidc"):
            response = await client.get(f"{API_BASE}/{provider}/authorize")
            assert response.status_code == 404, response.text
            assert response.json()["type"] == "urn:roo:problem:oauth-provider-not-found"
            assert "not configured" in response.json()["detail"]


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "sessions"]
)
def test_next_must_be_a_local_path(live: Live, browser: httpx.Client, target: str) -> None:
    response = browser.get(f"{live.url}{API_BASE}/oidc/authorize", params={"next": target})
    problem(response, 400, "bad-request")


# -- OpenID Connect sign-in -----------------------------------------------------------------------


def test_first_sign_in_creates_a_member(live: Live, browser: httpx.Client) -> None:
    response, _ = sign_in(live, browser, "oidc", "new-verified", response="json")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["tokenType"] == "Bearer"
    assert body["refreshToken"].startswith("rt_")
    assert body["user"]["email"] == "new.verified@example.test"
    assert body["user"]["provider"] == "oidc"
    assert body["user"]["roles"] == ["member"]
    assert body["user"]["displayName"] == "Ada"
    assert body["user"]["lastLoginAt"] is not None

    me = profile(live, body["token"])
    assert me["id"] == body["user"]["id"]
    [identity] = live.identities("oidc", "new-verified")
    assert str(identity.user_id) == me["id"]
    user = live.user("new.verified@example.test")
    assert user is not None
    assert user.password_hash is None
    [event] = live.audit("auth.oauth_login", "new-verified")
    assert event.outcome == "success"
    assert event.detail["created"] is True
    # The binding cookie is spent.
    assert not any(name.startswith("roo_oauth_") for name in browser.cookies)


def test_second_sign_in_reuses_the_identity(live: Live, browser: httpx.Client) -> None:
    first, _ = sign_in(live, browser, "oidc", "returning", response="json")
    second, _ = sign_in(live, browser, "oidc", "returning", response="json")
    assert first.status_code == second.status_code == 200, second.text
    assert first.json()["user"]["id"] == second.json()["user"]["id"]
    assert first.json()["token"] != second.json()["token"]
    assert len(live.identities("oidc", "returning")) == 1


def test_verified_email_links_an_existing_local_account(live: Live, browser: httpx.Client) -> None:
    user_id = live.make_local_user("local.verified@example.test")
    response, _ = sign_in(live, browser, "oidc", "local-verified", response="json")
    assert response.status_code == 200, response.text
    assert response.json()["user"]["id"] == str(user_id)
    assert response.json()["user"]["provider"] == "local"  # still signs in with its password too
    [identity] = live.identities("oidc", "local-verified")
    assert identity.user_id == user_id
    [event] = live.audit("auth.oauth_login", "local-verified")
    assert event.detail["linked"] is True


def test_unverified_email_never_takes_over_an_existing_account(
    live: Live, browser: httpx.Client
) -> None:
    user_id = live.make_local_user("local.unverified@example.test")
    response, _ = sign_in(live, browser, "oidc", "local-unverified", response="json")
    body = problem(response, 409, "oauth-account-exists")
    assert "existing method" in body["detail"]
    assert "refreshToken" not in response.text
    assert live.identities("oidc", "local-unverified") == []
    [event] = live.audit("auth.oauth_login", "local-unverified")
    assert event.outcome == "denied"
    assert event.target == f"user:{user_id}"
    user = live.user("local.unverified@example.test")
    assert user is not None
    assert user.last_login_at is None


def test_self_registered_account_is_never_linked(live: Live, browser: httpx.Client) -> None:
    """Pre-hijacking: someone registered the victim's address with a password of their own; the
    victim's verified provider sign-in must not join that account."""
    squatter = live.make_local_user("pre.hijacked@example.test", email_verified=False)
    response, _ = sign_in(live, browser, "oidc", "pre-hijacked", response="json")
    body = problem(response, 409, "oauth-account-exists")
    assert "never verified" in body["detail"]
    assert "refreshToken" not in response.text
    assert live.identities("oidc", "pre-hijacked") == []
    [event] = live.audit("auth.oauth_login", "pre-hijacked")
    assert event.outcome == "denied"
    assert event.target == f"user:{squatter}"
    assert event.detail["reason"] == "local_email_unverified"


def test_unverified_email_without_an_account_is_refused(live: Live, browser: httpx.Client) -> None:
    response, _ = sign_in(live, browser, "oidc", "nobody-unverified", response="json")
    problem(response, 403, "oauth-email-unverified")
    assert live.user("nobody.unverified@example.test") is None
    assert live.identities("oidc", "nobody-unverified") == []


def test_email_from_userinfo_when_the_id_token_has_none(live: Live, browser: httpx.Client) -> None:
    response, _ = sign_in(live, browser, "oidc", "userinfo-only", response="json")
    assert response.status_code == 200, response.text
    assert response.json()["user"]["email"] == "userinfo.only@example.test"


def test_disabled_account_cannot_sign_in(live: Live, browser: httpx.Client) -> None:
    live.make_local_user("disabled@example.test", disabled=True)
    response, _ = sign_in(live, browser, "oidc", "disabled", response="json")
    problem(response, 403, "account-disabled")
    assert live.identities("oidc", "disabled") == []


def test_front_end_gets_the_tokens_in_the_fragment(live: Live, browser: httpx.Client) -> None:
    response, _ = sign_in(live, browser, "oidc", "fragment", next="/sessions/42?tab=log")
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(FRONTEND + "#")
    assert urlsplit(location).query == ""  # never in the query
    values = {k: v[0] for k, v in parse_qs(urlsplit(location).fragment).items()}
    assert values["refreshToken"].startswith("rt_")
    assert 3500 <= int(values["expiresIn"]) <= 3600
    assert values["tokenType"] == "Bearer"
    assert values["next"] == "/sessions/42?tab=log"
    assert response.headers["cache-control"] == "no-store"
    assert profile(live, values["token"])["email"] == "fragment@example.test"


# -- refused callbacks ----------------------------------------------------------------------------


def test_unknown_or_missing_state_is_refused(live: Live, browser: httpx.Client) -> None:
    callback = f"{live.url}{API_BASE}/oidc/callback"
    body = problem(
        browser.get(callback, params={"code": "x", "state": "forged"}), 400, "oauth-failed"
    )
    assert "state" in body["detail"]
    problem(browser.get(callback, params={"code": "x"}), 400, "oauth-failed")


def test_replayed_callback_is_refused(live: Live, browser: httpx.Client) -> None:
    first, state = start(live, browser, "oidc", response="json")
    callback = to_callback(live, browser, _location(first), "replay")
    cookie = browser.cookies[binding_cookie_name(state)]
    assert browser.get(callback).status_code == 200
    # Even with the binding cookie put back, the state was used.
    browser.cookies.set(binding_cookie_name(state), cookie)
    body = problem(browser.get(callback), 400, "oauth-failed")
    assert "already used" in body["detail"]


def test_state_from_another_browser_is_refused(live: Live, browser: httpx.Client) -> None:
    first, state = start(live, browser, "oidc", response="json")
    callback = to_callback(live, browser, _location(first), "two-browsers")
    with httpx.Client(timeout=10.0, trust_env=False) as victim:
        body = problem(victim.get(callback), 400, "oauth-failed")
        assert "another browser" in body["detail"]
        victim.cookies.set(binding_cookie_name(state), secrets.token_urlsafe(32))
        problem(victim.get(callback), 400, "oauth-failed")
    assert live.user("two.browsers@example.test") is None
    # The foreign attempts did not burn the state: the real browser still signs in.
    assert browser.get(callback).status_code == 200


def test_wrong_nonce_is_refused(live: Live, browser: httpx.Client) -> None:
    first, state = start(live, browser, "oidc", response="json")
    live.tamper(state, nonce=secrets.token_urlsafe(32))
    callback = to_callback(live, browser, _location(first), "nonce")
    body = problem(browser.get(callback), 400, "oauth-failed")
    assert "ID token" in body["detail"]
    assert live.user("nonce@example.test") is None
    assert live.identities("oidc", "nonce") == []


def test_wrong_pkce_verifier_is_refused(live: Live, browser: httpx.Client) -> None:
    first, state = start(live, browser, "oidc", response="json")
    live.tamper(state, verifier=secrets.token_urlsafe(48))
    callback = to_callback(live, browser, _location(first), "pkce")
    body = problem(browser.get(callback), 400, "oauth-failed")
    assert body["error"] == "invalid_grant"
    assert live.user("pkce@example.test") is None


def test_provider_error_is_reported(live: Live, browser: httpx.Client) -> None:
    _, state = start(live, browser, "oidc", response="json")
    response = browser.get(
        f"{live.url}{API_BASE}/oidc/callback",
        params={"error": "access_denied", "error_description": "The user said no", "state": state},
    )
    body = problem(response, 400, "oauth-provider-error")
    assert body["error"] == "access_denied"
    assert "The user said no" in body["detail"]
    assert live.pending(state) is None  # spent


def test_callback_for_another_provider_is_refused(live: Live, browser: httpx.Client) -> None:
    _, state = start(live, browser, "oidc", response="json")
    # The binding cookie's path is the oidc callback: copy it over as a browser never would.
    cookie = browser.cookies[binding_cookie_name(state)]
    response = browser.get(
        f"{live.url}{API_BASE}/google/callback",
        params={"code": "x", "state": state},
        headers={"Cookie": f"{binding_cookie_name(state)}={cookie}"},
    )
    problem(response, 400, "oauth-failed")


# -- Google's rules (the local provider standing in) ----------------------------------------------


def test_google_links_gmail_and_workspace_addresses(live: Live, browser: httpx.Client) -> None:
    for account, email in (
        ("gmail", "someone.oauth@gmail.com"),
        ("workspace", "boss@corp.example"),
    ):
        user_id = live.make_local_user(email)
        browser.cookies.clear()  # sign out at the provider: another account signs in
        response, _ = sign_in(live, browser, "google", account, response="json")
        assert response.status_code == 200, response.text
        assert response.json()["user"]["id"] == str(user_id)
        assert [i.user_id for i in live.identities("google", account)] == [user_id]


def test_google_does_not_link_other_domains(live: Live, browser: httpx.Client) -> None:
    live.make_local_user("other.domain@example.test")
    response, _ = sign_in(live, browser, "google", "google-other", response="json")
    problem(response, 409, "oauth-account-exists")
    assert live.identities("google", "google-other") == []
    # Without an existing account, a verified address is enough to create one.
    browser.cookies.clear()
    response, _ = sign_in(live, browser, "google", "google-new", response="json")
    assert response.status_code == 200, response.text
    assert response.json()["user"]["provider"] == "google"


# -- GitHub ---------------------------------------------------------------------------------------


def _github_user(n: int, email: str, *, verified: bool) -> GitHubUser:
    return GitHubUser(
        id=9_000_000 + n,
        login=f"octo{n}",
        name=None,
        emails=[
            {"email": f"backup{n}@example.test", "primary": False, "verified": True},
            {"email": email, "primary": True, "verified": verified, "visibility": "private"},
        ],
    )


def github_sign_in(
    live: Live, browser: httpx.Client, double: GitHubDouble, user: GitHubUser
) -> httpx.Response:
    double.sign_in_as(user)
    response, _ = sign_in(live, browser, "github", "-", response="json")
    return response


def test_github_authorize_uses_pkce(
    live: Live, browser: httpx.Client, github: tuple[GitHubDouble, ThreadedServer]
) -> None:
    response, state = start(live, browser, "github")
    location = response.headers["location"]
    assert location.startswith(f"{github[1].url}/login/oauth/authorize?")
    query = _query(location)
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) >= 43
    assert query["state"] == state
    assert "nonce" not in query
    assert set(query["scope"].split()) == {"read:user", "user:email"}


def test_github_verified_primary_email_creates_an_account(
    live: Live, browser: httpx.Client, github: tuple[GitHubDouble, ThreadedServer]
) -> None:
    double = github[0]
    user = _github_user(1, "octo1@example.test", verified=True)
    response = github_sign_in(live, browser, double, user)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["email"] == "octo1@example.test"  # the primary, not the backup
    assert body["user"]["provider"] == "github"
    assert body["user"]["displayName"] == "octo1"
    assert profile(live, body["token"])["id"] == body["user"]["id"]
    assert len(live.identities("github", str(user.id))) == 1
    assert double.token_requests[-1]["code_verifier"]  # PKCE checked by the double


def test_github_verified_primary_email_links_an_existing_account(
    live: Live, browser: httpx.Client, github: tuple[GitHubDouble, ThreadedServer]
) -> None:
    user_id = live.make_local_user("octo2@example.test")
    response = github_sign_in(
        live, browser, github[0], _github_user(2, "octo2@example.test", verified=True)
    )
    assert response.status_code == 200, response.text
    assert response.json()["user"]["id"] == str(user_id)


def test_github_unverified_primary_email_never_takes_over(
    live: Live, browser: httpx.Client, github: tuple[GitHubDouble, ThreadedServer]
) -> None:
    live.make_local_user("octo3@example.test")
    user = _github_user(3, "octo3@example.test", verified=False)
    response = github_sign_in(live, browser, github[0], user)
    problem(response, 409, "oauth-account-exists")
    assert live.identities("github", str(user.id)) == []


def test_github_unverified_primary_email_without_an_account_is_refused(
    live: Live, browser: httpx.Client, github: tuple[GitHubDouble, ThreadedServer]
) -> None:
    user = _github_user(4, "octo4@example.test", verified=False)
    response = github_sign_in(live, browser, github[0], user)
    problem(response, 403, "oauth-email-unverified")
    assert live.user("octo4@example.test") is None
    # The verified backup address is not used in place of the primary.
    assert live.user("backup4@example.test") is None


def test_github_wrong_verifier_is_refused(
    live: Live, browser: httpx.Client, github: tuple[GitHubDouble, ThreadedServer]
) -> None:
    github[0].sign_in_as(_github_user(5, "octo5@example.test", verified=True))
    first, state = start(live, browser, "github", response="json")
    live.tamper(state, verifier=secrets.token_urlsafe(48))
    callback = to_callback(live, browser, _location(first), "-")
    body = problem(browser.get(callback), 400, "oauth-failed")
    assert body["error"] == "bad_verification_code"
    assert live.user("octo5@example.test") is None


# -- configuration --------------------------------------------------------------------------------


def test_config_from_settings_and_redirect_uri() -> None:
    settings = load_settings(
        env="test", oauth_github_client_id="gh-id", oauth_google_client_id=" ", port=4321
    )
    config = OAuthConfig.from_settings(settings)
    assert set(config.providers()) == {"github"}
    assert (
        config.callback_url("github") == "http://127.0.0.1:4321/api/v1/auth/oauth/github/callback"
    )
    assert not config.secure_cookies
    public = OAuthConfig(public_url="https://roo.example.com/")
    assert public.callback_url("oidc") == "https://roo.example.com/api/v1/auth/oauth/oidc/callback"
    assert public.secure_cookies
    proxied = OAuthConfig(public_url="https://example.com/roo/")
    assert proxied.callback_url("google") == (
        "https://example.com/roo/api/v1/auth/oauth/google/callback"
    )
    assert proxied.cookie_path("google") == "/roo/api/v1/auth/oauth/google/callback"


@pytest.mark.parametrize(
    "values",
    [
        {"oauth_oidc_discovery_url": "http://idp.example.com/.well-known/openid-configuration"},
        {"oauth_github_api_url": "ftp://api.github.com"},
        {"oauth_frontend_redirect": "https://app.example.com/#/done"},
        {"public_url": "roo.example.com"},
    ],
)
def test_config_refuses_unsafe_urls(values: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="URL"):
        OAuthConfig.model_validate(values)


# -- ID token checks (a local key, a mocked JWKS endpoint) ---------------------------------------

ISSUER = "https://idp.test"
IDP_META: dict[str, Any] = {
    "issuer": ISSUER,
    "jwks_uri": f"{ISSUER}/jwks",
    # Advertising HMAC and `none` must not make them acceptable.
    "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
}
IDP_SPEC = ProviderSpec(
    name="oidc",
    display_name="Test IdP",
    kind="oidc",
    client_id="roo-client",
    client_secret="s3cret",
    scope="openid email",
    discovery_url=f"{ISSUER}/.well-known/openid-configuration",
)


@dataclass
class IdP:
    service: OAuthService
    key: RSAKey
    served: list[RSAKey]  # the keys the issuer's JWKS endpoint serves now
    jwks_fetches: list[float]

    def sign(self, key: Any = None, alg: str = "RS256", **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": "roo-client",
            "sub": "user-1",
            "iat": now,
            "exp": now + 300,
            "nonce": "the-nonce",
            **overrides,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        signing = key or self.key
        return jwt.encode({"alg": alg, "kid": signing.kid}, claims, signing)

    async def verify(self, token: str) -> dict[str, Any]:
        return await self.service.oidc.verify_id_token(IDP_SPEC, IDP_META, token, "the-nonce")


@pytest.fixture
async def idp() -> AsyncIterator[IdP]:
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    served = [key]
    fetches: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == f"{ISSUER}/jwks"
        fetches.append(time.monotonic())
        return httpx.Response(200, json=KeySet(list(served)).as_dict(private=False))

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        service = OAuthService(OAuthConfig(), http, MemoryCache(), auth=None)  # type: ignore[arg-type]
        yield IdP(service, key, served, fetches)


async def test_a_good_id_token_passes(idp: IdP) -> None:
    claims = await idp.verify(idp.sign(email="a@example.test"))
    assert claims["sub"] == "user-1"
    assert claims["email"] == "a@example.test"


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://evil.test"},
        {"aud": "another-client"},
        {"aud": ["roo-client", "another-client"]},  # several audiences need azp
        {"azp": "another-client"},
        {"exp": int(time.time()) - 3600},
        {"iat": int(time.time()) + 3600},
        {"nonce": "another-nonce"},
        {"nonce": None},
        {"sub": None},
    ],
    ids=[
        "iss",
        "aud",
        "aud-without-azp",
        "azp",
        "expired",
        "future-iat",
        "nonce",
        "no-nonce",
        "no-sub",
    ],
)
async def test_id_token_claims_are_checked(idp: IdP, overrides: dict[str, Any]) -> None:
    with pytest.raises(OAuthFailed):
        await idp.verify(idp.sign(**overrides))


async def test_id_token_needs_the_issuers_key_and_algorithm(idp: IdP) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    with pytest.raises(OAuthFailed):
        await idp.verify(idp.sign(key=stranger))  # same kid, other key: bad signature
    hmac = OctKey.import_key(secrets.token_bytes(32), parameters={"kid": "k1"})
    with pytest.raises(OAuthFailed):
        await idp.verify(idp.sign(key=hmac, alg="HS256"))
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"k1"}').rstrip(b"=").decode()
    body = idp.sign().split(".")[1]
    with pytest.raises(OAuthFailed):
        await idp.verify(f"{header}.{body}.")
    forged = idp.sign()
    tampered = forged[:-4] + ("AAAA" if not forged.endswith("AAAA") else "BBBB")
    with pytest.raises(OAuthFailed):
        await idp.verify(tampered)


async def test_unknown_kid_refetches_the_jwks_at_most_once_a_minute(idp: IdP) -> None:
    await idp.verify(idp.sign())
    assert len(idp.jwks_fetches) == 1
    rotated = RSAKey.generate_key(2048, parameters={"kid": "k2"}, private=True)
    with pytest.raises(OAuthFailed):
        await idp.verify(idp.sign(key=rotated))
    with pytest.raises(OAuthFailed):
        await idp.verify(idp.sign(key=rotated))
    # Fetched once at first use; an unknown kid right after does not refetch (rate limit).
    assert len(idp.jwks_fetches) == 1
    # A minute later the issuer's JWKS serves the new key: one refetch finds it.
    fetched_at, keys = idp.service.oidc._jwks[f"{ISSUER}/jwks"]
    idp.service.oidc._jwks[f"{ISSUER}/jwks"] = (fetched_at - 120, keys)
    idp.served[:] = [idp.key, rotated]
    assert (await idp.verify(idp.sign(key=rotated)))["sub"] == "user-1"
    assert len(idp.jwks_fetches) == 2
