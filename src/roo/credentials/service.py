"""Users' own LLM provider credentials: stored encrypted, listed without secrets, resolved for
the agent runner.

The API key is encrypted with the service's `SecretBox` before it reaches the database and is
decrypted only by `resolve`, for the runner. It never appears in a response, an event, a log
line or an audit row; `key_hint` (its last four characters, for keys of 12 or more) is the only
trace of it outside the ciphertext.

A base URL must lead to public addresses only (`roo.security.egress`): it is checked when stored
(`BaseUrlRefused`, 422) and again by the runner's HTTP client on every connection.
"""

from __future__ import annotations

import builtins
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from roo.db.models import ProviderCredential
from roo.db.types import utcnow
from roo.kit.errors import Conflict, NotFound, Unprocessable
from roo.kit.logs import get_logger
from roo.security.audit import ClientInfo, record
from roo.security.egress import AllowedHosts, EgressPolicy, EgressRefused
from roo.security.secrets_box import SecretBox, UndecryptableSecret

if TYPE_CHECKING:
    from roo.config import Settings

log = get_logger("roo.credentials")

# The providers the agent engine calls. Their service-wide defaults (ANTHROPIC_API_KEY, ...)
# are the engine's business; these are a user's own overrides.
PROVIDERS: Final = ("anthropic", "openai")

MAX_API_KEY_LENGTH = 500
MAX_BASE_URL_LENGTH = 2000
# Keys shorter than this get no hint: four characters of a short key are too much of it.
HINT_MIN_KEY_LENGTH = 12

_KEY_CHARACTERS = frozenset(string.ascii_letters + string.digits + string.punctuation)


class Keep(Enum):
    """`KEEP`: leave the stored value as it is (a field the client did not send)."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP


# -- errors ------------------------------------------------------------------------------------


class UnknownProvider(NotFound):
    slug, title = "unknown-provider", "Unknown provider"

    def __init__(self, provider: str) -> None:
        super().__init__(
            f"No provider {provider[:50]!r}; known providers: {', '.join(PROVIDERS)}",
            providers=list(PROVIDERS),
        )


class CredentialNotFound(NotFound):
    slug, title = "provider-credential-not-found", "No credentials stored for this provider"


class InvalidCredentialValue(Unprocessable):
    """A value refused by the store itself (the API refuses it earlier, as a field error)."""

    slug, title = "invalid-provider-credential", "Invalid provider credential"


class BaseUrlRefused(Unprocessable):
    """A base URL that leads to an address users may not reach (loopback, private...)."""

    slug, title = "provider-base-url-refused", "Base URL not allowed"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"baseUrl refused: {reason}",
            errors=[{"field": "body.baseUrl", "message": reason, "type": "base_url_refused"}],
        )


class CredentialRace(Conflict):
    slug, title = "provider-credential-conflict", "Concurrent change"


# -- validation (shared by the API schema and the store) ---------------------------------------


def check_provider(provider: str) -> str:
    if provider not in PROVIDERS:
        raise UnknownProvider(provider)
    return provider


def check_api_key(value: str) -> str:
    """1 to 500 printable ASCII characters, no whitespace. The message never quotes the value."""
    if not 1 <= len(value) <= MAX_API_KEY_LENGTH or not set(value) <= _KEY_CHARACTERS:
        raise ValueError(
            f"must be 1 to {MAX_API_KEY_LENGTH} printable ASCII characters without whitespace"
        )
    return value


def check_base_url(value: str) -> str:
    """An absolute http(s) URL with a host, without user:password@, query or fragment."""
    if len(value) > MAX_BASE_URL_LENGTH:
        raise ValueError(f"must be at most {MAX_BASE_URL_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("must not contain whitespace or control characters")
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        raise ValueError("must be an http or https URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https URL with a host")
    if "@" in parts.netloc:
        raise ValueError("must not contain credentials (user:password@); send the key as apiKey")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError("must not have a query or fragment")
    return value


def egress_policy(settings: Settings) -> EgressPolicy:
    """Where users' base URLs may lead: public addresses, the hosts the operator allowed
    (`ROO_PROVIDER_ALLOWED_HOSTS`), and the service's own base URLs as they are set."""
    trusted = [url for url in (settings.openai_base_url, settings.anthropic_base_url) if url]
    return EgressPolicy(AllowedHosts.parse(settings.provider_allowed_hosts), trusted)


def key_hint(api_key: str) -> str | None:
    return "…" + api_key[-4:] if len(api_key) >= HINT_MIN_KEY_LENGTH else None


def _checked(check: Callable[[str], str], value: str) -> str:
    try:
        return check(value)
    except ValueError as exc:
        raise InvalidCredentialValue(str(exc)) from None


# -- what the store hands out ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CredentialView:
    """A stored credential as its owner may see it: never the key."""

    provider: str
    base_url: str | None
    has_api_key: bool
    key_hint: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ResolvedCredential:
    """A user's credential for one provider, decrypted, for the agent runner only.

    Either value may be None (not set by the user). A runner that fills the gaps with the
    service-wide defaults must never send the service's API key to the user's `base_url`:
    use `over_defaults`, which applies that rule.
    """

    provider: str
    api_key: str | None = field(repr=False)
    base_url: str | None

    def over_defaults(
        self, default_api_key: str | None, default_base_url: str | None
    ) -> tuple[str | None, str | None]:
        """(api_key, base_url) to call the provider with. The user's base URL comes only with
        the user's key (or none); the user's key alone goes to the default base URL."""
        if self.base_url is not None:
            return self.api_key, self.base_url
        return (self.api_key or default_api_key), default_base_url


