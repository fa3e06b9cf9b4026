"""`OAuthService`: the two steps of a sign-in (authorize, callback) and the provider calls of
one flow (code exchange, userinfo, GitHub's API), made with Authlib's `AsyncOAuth2Client`."""

from __future__ import annotations

import secrets
import time
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401 - see the import below
import httpx
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from sqlalchemy.ext.asyncio import AsyncSession

from roo.auth.oauth.accounts import sign_in
from roo.auth.oauth.config import (
    GITHUB_API_HEADERS,
    PROVIDER_NAMES,
    STATE_TTL_SECONDS,
    VERIFIER_LENGTH,
    OAuthConfig,
    ProviderSpec,
)
from roo.auth.oauth.errors import OAuthFailed, ProviderDenied, ProviderNotFound, ProviderUnavailable
from roo.auth.oauth.oidc import OIDCClient
from roo.auth.oauth.steps import (
    Authorization,
    ExternalIdentity,
    OAuthLogin,
    PendingLogin,
    ResponseMode,
    binding_cookie_name,
    check_next,
    google_authoritative,
    sha256_hex,
    state_key,
)
from roo.auth.service import AuthService, normalise_email
from roo.kit.cache import Cache
from roo.kit.logs import get_logger
from roo.security.audit import ClientInfo

# Authlib 1.9 prefers the `httpx2` package (the LLM SDKs bring it in) and warns once, at import,
# when it falls back to `httpx`. Either works; silence only that warning.
# `authlib.deprecate` is imported first because importing it installs an "always" filter that
# would otherwise outrank this one.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "The httpx module is deprecated", DeprecationWarning)
    from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
        AsyncOAuth2Client,
        OAuthError,
    )

log = get_logger("roo.auth.oauth")


class OAuthService:
    """One per app (created on first use): providers, cached metadata, the login steps."""

    def __init__(
        self, config: OAuthConfig, http: httpx.AsyncClient, cache: Cache, auth: AuthService
    ) -> None:
        self.config = config
        self.oidc = OIDCClient(http)
        self._cache = cache
        self._auth = auth
        self._providers = config.providers()

    @property
    def http(self) -> httpx.AsyncClient:
        """The app's shared HTTP client (discovery and JWKS; Authlib's clients are per flow)."""
        return self.oidc.http

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
            endpoint = str((await self.oidc.discover(spec))["authorization_endpoint"])
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
            binding=sha256_hex(binding),
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
        user, created, linked = await sign_in(self._auth, db, spec, identity, client)
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
        if cookie is None or not secrets.compare_digest(sha256_hex(cookie), pending.binding):
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
        meta = await self.oidc.discover(spec)
        # RFC 9207: an `iss` in the authorization response names the issuer that sent the code.
        if iss is not None and iss not in {meta["issuer"], *spec.extra_issuers}:
            raise OAuthFailed("The authorization response comes from another issuer (iss)")
        async with self._client(spec, pending.redirect_uri, meta) as client:
            token = await self._exchange(client, str(meta["token_endpoint"]), code, pending)
            id_token = token.get("id_token")
            if not isinstance(id_token, str) or not id_token:
                raise OAuthFailed(f"{spec.display_name} returned no ID token")
            claims = await self.oidc.verify_id_token(spec, meta, id_token, pending.nonce)
            if "email" not in claims and meta.get("userinfo_endpoint"):
                claims = {**await self._userinfo(client, spec, meta, claims["sub"]), **claims}
        email = claims.get("email")
        email = normalise_email(email) if isinstance(email, str) and email.strip() else None
        verified = email is not None and claims.get("email_verified") is True
        can_link = verified and (spec.name != "google" or google_authoritative(claims, email or ""))
        name = claims.get("name")
        return ExternalIdentity(
            provider=spec.name,
            subject=str(claims["sub"]),
            email=email,
            email_verified=verified,
            can_link=can_link,
            display_name=name[:200] if isinstance(name, str) else "",
        )

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
            # a number: Authlib may be built on `httpx2`, which does not take httpx's Timeout
            timeout=self.http.timeout.read,
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
