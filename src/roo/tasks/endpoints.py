"""`/api/v1/sessions/{id}/tasks` and `/api/v1/sessions/{id}/events`: routes only."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request, status
from starlette.responses import Response

from roo.api.deps import DbSession, get_resources
from roo.api.routing import api_router
from roo.auth.deps import Client, require
from roo.auth.identity import Principal
from roo.auth.permissions import Permission
from roo.kit.errors import TooManyRequests
from roo.kit.inputs import Offset, PageLimit, Seq
from roo.kit.schema import Page
from roo.realtime.sse import event_stream, wants_event_stream
from roo.realtime.tickets import MAX_TICKET_LENGTH, TICKET_PATTERN, ticket_or_credential
from roo.tasks.schemas import (
    EventOut,
    EventsPage,
    TaskActionIn,
    TaskCreateIn,
    TaskDetailOut,
    TaskOut,
    TaskState,
)
from roo.tasks.service import TaskService

router = api_router("/sessions", tags=["tasks"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such session of yours, or no such task in it"}
}


async def get_service(request: Request) -> TaskService:
    return get_resources(request).tasks


Service = Annotated[TaskService, Depends(get_service)]
Reader = Annotated[Principal, require(Permission.TASKS_READ)]
Writer = Annotated[Principal, require(Permission.TASKS_WRITE)]


@router.post(
    "/{session_id}/tasks",
    summary="Start a task: the agent runs it in the background",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **NOT_FOUND,
        409: {
            "description": "The session is busy (maxConcurrentTasks) or archived, or its "
            "workspace is busy (a checkpoint restore or an archive import under way)"
        },
        422: {"description": "Invalid input, or no provider/model configured"},
        429: {"description": "Too many tasks created (per user)"},
    },
)
async def create_task(
    session_id: uuid.UUID,
    body: TaskCreateIn,
    principal: Writer,
    db: DbSession,
    service: Service,
    client: Client,
) -> TaskOut:
    task = await service.create(db, principal, session_id, body, client)
    return service.created_out(task)


@router.get("/{session_id}/tasks", summary="The session's tasks, newest first", responses=NOT_FOUND)
async def list_tasks(
    session_id: uuid.UUID,
    principal: Reader,
    db: DbSession,
    service: Service,
    state: TaskState | None = None,
    limit: PageLimit = 50,
    offset: Offset = 0,
) -> Page[TaskOut]:
    items, total = await service.list(
        db, principal, session_id, state=state, limit=limit, offset=offset
    )
    return Page[TaskOut](items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/{session_id}/tasks/{task_id}",
    summary="One task with its conversation",
    responses=NOT_FOUND,
)
async def get_task(
    request: Request,
    session_id: uuid.UUID,
    task_id: uuid.UUID,
    principal: Reader,
    service: Service,
) -> TaskDetailOut:
    return await service.detail(get_resources(request).reads, principal, session_id, task_id)


@router.put(
    "/{session_id}/tasks/{task_id}",
    summary="Act on a task: approve, deny, answer, message, resume or condense",
    responses={
        **NOT_FOUND,
        409: {
            "description": "The action does not fit the task's state, or (resume, message) "
            "the workspace is busy: a checkpoint restore or an archive import under way"
        },
    },
)
async def act_on_task(
    session_id: uuid.UUID,
    task_id: uuid.UUID,
    body: TaskActionIn,
    principal: Writer,
    db: DbSession,
    service: Service,
    client: Client,
) -> TaskOut:
    task = await service.act(db, principal, session_id, task_id, body, client)
    return await service.out(db, task)


@router.delete(
    "/{session_id}/tasks/{task_id}",
    summary="Cancel an active task (200 with it), or delete a finished one (204)",
    responses={
        **NOT_FOUND,
        200: {"description": "The task was cancelled"},
        204: {"description": "The finished task was deleted"},
    },
    response_model=None,
)
async def cancel_or_delete_task(
    request: Request,
    session_id: uuid.UUID,
    task_id: uuid.UUID,
    principal: Writer,
    db: DbSession,
    service: Service,
    client: Client,
) -> TaskOut | Response:
    task = await service.cancel_or_delete(
        get_resources(request).reads, db, principal, session_id, task_id, client
    )
    if task is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return task


@router.get(
    "/{session_id}/events",
    summary="The session's events after a sequence number: a page (JSON), or live (SSE)",
    description="With `Accept: text/event-stream` the answer is a server-sent events stream: "
    "every event after `after` (or `Last-Event-ID`), then each new one as it is committed, "
    "one message each (`id`: seq, `event`: name, `data`: the event as in the JSON page), "
    "with a comment heartbeat; see docs/realtime.md. Otherwise a page of events (poll it).",
    response_model=EventsPage,
    responses={
        **NOT_FOUND,
        429: {"description": "Too many open event streams (per user)"},
        200: {
            "description": "A page of events, or the event stream",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
    },
)
async def list_events(
    request: Request,
    session_id: uuid.UUID,
    principal: Annotated[Principal, ticket_or_credential(Permission.TASKS_READ)],
    db: DbSession,
    service: Service,
    after: Annotated[Seq, Query(description="Events with seq greater than this")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ticket: Annotated[
        str | None,
        Query(
            description="A ticket from `POST .../ws-ticket`, in place of a credential header "
            "(`EventSource` cannot send headers); one use",
            max_length=MAX_TICKET_LENGTH,
            pattern=TICKET_PATTERN,
        ),
    ] = None,
    last_event_id: Annotated[
        Seq | None,
        Header(
            alias="Last-Event-ID",
            description="Event stream only: resume after this seq (sent by EventSource on "
            "reconnection); takes precedence over `after`",
        ),
    ] = None,
) -> EventsPage | Response:
    await service.session(db, principal, session_id)
    if wants_event_stream(request.headers.get("accept")):
        # the request's unit of work ends when this returns: the stream holds no connection
        resources = get_resources(request)
        connections = resources.connections
        if connections.full(principal.user_id):
            raise TooManyRequests(
                f"At most {connections.limit_per_user} open event streams per user",
                headers={"Retry-After": "5"},
            )
        return event_stream(
            resources.bus,
            session_id,
            last_event_id if last_event_id is not None else after,
            heartbeat=resources.settings.sse_heartbeat_seconds,
            slot=connections.hold(principal.user_id),
        )
    events = await service.events.after(db, session_id, after, limit + 1)
    more = len(events) > limit
    events = events[:limit]
    return EventsPage(
        items=[EventOut.model_validate(e) for e in events],
        next_after=events[-1].seq if events else after,
        has_more=more,
    )
