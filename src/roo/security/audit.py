"""Recording security-relevant actions in the audit trail (table `audit_events`).

Rows are written in the caller's transaction, so an action and its audit row commit together.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

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
