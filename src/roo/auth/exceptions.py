"""Identity errors. Each carries its HTTP status; one handler renders them (roo.api.problems)."""

from __future__ import annotations

from roo.kit.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized

BEARER_REALM = 'Bearer realm="roo"'


class NotAuthenticated(Unauthorized):
    slug, title = "not-authenticated", "Authentication required"

    def __init__(self, detail: str = "Send an access token or API key") -> None:
        # RFC 6750 3.1: no error code when the request carried no credentials at all.
        super().__init__(detail, headers={"WWW-Authenticate": BEARER_REALM})


class InvalidCredential(Unauthorized):
    slug, title = "invalid-token", "Invalid credentials"

    def __init__(
        self, detail: str = "The access token or API key is invalid, expired or revoked"
    ) -> None:
        super().__init__(
            detail, headers={"WWW-Authenticate": f'{BEARER_REALM}, error="invalid_token"'}
        )


class InvalidLogin(Unauthorized):
    slug, title = "invalid-login", "Invalid email or password"

    def __init__(self) -> None:
        super().__init__("The email or password is wrong")


class InvalidRefreshToken(Unauthorized):
    slug, title = "invalid-refresh-token", "Invalid refresh token"


class PermissionDenied(Forbidden):
    slug, title = "permission-denied", "Permission denied"

    def __init__(self, permission: str) -> None:
        super().__init__(
            f"This needs the permission {permission!r}",
            headers={"WWW-Authenticate": f'{BEARER_REALM}, error="insufficient_scope"'},
            permission=permission,
        )


class EmailTaken(Conflict):
    slug, title = "email-taken", "Email already registered"


class RegistrationClosed(Forbidden):
    slug, title = "registration-closed", "Registration is closed"


class UserNotFound(NotFound):
    slug, title = "user-not-found", "User not found"


class ApiKeyLimitReached(Conflict):
    slug, title = "api-key-limit", "Too many API keys"


class ApiKeyNotFound(NotFound):
    slug, title = "api-key-not-found", "API key not found"


class ScopeNotGranted(BadRequest):
    slug, title = "scope-not-granted", "Scope exceeds your permissions"


class ExpiryNotGranted(BadRequest):
    slug, title = "expiry-not-granted", "Expiry beyond the creating key's"


class SelfLockout(Conflict):
    slug, title = "self-lockout", "Change refused"
