"""Recording security-relevant actions in the audit trail (table `audit_events`).

`record` writes a row in the caller's unit of work, so an action and its audit row commit
together (or not at all). A row that must outlive a refused request (a failed sign-in is audited,
then the 401 rolls the request's unit of work back) is written by an `AuditWriter`, in a short
unit of work of its own.

Either way the row is inserted unsealed, with no lock taken: `roo.security.audit_chain` seals
it into the hash chain moments later, outside the request.
"""

from __future__ import annotations

import re
import shlex
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.db.engine import uninterrupted, unit_of_work
from roo.db.models import AuditEvent
from roo.kit.logs import REDACTED, get_logger, redact_text
from roo.kit.request_context import current_credential, current_request_id
from roo.observability.metrics import AUDIT_WRITE

log = get_logger("roo.audit")

# The command text of an audit row: at most this many characters, secrets redacted.
COMMAND_CHARS = 1000
_SECRET_WORD = r"[A-Za-z0-9_-]*(?:pass|pwd|secret|token|key|auth|credential|cookie)[A-Za-z0-9_-]*"  # noqa: S105 - a pattern
_VALUE = r"(?:\"[^\"]*\"|'[^']*'|[^\s;&|]+)"
_COMMAND_SECRETS = (
    # mysql -pSECRET
    (re.compile(r"(\bmysql(?:dump|admin)?\b[^;&|]*?\s-p)([^\s;&|]+)"), r"\1" + REDACTED),
    # FOO_TOKEN=..., export API_KEY='...', password=...
    (re.compile(rf"(?i)\b({_SECRET_WORD})=({_VALUE})"), r"\1=" + REDACTED),
    # --password x, --api-key=x, -token x
    (re.compile(rf"(?i)(\s--?{_SECRET_WORD})(=|\s+)({_VALUE})"), r"\1\2" + REDACTED),
    # curl -u user:password, --user user:password
    (re.compile(r"(\s(?:-u|--user)\s*)([^\s:]+):([^\s;&|]+)"), r"\1\2:" + REDACTED),
    # headers: Authorization: ..., X-Api-Key: ..., Private-Token: ...
    (
        re.compile(
            r"(?i)\b((?:proxy-)?authorization|x-api-key|api-key|private-token)\s*:\s*[^\"'\n]+"
        ),
        r"\1: " + REDACTED,
    ),
    # well-known token shapes: OpenAI/Anthropic, GitHub, Slack, AWS access keys, JWTs
    (
        re.compile(
            r"\b(?:sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|"
            r"xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,})"
        ),
        REDACTED,
    ),
)


def audit_command(command: str | Sequence[str]) -> str:
    """A command's text as an audit row keeps it: secrets the text shows redacted (credentials
    in URLs, bearer tokens, `NAME_TOKEN=...`, `--password ...`, `-u user:pass`, well-known key
    shapes), at most `COMMAND_CHARS` characters. What a script or a file holds is not seen."""
    text = command if isinstance(command, str) else shlex.join(command)
    text = redact_text(text)
    for pattern, replacement in _COMMAND_SECRETS:
        text = pattern.sub(replacement, text)
    if len(text) > COMMAND_CHARS:
        text = text[:COMMAND_CHARS] + f"... [{len(text) - COMMAND_CHARS} more characters]"
    return text


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
    credential: str | None = None,
    **detail: Any,
) -> AuditEvent:
    """`credential`: the API key's public prefix the action was done with; by default the
    current request's (None for an access token or outside a request)."""
    event = AuditEvent(**_row(action, actor_id, target, outcome, client, credential, detail))
    db.add(event)
    return event


def _row(
    action: str,
    actor_id: uuid.UUID | None,
    target: str | None,
    outcome: str,
    client: ClientInfo | None,
    credential: str | None,
    detail: dict[str, Any],
) -> dict[str, Any]:
    """An audit row's columns (its id and time are the columns' defaults), logged as it is
    made."""
    log.info(
        "audit",
        action=action,
        actor_id=str(actor_id) if actor_id else None,
        target=target,
        outcome=outcome,
        **detail,
    )
    return {
        "action": action,
        "actor_id": actor_id,
        "target": target,
        "outcome": outcome,
        "ip": client.ip if client else None,
        "user_agent": (client.user_agent or "")[:300] if client and client.user_agent else None,
        "request_id": current_request_id(),
        "credential": credential or current_credential(),
        "detail": detail,
        "session_id": session_of(target, detail),
    }


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


_INSERT = cast(Table, AuditEvent.__table__).insert()


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
        async with unit_of_work(self._db_sessions, writes=True) as db:
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

        row = _row(action, actor_id, target, outcome, client, None, detail)

        async def write() -> None:
            # A Core INSERT: no ORM object to build and flush for a row nothing reads back
            # (about half the CPU of `record` in a unit of work; bench/security_overhead.py)
            async with self.unit() as db:
                await db.execute(_INSERT, row)

        started = time.perf_counter()
        await uninterrupted(write())
        AUDIT_WRITE.labels("row").observe(time.perf_counter() - started)
