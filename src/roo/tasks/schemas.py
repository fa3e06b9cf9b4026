"""Request and response bodies of the tasks and events endpoints."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints

from roo.kit.inputs import NO_CONTROLS, NO_NUL
from roo.kit.schema import ApiInput, ApiModel

TaskState = Literal[
    "queued",
    "running",
    "awaiting_approval",
    "awaiting_input",
    "completed",
    "failed",
    "cancelled",
    "interrupted",
]
ACTIVE_STATES: tuple[str, ...] = ("queued", "running", "awaiting_approval", "awaiting_input")
FINISHED_STATES: tuple[str, ...] = ("completed", "failed", "cancelled", "interrupted")

MAX_IMAGE_BYTES = 5 * 1024 * 1024
_DATA_URL = re.compile(r"^data:(image/(?:png|jpeg|gif|webp));base64,([A-Za-z0-9+/=\s]+)$")


def _image(value: str) -> str:
    match = _DATA_URL.match(value)
    if match is None:
        raise ValueError("must be a data URL: data:image/(png|jpeg|gif|webp);base64,...")
    try:
        raw = base64.b64decode(match.group(2), validate=False)
    except (binascii.Error, ValueError):
        raise ValueError("the image is not valid base64") from None
    if len(raw) > MAX_IMAGE_BYTES:
        raise ValueError(f"an image may be at most {MAX_IMAGE_BYTES // (1024 * 1024)} MiB")
    return value


ImageDataUrl = Annotated[str, AfterValidator(_image), NO_NUL]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), NO_CONTROLS]
ShortName = Annotated[str, StringConstraints(min_length=1, max_length=50), NO_CONTROLS]


class TaskConfigIn(ApiInput):
    """The seed's `config`: which provider and model run the task, and its first mode. Omitted
    values come from the session's config, then the service defaults."""

    provider: ShortName | None = None
    model: Name | None = None
    mode: ShortName | None = None
    temperature: float | None = Field(
        None,
        ge=0,
        le=2,
        description="Sampling temperature (default 0, as Roo); not sent to models that refuse "
        "it (the gpt-5 family, the o-series)",
    )
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = Field(
        None,
        description="OpenAI reasoning models (the gpt-5 family, the o-series): the effort sent "
        "as reasoning_effort; ignored for other models; default: the model's own",
    )
    # Anthropic's extended thinking (engine17)
    reasoning_budget: int | None = Field(
        None,
        ge=1024,
        le=13_107,
        description="Claude models with extended thinking: the thinking budget in tokens "
        "(Roo's reasoning budget; at most 80 % of the 16,384 max tokens sent with it); the "
        "temperature is then 1; ignored for other models; default: no thinking",
    )


class TaskCreateIn(ApiInput):
    input: Annotated[str, StringConstraints(min_length=1, max_length=10000), NO_NUL]
    images: Annotated[list[ImageDataUrl], Field(max_length=10)] | None = None
    config: TaskConfigIn | None = None


class TaskActionIn(ApiInput):
    action: Literal["approve", "approve_always", "deny", "answer", "message", "resume", "condense"]
    approval_id: uuid.UUID | None = Field(
        None, description="The pending approval or question (default: the one pending now)"
    )
    text: Annotated[str, StringConstraints(max_length=10000), NO_NUL] | None = Field(
        None, description="The answer (`answer`), the message (`message`, `resume`)"
    )
    feedback: Annotated[str, StringConstraints(max_length=10000), NO_NUL] | None = Field(
        None, description="What the model should know with an approval or a denial"
    )


class UsageOut(ApiModel):
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    cost: float | None = Field(
        description="USD, from the model's price table; null when the model's prices are "
        "unknown (a model the table does not know, or an entry without prices)"
    )
    requests: int


class AutoAnswerOut(ApiModel):
    text: str = Field(description="The follow-up question's first suggestion")
    after_ms: int = Field(description="Milliseconds after the question it is given")


class PendingOut(ApiModel):
    id: uuid.UUID
    kind: Literal[
        "tool", "command", "followup", "mistake_limit", "api_retry", "auto_approval_limit"
    ]
    tool: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    text: str | None = Field(None, description="The command, question or guidance")
    suggestions: list[dict[str, Any]] = Field(default_factory=list)
    auto_answer: AutoAnswerOut | None = Field(
        None,
        description="A follow-up question the service answers itself with its first suggestion "
        "when nobody answered in time (the approval policy's autoApproveFollowupQuestions)",
    )
    created_at: datetime


class FailureOut(ApiModel):
    reason: str
    message: str | None


class TaskOut(ApiModel):
    id: uuid.UUID
    session_id: uuid.UUID
    parent_id: uuid.UUID | None
    child_ids: list[uuid.UUID]
    state: TaskState
    mode: str
    provider: str
    model: str
    input: str
    result: str | None
    todos: str | None
    usage: UsageOut
    pending: PendingOut | None = Field(description="The approval or answer the task waits for")
    failure: FailureOut | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class TaskDetailOut(TaskOut):
    messages: list[dict[str, Any]] = Field(
        description="The whole conversation (Anthropic-shaped messages of content blocks). "
        "Nothing is removed: a summary written by condensing has `isSummary` and `condenseId`; "
        "messages it replaced have `condenseParent` (its condenseId), those the sliding window "
        "hid `truncationParent`; neither is sent to the model any more"
    )


class EventOut(ApiModel):
    event: str
    session_id: uuid.UUID
    task_id: uuid.UUID | None
    seq: int
    data: dict[str, Any]
    timestamp: datetime


class EventsPage(ApiModel):
    items: list[EventOut]
    next_after: int = Field(description="Pass as `after` to get the next events")
    has_more: bool
