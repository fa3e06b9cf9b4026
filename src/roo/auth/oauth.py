"""Sign-in with OAuth 2 / OpenID Connect providers: Google, GitHub and one generic OIDC issuer.

The protocol work is Authlib's (`AsyncOAuth2Client`: authorization URL with PKCE S256, the code
exchange, bearer-authenticated API calls); ID tokens are verified with joserfc against the
issuer's JWKS. What is ours:

* the pending login: `state` (random, single use, 10 minutes), the PKCE verifier and the OIDC
  `nonce` are kept server-side in the app cache under `oauth:state:<sha256(state)>`, and bound to
  the browser that started the flow by an HttpOnly, SameSite=Lax cookie whose SHA-256 the entry
  holds: a callback from another browser, an unknown, expired or replayed state is refused;
* ID token checks: signature (asymmetric algorithms only, key looked up by `kid` in the
  discovered JWKS), `iss`, `aud` (and `azp`), `exp`, `iat`, `nonce`;
* account linking: the account key is (provider, subject) in `user_identities`; a first sign-in
  links to an existing account with the same email only when the provider vouches for that email
  (see `ExternalIdentity.can_link`), and never takes over an account otherwise.

Discovery documents and JWKS are fetched on first use (never at import or start-up) with the
app's shared HTTP client and kept in process memory for an hour; an unknown `kid` refetches the
JWKS at most once a minute (key rotation).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401 - see the import below
import httpx
from authlib.common.security import (  # type: ignore[import-untyped]
    generate_token,
    is_secure_transport,
)
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, ConfigDict, SecretStr, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from roo.auth.exceptions import RegistrationClosed
from roo.auth.permissions import DEFAULT_ROLE
from roo.auth.service import AuthService, TokenPair, normalise_email
from roo.db.models import User, UserIdentity
from roo.db.types import utcnow
from roo.kit.cache import Cache
from roo.kit.errors import AppError, BadRequest, Conflict, Forbidden, NotFound
from roo.kit.logs import get_logger
from roo.security.audit import ClientInfo, record

# Authlib 1.9 prefers the `httpx2` package and warns once, at import, when it falls back to
# `httpx` (which the rest of the service uses). The fallback works; silence only that warning.
# `authlib.deprecate` is imported first because importing it installs an "always" filter that
# would otherwise outrank this one.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "The httpx module is deprecated", DeprecationWarning)
    from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
        AsyncOAuth2Client,
        OAuthError,
    )

log = get_logger("roo.auth.oauth")

PROVIDER_NAMES = ("google", "github", "oidc")
API_BASE = "/api/v1/auth/oauth"
STATE_TTL_SECONDS = 600
STATE_KEY_PREFIX = "oauth:state:"
BINDING_COOKIE_PREFIX = "roo_oauth_"
VERIFIER_LENGTH = 64  # RFC 7636: 43-128 characters of [A-Za-z0-9-._~]
METADATA_TTL_SECONDS = 3600.0
JWKS_REFETCH_INTERVAL_SECONDS = 60.0
ID_TOKEN_LEEWAY_SECONDS = 60
# ID tokens must be signed with an asymmetric key from the issuer's JWKS: never `none`, never
# HMAC (which would make the client secret a signing key).
ID_TOKEN_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
MAX_NEXT_LENGTH = 512

GOOGLE_DISCOVERY_URL = "https://accounts.google.com/.well-known/openid-configuration"
GOOGLE_ISSUERS = frozenset({"https://accounts.google.com", "accounts.google.com"})
GITHUB_AUTHORIZE_URL = "https://github.com/login/oauth/authorize"
GITHUB_TOKEN_URL = "https://github.com/login/oauth/access_token"  # noqa: S105 - a URL
GITHUB_API_URL = "https://api.github.com"
GITHUB_API_HEADERS = {
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
}
OIDC_SCOPE = "openid email profile"
GITHUB_SCOPE = "read:user user:email"

ResponseMode = Literal["redirect", "json"]


# -- errors -----------------------------------------------------------------------------------


class ProviderNotFound(NotFound):
    slug, title = "oauth-provider-not-found", "Sign-in provider not found"


class OAuthFailed(BadRequest):
    """The sign-in cannot complete: bad state, foreign browser, failed exchange, bad ID token."""

    slug, title = "oauth-failed", "OAuth sign-in failed"


class ProviderDenied(OAuthFailed):
    """The provider redirected back with `error=` (user cancelled, client misconfigured)."""

    slug, title = "oauth-provider-error", "The sign-in provider refused the sign-in"


class ProviderUnavailable(AppError):
    status, slug, title = 502, "oauth-provider-unavailable", "Sign-in provider unavailable"


class AccountExists(Conflict):
    slug, title = "oauth-account-exists", "An account with this email already exists"


class EmailNotVerified(Forbidden):
    slug, title = "oauth-email-unverified", "The provider did not verify an email address"


class AccountDisabled(Forbidden):
    slug, title = "account-disabled", "This account is disabled"


# -- configuration ----------------------------------------------------------------------------


def _check_url(name: str, value: str | None, *, require_secure: bool = True) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an absolute http(s) URL")
    if require_secure and not is_secure_transport(value):
        raise ValueError(f"{name} must use https (plain http only on loopback)")
    return value


class OAuthConfig(BaseModel):
    """The OAuth settings, named as the fields of `roo.config.Settings` that carry them.

    Build it with `OAuthConfig.from_settings(settings)`; tests may construct it directly.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    port: int = 3000
    public_url: str | None = None
    oauth_frontend_redirect: str | None = None

    oauth_google_client_id: str | None = None
    oauth_google_client_secret: SecretStr | None = None
    oauth_google_discovery_url: str = GOOGLE_DISCOVERY_URL

    oauth_github_client_id: str | None = None
    oauth_github_client_secret: SecretStr | None = None
    oauth_github_authorize_url: str = GITHUB_AUTHORIZE_URL
    oauth_github_token_url: str = GITHUB_TOKEN_URL
    oauth_github_api_url: str = GITHUB_API_URL

    oauth_oidc_discovery_url: str | None = None
    oauth_oidc_client_id: str | None = None
    oauth_oidc_client_secret: SecretStr | None = None
    oauth_oidc_name: str = "OpenID Connect"

    @field_validator(
        "oauth_google_discovery_url",
        "oauth_github_authorize_url",
        "oauth_github_token_url",
        "oauth_github_api_url",
        "oauth_oidc_discovery_url",
    )
    @classmethod
    def _provider_url(cls, value: str | None) -> str | None:
        return _check_url("a provider URL", value)

    @field_validator("public_url", "oauth_frontend_redirect")
    @classmethod
    def _own_url(cls, value: str | None) -> str | None:
        checked = _check_url("the URL", value, require_secure=False)
        if checked is not None and "#" in checked:
            raise ValueError("the URL must not have a #fragment")
        return checked

    @field_validator("oauth_google_client_id", "oauth_github_client_id", "oauth_oidc_client_id")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() if value and value.strip() else None

    @classmethod
    def from_settings(cls, settings: BaseModel) -> OAuthConfig:
        """Pick the OAuth fields out of the service settings (`roo.config.Settings`)."""
        values = settings.model_dump(include=set(cls.model_fields))
        return cls.model_validate({k: v for k, v in values.items() if v not in (None, "")})

    @property
    def base_url(self) -> str:
        """The service's external base URL (ROO_PUBLIC_URL), without a trailing slash."""
        return (self.public_url or f"http://127.0.0.1:{self.port}").rstrip("/")

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def callback_path(self, provider: str) -> str:
        return f"{API_BASE}/{provider}/callback"

    def callback_url(self, provider: str) -> str:
        """The redirect URI to register with the provider."""
        return self.base_url + self.callback_path(provider)

    def cookie_path(self, provider: str) -> str:
        """The callback's path as the browser sees it (behind a proxy, with its prefix)."""
        return urlsplit(self.callback_url(provider)).path

    def providers(self) -> dict[str, ProviderSpec]:
        """The configured providers: those with a client id (and, for `oidc`, a discovery URL)."""
        found: dict[str, ProviderSpec] = {}
        if self.oauth_google_client_id:
            found["google"] = ProviderSpec(
                name="google",
                display_name="Google",
                kind="oidc",
                client_id=self.oauth_google_client_id,
                client_secret=_secret(self.oauth_google_client_secret),
                scope=OIDC_SCOPE,
                discovery_url=self.oauth_google_discovery_url,
                extra_issuers=GOOGLE_ISSUERS,
            )
        if self.oauth_github_client_id:
            found["github"] = ProviderSpec(
                name="github",
                display_name="GitHub",
                kind="github",
                client_id=self.oauth_github_client_id,
                client_secret=_secret(self.oauth_github_client_secret),
                scope=GITHUB_SCOPE,
                authorize_url=self.oauth_github_authorize_url,
                token_url=self.oauth_github_token_url,
                api_url=self.oauth_github_api_url.rstrip("/"),
            )
        if self.oauth_oidc_client_id and self.oauth_oidc_discovery_url:
            found["oidc"] = ProviderSpec(
                name="oidc",
                display_name=self.oauth_oidc_name,
                kind="oidc",
                client_id=self.oauth_oidc_client_id,
                client_secret=_secret(self.oauth_oidc_client_secret),
                scope=OIDC_SCOPE,
                discovery_url=self.oauth_oidc_discovery_url,
            )
        return found


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None and value.get_secret_value() else None


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str
    display_name: str
    kind: Literal["oidc", "github"]
    client_id: str
    client_secret: str | None
    scope: str
    discovery_url: str = ""
    authorize_url: str = ""
    token_url: str = ""
    api_url: str = ""
    # Issuers accepted besides the discovered one (Google's ID tokens use two spellings).
    extra_issuers: frozenset[str] = frozenset()

    @property
    def is_oidc(self) -> bool:
        return self.kind == "oidc"


