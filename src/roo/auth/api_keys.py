"""API keys: created within the calling credential's bounds, listed, revoked.

Methods take the request's DB session first and do not commit (the request does); the identity
cache forgets a revoked key once the revocation commits.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from roo.auth import exceptions as exc
from roo.auth.identity import IdentityResolver, Principal
from roo.auth.permissions import Permission
from roo.auth.tokens import new_api_key, sha256_hex
from roo.db.engine import after_commit
from roo.db.models import ApiKey, User
from roo.db.types import utcnow
from roo.kit.errors import BadRequest
from roo.security.audit import ClientInfo, record


class ApiKeys:
    """A user's API keys (one per app, shared by every request)."""

    def __init__(self, resolver: IdentityResolver, max_per_user: int) -> None:
        self.resolver = resolver
        self.max_per_user = max_per_user

    async def create(
        self,
        db: AsyncSession,
        principal: Principal,
        name: str,
        scopes: list[Permission],
        expires_at: datetime | None,
        client: ClientInfo,
    ) -> tuple[ApiKey, str]:
        """A new key for the caller, never wider or longer-lived than the calling credential.

        The bound is the credential's *effective* permissions (an API key's scopes narrowed by
        its owner's roles now), not the owner's roles: a key holding `apikeys:manage` may hand
        on only what it holds itself, and its keys expire no later than it does (by default,
        with it).
        """
        beyond = sorted(s.value for s in set(scopes) - principal.permissions)
        if beyond:
            holder = "This API key does" if principal.via == "api_key" else "Your roles do"
            raise exc.ScopeNotGranted(f"{holder} not grant: {', '.join(beyond)}")
        if expires_at is not None and expires_at <= utcnow():
            raise BadRequest("expiresAt must be in the future")
        if principal.key_expires_at is not None:
            ceiling = datetime.fromtimestamp(principal.key_expires_at, UTC)
            if expires_at is None:
                expires_at = ceiling
            elif expires_at > ceiling:
                raise exc.ExpiryNotGranted(
                    "A key created with an API key expires no later than that key "
                    f"({ceiling.isoformat()})"
                )
        await self._check_key_count(db, principal)
        raw, prefix = new_api_key()
        key = ApiKey(
            user_id=principal.user_id,
            name=name,
            prefix=prefix,
            key_hash=sha256_hex(raw),
            scopes=sorted({s.value for s in scopes}),
            expires_at=expires_at,
        )
        db.add(key)
        await db.flush()
        await record(
            db,
            "apikeys.create",
            actor_id=principal.user_id,
            target=f"api_key:{key.id}",
            client=client,
            prefix=prefix,
            scopes=key.scopes,
            **({"with_api_key": str(principal.api_key_id)} if principal.api_key_id else {}),
        )
        return key, raw

    async def _check_key_count(self, db: AsyncSession, principal: Principal) -> None:
        """Refuse (409) a key beyond `ROO_API_KEYS_MAX_PER_USER` live ones. The no-op UPDATE of
        the owner's row takes its lock (PostgreSQL) or the write lock (SQLite) first, so
        concurrent creations count one after the other (as the session quota does)."""
        await db.execute(
            update(User)
            .where(User.id == principal.user_id)
            .values(session_version=User.session_version, updated_at=User.updated_at)
            .execution_options(synchronize_session=False)
        )
        live = (
            await db.execute(
                select(func.count())
                .select_from(ApiKey)
                .where(
                    ApiKey.user_id == principal.user_id,
                    ApiKey.revoked_at.is_(None),
                    or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > utcnow()),
                )
            )
        ).scalar_one()
        if live >= self.max_per_user:
            raise exc.ApiKeyLimitReached(
                f"You have {live} live API keys, the most allowed; revoke one first"
            )

    async def revoke_all(self, db: AsyncSession, user_id: uuid.UUID) -> int:
        """Revoke every live API key of the user; the cache forgets them first (Redis away:
        nothing changes, 503), then again once that commits. Call it before the unit of work
        writes, so that no write waits on the cache."""
        now = utcnow()
        keys = (
            (
                await db.execute(
                    select(ApiKey).where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
                )
            )
            .scalars()
            .all()
        )
        for key in keys:  # the cache first, before anything is written (see `revoke`)
            await self.resolver.forget_api_key(key.key_hash)
        for key in keys:
            key.revoked_at = now  # flushed with the caller's next statement or its commit
            after_commit(db, functools.partial(self.resolver.forget_api_key, key.key_hash))
        return len(keys)

    async def list(self, db: AsyncSession, principal: Principal) -> Sequence[ApiKey]:
        query = (
            select(ApiKey)
            .where(ApiKey.user_id == principal.user_id)
            .order_by(ApiKey.created_at.desc(), ApiKey.id)
        )
        return (await db.execute(query)).scalars().all()

    async def revoke(
        self, db: AsyncSession, principal: Principal, key_id: uuid.UUID, client: ClientInfo
    ) -> None:
        # Owner filter in the query: another user's key is "not found", never "forbidden".
        key = (
            await db.execute(
                select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == principal.user_id)
            )
        ).scalar_one_or_none()
        if key is None:
            raise exc.ApiKeyNotFound()
        # The cache forgets the key before the revocation commits: with the cache away (Redis)
        # this raises and nothing is written (503), as a logout does; committed and unheard, a
        # Redis that comes back with its data would still hold the key as valid. And again once
        # committed (a concurrent request may have cached it meanwhile), even for a key revoked
        # before: a revocation whose cache step failed after its commit is completed by a retry.
        key_hash = key.key_hash
        await self.resolver.forget_api_key(key_hash)
        after_commit(db, lambda: self.resolver.forget_api_key(key_hash))
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            await record(
                db,
                "apikeys.revoke",
                actor_id=principal.user_id,
                target=f"api_key:{key.id}",
                client=client,
            )
