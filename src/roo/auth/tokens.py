"""Access tokens (JWT, HS256 pinned), refresh-token and API-key secrets.

Access token: header `{"alg": "HS256", "typ": "at+jwt"}`; claims `iss`, `aud`, `sub` (user id),
`iat`, `nbf`, `exp`, `jti`, `roles`, `sv` (the user's session version), `sid` (the refresh family
it was issued with). Decoding pins the algorithm and requires every claim; 30 s of leeway.

Refresh tokens and API keys are opaque random secrets; only their SHA-256 is stored (they carry
256 bits of entropy, so a fast hash is right: there is nothing to brute-force).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import time
import uuid
import zlib
from collections import OrderedDict
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
ACCESS_TYPE = "at+jwt"
LEEWAY_SECONDS = 30
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]

REFRESH_PREFIX = "rt_"
API_KEY_PREFIX = "roo_"
_BASE62 = string.digits + string.ascii_letters
_KEY_ID_LEN = 10
_KEY_SECRET_LEN = 43  # 43 base62 characters: over 256 bits
_KEY_CHECKSUM_LEN = 6
API_KEY_LENGTH = len(API_KEY_PREFIX) + _KEY_ID_LEN + _KEY_SECRET_LEN + _KEY_CHECKSUM_LEN


class InvalidToken(Exception):
    """The token cannot be accepted; the message says why (for logs, never for the client)."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    jti: str
    issued_at: int
    expires_at: int
    roles: tuple[str, ...]
    session_version: int
    family_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    token: str
    jti: str
    expires_at: int


# Tokens verified recently, by a digest of their exact text: a client sends the same token on
# every request, and checking the signature and claims again each time costs more than the rest
# of the check. The token itself is not kept.
DECODED_CACHE_SIZE = 4096


def token_digest(token: str) -> bytes:
    """The memo key of a token: BLAKE2b-128 of its exact text (any change is another key)."""
    return hashlib.blake2b(token.encode(), digest_size=16).digest()


class AccessTokens:
    def __init__(self, secret: str, issuer: str, audience: str, ttl_seconds: int) -> None:
        self._secret = secret
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        self._decoded: OrderedDict[bytes, AccessClaims] = OrderedDict()

    def issue(
        self,
        user_id: uuid.UUID,
        roles: list[str],
        session_version: int,
        family_id: uuid.UUID | None,
        now: int | None = None,
    ) -> IssuedAccessToken:
        now = int(time.time()) if now is None else now
        jti = secrets.token_urlsafe(16)
        claims: dict[str, object] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_seconds,
            "jti": jti,
            "roles": list(roles),
            "sv": session_version,
        }
        if family_id is not None:
            claims["sid"] = str(family_id)
        token = jwt.encode(claims, self._secret, algorithm=ALGORITHM, headers={"typ": ACCESS_TYPE})
        return IssuedAccessToken(token=token, jti=jti, expires_at=now + self.ttl_seconds)

    def decode(self, token: str) -> AccessClaims:
        """Verify signature, algorithm, type and every claim; raise InvalidToken otherwise.

        A token verified before is taken from a small memo, keyed by a digest of its exact text
        (any change to it is a different key), and only its expiry is checked again.
        """
        digest = token_digest(token)
        cached = self._decoded.get(digest)
        if cached is not None:
            if cached.expires_at + LEEWAY_SECONDS > time.time():
                self._decoded.move_to_end(digest)
                return cached
            del self._decoded[digest]
            raise InvalidToken("ExpiredSignatureError: Signature has expired")
        claims = self._verify(token)
        self._decoded[digest] = claims
        if len(self._decoded) > DECODED_CACHE_SIZE:
            self._decoded.popitem(last=False)
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            decoded = jwt.decode_complete(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS, "strict_aud": True},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"{type(exc).__name__}: {exc}") from None
        if decoded["header"].get("typ") != ACCESS_TYPE:
            raise InvalidToken("not an access token (typ)")
        payload = decoded["payload"]
        try:
            user_id = uuid.UUID(str(payload["sub"]))
            sid = payload.get("sid")
            roles = payload.get("roles", [])
            version = payload.get("sv")
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                raise ValueError("roles")
            if not isinstance(version, int) or isinstance(version, bool):
                raise ValueError("sv")
            jti = payload["jti"]
            if not isinstance(jti, str) or not jti:
                raise ValueError("jti")
            return AccessClaims(
                user_id=user_id,
                jti=jti,
                issued_at=int(payload["iat"]),
                expires_at=int(payload["exp"]),
                roles=tuple(roles),
                session_version=version,
                family_id=uuid.UUID(sid) if sid is not None else None,
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidToken(f"malformed claim: {exc}") from None


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def _base62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(_BASE62[r])
    return "".join(reversed(out))


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(_BASE62) for _ in range(length))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _KEY_CHECKSUM_LEN)


def new_api_key() -> tuple[str, str]:
    """A new key and its public prefix: `roo_<10 id chars><43 secret chars><6 checksum chars>`.

    The distinctive prefix and the CRC32 checksum let secret scanners find leaked keys and let
    us refuse a mistyped key without a database lookup.
    """
    body = _random_base62(_KEY_ID_LEN) + _random_base62(_KEY_SECRET_LEN)
    key = API_KEY_PREFIX + body + _checksum(API_KEY_PREFIX + body)
    return key, api_key_prefix(key)


def api_key_prefix(key: str) -> str:
    return key[: len(API_KEY_PREFIX) + _KEY_ID_LEN]


_API_KEY_SHAPE = re.compile(
    re.escape(API_KEY_PREFIX) + f"[0-9A-Za-z]{{{API_KEY_LENGTH - len(API_KEY_PREFIX)}}}"
)


def looks_like_api_key(value: str) -> bool:
    """Format and checksum check, no I/O."""
    if not _API_KEY_SHAPE.fullmatch(value):
        return False
    body, check = value[:-_KEY_CHECKSUM_LEN], value[-_KEY_CHECKSUM_LEN:]
    return secrets.compare_digest(_checksum(body), check)
