"""OpenID Connect metadata and ID tokens: discovery, the issuer's JWKS, ID token checks.

Discovery documents and JWKS are fetched on first use with the app's shared HTTP client and kept
in process memory for an hour; an unknown `kid` refetches the JWKS at most once a minute.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx
from authlib.common.security import is_secure_transport  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from roo.auth.oauth.config import (
    ID_TOKEN_ALGORITHMS,
    ID_TOKEN_LEEWAY_SECONDS,
    JWKS_REFETCH_INTERVAL_SECONDS,
    METADATA_TTL_SECONDS,
    ProviderSpec,
)
from roo.auth.oauth.errors import OAuthFailed, ProviderUnavailable
from roo.kit.logs import get_logger

log = get_logger("roo.auth.oauth")


class OIDCClient:
    """The provider-facing reads that outlive one sign-in: JSON documents over the app's shared
    HTTP client, with the discovery documents and JWKS cached per process."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self._metadata: dict[str, tuple[float, dict[str, Any]]] = {}
        self._jwks: dict[str, tuple[float, KeySet]] = {}

    async def get_json(self, url: str) -> dict[str, Any]:
        """GET a JSON object from a provider; anything else is `ProviderUnavailable`."""
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

    async def discover(self, spec: ProviderSpec) -> dict[str, Any]:
        """The provider's OpenID configuration, from cache or fetched and checked."""
        url = spec.discovery_url
        cached = self._metadata.get(url)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        meta = await self.get_json(url)
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

    async def keys(self, jwks_uri: str, *, refresh: bool = False) -> KeySet:
        """The issuer's signing keys, from cache or fetched; `refresh` refetches them unless
        they were fetched less than a minute ago (an unknown `kid`: the keys may have rotated)."""
        now = time.monotonic()
        cached = self._jwks.get(jwks_uri)
        if cached is not None:
            fetched_at, keys = cached
            fresh = now - fetched_at < METADATA_TTL_SECONDS
            if (fresh and not refresh) or now - fetched_at < JWKS_REFETCH_INTERVAL_SECONDS:
                return keys
        data = await self.get_json(jwks_uri)
        try:
            keys = KeySet.import_key_set(
                {"keys": [k for k in data.get("keys", []) if k.get("use", "sig") == "sig"]}
            )
        except (JoseError, ValueError, TypeError, AttributeError) as exc:
            raise ProviderUnavailable(f"{jwks_uri}: unusable JWKS ({type(exc).__name__})") from None
        self._jwks[jwks_uri] = (now, keys)
        return keys

    async def verify_id_token(
        self, spec: ProviderSpec, meta: Mapping[str, Any], id_token: str, nonce: str | None
    ) -> dict[str, Any]:
        """The claims of a valid ID token issued to us by this provider for this `nonce`;
        `OAuthFailed` otherwise."""
        advertised = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = sorted(ID_TOKEN_ALGORITHMS.intersection(advertised)) or ["RS256"]
        jwks_uri = str(meta["jwks_uri"])
        try:
            try:
                token = jwt.decode(id_token, await self.keys(jwks_uri), algorithms=algorithms)
            except InvalidKeyIdError:  # the issuer may have rotated its keys
                keys = await self.keys(jwks_uri, refresh=True)
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
