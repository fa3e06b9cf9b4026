"""The WebSocket of a session: `GET /api/v1/sessions/{id}/ws` (docs/realtime.md, "WebSocket").

One `Connection` per socket, in four steps:

1. **Admission**: past its address's `ws-attempts` budget a socket is closed with 4429 before
   anything else is done; an `Origin` outside `ALLOWED_ORIGINS` is closed with 4403; the
   credential comes from a one-use ticket (`?ticket=`) or a first message `{"type": "auth",
   "token"}` within `ROO_WS_AUTH_TIMEOUT_SECONDS` (4401 otherwise); `tasks:read` is required
   (4403); a session that is not the caller's is 4404, as REST's 404; past the per-user
   stream limit, 1008.
2. **Hello**: `{"type": "hello", "sessionId", "lastSeq", "state"}`: the session, its tasks that
   have not ended (with their pending approvals or questions), and `state.seq`, the session's
   last event when it was read.
3. **Events**: every event after `lastSeq`, then each one as it is committed, from the bus
   (`roo.realtime.bus`: no gap, no duplicate, replay and live joined by `seq`), exactly as REST
   returns them. Control messages (`hello`, `ack`, `error`, `pong`) carry `type` and no `seq`.
4. **Client messages**, handled in order, each answered by `ack` or `error` (the problem+json
   body REST would give) with the client's `id`: `approval.response`, `task.message`,
   `task.cancel` through the tasks service (the same permission, state rules and audit as
   `PUT`/`DELETE /tasks/{id}`), `ping`, and `auth` (a fresh credential for the same user).

Bounds: one send queue per socket (`ROO_WS_SEND_QUEUE` messages); a client that lets it stay
full for `slow_seconds` is closed with 4408 (it reconnects with `lastSeq`), never buffered
without bound. Messages beyond `ROO_WS_MESSAGES_PER_SECOND` (bursts of twice as many) get a 429
error each; a client that keeps flooding is closed with 1008. The credential is checked again
every `ROO_WS_RECHECK_SECONDS`, before every action, and when an access token expires: a
logout, a revocation or a role change closes the socket with 4401. The protocol's ping (every
`ROO_WS_PING_SECONDS`, by uvicorn: `websocket_options`) closes a dead connection; when the
service stops, uvicorn closes every socket with 1012, and a bus that stops closes with 1012 too.
Nothing here holds a database connection between messages: each action and read is a short unit
of work.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, StringConstraints, TypeAdapter, ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from roo.api.problems import problem_body
from roo.auth.identity import AuthenticationFailed, CredentialRef, IdentityResolver, Principal
from roo.auth.permissions import Permission
from roo.config import Settings
from roo.db.engine import DatabaseBusy, unit_of_work
from roo.db.reads import Reads
from roo.kit.errors import (
    AppError,
    Forbidden,
    MalformedBody,
    ServiceOverloaded,
    ServiceUnavailable,
    TooManyRequests,
    Unprocessable,
)
from roo.kit.inputs import NO_NUL, Seq
from roo.kit.logs import get_logger
from roo.kit.request_context import bind_credential
from roo.kit.schema import ApiInput
from roo.observability.metrics import RATE_LIMITED
from roo.realtime.bus import BusClosed, EventBus
from roo.realtime.connections import ConnectionCounter, TooManyConnections
from roo.realtime.sse import event_json
from roo.realtime.tickets import TicketStore
from roo.security.audit import ClientInfo
from roo.security.denials import DenialLog
from roo.security.session_limits import Budgets, Verdict
from roo.sessions.exceptions import SessionNotFound
from roo.sessions.service import SessionManager
from roo.tasks.events import SessionGone
from roo.tasks.schemas import TaskActionIn
from roo.tasks.service import TaskService

log = get_logger("roo.realtime")

# Close codes (docs/realtime.md)
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008  # flooding, too many connections
CLOSE_INTERNAL = 1011  # something failed on the server: reconnect later
CLOSE_RESTART = 1012  # the service stops: reconnect
CLOSE_BAD_REQUEST = 4400  # a malformed `lastSeq` in the URL
CLOSE_UNAUTHENTICATED = 4401  # bad, expired, used or revoked credential or ticket
CLOSE_FORBIDDEN = 4403  # missing permission, or an Origin not allowed
CLOSE_NOT_FOUND = 4404  # not your session (or it was deleted)
CLOSE_TOO_SLOW = 4408  # the client did not keep up: reconnect with lastSeq
CLOSE_RATE_LIMITED = 4429  # a connect or attempt budget is spent: reconnect after the reason's s

# Refusals counted in the audit's `security.denied` rows, as the HTTP status they stand for
DENIED_CLOSES = {
    CLOSE_UNAUTHENTICATED: 401,
    CLOSE_FORBIDDEN: 403,
    CLOSE_POLICY: 429,
    CLOSE_RATE_LIMITED: 429,
}
ROUTE = "/api/v1/sessions/{session_id}/ws"

MAX_MESSAGE_BYTES = 64 * 1024  # a client message larger than this is refused (and closes)
MAX_ID_LENGTH = 128
SLOW_SECONDS = 5.0  # a send queue full this long: the client is too slow
# A close frame waits behind what the client has not read yet; a client that reads nothing is
# cut off by the protocol's ping timeout long before this safety net.
CLOSE_WAIT_SECONDS = 60.0
BATCH = 64  # events already there are queued together


def websocket_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's WebSocket settings for `roo serve`: its sans-I/O `websockets` protocol, the
    protocol's ping every `ROO_WS_PING_SECONDS` (a pong later than that again closes the
    connection), client messages bounded, and compression only when `ROO_WS_COMPRESSION` asks
    (it doubles an idle connection's memory)."""
    return {
        "ws": "websockets-sansio",
        "ws_ping_interval": settings.ws_ping_seconds,
        "ws_ping_timeout": settings.ws_ping_seconds,
        "ws_max_size": MAX_MESSAGE_BYTES,
        "ws_per_message_deflate": settings.ws_compression,
    }


