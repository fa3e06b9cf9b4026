"""What the engine needs from its host, and what it hands back: pure data and protocols.

The engine (`roo.agent.engine.Agent`) knows nothing of HTTP or databases. Its host (the task
runner, a test, a CLI) gives it:

- an `EventSink`: every event the engine emits (`message`, `tool.execution`, `task.progress`...);
- an `Interaction`: how a question reaches the user and the answer comes back (approvals,
  follow-up questions, the mistake-limit prompt), the messages the user queued meanwhile, and
  whether the user asked for the context to be condensed;
- a `checkpoint` callback that persists `EngineState` after every step and every tool result, so
  that a task can be resumed after a crash from its last completed step, running nothing twice.

The conversation only grows, so a host need not rewrite it at every checkpoint: message `i` of
`history` is message `i` of the task's whole conversation (context management marks messages,
it never removes one: `roo.agent.context`). Between two checkpoints the engine appends
messages, and changes a saved one in place only where it says so in `edited` (the marks of
condensing and of the sliding window, the sliding window's marker text, a note added to the
last user turn). A host that stored positions below N at its previous checkpoint saves the
messages at positions N and up plus those in `edited`, and the small rest of the state
(`scalars()`); the engine clears `edited` once the checkpoint returns.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from roo.agent.messages import Block, Message
from roo.agent.pricing import Usage

AskKind = Literal[
    "tool", "command", "followup", "mistake_limit", "api_retry", "auto_approval_limit"
]
AnswerAction = Literal["approve", "approve_always", "deny", "answer"]


@dataclass(frozen=True, slots=True)
class Ask:
    """A question for the user. `tool`/`params` name the call awaiting approval; `text` is the
    command, the model's question, or the mistake-limit guidance; `suggestions` are the
    follow-up answers the model proposed (`{"text", "mode"?}`)."""

    kind: AskKind
    text: str | None = None
    tool: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    suggestions: Sequence[Mapping[str, Any]] = ()
    call_id: str | None = None
    # Roo's follow-up auto-approval: the host answers `auto_answer` itself when nobody answered
    # within `auto_after` seconds (the answer it gives has `auto` set)
    auto_answer: str | None = None
    auto_after: float | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """`approve` / `approve_always` / `deny` for approvals (optional text: feedback for the
    model); `answer` with text for a follow-up question or the mistake-limit prompt."""

    action: AnswerAction
    text: str | None = None
    auto: bool = False  # given by the host after the question's `auto_after`, not by the user


class EventSink(Protocol):
    """Takes every event as the engine emits it. Streamed text (`message` deltas) and command
    output (`tool.execution` `output`) come as produced, a chunk at a time: a host that stores
    or sends them coalesces them itself (roo.tasks.run.EventBuffer)."""

    async def __call__(self, event: str, data: dict[str, Any]) -> None: ...


class Interaction(Protocol):
    async def ask(self, question: Ask) -> Answer:
        """Wait for the user's answer (the host decides how long; it may cancel the task)."""
        ...

    def take_queued_messages(self) -> list[str]:
        """Messages the user sent while the agent was busy; they join the next user turn."""
        ...

    def take_condense_request(self) -> bool:
        """Whether the user asked for the context to be condensed since the last call (the
        engine condenses before its next model request)."""
        ...


# Saves the state (all of it, or what changed since the previous call: see the module's doc).
Checkpoint = Callable[["EngineState"], Awaitable[None]]


class WorkspaceCheckpoints(Protocol):
    """Snapshots of the workspace a user can restore (Roo's checkpoints), not to be confused
    with `Checkpoint` above, which saves the engine's state."""

    async def before_write(self, step: int, position: int) -> None:
        """Called before the first tool of step `step` that may write to the workspace (a
        file tool, a command); `position`: the messages of the conversation before that
        step. Never raises for a failed snapshot (the host reports it); the tool runs."""
        ...


# (mode, message, todos) -> (child task id, its completion result). Raises SubtaskFailed.
SpawnSubtask = Callable[[str, str, str | None], Awaitable[tuple[str, str]]]


class SubtaskFailed(Exception):
    """The child task did not complete; the message goes back to the parent model."""


@dataclass(slots=True)
class EngineState:
    """Everything needed to continue a task: persisted after every step."""

    history: list[Message] = field(default_factory=list)
    mode: str = "code"
    usage: Usage = field(default_factory=Usage)
    requests: int = 0
    step: int = 0
    mistakes: int = 0
    no_tool_replies: int = 0
    # (in + out) tokens of the latest request: the context size the next request starts from
    context_tokens: int = 0
    todos: str | None = None
    result: str | None = None
    # tool results of the step in progress (the last history message is the assistant turn)
    pending_results: list[Block] = field(default_factory=list)
    # where Roo's auto-approval limits (allowedMaxRequests / allowedMaxCost) count from: the
    # requests and cost when the user last said go on (0 and 0.0: the task's start)
    approval_reset_requests: int = 0
    approval_reset_cost: float = 0.0
    # the task's own settings given at creation (`temperature`...), kept with its state
    options: dict[str, Any] = field(default_factory=dict)
    # positions of messages changed in place since the last checkpoint (not persisted)
    edited: set[int] = field(default_factory=set)

    def end(self) -> int:
        """One past the position of the last message: how many the conversation has."""
        return len(self.history)

    def mark_edited(self, index: int) -> None:
        """`history[index]` was changed in place: the next checkpoint saves it again."""
        self.edited.add(index)

    def to_dict(self) -> dict[str, Any]:
        return {"history": self.history, **self.scalars()}

    def scalars(self) -> dict[str, Any]:
        """Everything but the history: small, saved whole at every checkpoint."""
        return {
            "mode": self.mode,
            "usage": self.usage.to_dict(),
            "requests": self.requests,
            "step": self.step,
            "mistakes": self.mistakes,
            "noToolReplies": self.no_tool_replies,
            "contextTokens": self.context_tokens,
            "todos": self.todos,
            "result": self.result,
            "pendingResults": self.pending_results,
            "options": self.options,
            "approvalReset": {
                "requests": self.approval_reset_requests,
                "cost": self.approval_reset_cost,
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EngineState:
        return cls(
            history=list(data.get("history") or []),
            mode=str(data.get("mode") or "code"),
            usage=Usage.from_dict(data.get("usage") or {}),
            requests=int(data.get("requests") or 0),
            step=int(data.get("step") or 0),
            mistakes=int(data.get("mistakes") or 0),
            no_tool_replies=int(data.get("noToolReplies") or 0),
            context_tokens=int(data.get("contextTokens") or 0),
            todos=data.get("todos"),
            result=data.get("result"),
            pending_results=list(data.get("pendingResults") or []),
            options=dict(data.get("options") or {}),
            approval_reset_requests=int((data.get("approvalReset") or {}).get("requests") or 0),
            approval_reset_cost=float((data.get("approvalReset") or {}).get("cost") or 0.0),
        )


def has_run(scalars: Mapping[str, Any] | None) -> bool:
    """Whether a task's saved `engine_state` comes from a run (a task created with options
    but never run has only `options`)."""
    return any(key != "options" for key in scalars or {})


FailureReason = Literal[
    "api_req_failed",
    "request_limit",
    "cost_limit",
    "wall_time_limit",
    "mistake_limit_reached",
    "auto_approval_limit",
    "internal_error",
]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended (cancellation is not an outcome: it propagates as CancelledError)."""

    status: Literal["completed", "failed"]
    result: str | None = None
    reason: FailureReason | None = None
    message: str | None = None
