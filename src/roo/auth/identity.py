"""Resolving the caller of a request: access token or API key -> `Principal`.

The common case needs no database round-trip: user snapshots (roles, session version, disabled)
and API-key snapshots are cached (Redis when configured, process memory otherwise) and dropped
whenever they change. The access-token denylist lives in the same cache, seeded from the
database at start-up so that a restart forgets no logout.

That snapshot cache is one of the two caches of the identity check; the other is
`AccessTokens`' memo of verified tokens, keyed by a digest of the token (no raw credential is
kept in memory). Everything else is computed per request, and every check (expiry, denylist,
family, user, session version, key revocation and expiry) runs on every request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from redis.exceptions import RedisError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.auth.permissions import Permission, permissions_for
from roo.auth.tokens import (
    API_KEY_PREFIX,
    LEEWAY_SECONDS,
    AccessClaims,
    AccessTokens,
    InvalidToken,
    api_key_prefix,
    looks_like_api_key,
    sha256_hex,
)
from roo.db.engine import unit_of_work
from roo.db.models import ApiKey, RefreshToken, RevokedAccessToken, User
from roo.kit.cache import Cache
from roo.kit.logs import get_logger

log = get_logger("roo.auth")

# The cache (Redis) unreachable: identity is resolved from the database instead (fail open, a
# warning at most this often); invalidations (logout, revocation) still fail and answer 503.
CACHE_DOWN = (RedisError, OSError)
CACHE_WARN_SECONDS = 10.0

# last_used_at of an API key is written at most this often (not on every request).
KEY_USAGE_WRITE_INTERVAL = 60.0


class AuthenticationFailed(Exception):
    """No acceptable credential. `reason` is for logs; clients get a generic 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling and what they may do in this request."""

    user_id: uuid.UUID
    email: str
    roles: tuple[str, ...]
    permissions: frozenset[Permission]
    via: Literal["access_token", "api_key"]
    jti: str | None = None
    token_expires_at: int | None = None
    family_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    # An API key's own expiry (epoch seconds), None for a key that never expires: the keys it
    # creates may not outlive it.
    key_expires_at: float | None = None
    # An API key's public prefix (`roo_` and its id characters), for audit rows; None for tokens.
    key_prefix: str | None = None

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


@dataclass(frozen=True, slots=True)
class CredentialRef:
    """What identifies a resolved credential without being it: a verified access token's
    claims, or an API key's digest (what the database stores). Kept by a WebSocket for its
    lifetime and inside a ws-ticket, so that the credential can be checked again
    (`IdentityResolver.recheck`) with no secret held."""

    claims: AccessClaims | None = None
    key_hash: str | None = None
    key_prefix: str | None = None  # an API key's public prefix (audit rows)

    @property
    def expires_at(self) -> float | None:
        """When the credential stops being valid by itself (None: an API key; its own expiry
        is checked by `recheck`)."""
        return float(self.claims.expires_at) if self.claims is not None else None

    def dump(self) -> dict[str, object]:
        if self.claims is None:
            return {"key": self.key_hash, "prefix": self.key_prefix}
        c = self.claims
        return {
            "sub": str(c.user_id),
            "jti": c.jti,
            "iat": c.issued_at,
            "exp": c.expires_at,
            "roles": list(c.roles),
            "sv": c.session_version,
            "fam": str(c.family_id) if c.family_id else None,
        }

    @staticmethod
    def load(raw: dict[str, Any]) -> CredentialRef:
        if "key" in raw:
            prefix = raw.get("prefix")
            return CredentialRef(
                key_hash=str(raw["key"]), key_prefix=str(prefix) if prefix else None
            )
        return CredentialRef(
            claims=AccessClaims(
                user_id=uuid.UUID(raw["sub"]),
                jti=str(raw["jti"]),
                issued_at=int(raw["iat"]),
                expires_at=int(raw["exp"]),
                roles=tuple(raw["roles"]),
                session_version=int(raw["sv"]),
                family_id=uuid.UUID(raw["fam"]) if raw.get("fam") else None,
            )
        )


@dataclass(frozen=True, slots=True)
class _UserSnapshot:
    email: str
    roles: tuple[str, ...]
    session_version: int
    disabled: bool

    def dump(self) -> bytes:
        return json.dumps(
            [self.email, list(self.roles), self.session_version, self.disabled]
        ).encode()

    @staticmethod
    def load(raw: bytes) -> _UserSnapshot:
        email, roles, version, disabled = json.loads(raw)
        return _UserSnapshot(email, tuple(roles), version, disabled)


@dataclass(frozen=True, slots=True)
class _KeySnapshot:
    key_id: uuid.UUID
    user_id: uuid.UUID
    scopes: tuple[str, ...]
    expires_at: float | None
    revoked: bool
    last_used_at: float = field(default=0.0)

    def dump(self) -> bytes:
        return json.dumps(
            [
                str(self.key_id),
                str(self.user_id),
                list(self.scopes),
                self.expires_at,
                self.revoked,
                self.last_used_at,
            ]
        ).encode()

    @staticmethod
    def load(raw: bytes) -> _KeySnapshot:
        key_id, user_id, scopes, expires, revoked, last_used = json.loads(raw)
        return _KeySnapshot(
            uuid.UUID(key_id), uuid.UUID(user_id), tuple(scopes), expires, revoked, last_used
        )


def _key_permissions(roles: tuple[str, ...], scopes: tuple[str, ...]) -> frozenset[Permission]:
    """A key never exceeds its owner: its scopes narrowed by the owner's roles *now*."""
    return permissions_for(roles) & {Permission(s) for s in scopes}


