"""Audit rows for refused requests (401, 403, 429), counted in memory and written in batches.

A refusal is what a flood is made of: one database write per refused request would let anyone
turn a flood of bad tokens into a flood of INSERTs, the rate limiter's 429s included. So
`DenialAuditMiddleware` only counts a refusal (no I/O on the request's path) in a `DenialLog`
under its key (status, method, route, actor, address); the audit sealer's loop writes what was
counted as one `security.denied` row per key with its `count` and first and last time, just
before it seals (every `ROO_AUDIT_SEAL_INTERVAL` seconds, and at a clean shutdown). Keys are
bounded (`max_keys` per round): refusals past them are counted in one `security.denied` row
with target `overflow`. A crash loses at most one round of counts.

Sign-in failures are not counted here: `roo.auth` audits each one itself (`auth.login`).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roo.api.middleware import route_template
from roo.auth.deps import PRINCIPAL_SCOPE_KEY
from roo.auth.identity import Principal
from roo.db.models import AuditEvent
from roo.db.types import utcnow
from roo.kit.logs import get_logger
from roo.kit.request_context import current_request_id
from roo.observability.metrics import AUDIT_WRITE

log = get_logger("roo.audit")

DENIED_STATUSES = frozenset({401, 403, 429})
# Audited by their route, one row per attempt (roo.auth.service)
SELF_AUDITED = frozenset({("POST", "/api/v1/auth/login")})
MAX_KEYS = 200
PATH_CHARS = 120

events: Table = AuditEvent.__table__  # type: ignore[assignment]

# (status, method, route or path, actor id, api key id, api key prefix, address)
Key = tuple[int, str, str, uuid.UUID | None, uuid.UUID | None, str | None, str | None]


@dataclass(slots=True)
class _Count:
    count: int
    first_at: datetime
    last_at: datetime
    request_id: str | None
    user_agent: str | None = field(default=None)


class DenialLog:
    """Refusals counted since the last `flush`, at most `max_keys` keys of them."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.max_keys = max_keys
        self._counts: dict[Key, _Count] = {}
        self._overflow = 0

    def add(self, key: Key, user_agent: str | None) -> None:
        now = utcnow()
        seen = self._counts.get(key)
        if seen is not None:
            seen.count += 1
            seen.last_at = now
        elif len(self._counts) < self.max_keys:
            agent = user_agent[:300] if user_agent else None
            self._counts[key] = _Count(1, now, now, current_request_id(), agent)
        else:
            self._overflow += 1

    def _rows(self, counts: dict[Key, _Count], overflow: int) -> list[dict[str, Any]]:
        rows = []
        for (status, method, route, actor, key_id, prefix, ip), seen in counts.items():
            detail: dict[str, Any] = {
                "status": status,
                "count": seen.count,
                "first_at": seen.first_at.isoformat(),
                "last_at": seen.last_at.isoformat(),
            }
            if key_id is not None:
                detail["api_key_id"] = str(key_id)
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "at": seen.first_at,
                    "action": "security.denied",
                    "actor_id": actor,
                    "target": f"route:{method} {route}"[:200],
                    "outcome": "denied",
                    "ip": ip,
                    "user_agent": seen.user_agent,
                    "request_id": seen.request_id,
                    "credential": prefix,
                    "detail": detail,
                }
            )
        if overflow:
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "at": utcnow(),
                    "action": "security.denied",
                    "actor_id": None,
                    "target": "overflow",
                    "outcome": "denied",
                    "ip": None,
                    "user_agent": None,
                    "request_id": None,
                    "credential": None,
                    "detail": {"count": overflow, "keys_per_round": self.max_keys},
                }
            )
        return rows

    async def flush(self, engine: AsyncEngine) -> int:
        """Write what was counted (one transaction); on failure it is counted again next
        round. How many rows were written."""
        counts, overflow = self._counts, self._overflow
        if not counts and not overflow:
            return 0
        self._counts, self._overflow = {}, 0
        rows = self._rows(counts, overflow)
        started = time.perf_counter()
        try:
            async with engine.begin() as conn:
                await conn.execute(events.insert(), rows)
        except BaseException:
            self._merge(counts, overflow)
            raise
        AUDIT_WRITE.labels("denials").observe(time.perf_counter() - started)
        return len(rows)

    def _merge(self, counts: dict[Key, _Count], overflow: int) -> None:
        for key, seen in counts.items():
            now = self._counts.get(key)
            if now is None:
                self._counts[key] = seen  # may pass max_keys by one round's worth, once
            else:
                now.count += seen.count
                now.first_at = seen.first_at
        self._overflow += overflow


class DenialAuditMiddleware:
    """Counts every 401, 403 and 429 answer in a `DenialLog` (module docstring). Sits outside
    the rate limiter so that its 429s are seen."""

    def __init__(self, app: ASGIApp, denials: DenialLog) -> None:
        self.app = app
        self.denials = denials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in DENIED_STATUSES:
                self._count(scope, message["status"])
            await send(message)

        await self.app(scope, receive, watch)

    def _count(self, scope: Scope, status: int) -> None:
        method: str = scope["method"]
        route = route_template(scope) or scope["path"][:PATH_CHARS]
        if (method, route) in SELF_AUDITED and status == 401:
            return
        principal: Principal | None = scope.get(PRINCIPAL_SCOPE_KEY)
        client = scope.get("client")
        agent = None
        for name, value in scope["headers"]:
            if name == b"user-agent":
                agent = value.decode("latin-1")
                break
        self.denials.add(
            (
                status,
                method,
                route,
                principal.user_id if principal else None,
                principal.api_key_id if principal else None,
                principal.key_prefix if principal else None,
                client[0] if client else None,
            ),
            agent,
        )
