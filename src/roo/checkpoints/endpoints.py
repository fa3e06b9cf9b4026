"""`/api/v1/sessions/{id}/tasks/{taskId}/checkpoints`: routes only."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query, Request

from roo.api.deps import get_resources
from roo.api.routing import api_router
from roo.auth.deps import Client, require
from roo.auth.identity import Principal
from roo.auth.permissions import Permission
from roo.checkpoints.schemas import (
    CheckpointDiffOut,
    CheckpointOut,
    CheckpointsOut,
    RestoreIn,
    RestoreOut,
)
from roo.checkpoints.service import CheckpointService
from roo.kit.errors import ServiceUnavailable, Unprocessable

router = api_router("/sessions", tags=["checkpoints"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such session of yours, task in it, or checkpoint of the task"}
}
Reader = Annotated[Principal, require(Permission.TASKS_READ)]
Writer = Annotated[Principal, require(Permission.TASKS_WRITE)]
BASE = "/{session_id}/tasks/{task_id}/checkpoints"


def _service(request: Request) -> CheckpointService:
    service = get_resources(request).tasks.checkpoints
    if service is None:
        raise ServiceUnavailable("Checkpoints are not available in this service")
    return service


@router.get(BASE, summary="The task's checkpoints, by step", responses=NOT_FOUND)
async def list_checkpoints(
    request: Request, session_id: uuid.UUID, task_id: uuid.UUID, principal: Reader
) -> CheckpointsOut:
    rows = await _service(request).list(principal.user_id, session_id, task_id)
    return CheckpointsOut(items=[CheckpointOut.model_validate(row) for row in rows])


@router.get(
    BASE + "/{checkpoint_id}/diff",
    summary="A unified diff from the checkpoint to the workspace now or to another checkpoint",
    responses={
        **NOT_FOUND,
        409: {"description": "The session's workspace (and its checkpoints) was deleted"},
        422: {"description": "`against` is neither `current` nor an id"},
    },
)
async def diff_checkpoint(
    request: Request,
    session_id: uuid.UUID,
    task_id: uuid.UUID,
    checkpoint_id: uuid.UUID,
    principal: Reader,
    against: Annotated[
        str,
        Query(
            description="`current` (the workspace now) or the id of another checkpoint of the task",
            max_length=64,
            pattern=r"^(current|[0-9A-Fa-f-]{32,36})$",
        ),
    ] = "current",
) -> CheckpointDiffOut:
    other: uuid.UUID | None = None
    if against != "current":
        try:
            other = uuid.UUID(against)
        except ValueError:
            raise Unprocessable("`against` must be `current` or a checkpoint id") from None
    text, truncated = await _service(request).diff(
        principal.user_id, session_id, task_id, checkpoint_id, other
    )
    return CheckpointDiffOut(
        checkpoint_id=checkpoint_id, against=against, diff=text, truncated=truncated
    )


@router.post(
    BASE + "/{checkpoint_id}/restore",
    summary="Restore the workspace's files (and the task's conversation) to the checkpoint",
    responses={
        **NOT_FOUND,
        409: {
            "description": "A task of the session is active; commands or file writes are "
            "under way (workspace-busy); the session is archived or its workspace (and its "
            "checkpoints) was deleted (workspace-deleted)"
        },
    },
)
async def restore_checkpoint(
    request: Request,
    session_id: uuid.UUID,
    task_id: uuid.UUID,
    checkpoint_id: uuid.UUID,
    body: RestoreIn,
    principal: Writer,
    client: Client,
) -> RestoreOut:
    row = await _service(request).restore(
        principal.user_id,
        session_id,
        task_id,
        checkpoint_id,
        conversation=body.conversation,
        client=client,
    )
    return RestoreOut(checkpoint=CheckpointOut.model_validate(row), conversation=body.conversation)
