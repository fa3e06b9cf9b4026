"""OAuth settings and constants: `OAuthConfig` (from the service settings), `ProviderSpec`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from roo.kit.urls import OAuthUrlChecks

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


class OAuthConfig(OAuthUrlChecks):
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
