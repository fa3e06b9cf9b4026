"""Checks of configured URLs, shared by the settings and the OAuth configuration."""

from __future__ import annotations

from urllib.parse import urlsplit

from authlib.common.security import is_secure_transport  # type: ignore[import-untyped]
from pydantic import BaseModel, field_validator


def check_url(name: str, value: str | None, *, require_secure: bool = True) -> str | None:
    """`value` stripped, or None when blank; ValueError naming `name` unless it is an absolute
    http(s) URL, and (with `require_secure`) https unless the host is loopback."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an absolute http(s) URL")
    if require_secure and not is_secure_transport(value):
        raise ValueError(f"{name} must use https (plain http only on loopback)")
    return value


def check_own_url(value: str | None) -> str | None:
    """The service's own URLs (its public URL, a front end to send sign-ins to): absolute,
    http allowed, no fragment."""
    checked = check_url("the URL", value, require_secure=False)
    if checked is not None and "#" in checked:
        raise ValueError("the URL must not have a #fragment")
    return checked


class OAuthUrlChecks(BaseModel):
    """The checks of the OAuth URLs, for the models that carry those fields under these names
    (`roo.config.Settings`, `roo.auth.oauth.OAuthConfig`)."""

    @field_validator(
        "oauth_google_discovery_url",
        "oauth_github_authorize_url",
        "oauth_github_token_url",
        "oauth_github_api_url",
        "oauth_oidc_discovery_url",
        check_fields=False,
    )
    @classmethod
    def _provider_url(cls, value: str | None) -> str | None:
        return check_url("a provider URL", value)

    @field_validator("public_url", "oauth_frontend_redirect", check_fields=False)
    @classmethod
    def _own_url(cls, value: str | None) -> str | None:
        return check_own_url(value)
