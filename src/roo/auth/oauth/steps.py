"""What a sign-in carries between its steps: the pending login, the identity a provider
vouches for, and the completed sign-in."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from roo.auth.oauth.config import BINDING_COOKIE_PREFIX, MAX_NEXT_LENGTH, STATE_KEY_PREFIX
from roo.auth.service import TokenPair
from roo.kit.errors import BadRequest

ResponseMode = Literal["redirect", "json"]


# -- the pending login ------------------------------------------------------------------------


def sha256_hex(value: str) -> str:
    """The SHA-256 of a secret (state, binding cookie) as kept in key names and cache entries."""
    return hashlib.sha256(value.encode()).hexdigest()


def state_key(state: str) -> str:
    """The cache key of a pending login (the state itself is not written into key names)."""
    return STATE_KEY_PREFIX + sha256_hex(state)


def binding_cookie_name(state: str) -> str:
    """One cookie per pending login, so two tabs signing in at once do not clash."""
    return BINDING_COOKIE_PREFIX + sha256_hex(state)[:16]


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


def google_authoritative(claims: Mapping[str, Any], email: str) -> bool:
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