def _view(row: ProviderCredential) -> CredentialView:
    return CredentialView(
        provider=row.provider,
        base_url=row.base_url,
        has_api_key=row.api_key_encrypted is not None,
        key_hint=row.key_hint,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class CredentialStore:
    """Provider credentials of users, in the caller's transaction (`db`). `egress` says where a
    user's base URL may lead (the runner's HTTP clients apply it too)."""

    def __init__(self, box: SecretBox, egress: EgressPolicy | None = None) -> None:
        self.box = box
        self.egress = egress or EgressPolicy()

    async def _row(
        self, db: AsyncSession, user_id: uuid.UUID, provider: str, *, lock: bool = False
    ) -> ProviderCredential | None:
        query = select(ProviderCredential).where(
            ProviderCredential.user_id == user_id, ProviderCredential.provider == provider
        )
        if lock:
            query = query.with_for_update()
        return (await db.execute(query)).scalar_one_or_none()

    async def put(
        self,
        db: AsyncSession,
        user_id: uuid.UUID,
        provider: str,
        api_key: str | Keep | None = KEEP,
        base_url: str | Keep | None = KEEP,
        *,
        client: ClientInfo | None = None,
    ) -> CredentialView:
        """Store `api_key` and/or `base_url` for the user's `provider`, creating the entry when
        there is none. `KEEP` leaves a value as stored, None clears it."""
        check_provider(provider)
        if api_key is KEEP and base_url is KEEP:
            raise InvalidCredentialValue("Nothing to store: give an API key, a base URL or both")
        if isinstance(api_key, str):
            _checked(check_api_key, api_key)
        if isinstance(base_url, str):
            _checked(check_base_url, base_url)
            try:  # before the row lock: resolving the host may take a moment
                await self.egress.check_url(base_url)
            except EgressRefused as exc:
                raise BaseUrlRefused(str(exc)) from None
        row = await self._row(db, user_id, provider, lock=True)
        if row is None:
            row = ProviderCredential(user_id=user_id, provider=provider)
            db.add(row)
            self._apply(row, api_key, base_url)
            try:
                await db.flush()
            except IntegrityError:  # the same user's first PUT twice at once
                raise CredentialRace(
                    "Another change to these credentials happened at the same time; try again"
                ) from None
        else:
            self._apply(row, api_key, base_url)
            row.updated_at = utcnow()
            await db.flush()
        sent = (("apiKey", api_key), ("baseUrl", base_url))
        await record(
            db,
            "credentials.put",
            actor_id=user_id,
            target=f"provider:{provider}",
            client=client,
            stored=[name for name, value in sent if isinstance(value, str)],
            cleared=[name for name, value in sent if value is None],
        )
        return _view(row)

    def _apply(
        self, row: ProviderCredential, api_key: str | Keep | None, base_url: str | Keep | None
    ) -> None:
        if api_key is None:
            row.api_key_encrypted = None
            row.key_hint = None
        elif isinstance(api_key, str):
            row.api_key_encrypted = self.box.encrypt(api_key)
            row.key_hint = key_hint(api_key)
        elif row.api_key_encrypted is not None:
            # Kept: re-encrypt under the current key while we are here (key rotation).
            try:
                row.api_key_encrypted = self.box.rotate(row.api_key_encrypted)
            except UndecryptableSecret:
                pass  # left as it is; resolve() reports it
        if base_url is not KEEP:
            row.base_url = base_url

    async def delete(
        self,
        db: AsyncSession,
        user_id: uuid.UUID,
        provider: str,
        *,
        client: ClientInfo | None = None,
    ) -> bool:
        """Forget the user's credentials for `provider`; False when there were none."""
        check_provider(provider)
        row = await self._row(db, user_id, provider, lock=True)
        if row is None:
            return False
        await db.delete(row)
        await db.flush()
        await record(
            db, "credentials.delete", actor_id=user_id, target=f"provider:{provider}", client=client
        )
        return True

    async def list(self, db: AsyncSession, user_id: uuid.UUID) -> builtins.list[CredentialView]:
        """The user's stored credentials, by provider name; no secret in them."""
        query = (
            select(ProviderCredential)
            .where(ProviderCredential.user_id == user_id)
            .order_by(ProviderCredential.provider)
        )
        return [_view(row) for row in (await db.execute(query)).scalars()]

    async def resolve(
        self, db: AsyncSession, user_id: uuid.UUID, provider: str
    ) -> ResolvedCredential | None:
        """The user's decrypted credential for `provider`, for the agent runner.

        None when the user stored nothing for it (or an empty entry), for a provider this store
        does not know, and when the stored key cannot be decrypted (the encryption key changed):
        the caller then uses the service-wide defaults. That last case logs a warning (never the
        value) and never raises.
        """
        if provider not in PROVIDERS:
            return None
        row = await self._row(db, user_id, provider)
        if row is None:
            return None
        api_key: str | None = None
        if row.api_key_encrypted is not None:
            try:
                api_key = self.box.decrypt(row.api_key_encrypted)
            except UndecryptableSecret:
                log.warning(
                    "credentials.undecryptable",
                    user_id=str(user_id),
                    provider=provider,
                    detail="the stored provider key cannot be decrypted with the configured "
                    "keys (ROO_ENCRYPTION_KEY, or JWT_SECRET without it, changed?); it is "
                    "treated as absent until the user stores it again",
                )
                return None
        if api_key is None and row.base_url is None:
            return None
        return ResolvedCredential(provider=provider, api_key=api_key, base_url=row.base_url)
