"""Identity logic: users, sign-in, token pairs, refresh rotation, logout (API keys: `api_keys`).

Methods take the request's DB session first and never commit: the request's unit of work
does, or rolls everything back when the request fails. What must survive a refusal (a failed
sign-in's audit row; a reused refresh token's family revocation and its row) is written by the
`AuditWriter`, in a unit of work of its own, before the refusal is raised.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.auth import exceptions as exc
from roo.auth.api_keys import ApiKeys
from roo.auth.identity import IdentityResolver, Principal
from roo.auth.passwords import hash_password, needs_rehash, verify_password
from roo.auth.permissions import DEFAULT_ROLE, Role
from roo.auth.throttle import LoginThrottle, RegistrationThrottle
from roo.auth.tokens import IssuedAccessToken, new_refresh_token, sha256_hex
from roo.config import Settings
from roo.db.engine import after_commit, unit_of_work
from roo.db.models import RefreshToken, RevokedAccessToken, User
from roo.db.reads import Reads
from roo.db.types import utcnow
from roo.kit.errors import BadRequest
from roo.security.audit import AuditWriter, ClientInfo, record

# The columns of roo.auth.schemas.UserOut.
_PROFILE = select(
    User.id,
    User.email,
    User.email_verified,
    User.display_name,
    User.provider,
    User.roles,
    User.preferences,
    User.disabled,
    User.created_at,
    User.last_login_at,
).where(User.id == bindparam("user_id"))


@dataclass(frozen=True, slots=True)
class TokenPair:
    access: IssuedAccessToken
    refresh_token: str
    refresh_expires_in: int
    user: User


def normalise_email(email: str) -> str:
    return email.strip().lower()


class AuthService:
    """Stateless collaborators shared by every request; created once in the app lifespan."""

    def __init__(
        self,
        settings: Settings,
        resolver: IdentityResolver,
        throttle: LoginThrottle,
        registrations: RegistrationThrottle,
        units: async_sessionmaker[AsyncSession],
    ) -> None:
        self.settings = settings
        # short units of work of its own: reads before a slow password check (the request's
        # unit of work holds nothing meanwhile) and rows that outlive a refused request
        self._units = units
        self.audit = AuditWriter(units)
        self.resolver = resolver
        self.throttle = throttle
        self.registrations = registrations
        self.api_keys = ApiKeys(resolver, settings.api_keys_max_per_user)

    # -- users ----------------------------------------------------------------------------

    async def create_user(
        self,
        db: AsyncSession,
        email: str,
        *,
        password: str | None,
        roles: Sequence[str] = (DEFAULT_ROLE,),
        display_name: str = "",
        provider: str = "local",
        email_verified: bool = False,
    ) -> User:
        email = normalise_email(email)
        # hashed before the unit of work takes a connection (the hash is slow)
        password_hash = await hash_password(password) if password is not None else None
        if await self.find_user_by_email(db, email) is not None:
            raise exc.EmailTaken(f"{email} is already registered")
        user = User(
            email=email,
            email_verified=email_verified,
            display_name=display_name,
            provider=provider,
            password_hash=password_hash,
            roles=[Role(r).value for r in roles],
            preferences={},
            disabled=False,
            session_version=1,
        )
        db.add(user)
        try:
            await db.flush()
        except IntegrityError:  # a concurrent registration of the same address won
            raise exc.EmailTaken(f"{email} is already registered") from None
        return user

    async def find_user_by_email(self, db: AsyncSession, email: str) -> User | None:
        query = select(User).where(User.email == normalise_email(email))
        return (await db.execute(query)).scalar_one_or_none()

    @staticmethod
    async def profile(reads: Reads, user_id: uuid.UUID) -> dict[str, Any]:
        """What `GET /auth/profile` shows of a user: one read, outside any unit of work."""
        rows = await reads.dicts(_PROFILE, {"user_id": user_id})
        if not rows:
            raise exc.UserNotFound()
        return rows[0]

    async def get_user(self, db: AsyncSession, user_id: uuid.UUID) -> User:
        user = await db.get(User, user_id)
        if user is None:
            raise exc.UserNotFound()
        return user

    async def register(
        self, db: AsyncSession, email: str, password: str, display_name: str, client: ClientInfo
    ) -> None:
        """Create a member account for a free address; for a taken one, change nothing.

        Both end the same way for the caller (no tokens, no error), at the same cost (one
        argon2 hash), so the answer does not tell whether an address has an account. Attempts
        are throttled per client address, new and taken alike.
        """
        if not self.settings.registration_open:
            raise exc.RegistrationClosed("Self-registration is turned off; ask an administrator")
        await self.registrations.hit(client.ip)
        try:
            user = await self.create_user(db, email, password=password, display_name=display_name)
        except exc.EmailTaken:
            # create_user hashed the password before it looked the address up: a taken one
            # costs what a new one does
            await db.rollback()  # a failed flush (concurrent registration) leaves nothing usable
            taken = await self.find_user_by_email(db, email)
            await record(
                db,
                "auth.register",
                target=f"user:{taken.id}" if taken else None,
                outcome="failure",
                client=client,
                reason="email_taken",
            )
            return
        await record(db, "auth.register", actor_id=user.id, target=f"user:{user.id}", client=client)

    # -- sign-in ----------------------------------------------------------------------------

    async def login(
        self, db: AsyncSession, email: str, password: str, client: ClientInfo
    ) -> TokenPair:
        email = normalise_email(email)
        await self.throttle.check(client.ip, email)
        # Read in a unit of work of its own, ended before the slow verification: the request's
        # holds nothing until the sign-in is decided.
        async with unit_of_work(self._units) as own:
            user = await self.find_user_by_email(own, email)
        # Always one argon2 verification, whether or not the account exists.
        ok = await verify_password(user.password_hash if user else None, password)
        if user is None or not ok or user.disabled:
            delay = await self.throttle.failed(client.ip, email)
            # The failure row must survive the 401, which rolls the request back.
            await self.audit.write(
                "auth.login",
                actor_id=user.id if user else None,
                target=f"user:{user.id}" if user else None,
                outcome="failure",
                client=client,
                reason="disabled" if user is not None and ok else "bad_credentials",
                **({"delay_seconds": delay} if delay else {}),
            )
            raise exc.InvalidLogin()
        await self.throttle.succeeded(client.ip, email)
        user = await db.merge(user, load=False)  # into the request's unit of work, as read
        if user.password_hash and needs_rehash(user.password_hash):
            user.password_hash = await hash_password(password)
        user.last_login_at = utcnow()
        await record(db, "auth.login", actor_id=user.id, target=f"user:{user.id}", client=client)
        return await self.issue_pair(db, user)

    async def issue_pair(
        self,
        db: AsyncSession,
        user: User,
        *,
        family_id: uuid.UUID | None = None,
        parent_id: uuid.UUID | None = None,
    ) -> TokenPair:
        family_id = family_id or uuid.uuid4()
        raw = new_refresh_token()
        ttl = self.settings.refresh_token_ttl_seconds
        db.add(
            RefreshToken(
                user_id=user.id,
                family_id=family_id,
                parent_id=parent_id,
                token_hash=sha256_hex(raw),
                expires_at=utcnow() + timedelta(seconds=ttl),
            )
        )
        access = self.resolver.tokens.issue(
            user.id, list(user.roles), user.session_version, family_id
        )
        await db.flush()
        return TokenPair(access=access, refresh_token=raw, refresh_expires_in=ttl, user=user)

    async def refresh(self, db: AsyncSession, raw: str, client: ClientInfo) -> TokenPair:
        """Exchange a refresh token for a new pair, exactly once.

        The exchange is a compare-and-set on `used_at`: of two concurrent refreshes of one token
        exactly one wins. A token presented again after its use revokes its whole family,
        unless it comes within the reuse grace (a race between two tabs, not a theft).
        """
        now = utcnow()
        row = (
            await db.execute(select(RefreshToken).where(RefreshToken.token_hash == sha256_hex(raw)))
        ).scalar_one_or_none()
        if row is None:
            raise exc.InvalidRefreshToken("Unknown refresh token")
        if row.revoked_at is not None:
            raise exc.InvalidRefreshToken("This sign-in has been revoked; sign in again")
        if row.expires_at <= now:
            raise exc.InvalidRefreshToken("Refresh token expired; sign in again")
        won = await db.execute(
            update(RefreshToken)
            .where(
                RefreshToken.id == row.id,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            await self._refused_reuse(db, row, now, client)
        user = await db.get(User, row.user_id)
        if user is None or user.disabled:
            raise exc.InvalidRefreshToken("This account cannot sign in")
        return await self.issue_pair(db, user, family_id=row.family_id, parent_id=row.id)

    async def _refused_reuse(
        self, db: AsyncSession, row: RefreshToken, now: datetime, client: ClientInfo
    ) -> None:
        used_at = (
            await db.execute(select(RefreshToken.used_at).where(RefreshToken.id == row.id))
        ).scalar_one()
        grace = timedelta(seconds=self.settings.refresh_reuse_grace_seconds)
        if used_at is not None and now - used_at <= grace:
            raise exc.InvalidRefreshToken("Refresh token already used")
        user_id, family_id = row.user_id, row.family_id
        # The revocation and its row must survive the 401, which rolls the request back: they
        # go in a unit of work of their own. The request's own transaction (its exchange failed,
        # it changed nothing) ends first, as the refusal would end it: on SQLite it holds the
        # write turn that unit needs.
        await db.rollback()
        async with self.audit.unit() as own:
            await self._revoke_family(own, family_id, now)
            await record(
                own,
                "auth.refresh_reuse",
                actor_id=user_id,
                target=f"refresh_family:{family_id}",
                outcome="denied",
                client=client,
                severity="critical",
            )
        raise exc.InvalidRefreshToken(
            "Refresh token reused: every token of this sign-in has been revoked"
        )

    async def _revoke_family(self, db: AsyncSession, family_id: uuid.UUID, now: datetime) -> None:
        await db.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        await self.resolver.deny_family(family_id)

    async def logout(self, db: AsyncSession, principal: Principal, client: ClientInfo) -> None:
        if principal.jti is None or principal.token_expires_at is None:
            raise BadRequest(
                "Logout ends a token sign-in; API keys are revoked with DELETE /auth/api-keys/{id}"
            )
        now = utcnow()
        if principal.family_id is not None:
            await self._revoke_family(db, principal.family_id, now)
        expires = datetime.fromtimestamp(principal.token_expires_at, now.tzinfo)
        await db.merge(RevokedAccessToken(jti=principal.jti, expires_at=expires))
        await self.resolver.deny(principal.jti, principal.token_expires_at)
        await record(
            db,
            "auth.logout",
            actor_id=principal.user_id,
            target=f"user:{principal.user_id}",
            client=client,
        )

    async def end_all_sessions(self, db: AsyncSession, user: User) -> None:
        """Invalidate every token of the user: bump the session version, revoke families."""
        user_id = user.id
        # The cache first, before anything is written (with the cache away this raises and
        # nothing changes: 503, as for a logout; the wait holds no write of ours), and again
        # once committed (a concurrent request may have cached the user meanwhile)
        await self.resolver.forget_user(user_id)
        after_commit(db, lambda: self.resolver.forget_user(user_id))
        user.session_version += 1
        now = utcnow()
        families = (
            (
                await db.execute(
                    select(RefreshToken.family_id)
                    .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
                    .distinct()
                )
            )
            .scalars()
            .all()
        )
        for family_id in families:
            await self._revoke_family(db, family_id, now)
        await db.flush()

    # -- profile ------------------------------------------------------------------------------

    async def update_profile(
        self,
        db: AsyncSession,
        principal: Principal,
        display_name: str | None,
        preferences: dict[str, Any] | None,
    ) -> User:
        user = await self.get_user(db, principal.user_id)
        if display_name is not None:
            user.display_name = display_name
        if preferences is not None:
            user.preferences = preferences
        await db.flush()
        return user

    async def change_password(
        self,
        db: AsyncSession,
        principal: Principal,
        current: str,
        new: str,
        client: ClientInfo,
        *,
        revoke_api_keys: bool = True,
    ) -> None:
        """Set a new password and end every sign-in of the account; by default revoke its API
        keys too: a password change is how a user answers a leak, and whoever had the
        password could have minted keys."""
        # Read in a unit of work of its own, ended before the slow verification and hash.
        async with unit_of_work(self._units) as own:
            user = await self.get_user(own, principal.user_id)
        if not await verify_password(user.password_hash, current):
            raise exc.InvalidLogin()
        password_hash = await hash_password(new)
        user = await db.merge(user, load=False)  # into the request's unit of work, as read
        # the keys, then the sign-ins: each tells the identity cache before anything is written
        revoked = await self.api_keys.revoke_all(db, user.id) if revoke_api_keys else 0
        user.password_hash = password_hash
        await self.end_all_sessions(db, user)
        await record(
            db,
            "auth.password_change",
            actor_id=user.id,
            target=f"user:{user.id}",
            client=client,
            api_keys_revoked=revoked,
        )

    # -- administration ----------------------------------------------------------------------

    async def list_users(
        self, db: AsyncSession, limit: int, offset: int
    ) -> tuple[Sequence[User], int]:
        total = (await db.execute(select(func.count()).select_from(User))).scalar_one()
        rows = (
            (
                await db.execute(
                    select(User).order_by(User.created_at, User.id).limit(limit).offset(offset)
                )
            )
            .scalars()
            .all()
        )
        return rows, total

    async def admin_update_user(
        self,
        db: AsyncSession,
        admin: Principal,
        user_id: uuid.UUID,
        roles: list[Role] | None,
        disabled: bool | None,
        display_name: str | None,
        client: ClientInfo,
    ) -> User:
        user = await self.get_user(db, user_id)
        if user.id == admin.user_id and (
            disabled or (roles is not None and Role.ADMIN not in roles)
        ):
            # The last admin could lock everyone out; another admin must do it.
            raise exc.SelfLockout(
                "You cannot disable yourself or remove your own admin role; ask another admin"
            )
        changes: dict[str, Any] = {}
        if display_name is not None:
            user.display_name = display_name
            changes["displayName"] = display_name
        revoke = False
        if roles is not None and sorted(r.value for r in roles) != sorted(user.roles):
            changes["roles"] = {"from": list(user.roles), "to": [r.value for r in roles]}
            user.roles = sorted({r.value for r in roles})
            revoke = True
        if disabled is not None and disabled != user.disabled:
            changes["disabled"] = disabled
            user.disabled = disabled
            revoke = True
        if revoke:
            await self.end_all_sessions(db, user)
        await record(
            db,
            "users.update",
            actor_id=admin.user_id,
            target=f"user:{user.id}",
            client=client,
            changes=changes,
        )
        return user

    async def clear_sign_in_failures(
        self,
        db: AsyncSession,
        *,
        email: str | None,
        address: str | None,
        actor_id: uuid.UUID | None,
        client: ClientInfo | None,
        via: str,
    ) -> User | None:
        """Forget the failed sign-ins of an account (from every address) and/or of an address
        (on every account), audited as `auth.unlock`; returns the account, if it exists."""
        user = None
        if email is not None:
            email = normalise_email(email)
            user = await self.find_user_by_email(db, email)
            await self.throttle.unlock_account(email)
        if address is not None:
            await self.throttle.unlock_address(address)
        await record(
            db,
            "auth.unlock",
            actor_id=actor_id,
            target=f"user:{user.id}" if user else None,
            client=client,
            via=via,
            **({"address": address} if address is not None else {}),
        )
        return user