# -- the pending login ------------------------------------------------------------------------


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def state_key(state: str) -> str:
    """The cache key of a pending login (the state itself is not written into key names)."""
    return STATE_KEY_PREFIX + _sha256(state)


def binding_cookie_name(state: str) -> str:
    """One cookie per pending login, so two tabs signing in at once do not clash."""
    return BINDING_COOKIE_PREFIX + _sha256(state)[:16]


@dataclass(frozen=True, slots=True)
class PendingLogin:
    provider: str
    verifier: str
    nonce: str | None
    binding: str  # SHA-256 of the browser-binding cookie's value
    redirect_uri: str
    response: ResponseMode
    next: str | None
    created_at: float

    def dump(self) -> bytes:
        return json.dumps(
            {
                "provider": self.provider,
                "verifier": self.verifier,
                "nonce": self.nonce,
                "binding": self.binding,
                "redirectUri": self.redirect_uri,
                "response": self.response,
                "next": self.next,
                "createdAt": self.created_at,
            }
        ).encode()

    @classmethod
    def load(cls, raw: bytes) -> PendingLogin:
        data = json.loads(raw)
        return cls(
            provider=data["provider"],
            verifier=data["verifier"],
            nonce=data["nonce"],
            binding=data["binding"],
            redirect_uri=data["redirectUri"],
            response="json" if data["response"] == "json" else "redirect",
            next=data["next"],
            created_at=data["createdAt"],
        )


