"""Recording security-relevant actions in the audit trail (table `audit_events`).

`record` writes a row in the caller's unit of work, so an action and its audit row commit
together (or not at all). A row that must outlive a refused request (a failed sign-in is audited,
then the 401 rolls the request's unit of work back), or that follows work done with no
connection held (a tool or command run), is written by an `AuditWriter`, in a short unit of work
of its own that rows written at the same moment share (a group commit).

Either way the row is inserted unsealed, with no lock taken: `roo.security.audit_chain` seals
it into the hash chain moments later, outside the request.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.db.engine import uninterrupted, unit_of_work
from roo.db.models import AuditEvent
from roo.db.types import new_id, utcnow
from roo.db.write_gate import DatabaseBusy, SQLiteWriteGate, background_wait
from roo.kit.logs import REDACTED, BatchedLogger, redact_text
from roo.kit.request_context import current_credential, current_request_id
from roo.observability.metrics import AUDIT_WRITE

# each row is logged as it is made, with the access lines of its loop iteration (the row is
# in the database before its request answers)
log = BatchedLogger("roo.audit")

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
# Failures that are the database's or the pool's, not a row's: a batch that meets one fails whole
# (trying its rows one by one would only wait again); any other failure is retried row by row,
# so that a row that cannot be written costs no other writer its own.
_NOT_THE_ROWS = (DatabaseBusy, PoolTimeout, OperationalError, InterfaceError, OSError)


class _Batch:
    """The rows of one sessionmaker, event loop and connection patience waiting for their
    INSERT, and the flush under way (`AuditWriter.write`)."""

    def __init__(self, db_sessions: async_sessionmaker[AsyncSession]) -> None:
        self.db_sessions = db_sessions
        self.rows: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self.flush: asyncio.Task[None] | None = None

    def add(self, row: dict[str, Any]) -> asyncio.Future[None]:
        done = asyncio.get_running_loop().create_future()
        self.rows.append((row, done))
        if self.flush is None:
            # a task of its own: it runs to its end whoever of the writers is cancelled, with
            # the context (connection patience) of the writer that started it, which is that
            # of every writer of this batch
            self.flush = asyncio.create_task(self._flush_all(), name="roo.audit.flush")
            self.flush.add_done_callback(self._ended)
        return done

    async def _flush_all(self) -> None:
        taken: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        try:
            while self.rows:
                taken, self.rows = self.rows, []
                await self._insert(taken)
        except BaseException:
            for _, done in taken:  # cancelled itself (the loop is closing)
                done.cancel()
            raise
        finally:
            if self.flush is asyncio.current_task():
                self.flush = None  # a row added from now on starts the next flush

    def _ended(self, task: asyncio.Task[None]) -> None:
        """A flush cancelled, even before it ran: no writer is left waiting for ever."""
        if self.flush is task:
            self.flush = None
        if task.cancelled() and self.flush is None:
            waiting, self.rows = self.rows, []
            for _, done in waiting:
                done.cancel()

    async def _insert(self, taken: list[tuple[dict[str, Any], asyncio.Future[None]]]) -> None:
        try:
            async with unit_of_work(self.db_sessions, writes=True) as db:
                rows = [row for row, _ in taken]
                # On the session's connection: a Core INSERT. Through the session itself an
                # INSERT of a mapped table is the ORM's bulk INSERT (the mapper, a result set
                # up for objects), work this statement does not need; what it saves is below
                # what bench/security_overhead.py can resolve (bench/README.md). One row: a
                # plain execute (an executemany of one costs more).
                connection = await db.connection()
                await connection.execute(_INSERT, rows[0] if len(rows) == 1 else rows)
        except Exception as exc:
            if len(taken) > 1 and not isinstance(exc, _NOT_THE_ROWS):
                for one in taken:
                    await self._insert([one])
                return
            for _, done in taken:
                if not done.done():
                    done.set_exception(exc)
            return
        for _, done in taken:
            if not done.done():
                done.set_result(None)


# sessionmaker -> (event loop, patience) -> its batch
_batches: weakref.WeakKeyDictionary[
    async_sessionmaker[AsyncSession],
    dict[tuple[asyncio.AbstractEventLoop, float], _Batch],
] = weakref.WeakKeyDictionary()


class AuditWriter:
    """Audit rows that survive the request that writes them, in a unit of work of their own,
    committed before the call returns (and even when the caller is cancelled meanwhile).

        await audit.write("auth.login", outcome="failure", client=client, reason="...")
        raise InvalidLogin()  # rolls the request's unit of work back; the row stays

        async with audit.unit() as own:  # more that must survive along with its row
            await revoke(own, ...)
            await record(own, "auth.refresh_reuse", ...)

    Rows written at the same time share their unit of work (a group commit): the first
    writer's row is inserted at once, and the rows that arrive while that INSERT and its commit
    are under way go together in the next one, each writer returning once its own row is
    committed. Under concurrency that is one transaction for many rows (on SQLite, one write
    turn); alone, a row costs what it did on its own. Writers of every `AuditWriter` of one
    sessionmaker share the batches; background work (`background_work`), which waits longer for
    a connection, has batches of its own.

    The caller must hold no database connection meanwhile (end its unit of work's transaction
    first: e.g. `db.rollback()` when the request is about to be refused anyway): the row is
    written on a connection of its own, and on SQLite in the database's one write turn, which a
    caller that has written would hold until its own unit of work ends (`DatabaseBusy` at once
    then, as for a unit of work of the caller's own).
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
        """Write one row (the arguments of `record`); return once it is committed."""
        gate = SQLiteWriteGate.of(self._db_sessions.kw.get("bind"))
        if gate is not None and gate.held_by_current_task():
            raise DatabaseBusy("an audit row waits for the write turn its own task holds")
        row = _row(action, actor_id, target, outcome, client, None, detail)
        # its id here, not at the INSERT: a row retried alone is still the same row
        row["id"] = new_id()
        row["at"] = utcnow()
        started = time.perf_counter()
        # the row is committed (or fails) first; a cancellation reaches the caller then
        await uninterrupted(self._batch().add(row))
        AUDIT_WRITE.labels("row").observe(time.perf_counter() - started)

    def _batch(self) -> _Batch:
        key = (asyncio.get_running_loop(), background_wait.get())
        batches = _batches.setdefault(self._db_sessions, {})
        batch = batches.get(key)
        if batch is None:
            for stale in [k for k in batches if k[0].is_closed()]:
                del batches[stale]  # a closed loop's (tests run many)
            batch = batches[key] = _Batch(self._db_sessions)
        return batch


async def drain_writes(db_sessions: async_sessionmaker[AsyncSession]) -> None:
    """Wait for every flush of `db_sessions`' audit rows under way in this event loop (a clean
    shutdown: each writer waits for its own row, even cancelled, so this finds at most the tail
    of one)."""
    loop = asyncio.get_running_loop()
    for (owner, _), batch in list(_batches.get(db_sessions, {}).items()):
        while owner is loop and batch.flush is not None:
            await asyncio.wait([batch.flush])
