"""Audit queries: a filtered page of rows, newest first."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select

from roo.db.models import AuditEvent
from roo.db.reads import Reads

events: Table = AuditEvent.__table__  # type: ignore[assignment]

COLUMNS = [
    events.c[name]
    for name in (
        "id",
        "at",
        "action",
        "actor_id",
        "target",
        "outcome",
        "session_id",
        "ip",
        "credential",
        "user_agent",
        "request_id",
        "detail",
        "chain_seq",
        "hash",
    )
]


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Each given field narrows the rows; `actor` is forced to the caller on `/auth/audit`."""

    actor: uuid.UUID | None = None
    action: str | None = None
    outcome: str | None = None
    target: str | None = None
    session: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[Any]:
        c = events.c
        found: list[Any] = []
        if self.actor is not None:
            found.append(c.actor_id == self.actor)
        if self.action is not None:
            found.append(c.action == self.action)
        if self.outcome is not None:
            found.append(c.outcome == self.outcome)
        if self.target is not None:
            found.append(c.target == self.target)
        if self.session is not None:
            found.append(c.session_id == self.session)
        if self.since is not None:
            found.append(c.at >= self.since)
        if self.until is not None:
            found.append(c.at < self.until)
        return found


async def page(
    reads: Reads, where: AuditFilter, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A page of rows, newest first, and how many match in all."""
    conditions = where.conditions()
    rows = await reads.dicts(
        select(*COLUMNS)
        .where(*conditions)
        .order_by(events.c.at.desc(), events.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    counted = await reads.first(
        select(func.count().label("n")).select_from(events).where(*conditions)
    )
    return rows, int(counted["n"]) if counted else 0