@dataclass(frozen=True, slots=True)
class Authorization:
    """Where to send the browser, and the cookie that binds the login to it."""

    url: str
    state: str
    cookie_name: str
    cookie_value: str
    cookie_path: str
    cookie_max_age: int
    cookie_secure: bool


def check_next(value: str | None) -> str | None:
    """A post-login location for the front end: a path on the same site, never a URL."""
    if value is None or value == "":
        return None
    if (
        len(value) > MAX_NEXT_LENGTH
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    ):
        raise BadRequest("next must be a path on this site, such as /sessions")
    return value


# -- what a provider told us ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExternalIdentity:
    provider: str
    subject: str
    email: str | None
    email_verified: bool
    # The provider is authoritative for this address: a first sign-in may link to an existing
    # account with the same email. Stricter than `email_verified` for Google (see docs/oauth.md).
    can_link: bool
    display_name: str


def _google_authoritative(claims: Mapping[str, Any], email: str) -> bool:
    """Google vouches for gmail.com addresses and for those of a Workspace domain (`hd`)."""
    domain = email.rpartition("@")[2]
    hosted = claims.get("hd")
    return domain in ("gmail.com", "googlemail.com") or (
        isinstance(hosted, str) and hosted.lower() == domain
    )


@dataclass(frozen=True, slots=True)
class OAuthLogin:
    """A completed sign-in."""

    pair: TokenPair
    provider: str
    created: bool
    linked: bool
    response: ResponseMode
    next: str | None


