"""The account rules of an OAuth sign-in: find the linked user, link by email, or create one.

The account key is (provider, subject) in `user_identities`. A first sign-in links to an existing
account with the same email only when the provider vouches for that email
(`ExternalIdentity.can_link`) and the account's own address was verified; every refusal is
audited.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from roo.auth.exceptions import RegistrationClosed
from roo.auth.oauth.config import ProviderSpec
from roo.auth.oauth.errors import AccountDisabled, AccountExists, EmailNotVerified, OAuthFailed
from roo.auth.oauth.steps import ExternalIdentity
from roo.auth.permissions import DEFAULT_ROLE
from roo.auth.service import AuthService
from roo.db.models import User, UserIdentity
from roo.db.types import utcnow
from roo.security.audit import ClientInfo, record


async def sign_in(
    auth: AuthService,
    db: AsyncSession,
    spec: ProviderSpec,
    identity: ExternalIdentity,
    client: ClientInfo,
) -> tuple[User, bool, bool]:
    """The user of this identity: linked before, linked now by email, or created."""
    row = (
        await db.execute(
            select(UserIdentity).where(
                UserIdentity.provider == identity.provider,
                UserIdentity.subject == identity.subject,
            )
        )
    ).scalar_one_or_none()
    created = linked = False
    if row is not None:
        # The link decides, whatever email the provider reports today.
        user = await auth.get_user(db, row.user_id)
        if identity.email is not None:
            row.email = identity.email
    else:
        user, created = await _first_sign_in(auth, db, spec, identity, client)
        linked = not created
    if user.disabled:
        await _refuse(auth, db, identity, client, "account_disabled", user)
        raise AccountDisabled("This account is disabled; ask an administrator")
    if row is None:
        db.add(
            UserIdentity(
                user_id=user.id,
                provider=identity.provider,
                subject=identity.subject,
                email=identity.email,
            )
        )
        try:
            await db.flush()
        except IntegrityError:  # the same identity signing in twice at once
            raise OAuthFailed("This sign-in raced another one; try again") from None
    user.last_login_at = utcnow()
    await record(
        db,
        "auth.oauth_login",
        actor_id=user.id,
        target=f"user:{user.id}",
        client=client,
        provider=identity.provider,
        subject=identity.subject,
        created=created,
        linked=linked,
    )
    return user, created, linked


async def _first_sign_in(
    auth: AuthService,
    db: AsyncSession,
    spec: ProviderSpec,
    identity: ExternalIdentity,
    client: ClientInfo,
) -> tuple[User, bool]:
    if identity.email is None:
        await _refuse(auth, db, identity, client, "no_email")
        raise EmailNotVerified(
            f"{spec.display_name} shared no email address; allow access to your email "
            "address and sign in again"
        )
    existing = await auth.find_user_by_email(db, identity.email)
    if existing is not None:
        if not identity.can_link:
            await _refuse(auth, db, identity, client, "email_not_authoritative", existing)
            raise AccountExists(
                f"An account with the email {identity.email} already exists, and "
                f"{spec.display_name} does not vouch for that address. Sign in with your "
                "existing method first."
            )
        if not existing.email_verified:
            # Whoever registered this address never proved it: linking would let them keep
            # a password into the account of the address's real owner (pre-hijacking).
            await _refuse(auth, db, identity, client, "local_email_unverified", existing)
            raise AccountExists(
                f"An account with the email {identity.email} exists but its address was "
                "never verified, so it cannot be linked; ask an administrator"
            )
        return existing, False
    if not identity.email_verified:
        await _refuse(auth, db, identity, client, "email_unverified")
        raise EmailNotVerified(
            f"{spec.display_name} has not verified the email address {identity.email}; "
            "verify it there and sign in again"
        )
    if not auth.settings.registration_open:
        await _refuse(auth, db, identity, client, "registration_closed")
        raise RegistrationClosed(
            "Self-registration is turned off: an administrator must create your account first"
        )
    user = await auth.create_user(
        db,
        identity.email,
        password=None,
        roles=(DEFAULT_ROLE,),
        display_name=identity.display_name,
        provider=spec.name,
        email_verified=True,
    )
    return user, True


async def _refuse(
    auth: AuthService,
    db: AsyncSession,
    identity: ExternalIdentity,
    client: ClientInfo,
    reason: str,
    user: User | None = None,
) -> None:
    """Audit a refused sign-in in a unit of work of its own: the refusal rolls back the
    request's. That transaction ends first, as the refusal would end it: the writer needs a
    connection (and on SQLite the write turn) of its own."""
    target = f"user:{user.id}" if user is not None else None
    await db.rollback()
    await auth.audit.write(
        "auth.oauth_login",
        actor_id=None,
        target=target,
        outcome="denied",
        client=client,
        provider=identity.provider,
        subject=identity.subject,
        reason=reason,
    )
