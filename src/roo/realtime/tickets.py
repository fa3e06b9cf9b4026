"""One-use tickets for the event streams (`POST /api/v1/sessions/{id}/ws-ticket`).

A browser cannot send an `Authorization` header when it opens a WebSocket or an `EventSource`,
and a long-lived secret in a URL ends up in logs and histories. A ticket is a short random
string that stands for the caller's credential for a few seconds (`ROO_WS_TICKET_SECONDS`, 30),
for one session, and for one use: redeeming it deletes it (an atomic GETDEL on Redis), so a
ticket seen in a log is already spent.

What the ticket stores is a reference to the credential (`CredentialRef`: the access token's
claims, or the API key's digest), never the credential itself, and it is kept under a digest of
the ticket, so the store holds nothing that authenticates by itself. When it is redeemed, the
credential is checked again (`IdentityResolver.recheck`): a logout, a revocation or a role change
between issue and use refuses it. The store is the service's cache (`roo.kit.cache`): Redis with
`REDIS_URL`, so a ticket issued by one process is redeemed by any other; process memory without.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request

from roo.api.deps import get_resources
from roo.auth.deps import Authorize
from roo.auth.exceptions import InvalidCredential
from roo.auth.identity import AuthenticationFailed, CredentialRef, Principal
from roo.auth.permissions import Permission
from roo.kit.cache import Cache
from roo.kit.logs import get_logger

log = get_logger("roo.auth")

TICKET_BYTES = 32  # 256 bits of randomness, URL-safe text of 43 characters
MAX_TICKET_LENGTH = 128  # anything longer is not one of ours: refused before any lookup
TICKET_PATTERN = r"^[A-Za-z0-9_-]+$"  # what `secrets.token_urlsafe` writes


@dataclass(frozen=True, slots=True)
class Ticket:
    ticket: str
    expires_in: float


def _key(ticket: str) -> str:
    return "ws-ticket:" + hashlib.sha256(ticket.encode()).hexdigest()


class TicketStore:
    def __init__(self, cache: Cache, ttl_seconds: float) -> None:
        self._cache = cache
        self.ttl_seconds = ttl_seconds

    async def issue(self, ref: CredentialRef, user_id: uuid.UUID, session_id: uuid.UUID) -> Ticket:
        """A ticket for `session_id`, standing for the credential `ref` of `user_id`."""
        ticket = secrets.token_urlsafe(TICKET_BYTES)
        body = {"ref": ref.dump(), "user": str(user_id), "session": str(session_id)}
        await self._cache.set(_key(ticket), json.dumps(body).encode(), self.ttl_seconds)
        return Ticket(ticket, self.ttl_seconds)

    async def redeem(self, ticket: str, session_id: uuid.UUID) -> CredentialRef | None:
        """The credential a ticket stands for, once; None for an unknown, expired or used
        ticket, or one issued for another session (spent all the same)."""
        if not ticket or len(ticket) > MAX_TICKET_LENGTH:
            return None
        raw = await self._cache.pop(_key(ticket))
        if raw is None:
            return None
        try:
            body = json.loads(raw)
            if body["session"] != str(session_id):
                return None
            ref = CredentialRef.load(body["ref"])
        except (ValueError, KeyError, TypeError):
            return None
        user = ref.claims.user_id if ref.claims is not None else None
        if user is not None and str(user) != body.get("user"):
            return None
        return ref


class TicketOrCredential(Authorize):
    """`Authorize` that also takes a ticket as `?ticket=` (for `EventSource`, which cannot send
    headers), redeemed for the session of the route's `session_id`."""

    async def _resolve(self, request: Request) -> Principal:
        ticket = request.query_params.get("ticket")
        if ticket is None:
            return await super()._resolve(request)
        resources = get_resources(request)
        try:
            session_id = uuid.UUID(str(request.path_params.get("session_id")))
        except ValueError:
            raise InvalidCredential() from None
        ref = await resources.tickets.redeem(ticket, session_id)
        if ref is None:
            log.info("auth.rejected", reason="unknown, expired or used ticket")
            raise InvalidCredential()
        try:
            return await resources.auth.resolver.recheck(ref)
        except AuthenticationFailed as failure:
            log.info("auth.rejected", reason=failure.reason)
            raise InvalidCredential() from None


def ticket_or_credential(permission: Permission) -> Any:
    """`Annotated[Principal, ticket_or_credential(Permission.X)]`, as `require` with a ticket."""
    return Depends(TicketOrCredential(permission))
