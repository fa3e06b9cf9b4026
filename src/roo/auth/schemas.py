"""Request and response bodies of the identity endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema

from roo.agent.modes import MODES
from roo.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from roo.auth.permissions import Permission, Role
from roo.kit.inputs import NO_CONTROLS, NO_NUL, UtcDateTime
from roo.kit.schema import ApiInput, ApiModel


def _email(value: str) -> str:
    value = value.strip().lower()
    local, _, domain = value.partition("@")
    if not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        raise ValueError("not an email address")
    if any(c.isspace() for c in value) or value.count("@") != 1:
        raise ValueError("not an email address")
    return value


Email = Annotated[
    str, StringConstraints(min_length=3, max_length=320), AfterValidator(_email), NO_CONTROLS
]
Password = Annotated[
    str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH), NO_NUL
]
# What a signed-in user types to prove who they are: checked, never stored.
GivenPassword = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH), NO_NUL]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), NO_CONTROLS]
Label = Annotated[str, StringConstraints(max_length=200), NO_CONTROLS]


def _known_mode(slug: str) -> str:
    if slug not in MODES:
        raise ValueError(f"unknown mode {slug!r}; one of {', '.join(MODES)}")
    return slug


# A built-in mode's slug: `roo.agent.modes.MODES` is the one list.
ModeName = Annotated[
    str,
    AfterValidator(_known_mode),
    WithJsonSchema({"type": "string", "enum": list(MODES)}),
]


class Preferences(ApiInput):
    """User preferences (validated; unknown keys are refused)."""

    theme: Literal["light", "dark", "system"] = "system"
    default_mode: ModeName | None = None
    default_provider: Annotated[str, StringConstraints(max_length=50), NO_CONTROLS] | None = None
    default_model: Label | None = None
    language: Annotated[str, StringConstraints(max_length=20), NO_CONTROLS] | None = None


class UserOut(ApiModel):
    id: uuid.UUID
    email: str
    email_verified: bool
    display_name: str
    provider: str
    roles: list[str]
    preferences: dict[str, Any]
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


class LoginIn(ApiInput):
    # Not held to the email format: any address gets the same 401 as a wrong password.
    email: Annotated[str, StringConstraints(min_length=1, max_length=320), NO_NUL]
    password: GivenPassword


class RegisterIn(ApiInput):
    email: Email
    password: Password
    display_name: DisplayName = ""


REGISTRATION_RECEIVED = (
    "Registration received. If the address had no account, it has one now: sign in with "
    "POST /api/v1/auth/login. If it had one, nothing changed."
)


class RegistrationOut(ApiModel):
    """The same answer whether the address was free or taken (it does not tell which)."""

    detail: str = Field(REGISTRATION_RECEIVED)


class RefreshIn(ApiInput):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=200), NO_NUL]


class OAuthProviderOut(ApiModel):
    name: str = Field(description="The `{provider}` of `/auth/oauth/{provider}/authorize`")
    display_name: str


class OAuthProvidersOut(ApiModel):
    """The sign-in providers this server has configured (for a sign-in page's buttons)."""

    providers: list[OAuthProviderOut]


class TokenPairOut(ApiModel):
    token: str = Field(description="Access token (JWT) for `Authorization: Bearer`")
    refresh_token: str = Field(description="One-time refresh token for `POST /auth/refresh`")
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_expires_in: int
    user: UserOut


class ProfileUpdateIn(ApiInput):
    display_name: DisplayName | None = None
    preferences: Preferences | None = None


class PasswordChangeIn(ApiInput):
    current_password: GivenPassword
    new_password: Password
    revoke_api_keys: bool = Field(
        True,
        description="Revoke every API key of the account too (default). `false` keeps them: "
        "only when you know no one else learned the old password.",
    )


class ApiKeyCreateIn(ApiInput):
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), NO_CONTROLS
    ]
    scopes: Annotated[list[Permission], Field(min_length=1, max_length=len(Permission))]
    expires_at: UtcDateTime | None = Field(
        None,
        description="In the future, with a time zone. Default: never; for a key created with an "
        "API key, that key's expiry (and never later).",
    )


class ApiKeyOut(ApiModel):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="The secret. Shown only in this response: store it now.")


class UserAdminUpdateIn(ApiInput):
    roles: Annotated[list[Role], Field(min_length=1, max_length=3)] | None = None
    disabled: bool | None = None
    display_name: DisplayName | None = None


class WhoAmIOut(ApiModel):
    """The caller as this request resolved it, with its effective permissions."""

    user_id: uuid.UUID
    email: str
    roles: list[str]
    permissions: list[str]
    via: Literal["access_token", "api_key"]
    api_key_id: uuid.UUID | None
