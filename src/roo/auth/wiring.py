"""Assembling the identity services from settings (used by the app lifespan and the CLI)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.auth import passwords
from roo.auth.identity import IdentityResolver
from roo.auth.service import AuthService
from roo.auth.throttle import LoginThrottle, RegistrationThrottle, create_limit_storage
from roo.auth.tokens import AccessTokens
from roo.config import Settings
from roo.kit.cache import Cache


def build_auth(
    settings: Settings,
    db_sessions: async_sessionmaker[AsyncSession],
    cache: Cache,
    denylist: Cache | None = None,
) -> AuthService:
    """`denylist`: where revocations live when `cache` may evict (process memory); None when
    `cache` never evicts early (Redis)."""
    if settings.jwt_secret is None:  # load_settings always provides one
        raise RuntimeError("settings carry no JWT secret")
    passwords.configure(
        settings.password_hash_concurrency,
        settings.password_hash_wait_seconds,
        settings.password_hash_profile,
    )
    tokens = AccessTokens(
        secret=settings.jwt_secret.get_secret_value(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.access_token_ttl_seconds,
    )
    resolver = IdentityResolver(
        db_sessions, cache, tokens, settings.identity_cache_ttl_seconds, denylist=denylist
    )
    storage = create_limit_storage(settings)
    return AuthService(
        settings,
        resolver,
        LoginThrottle(storage, settings),
        RegistrationThrottle(storage, settings),
        db_sessions,
    )