def _user_key(user_id: uuid.UUID) -> str:
    return f"auth:user:{user_id}"


def _apikey_key(key_hash: str) -> str:
    return f"auth:key:{key_hash}"


def _deny_key(jti: str) -> str:
    return f"auth:deny:{jti}"


def _family_key(family_id: uuid.UUID) -> str:
    return f"auth:family:{family_id}"


class IdentityResolver:
    def __init__(
        self,
        db_sessions: async_sessionmaker[AsyncSession],
        cache: Cache,
        tokens: AccessTokens,
        cache_ttl_seconds: float,
        denylist: Cache | None = None,
    ) -> None:
        self._db_sessions = db_sessions
        self._cache = cache
        # Revocations must never be evicted early: in process memory they get a store of their
        # own that only forgets expired entries. On Redis both live in the same keyspace.
        self._denylist = denylist or cache
        self.tokens = tokens
        self._ttl = cache_ttl_seconds
        self._denylist_loaded = False
        self._denylist_lock = asyncio.Lock()
        self._cache_warned_at = -CACHE_WARN_SECONDS

    # -- resolution -----------------------------------------------------------------------

    async def from_access_token(self, token: str) -> Principal:
        try:
            claims = self.tokens.decode(token)
        except InvalidToken as exc:
            raise AuthenticationFailed(str(exc)) from None
        return await self._from_claims(claims)

    async def _from_claims(self, claims: AccessClaims) -> Principal:
        """Every check of a verified token's claims but its signature and expiry."""
        if not self._denylist_loaded:
            await self.load_denylist()
        # One cache round trip: the token's denial, its family's revocation, the user snapshot.
        deny = _deny_key(claims.jti)
        family = _family_key(claims.family_id) if claims.family_id else _deny_key("-")
        user_key = _user_key(claims.user_id)
        try:
            if self._denylist is self._cache:
                denied, family_revoked, cached_user = await self._cache.get_many(
                    deny, family, user_key
                )
            else:
                denied, family_revoked = await self._denylist.get_many(deny, family)
                cached_user = await self._cache.get(user_key)
        except CACHE_DOWN as exc:  # Redis away: the database answers the same questions
            self._cache_failed(exc)
            denied, family_revoked = await self._revoked_in_database(claims)
            cached_user = None
        if denied is not None:
            raise AuthenticationFailed("access token revoked (logged out)")
        if family_revoked is not None:
            raise AuthenticationFailed("sign-in revoked (logout or refresh token reuse)")
        user = (
            _UserSnapshot.load(cached_user)
            if cached_user is not None
            else await self._load_user(claims.user_id)
        )
        if user is None or user.disabled:
            raise AuthenticationFailed("user missing or disabled")
        if user.session_version != claims.session_version:
            raise AuthenticationFailed("session version changed (password, roles or logout-all)")
        return Principal(
            user_id=claims.user_id,
            email=user.email,
            roles=user.roles,
            permissions=permissions_for(user.roles),
            via="access_token",
            jti=claims.jti,
            token_expires_at=claims.expires_at,
            family_id=claims.family_id,
        )

    async def from_api_key(self, raw: str) -> Principal:
        if not looks_like_api_key(raw):
            raise AuthenticationFailed("malformed API key (format or checksum)")
        principal = await self._from_key_hash(sha256_hex(raw))
        return dataclasses.replace(principal, key_prefix=api_key_prefix(raw))

    async def _from_key_hash(self, key_hash: str) -> Principal:
        key = await self._key(key_hash)
        now = time.time()
        if key is None or key.revoked:
            raise AuthenticationFailed("unknown or revoked API key")
        if key.expires_at is not None and key.expires_at <= now:
            raise AuthenticationFailed("expired API key")
        user = await self._user(key.user_id)
        if user is None or user.disabled:
            raise AuthenticationFailed("API key owner missing or disabled")
        if now - key.last_used_at >= KEY_USAGE_WRITE_INTERVAL:
            await self._touch_key(key_hash, key, now)
        return Principal(
            user_id=key.user_id,
            email=user.email,
            roles=user.roles,
            permissions=_key_permissions(user.roles, key.scopes),
            via="api_key",
            api_key_id=key.key_id,
            key_expires_at=key.expires_at,
        )

    # -- connections that outlive a request (WebSocket, ws-tickets) --------------------------

    async def resolve(self, credential: str) -> tuple[Principal, CredentialRef]:
        """The caller of `credential` (access token or API key) and a reference to the
        credential (no secret in it) by which `recheck` checks it again later."""
        if credential.startswith(API_KEY_PREFIX):
            principal = await self.from_api_key(credential)
            ref = CredentialRef(key_hash=sha256_hex(credential), key_prefix=principal.key_prefix)
            return principal, ref
        principal = await self.from_access_token(credential)
        return principal, CredentialRef(claims=self.tokens.decode(credential))

    async def recheck(self, ref: CredentialRef) -> Principal:
        """The caller of a credential resolved before, checked again as a request would check
        it now: expiry, logout, revocation, disabled user, changed roles or password."""
        if ref.claims is not None:
            if ref.claims.expires_at <= time.time():
                raise AuthenticationFailed("access token expired")
            return await self._from_claims(ref.claims)
        if ref.key_hash is None:
            raise AuthenticationFailed("empty credential reference")
        principal = await self._from_key_hash(ref.key_hash)
        return dataclasses.replace(principal, key_prefix=ref.key_prefix)

    # -- snapshots --------------------------------------------------------------------------

    # -- the cache away (Redis unreachable): fail open to the database ------------------------

    def _cache_failed(self, exc: BaseException) -> None:
        """Log (at most every CACHE_WARN_SECONDS) that the cache is unreachable; callers then
        ask the database, so signed-in callers are still served (slower)."""
        now = time.monotonic()
        if now - self._cache_warned_at >= CACHE_WARN_SECONDS:
            self._cache_warned_at = now
            log.warning("identity.cache_unavailable", error=f"{type(exc).__name__}: {exc}")

    async def _cache_get(self, key: str) -> bytes | None:
        try:
            return await self._cache.get(key)
        except CACHE_DOWN as exc:
            self._cache_failed(exc)
            return None

    async def _cache_set(self, key: str, value: bytes) -> None:
        try:
            await self._cache.set(key, value, self._ttl)
        except CACHE_DOWN as exc:
            self._cache_failed(exc)

    async def _revoked_in_database(self, claims: AccessClaims) -> tuple[bytes | None, bytes | None]:
        """What the denylist says of a token, read from its source rows: a logged-out token
        (`revoked_access_tokens`) and a revoked refresh family."""
        async with self._db_sessions() as db:
            denied = await db.scalar(
                select(RevokedAccessToken.jti).where(RevokedAccessToken.jti == claims.jti)
            )
            family = None
            if claims.family_id is not None:
                family = await db.scalar(
                    select(RefreshToken.id)
                    .where(
                        RefreshToken.family_id == claims.family_id,
                        RefreshToken.revoked_at.is_not(None),
                    )
                    .limit(1)
                )
        return (b"1" if denied is not None else None), (b"1" if family is not None else None)

    async def _user(self, user_id: uuid.UUID) -> _UserSnapshot | None:
        cached = await self._cache_get(_user_key(user_id))
        if cached is not None:
            return _UserSnapshot.load(cached)
        return await self._load_user(user_id)

    async def _load_user(self, user_id: uuid.UUID) -> _UserSnapshot | None:
        async with self._db_sessions() as db:
            row = await db.get(User, user_id)
        if row is None:
            return None
        snap = _UserSnapshot(row.email, tuple(row.roles), row.session_version, row.disabled)
        await self._cache_set(_user_key(user_id), snap.dump())
        return snap

    async def _key(self, key_hash: str) -> _KeySnapshot | None:
        cached = await self._cache_get(_apikey_key(key_hash))
        if cached is not None:
            return _KeySnapshot.load(cached)
        return await self._load_key(key_hash)

    async def _load_key(self, key_hash: str) -> _KeySnapshot | None:
        async with self._db_sessions() as db:
            row = (
                await db.execute(select(ApiKey).where(ApiKey.key_hash == key_hash))
            ).scalar_one_or_none()
        if row is None:
            return None
        snap = _KeySnapshot(
            key_id=row.id,
            user_id=row.user_id,
            scopes=tuple(row.scopes),
            expires_at=row.expires_at.timestamp() if row.expires_at else None,
            revoked=row.revoked_at is not None,
            last_used_at=row.last_used_at.timestamp() if row.last_used_at else 0.0,
        )
        await self._cache_set(_apikey_key(key_hash), snap.dump())
        return snap

    async def _touch_key(self, key_hash: str, key: _KeySnapshot, now: float) -> None:
        touched = dataclasses.replace(key, last_used_at=now)
        await self._cache_set(_apikey_key(key_hash), touched.dump())
        async with unit_of_work(self._db_sessions) as db:
            await db.execute(
                update(ApiKey)
                .where(ApiKey.id == key.key_id)
                .values(last_used_at=datetime.fromtimestamp(now, UTC))
            )

    # -- invalidation -------------------------------------------------------------------------

    async def forget_user(self, user_id: uuid.UUID) -> None:
        await self._cache.delete(_user_key(user_id))

    async def forget_api_key(self, key_hash: str) -> None:
        await self._cache.delete(_apikey_key(key_hash))

    async def deny(self, jti: str, expires_at: int) -> None:
        """Refuse this access token until it expires (the DB row is written by the caller)."""
        ttl = expires_at - time.time() + 60  # + leeway: the token stays refused past its exp
        await self._denylist.set(_deny_key(jti), b"1", ttl)

    async def deny_family(self, family_id: uuid.UUID) -> None:
        """Refuse every access token issued with this refresh family, for as long as one lives."""
        await self._denylist.set(
            _family_key(family_id), b"1", self.tokens.ttl_seconds + 2 * LEEWAY_SECONDS
        )

    async def load_denylist(self) -> None:
        """Copy what must stay refused into the cache: logged-out access tokens and recently
        revoked refresh families; drop expired denylist rows. Runs once per process, before the
        first access token is accepted (at start-up, or later if the database was down then)."""
        async with self._denylist_lock:
            if not self._denylist_loaded:
                await self._load_denylist()
                self._denylist_loaded = True

    async def _load_denylist(self) -> None:
        now = datetime.now(UTC)
        async with unit_of_work(self._db_sessions) as db:
            since = now - timedelta(seconds=self.tokens.ttl_seconds + 2 * LEEWAY_SECONDS)
            families = (
                await db.execute(
                    select(RefreshToken.family_id).where(RefreshToken.revoked_at > since).distinct()
                )
            ).scalars()
            for family_id in families:
                await self.deny_family(family_id)
            rows = (
                await db.execute(
                    select(RevokedAccessToken).where(RevokedAccessToken.expires_at > now)
                )
            ).scalars()
            for row in rows:
                await self.deny(row.jti, int(row.expires_at.timestamp()))
            await db.execute(
                delete(RevokedAccessToken).where(
                    RevokedAccessToken.expires_at <= now - timedelta(minutes=5)
                )
            )