# -- client messages ------------------------------------------------------------------------------

Text = Annotated[str, StringConstraints(max_length=10000), NO_NUL]


class _Message(ApiInput):
    id: Annotated[str, StringConstraints(max_length=MAX_ID_LENGTH)] | int | None = None


class PingIn(_Message):
    type: Literal["ping"]


class AuthIn(_Message):
    type: Literal["auth"]
    token: Annotated[str, StringConstraints(min_length=1, max_length=8192)]
    last_seq: Seq | None = None


class ApprovalIn(_Message):
    type: Literal["approval.response"]
    task_id: uuid.UUID
    approval_id: uuid.UUID | None = None
    decision: Literal["approve", "approve_always", "deny"]
    feedback: Text | None = None


class TaskMessageIn(_Message):
    type: Literal["task.message"]
    task_id: uuid.UUID
    text: Annotated[Text, StringConstraints(min_length=1)]


class TaskCancelIn(_Message):
    type: Literal["task.cancel"]
    task_id: uuid.UUID


ClientMessage = Annotated[
    PingIn | AuthIn | ApprovalIn | TaskMessageIn | TaskCancelIn, Field(discriminator="type")
]
CLIENT_MESSAGE: TypeAdapter[PingIn | AuthIn | ApprovalIn | TaskMessageIn | TaskCancelIn] = (
    TypeAdapter(ClientMessage)
)


# -- the connection ----------------------------------------------------------------------------


_DEFAULT_PORTS = {"http": "80", "https": "443"}


def same_origin(origin: str, host: str | None) -> bool:
    """Whether a browser's `Origin` names the host the socket was opened on (the console served
    by this service at `/`): a page of another site carries its own origin, which a browser never
    lets it forge, and it cannot make the browser send another `Host`."""
    if not host:
        return False
    parts = urlsplit(origin)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return False

    def normal(netloc: str) -> str:
        netloc = netloc.lower()
        default = ":" + _DEFAULT_PORTS[parts.scheme]
        return netloc[: -len(default)] if netloc.endswith(default) else netloc

    return normal(parts.netloc) == normal(host)


class Closing(Exception):
    """End the connection with `code` (and `reason`)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


@dataclass(slots=True)
class Services:
    """What a connection uses, from the app's resources."""

    settings: Settings
    db_sessions: async_sessionmaker[AsyncSession]
    reads: Reads
    resolver: IdentityResolver
    tickets: TicketStore
    connections: ConnectionCounter
    bus: EventBus
    sessions: SessionManager
    tasks: TaskService
    # The WebSocket connect budget (roo.security.session_limits) and the refusals' audit
    # counts (roo.security.denials); None: neither
    budgets: Budgets | None = None
    denials: DenialLog | None = None


