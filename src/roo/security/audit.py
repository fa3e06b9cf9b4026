"""Recording security-relevant actions in the audit trail (table `audit_events`).

`record` writes a row in the caller's unit of work, so an action and its audit row commit
together (or not at all). A row that must outlive a refused request (a failed sign-in is audited,
then the 401 rolls the request's unit of work back) is written by an `AuditWriter`, in a short
unit of work of its own.

Either way the row is inserted unsealed, with no lock taken: `roo.security.audit_chain` seals
it into the hash chain moments later, outside the request.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.db.engine import uninterrupted, unit_of_work
from roo.db.models import AuditEvent
from roo.kit.logs import get_logger
from roo.kit.request_context import current_request_id

log = get_logger("roo.audit")


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from, for audit rows and throttling."""

    ip: str
    user_agent: str | None = None


async def record(
    db: AsyncSession,
    action: str,
    *,
    actor_id: uuid.UUID | None = None,
    target: str | None = None,
    outcome: str = "success",
    client: ClientInfo | None = None,
    **detail: Any,
) -> AuditEvent:
    event = AuditEvent(
        action=action,
        actor_id=actor_id,
        target=target,
        outcome=outcome,
        ip=client.ip if client else None,
        user_agent=(client.user_agent or "")[:300] if client and client.user_agent else None,
        request_id=current_request_id(),
        detail=detail,
        session_id=session_of(target, detail),
    )
    db.add(event)
    log.info(
        "audit",
        action=action,
        actor_id=str(actor_id) if actor_id else None,
        target=target,
        outcome=outcome,
        **detail,
    )
    return event


def session_of(target: str | None, detail: dict[str, Any]) -> uuid.UUID | None:
    """The session an action concerns: its target (`session:<id>`) or the detail's
    `session_id` (task rows), for the read routes' filter."""
    named = detail.get("session_id")
    if named is None and target is not None and target.startswith("session:"):
        named = target.removeprefix("session:")
    if named is None:
        return None
    try:
        return named if isinstance(named, uuid.UUID) else uuid.UUID(str(named))
    except ValueError:
        return None


class AuditWriter:
    """Audit rows that survive the request that writes them, each in a short unit of work of its
    own, committed before the call returns (and even when the caller is cancelled meanwhile).

        await audit.write("auth.login", outcome="failure", client=client, reason="...")
        raise InvalidLogin()  # rolls the request's unit of work back; the row stays

        async with audit.unit() as own:  # more that must survive along with its row
            await revoke(own, ...)
            await record(own, "auth.refresh_reuse", ...)

    The caller must hold no database connection meanwhile (end its unit of work's transaction
    first: e.g. `db.rollback()` when the request is about to be refused anyway): the writer takes
    a connection of its own, and on SQLite the database's one write turn, which a caller that
    has written would hold until its own unit of work ends.
    """

    def __init__(self, db_sessions: async_sessionmaker[AsyncSession]) -> None:
        self._db_sessions = db_sessions

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[AsyncSession]:
        """A unit of work of its own: committed when the block ends, rolled back on error."""
        async with unit_of_work(self._db_sessions) as db:
            yield db

    async def write(
        self,
        action: str,
        *,
        actor_id: uuid.UUID | None = None,
        target: str | None = None,
        outcome: str = "success",
        client: ClientInfo | None = None,
        **detail: Any,
    ) -> None:
        """Write one row (the arguments of `record`) and commit it."""

        async def write() -> None:
            async with self.unit() as db:
                await record(
                    db,
                    action,
                    actor_id=actor_id,
                    target=target,
                    outcome=outcome,
                    client=client,
                    **detail,
                )

        await uninterrupted(write())