# -- the service ------------------------------------------------------------------------------


class OAuthService:
    """One per app (created on first use): providers, cached metadata, the login steps."""

    def __init__(
        self, config: OAuthConfig, http: httpx.AsyncClient, cache: Cache, auth: AuthService
    ) -> None:
        self.config = config
        self.http = http
        self._cache = cache
        self._auth = auth
        self._providers = config.providers()
        self._metadata: dict[str, tuple[float, dict[str, Any]]] = {}
        self._jwks: dict[str, tuple[float, KeySet]] = {}

    # -- providers ----------------------------------------------------------------------------

    def provider(self, name: str) -> ProviderSpec:
        if name not in PROVIDER_NAMES:
            raise ProviderNotFound(
                f"Unknown sign-in provider {name!r}; known: {', '.join(PROVIDER_NAMES)}"
            )
        spec = self._providers.get(name)
        if spec is None:
            raise ProviderNotFound(f"Sign-in with {name!r} is not configured on this server")
        return spec

    def configured(self) -> list[ProviderSpec]:
        return list(self._providers.values())

    # -- step 1: authorize --------------------------------------------------------------------

    async def begin(
        self, name: str, *, response: ResponseMode = "redirect", next_path: str | None = None
    ) -> Authorization:
        spec = self.provider(name)
        next_path = check_next(next_path)
        if spec.is_oidc:
            endpoint = str((await self._discover(spec))["authorization_endpoint"])
        else:
            endpoint = spec.authorize_url
        redirect_uri = self.config.callback_url(name)
        state = secrets.token_urlsafe(32)
        verifier: str = generate_token(VERIFIER_LENGTH)
        nonce = secrets.token_urlsafe(32) if spec.is_oidc else None
        binding = secrets.token_urlsafe(32)
        extra: dict[str, str] = {"nonce": nonce} if nonce else {}
        async with self._client(spec, redirect_uri) as client:
            url, _ = client.create_authorization_url(
                endpoint, state=state, code_verifier=verifier, **extra
            )
        pending = PendingLogin(
            provider=name,
            verifier=verifier,
            nonce=nonce,
            binding=_sha256(binding),
            redirect_uri=redirect_uri,
            response=response,
            next=next_path,
            created_at=time.time(),
        )
        await self._cache.set(state_key(state), pending.dump(), STATE_TTL_SECONDS)
        return Authorization(
            url=str(url),
            state=state,
            cookie_name=binding_cookie_name(state),
            cookie_value=binding,
            cookie_path=self.config.cookie_path(name),
            cookie_max_age=STATE_TTL_SECONDS,
            cookie_secure=self.config.secure_cookies,
        )

    # -- step 2: callback ---------------------------------------------------------------------

    async def finish(
        self,
        db: AsyncSession,
        name: str,
        *,
        params: Mapping[str, str],
        cookies: Mapping[str, str],
        client: ClientInfo,
    ) -> OAuthLogin:
        spec = self.provider(name)
        error = params.get("error")
        if error:
            if params.get("state"):  # checked and spent as on success; reported without one too
                await self._consume(name, params["state"], cookies)
            description = (params.get("error_description") or "")[:300]
            raise ProviderDenied(
                f"{spec.display_name} answered {error}"
                + (f": {description}" if description else ""),
                error=error[:100],
                errorDescription=description or None,
            )
        pending = await self._consume(name, params.get("state"), cookies)
        code = params.get("code")
        if not code:
            raise OAuthFailed("The callback carries no authorization code")
        if spec.is_oidc:
            identity = await self._oidc_identity(spec, pending, code, params.get("iss"))
        else:
            identity = await self._github_identity(spec, pending, code)
        user, created, linked = await self._sign_in(db, spec, identity, client)
        pair = await self._auth.issue_pair(db, user)
        return OAuthLogin(
            pair=pair,
            provider=name,
            created=created,
            linked=linked,
            response=pending.response,
            next=pending.next,
        )

    async def _consume(
        self, name: str, state: str | None, cookies: Mapping[str, str]
    ) -> PendingLogin:
        """The pending login of `state`, checked against this browser's cookie, then deleted.

        A callback from another browser does not consume the state (it would only let anyone who
        saw a state cancel someone else's sign-in); the real browser's callback, successful or
        not, does, and a replay finds nothing.
        """
        if not state:
            raise OAuthFailed("The callback carries no state")
        key = state_key(state)
        raw = await self._cache.get(key)
        if raw is None:
            raise OAuthFailed("Unknown, expired or already used state; start the sign-in again")
        pending = PendingLogin.load(raw)
        cookie = cookies.get(binding_cookie_name(state))
        if cookie is None or not secrets.compare_digest(_sha256(cookie), pending.binding):
            log.warning("oauth.state_binding_mismatch", provider=name, cookie=cookie is not None)
            raise OAuthFailed(
                "This sign-in was started in another browser (the binding cookie is missing "
                "or does not match); start the sign-in again"
            )
        if await self._cache.pop(key) is None:  # a concurrent callback consumed it first
            raise OAuthFailed("Unknown, expired or already used state; start the sign-in again")
        if pending.provider != name:
            raise OAuthFailed("The state belongs to a sign-in with another provider")
        return pending

    # -- OpenID Connect -----------------------------------------------------------------------

    async def _oidc_identity(
        self, spec: ProviderSpec, pending: PendingLogin, code: str, iss: str | None
    ) -> ExternalIdentity:
        meta = await self._discover(spec)
        # RFC 9207: an `iss` in the authorization response names the issuer that sent the code.
        if iss is not None and iss not in {meta["issuer"], *spec.extra_issuers}:
            raise OAuthFailed("The authorization response comes from another issuer (iss)")
        async with self._client(spec, pending.redirect_uri, meta) as client:
            token = await self._exchange(client, str(meta["token_endpoint"]), code, pending)
            id_token = token.get("id_token")
            if not isinstance(id_token, str) or not id_token:
                raise OAuthFailed(f"{spec.display_name} returned no ID token")
            claims = await self._verify_id_token(spec, meta, id_token, pending.nonce)
            if "email" not in claims and meta.get("userinfo_endpoint"):
                claims = {**await self._userinfo(client, spec, meta, claims["sub"]), **claims}
        email = claims.get("email")
        email = normalise_email(email) if isinstance(email, str) and email.strip() else None
        verified = email is not None and claims.get("email_verified") is True
        can_link = verified and (
            spec.name != "google" or _google_authoritative(claims, email or "")
        )
        name = claims.get("name")
        return ExternalIdentity(
            provider=spec.name,
            subject=str(claims["sub"]),
            email=email,
            email_verified=verified,
            can_link=can_link,
            display_name=name[:200] if isinstance(name, str) else "",
        )

    async def _verify_id_token(
        self, spec: ProviderSpec, meta: Mapping[str, Any], id_token: str, nonce: str | None
    ) -> dict[str, Any]:
        advertised = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = sorted(ID_TOKEN_ALGORITHMS.intersection(advertised)) or ["RS256"]
        jwks_uri = str(meta["jwks_uri"])
        try:
            try:
                token = jwt.decode(id_token, await self._keys(jwks_uri), algorithms=algorithms)
            except InvalidKeyIdError:  # the issuer may have rotated its keys
                keys = await self._keys(jwks_uri, refresh=True)
                token = jwt.decode(id_token, keys, algorithms=algorithms)
            issuers = sorted({str(meta["issuer"]), *spec.extra_issuers})
            jwt.JWTClaimsRegistry(
                leeway=ID_TOKEN_LEEWAY_SECONDS,
                iss={"essential": True, "values": issuers},
                aud={"essential": True, "value": spec.client_id},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce or ""},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            log.warning("oauth.id_token_refused", provider=spec.name, error=repr(exc))
            raise OAuthFailed(f"The ID token was refused ({type(exc).__name__})") from None
        claims = dict(token.claims)
        # OIDC Core 3.1.3.7: several audiences need an `azp`, and an `azp` must be us.
        aud = claims["aud"]
        azp = claims.get("azp")
        if (isinstance(aud, list) and len(aud) > 1 and azp is None) or (
            azp is not None and azp != spec.client_id
        ):
            raise OAuthFailed("The ID token was issued to another client (azp)")
        return claims

    async def _userinfo(
        self, client: Any, spec: ProviderSpec, meta: Mapping[str, Any], subject: str
    ) -> dict[str, Any]:
        info = await self._api_json(client, spec, str(meta["userinfo_endpoint"]))
        if not isinstance(info, dict) or info.get("sub") != subject:
            # OIDC Core 5.3.2: a userinfo `sub` other than the ID token's must not be used.
            raise OAuthFailed("The userinfo response is for another subject")
        return info

    # -- GitHub -------------------------------------------------------------------------------

    async def _github_identity(
        self, spec: ProviderSpec, pending: PendingLogin, code: str
    ) -> ExternalIdentity:
        async with self._client(spec, pending.redirect_uri) as client:
            await self._exchange(client, spec.token_url, code, pending)
            profile = await self._api_json(client, spec, spec.api_url + "/user")
            try:
                emails = await self._api_json(client, spec, spec.api_url + "/user/emails")
            except ProviderUnavailable:  # no user:email scope granted, or a GitHub App without it
                emails = []
        if not isinstance(profile, dict) or not isinstance(profile.get("id"), int):
            raise ProviderUnavailable("GitHub returned no user id")
        primary = (
            next((e for e in emails if isinstance(e, dict) and e.get("primary") is True), None)
            if isinstance(emails, list)
            else None
        )
        email: str | None = None
        verified = False
        if primary is not None and isinstance(primary.get("email"), str):
            email = normalise_email(primary["email"])
            verified = primary.get("verified") is True
        name = profile.get("name") or profile.get("login") or ""
        return ExternalIdentity(
            provider=spec.name,
            subject=str(profile["id"]),
            email=email,
            email_verified=verified,
            can_link=verified,
            display_name=str(name)[:200],
        )

    # -- HTTP ---------------------------------------------------------------------------------

    def _client(
        self, spec: ProviderSpec, redirect_uri: str, meta: Mapping[str, Any] | None = None
    ) -> Any:
        """An Authlib client for one flow (it holds that flow's token); use it with `async with`."""
        if spec.client_secret is None:
            method = "none"
        elif spec.kind == "github":
            method = "client_secret_post"
        else:
            supported = (meta or {}).get("token_endpoint_auth_methods_supported") or [
                "client_secret_basic"
            ]
            method = (
                "client_secret_basic"
                if "client_secret_basic" in supported or "client_secret_post" not in supported
                else "client_secret_post"
            )
        return AsyncOAuth2Client(
            client_id=spec.client_id,
            client_secret=spec.client_secret,
            token_endpoint_auth_method=method,
            scope=spec.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=self.http.timeout,
            follow_redirects=False,
        )

    async def _exchange(
        self, client: Any, token_url: str, code: str, pending: PendingLogin
    ) -> dict[str, Any]:
        try:
            token = await client.fetch_token(
                token_url,
                grant_type="authorization_code",
                code=code,
                code_verifier=pending.verifier,
                redirect_uri=pending.redirect_uri,
            )
        except OAuthError as exc:
            log.info("oauth.exchange_refused", error=exc.error, description=exc.description)
            detail = f"The provider refused the authorization code ({exc.error})"
            raise OAuthFailed(detail, error=str(exc.error)) from None
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(f"The token request failed ({type(exc).__name__})") from None
        if not isinstance(token, Mapping) or not token.get("access_token"):
            raise OAuthFailed("The provider returned no access token")
        return dict(token)

    async def _api_json(self, client: Any, spec: ProviderSpec, url: str) -> Any:
        headers = GITHUB_API_HEADERS if spec.kind == "github" else {"Accept": "application/json"}
        try:
            response = await client.get(url, headers=headers)
        except (httpx.HTTPError, OAuthError) as exc:
            raise ProviderUnavailable(f"{url} failed ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise ProviderUnavailable(f"{url} answered {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise ProviderUnavailable(f"{url} did not answer JSON") from None

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self.http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"{url} failed ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise ProviderUnavailable(f"{url} answered {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise ProviderUnavailable(f"{url} did not answer JSON") from None
        if not isinstance(data, dict):
            raise ProviderUnavailable(f"{url} did not answer a JSON object")
        return data

    async def _discover(self, spec: ProviderSpec) -> dict[str, Any]:
        """The provider's OpenID configuration, from cache or fetched and checked."""
        url = spec.discovery_url
        cached = self._metadata.get(url)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        meta = await self._get_json(url)
        issuer = meta.get("issuer")
        # OIDC Discovery 4.3: the issuer is the discovery URL less the well-known suffix.
        if not isinstance(issuer, str) or url != (
            issuer.rstrip("/") + "/.well-known/openid-configuration"
        ):
            raise ProviderUnavailable(f"{url} names another issuer ({issuer!r})")
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = meta.get(field)
            if not isinstance(value, str) or not is_secure_transport(value):
                raise ProviderUnavailable(f"{url}: {field} is missing or not https")
        userinfo = meta.get("userinfo_endpoint")
        if userinfo is not None and (
            not isinstance(userinfo, str) or not is_secure_transport(userinfo)
        ):
            raise ProviderUnavailable(f"{url}: userinfo_endpoint is not https")
        self._metadata[url] = (time.monotonic() + METADATA_TTL_SECONDS, meta)
        return meta

    async def _keys(self, jwks_uri: str, *, refresh: bool = False) -> KeySet:
        now = time.monotonic()
        cached = self._jwks.get(jwks_uri)
        if cached is not None:
            fetched_at, keys = cached
            fresh = now - fetched_at < METADATA_TTL_SECONDS
            if (fresh and not refresh) or now - fetched_at < JWKS_REFETCH_INTERVAL_SECONDS:
                return keys
        data = await self._get_json(jwks_uri)
        try:
            keys = KeySet.import_key_set(
                {"keys": [k for k in data.get("keys", []) if k.get("use", "sig") == "sig"]}
            )
        except (JoseError, ValueError, TypeError, AttributeError) as exc:
            raise ProviderUnavailable(f"{jwks_uri}: unusable JWKS ({type(exc).__name__})") from None
        self._jwks[jwks_uri] = (now, keys)
        return keys

    # -- accounts -----------------------------------------------------------------------------

    async def _sign_in(
        self, db: AsyncSession, spec: ProviderSpec, identity: ExternalIdentity, client: ClientInfo
    ) -> tuple[User, bool, bool]:
        """The user of this identity: linked before, linked now by email, or created."""
        row = (
            await db.execute(
                select(UserIdentity).where(
                    UserIdentity.provider == identity.provider,
                    UserIdentity.subject == identity.subject,
                )
            )
        ).scalar_one_or_none()
        created = linked = False
        if row is not None:
            # The link decides, whatever email the provider reports today.
            user = await self._auth.get_user(db, row.user_id)
            if identity.email is not None:
                row.email = identity.email
        else:
            user, created = await self._first_sign_in(db, spec, identity, client)
            linked = not created
        if user.disabled:
            await self._refuse(db, identity, client, "account_disabled", user)
            raise AccountDisabled("This account is disabled; ask an administrator")
        if row is None:
            db.add(
                UserIdentity(
                    user_id=user.id,
                    provider=identity.provider,
                    subject=identity.subject,
                    email=identity.email,
                )
            )
            try:
                await db.flush()
            except IntegrityError:  # the same identity signing in twice at once
                raise OAuthFailed("This sign-in raced another one; try again") from None
        user.last_login_at = utcnow()
        await record(
            db,
            "auth.oauth_login",
            actor_id=user.id,
            target=f"user:{user.id}",
            client=client,
            provider=identity.provider,
            subject=identity.subject,
            created=created,
            linked=linked,
        )
        return user, created, linked

    async def _first_sign_in(
        self, db: AsyncSession, spec: ProviderSpec, identity: ExternalIdentity, client: ClientInfo
    ) -> tuple[User, bool]:
        if identity.email is None:
            await self._refuse(db, identity, client, "no_email")
            raise EmailNotVerified(
                f"{spec.display_name} shared no email address; allow access to your email "
                "address and sign in again"
            )
        existing = await self._auth.find_user_by_email(db, identity.email)
        if existing is not None:
            if not identity.can_link:
                await self._refuse(db, identity, client, "email_not_authoritative", existing)
                raise AccountExists(
                    f"An account with the email {identity.email} already exists, and "
                    f"{spec.display_name} does not vouch for that address. Sign in with your "
                    "existing method first."
                )
            if not existing.email_verified:
                # Whoever registered this address never proved it: linking would let them keep
                # a password into the account of the address's real owner (pre-hijacking).
                await self._refuse(db, identity, client, "local_email_unverified", existing)
                raise AccountExists(
                    f"An account with the email {identity.email} exists but its address was "
                    "never verified, so it cannot be linked; ask an administrator"
                )
            return existing, False
        if not identity.email_verified:
            await self._refuse(db, identity, client, "email_unverified")
            raise EmailNotVerified(
                f"{spec.display_name} has not verified the email address {identity.email}; "
                "verify it there and sign in again"
            )
        if not self._auth.settings.registration_open:
            await self._refuse(db, identity, client, "registration_closed")
            raise RegistrationClosed(
                "Self-registration is turned off: an administrator must create your account first"
            )
        user = await self._auth.create_user(
            db,
            identity.email,
            password=None,
            roles=(DEFAULT_ROLE,),
            display_name=identity.display_name,
            provider=spec.name,
            email_verified=True,
        )
        return user, True

    async def _refuse(
        self,
        db: AsyncSession,
        identity: ExternalIdentity,
        client: ClientInfo,
        reason: str,
        user: User | None = None,
    ) -> None:
        """Audit a refused sign-in and commit that row alone (the refusal rolls back the rest)."""
        target = f"user:{user.id}" if user is not None else None
        await db.rollback()
        await record(
            db,
            "auth.oauth_login",
            actor_id=None,
            target=target,
            outcome="denied",
            client=client,
            provider=identity.provider,
            subject=identity.subject,
            reason=reason,
        )
        await db.commit()


def fragment_redirect(base: str, login: OAuthLogin, expires_in: int) -> str:
    """The front end's URL with the tokens in the fragment (never the query: fragments are not
    sent to servers, logged by proxies, or leaked in Referer headers)."""
    values = {
        "token": login.pair.access.token,
        "refreshToken": login.pair.refresh_token,
        "expiresIn": str(expires_in),
        "refreshExpiresIn": str(login.pair.refresh_expires_in),
        "tokenType": "Bearer",
        "provider": login.provider,
    }
    if login.next:
        values["next"] = login.next
    return f"{base}#{urlencode(values)}"