class _Bucket:
    """Client messages allowed: `rate` per second, bursts of twice as many."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = 2 * rate
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self.refused = 0  # refused since the last message allowed

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.refused = 0
            return True
        self.refused += 1
        return False


class Connection:
    def __init__(self, socket: WebSocket, session_id: uuid.UUID, services: Services) -> None:
        self.socket = socket
        self.session_id = session_id
        self.s = services
        settings = services.settings
        self.outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=settings.ws_send_queue)
        self.slow_seconds = SLOW_SECONDS
        self.ref: CredentialRef | None = None
        self.principal: Principal | None = None
        self.last_seq = 0
        self.client = ClientInfo(
            ip=socket.client.host if socket.client else "unknown",
            user_agent=socket.headers.get("user-agent"),
        )
        self.instance = socket.url.path
        self._bucket = _Bucket(settings.ws_messages_per_second)

    # -- the whole life of a connection -------------------------------------------------------

    async def serve(self) -> None:
        await self.socket.accept()
        try:
            await self._count_attempt()
            await self._admit_and_run()
        except Closing as closing:
            log.info("realtime.ws_closed", code=closing.code, reason=closing.reason)
            status = DENIED_CLOSES.get(closing.code)
            if status is not None:
                self._deny(status)
            await self._close(closing.code, closing.reason)
        except WebSocketDisconnect:
            pass
        except Exception as exc:  # the database away mid-replay, a bug: the client reconnects
            log.warning("realtime.ws_failed", error=f"{type(exc).__name__}: {exc}")
            await self._close(CLOSE_INTERNAL, "internal error: reconnect with lastSeq")

    async def _admit_and_run(self) -> None:
        origin = self.socket.headers.get("origin")
        allowed = self.s.settings.allowed_origins
        if (
            origin is not None
            and origin not in allowed
            and "*" not in allowed
            and not same_origin(origin, self.socket.headers.get("host"))
        ):
            raise Closing(CLOSE_FORBIDDEN, "origin not allowed")
        await self._authenticate()
        principal = self.principal
        assert principal is not None  # noqa: S101 - set by _authenticate
        if not principal.can(Permission.TASKS_READ):
            raise Closing(CLOSE_FORBIDDEN, "missing permission tasks:read")
        await self._count_connect(principal)
        try:
            with self.s.connections.hold(principal.user_id):
                # subscribed before the state is read: nothing committed meanwhile is missed
                async with self.s.bus.subscribe(self.session_id, self.last_seq) as events:
                    await self._send_now(await self._hello(principal))
                    await self._run(events)
        except TooManyConnections as exc:
            raise Closing(CLOSE_POLICY, str(exc)) from None
        except (SessionGone, SessionNotFound):
            raise Closing(CLOSE_NOT_FOUND, "no such session") from None
        except BusClosed:
            raise Closing(CLOSE_RESTART, "service restarting") from None

    async def _count_attempt(self) -> None:
        """The client address's `ws-attempts` budget, before any ticket or credential work:
        bad tickets and sockets that never authenticate cost an address its budget too."""
        if self.s.budgets is None:
            return
        _refuse_past(await self.s.budgets.attempt(self.client.ip))

    async def _count_connect(self, principal: Principal) -> None:
        """The caller's (user's, or API key's) `ws-connect` budget: 4429 past it, the reason
        saying when to come back."""
        if self.s.budgets is None:
            return
        caller = (
            f"key:{principal.api_key_id}"
            if principal.api_key_id is not None
            else f"user:{principal.user_id}"
        )
        _refuse_past(await self.s.budgets.connect(caller))

    def _deny(self, status: int) -> None:
        """Count a refusal for the audit trail, as HTTP refusals are (no I/O here)."""
        if self.s.denials is None:
            return
        principal = self.principal
        self.s.denials.add(
            (
                status,
                "WS",
                ROUTE,
                principal.user_id if principal else None,
                principal.api_key_id if principal else None,
                principal.key_prefix if principal else None,
                self.client.ip,
            ),
            self.client.user_agent,
        )

    async def _authenticate(self) -> None:
        params = self.socket.query_params
        raw_seq = params.get("lastSeq")
        if raw_seq is not None:
            try:
                self.last_seq = TypeAdapter(Seq).validate_python(int(raw_seq))
            except (ValueError, ValidationError):
                raise Closing(CLOSE_BAD_REQUEST, "lastSeq must be a seq (0 to 2^53-1)") from None
        ticket = params.get("ticket")
        if ticket is not None:
            ref = await self.s.tickets.redeem(ticket, self.session_id)
            if ref is None:
                raise Closing(CLOSE_UNAUTHENTICATED, "unknown, expired or used ticket")
            await self._adopt(ref)
            return
        try:
            raw = await asyncio.wait_for(
                self.socket.receive_text(), self.s.settings.ws_auth_timeout_seconds
            )
        except TimeoutError:
            raise Closing(CLOSE_UNAUTHENTICATED, "no credential in time") from None
        try:
            message = CLIENT_MESSAGE.validate_json(raw)
        except ValidationError:
            message = None
        if not isinstance(message, AuthIn):
            raise Closing(CLOSE_UNAUTHENTICATED, 'the first message must be {"type": "auth"}')
        if message.last_seq is not None:
            self.last_seq = message.last_seq
        await self._adopt_token(message.token)

    async def _adopt_token(self, token: str) -> None:
        try:
            principal, ref = await self.s.resolver.resolve(token)
        except AuthenticationFailed as failure:
            log.info("auth.rejected", reason=failure.reason, via="websocket")
            raise Closing(CLOSE_UNAUTHENTICATED, "invalid credential") from None
        if self.principal is not None and principal.user_id != self.principal.user_id:
            raise Closing(CLOSE_UNAUTHENTICATED, "the credential is another user's")
        self.ref, self.principal = ref, principal
        bind_credential(principal.key_prefix)  # the credential field of the actions' audit rows

    async def _adopt(self, ref: CredentialRef) -> None:
        self.ref = ref
        await self._recheck()

    async def _recheck(self) -> Principal:
        """The credential checked again now (a cache lookup, as for a request)."""
        assert self.ref is not None  # noqa: S101
        try:
            self.principal = await self.s.resolver.recheck(self.ref)
        except AuthenticationFailed as failure:
            log.info("auth.rejected", reason=failure.reason, via="websocket")
            raise Closing(CLOSE_UNAUTHENTICATED, "credential expired or revoked") from None
        bind_credential(self.principal.key_prefix)
        return self.principal

    async def _hello(self, principal: Principal) -> str:
        async with unit_of_work(self.s.db_sessions) as db:
            session = await self.s.sessions.get(db, principal, self.session_id)
            tasks = await self.s.tasks.unfinished(db, self.session_id)
            out = self.s.sessions.out(session)
            seq = session.event_seq
        state = {
            "seq": seq,
            "session": out.model_dump(mode="json"),
            "tasks": [t.model_dump(mode="json") for t in tasks],
        }
        return _dumps(
            {
                "type": "hello",
                "sessionId": str(self.session_id),
                "lastSeq": self.last_seq,
                "state": state,
            }
        )

    async def _run(self, events: Any) -> None:
        """Until one of the four ends: the writer, the events, the client, the credential."""
        jobs = [
            asyncio.create_task(self._writer(), name="ws-writer"),
            asyncio.create_task(self._pump(events), name="ws-events"),
            asyncio.create_task(self._reader(), name="ws-reader"),
            asyncio.create_task(self._guard(), name="ws-credential"),
        ]
        try:
            done, _ = await asyncio.wait(jobs, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for job in jobs:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
        for job in done:
            job.result()  # Closing, WebSocketDisconnect, SessionGone, BusClosed: raised here

    # -- sending -------------------------------------------------------------------------------

    async def _send_now(self, text: str) -> None:
        await self.socket.send_text(text)

    async def _queue(self, text: str) -> None:
        """Queue a message; a queue that stays full for `slow_seconds` closes with 4408."""
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            try:
                await asyncio.wait_for(self.outbox.put(text), self.slow_seconds)
            except TimeoutError:
                raise Closing(CLOSE_TOO_SLOW, "too slow: reconnect with lastSeq") from None

    async def _writer(self) -> None:
        while True:
            text = await self.outbox.get()
            await self.socket.send_text(text)

    async def _pump(self, events: Any) -> None:
        while True:
            event = await events.get()
            await self._queue(event_json(event))
            self.last_seq = event.seq

    # -- the credential -----------------------------------------------------------------------

    async def _guard(self) -> None:
        every = self.s.settings.ws_recheck_seconds
        while True:
            assert self.ref is not None  # noqa: S101
            wait = every
            expires = self.ref.expires_at
            if expires is not None:
                wait = min(wait, max(expires - time.time(), 0.0))
            await asyncio.sleep(wait)
            await self._recheck()

    # -- receiving ----------------------------------------------------------------------------

    async def _reader(self) -> None:
        while True:
            message = await self.socket.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", CLOSE_NORMAL))
            raw = message.get("text")
            if raw is None:
                raw_bytes = message.get("bytes") or b""
                try:
                    raw = raw_bytes.decode()
                except UnicodeDecodeError:
                    raw = ""
            reply = await self._handle(raw)
            if reply is not None:
                await self._queue(reply)

    async def _handle(self, raw: str) -> str | None:
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = _NOT_JSON
        message_id = _message_id(value)
        if not self._bucket.take():
            if self._bucket.refused > self._bucket.rate:
                raise Closing(CLOSE_POLICY, "too many messages")
            RATE_LIMITED.labels("ws-messages").inc()
            self._deny(429)
            return self._error(message_id, TooManyRequests("Too many messages: slow down"))
        if value is _NOT_JSON:
            return self._error(None, MalformedBody("The message is not valid JSON"))
        try:
            message = CLIENT_MESSAGE.validate_python(value)
        except ValidationError as exc:
            return self._invalid(message_id, exc)
        try:
            if isinstance(message, PingIn):
                return _dumps({"type": "pong", "id": message.id})
            if isinstance(message, AuthIn):
                await self._adopt_token(message.token)
                return self._ack(message.id)
            return await self._act(message)
        except Closing:
            raise
        except AppError as exc:
            return self._error(message.id, exc)
        except (DatabaseBusy, PoolTimeout):
            return self._error(message.id, ServiceOverloaded())
        except (OperationalError, InterfaceError, ConnectionError) as exc:
            log.error("backend.unavailable", error=type(exc).__name__, path=self.instance)
            return self._error(
                message.id,
                ServiceUnavailable("A backend of the service is unavailable; try again shortly"),
            )
        except Exception:
            log.exception("realtime.ws_message_failed", type=message.type)
            return self._error(message.id, AppError("The message could not be handled"))

    async def _act(self, message: ApprovalIn | TaskMessageIn | TaskCancelIn) -> str:
        principal = await self._recheck()  # a revoked credential acts no more
        if not principal.can(Permission.TASKS_WRITE):
            raise Forbidden("Missing permission: tasks:write")
        tasks = self.s.tasks
        if isinstance(message, TaskCancelIn):
            out = await tasks.cancel(
                self.s.reads, principal, self.session_id, message.task_id, self.client
            )
            return self._ack(message.id, out.model_dump(mode="json"))
        if isinstance(message, ApprovalIn):
            body = TaskActionIn(
                action=message.decision,
                approval_id=message.approval_id,
                feedback=message.feedback,
            )
        else:
            body = TaskActionIn(action="message", text=message.text)
        async with unit_of_work(self.s.db_sessions) as db:
            task = await tasks.act(
                db, principal, self.session_id, message.task_id, body, self.client
            )
            out = await tasks.out(db, task)
        return self._ack(message.id, out.model_dump(mode="json"))

    # -- replies ------------------------------------------------------------------------------

    def _ack(self, message_id: str | int | None, task: dict[str, Any] | None = None) -> str:
        reply: dict[str, Any] = {"type": "ack", "id": message_id}
        if task is not None:
            reply["task"] = task
        return _dumps(reply)

    def _error(self, message_id: str | int | None, exc: AppError) -> str:
        problem = problem_body(
            exc.status,
            slug=exc.slug,
            title=exc.title,
            detail=exc.detail,
            instance=self.instance,
            **exc.extensions,
        )
        return _dumps({"type": "error", "id": message_id, "problem": problem})

    def _invalid(self, message_id: str | int | None, exc: ValidationError) -> str:
        errors = exc.errors(include_url=False, include_input=False)
        fields = [
            {
                "field": ".".join(str(part) for part in e.get("loc", ())) or "message",
                "message": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in errors
        ]
        invalid = Unprocessable("Not a valid message (docs/realtime.md)", errors=fields)
        return self._error(message_id, invalid)

    # -- closing ------------------------------------------------------------------------------

    async def _close(self, code: int, reason: str) -> None:
        if self.socket.application_state == WebSocketState.DISCONNECTED:
            return
        if self.socket.client_state == WebSocketState.DISCONNECTED:
            return
        while not self.outbox.empty():  # never sent now: memory back at once
            self.outbox.get_nowait()
        # sent once the client has read what is ahead of it (a slow client sees every message
        # it was sent, then the close); one that reads nothing is cut off by the ping timeout
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.socket.close(code, reason), CLOSE_WAIT_SECONDS)


def _refuse_past(verdict: Verdict | None) -> None:
    """4429 for a budget spent, the reason saying which and when to come back."""
    if verdict is not None and not verdict.allowed:
        raise Closing(
            CLOSE_RATE_LIMITED,
            f"rate limited ({verdict.policy.name}): retry in {verdict.retry_after} s",
        )


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_NOT_JSON = object()  # a message that did not parse


def _message_id(value: Any) -> str | int | None:
    """The client's `id` (an error echoes it too, the message valid or not)."""
    found = value.get("id") if isinstance(value, dict) else None
    if isinstance(found, bool):
        return None
    if isinstance(found, int) or (isinstance(found, str) and len(found) <= MAX_ID_LENGTH):
        return found
    return None
