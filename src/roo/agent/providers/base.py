"""What the engine needs from a model provider: one streamed response per request.

A provider turns a `ModelRequest` (system prompt, Anthropic-shaped history, tool specs) into an
async stream of chunks. Tool calls arrive complete (the provider assembles the streamed argument
fragments; the engine never sees a half call). Usage chunks are additive: several may arrive in
one stream and the engine sums them (Roo's `ApiStream`, reference section 7.2).

Providers do not retry: the engine does (with backoff and events), so every failure reaches it
as a `ProviderError` whose `retryable` says whether another attempt may help (429, 5xx,
connection errors and timeouts: yes; 400, 401, 403, 404: no). The SDK clients are built with
`max_retries=0` for that reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from roo.agent.messages import Message
from roo.agent.pricing import ApiProtocol


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as the model sees it: a name, what it does, a JSON Schema for its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ModelRequest:
    model: str
    system: str
    messages: Sequence[Message]
    tools: Sequence[ToolSpec] = ()
    max_tokens: int = 8192
    temperature: float | None = None
    # OpenAI reasoning models: minimal / low / medium / high (None: the model's default)
    reasoning_effort: str | None = None
    # Anthropic's extended thinking: the budget in tokens (None: off). With it, the history's
    # signed thinking blocks are sent back (the API requires them around tool use).
    thinking_budget: int | None = None


@dataclass(frozen=True, slots=True)
class TextChunk:
    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ReasoningChunk:
    text: str
    type: Literal["reasoning"] = "reasoning"


@dataclass(frozen=True, slots=True)
class ThinkingBlockChunk:
    """A finished Anthropic thinking block, to be kept in the history and sent back as it came:
    `{"type": "thinking", "thinking", "signature"}` or `{"type": "redacted_thinking", "data"}`
    (its text was streamed as `ReasoningChunk`s already)."""

    block: dict[str, Any]
    type: Literal["thinking_block"] = "thinking_block"


@dataclass(frozen=True, slots=True)
class ToolCallChunk:
    """One complete tool call. `arguments` is the raw JSON text the model produced (it may be
    invalid: the engine answers that with Roo's invalid-tool-call error, not a crash)."""

    id: str
    name: str
    arguments: str
    type: Literal["tool_call"] = "tool_call"


@dataclass(frozen=True, slots=True)
class UsageChunk:
    """Token counts of (part of) one response. Anthropic protocol: `input_tokens` excludes the
    cache tokens; OpenAI protocol: it includes them (Roo's cost rules, reference 5.3)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    type: Literal["usage"] = "usage"


Chunk = TextChunk | ReasoningChunk | ThinkingBlockChunk | ToolCallChunk | UsageChunk

ErrorKind = Literal[
    "rate_limit",  # 429
    "server",  # 5xx, overloaded
    "connection",  # refused, reset, DNS
    "timeout",
    "auth",  # 401, 403
    "not_found",  # 404: unknown model or wrong base URL
    "bad_request",  # 400, 413, 422
    "context_window",  # the request does not fit the model's context window
    "stream",  # the stream broke off or carried an error event mid-way
    "blocked_address",  # a user's base URL leads to a non-public address (roo.security.egress)
]
RETRYABLE: frozenset[ErrorKind] = frozenset(
    {"rate_limit", "server", "connection", "timeout", "stream"}
)


@dataclass(slots=True)
class ProviderError(Exception):
    kind: ErrorKind
    message: str
    status: int | None = None
    # Seconds the provider asked us to wait (Retry-After / retry-after-ms), when it said.
    retry_after: float | None = None
    retryable: bool = field(init=False)

    def __post_init__(self) -> None:
        self.retryable = self.kind in RETRYABLE

    def __str__(self) -> str:
        status = f" ({self.status})" if self.status is not None else ""
        return f"{self.kind}{status}: {self.message}"


class Provider(Protocol):
    """One configured provider (its key and base URL bound at construction)."""

    name: str  # "anthropic" | "openai"
    protocol: ApiProtocol

    def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        """Stream one response. Raises `ProviderError` (also mid-stream)."""
        ...

    async def context_window(self, model: str) -> int | None:
        """The model's context window from the provider's model listing, when it gives one;
        None otherwise (never raises)."""
        ...

    async def aclose(self) -> None: ...
