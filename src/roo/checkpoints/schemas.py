"""Request and response bodies of the checkpoints endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from roo.kit.schema import ApiInput, ApiModel


class ChangedFileOut(ApiModel):
    path: str
    status: Literal["added", "modified", "deleted"] | str


class CheckpointOut(ApiModel):
    """A snapshot of the workspace taken before step `step` of the task (steps count from
    0): the files as they were when that step began. `files` lists what changed since the
    session's previous snapshot (at most 200 of them; `filesChanged` counts them all)."""

    id: uuid.UUID
    task_id: uuid.UUID
    step: int
    commit: str
    files_changed: int
    files: list[ChangedFileOut]
    created_at: datetime


class CheckpointsOut(ApiModel):
    items: list[CheckpointOut]


class CheckpointDiffOut(ApiModel):
    checkpoint_id: uuid.UUID
    against: str = Field(description="`current` (the workspace now) or a checkpoint id")
    diff: str = Field(description="A unified diff (git's), from the checkpoint to `against`")
    truncated: bool = Field(description="Cut at the session's maxOutputBytes")


class RestoreIn(ApiInput):
    conversation: bool = Field(
        False,
        description="false: the workspace's files only; true: the files and the task's "
        "conversation, cut back to the checkpoint's step (continue the task from there)",
    )


class RestoreOut(ApiModel):
    checkpoint: CheckpointOut
    conversation: bool
