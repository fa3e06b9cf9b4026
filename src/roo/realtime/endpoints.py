"""`/api/v1/sessions/{id}/ws-ticket` and the WebSocket `/api/v1/sessions/{id}/ws`: routes only
(the protocol is `roo.realtime.ws`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Request, WebSocket

from roo.api.deps import DbSession, get_resources
from roo.api.routing import api_router
from roo.auth.deps import request_credential, require
from roo.auth.exceptions import InvalidCredential
from roo.auth.identity import AuthenticationFailed, Principal
from roo.auth.permissions import Permission
from roo.kit.schema import ApiModel
from roo.realtime.ws import CLOSE_NOT_FOUND, Connection, Services

router = api_router("/sessions", tags=["realtime"])


class TicketOut(ApiModel):
    ticket: str
    expires_in: float


@router.post(
    "/{session_id}/ws-ticket",
    summary="A one-use ticket to open the session's WebSocket or event stream",
    description="Valid for `expiresIn` seconds, once, for this session, standing for the "
    "credential of this request: `GET /api/v1/sessions/{id}/ws?ticket=...` (or the event "
    "stream's `?ticket=`, for `EventSource`). See docs/realtime.md.",
    responses={404: {"description": "No such session of yours"}},
)
async def create_ws_ticket(
    request: Request,
    session_id: uuid.UUID,
    principal: Annotated[Principal, require(Permission.TASKS_READ)],
    db: DbSession,
) -> TicketOut:
    resources = get_resources(request)
    await resources.sessions_manager.get(db, principal, session_id)
    credential = request_credential(request)
    if credential is None:  # pragma: no cover - `require` refused it already
        raise InvalidCredential()
    try:
        _, ref = await resources.auth.resolver.resolve(credential)
    except AuthenticationFailed:  # revoked since `require` looked: a race, same answer
        raise InvalidCredential() from None
    ticket = await resources.tickets.issue(ref, principal.user_id, session_id)
    return TicketOut(ticket=ticket.ticket, expires_in=ticket.expires_in)


@router.websocket("/{session_id}/ws")
async def session_socket(websocket: WebSocket, session_id: str) -> None:
    """The session's events, live, and the task actions (docs/realtime.md). Authenticated in
    the protocol (a ticket, or a first `auth` message), not by a dependency: a browser cannot
    send headers with a WebSocket."""
    resources = websocket.app.state.resources
    services = Services(
        settings=resources.settings,
        db_sessions=resources.db_sessions,
        reads=resources.reads,
        resolver=resources.auth.resolver,
        tickets=resources.tickets,
        connections=resources.connections,
        bus=resources.bus,
        sessions=resources.sessions_manager,
        tasks=resources.tasks,
        budgets=resources.budgets,
        denials=getattr(websocket.app.state, "denials", None),
    )
    try:
        session = uuid.UUID(session_id)
    except ValueError:  # as REST's 404 for a session id that is not one
        await websocket.accept()
        await websocket.close(CLOSE_NOT_FOUND, "no such session")
        return
    await Connection(websocket, session, services).serve()
