"""The errors of an OAuth sign-in; each carries its HTTP status (rendered by the app's handler)."""

from __future__ import annotations

from roo.kit.errors import AppError, BadRequest, Conflict, Forbidden, NotFound


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
