"""Anthropic Messages API through the official SDK (`anthropic.AsyncAnthropic`), streamed.

The history is already Anthropic-shaped, so the translation is small: `reasoning` blocks are
dropped (they are kept for the record only), empty text blocks too (the API rejects them),
signed `thinking` / `redacted_thinking` blocks are sent back only with extended thinking on, and
prompt caching is asked for as Roo does: `cache_control: ephemeral` on the system prompt and on
the last block of the last two user messages.

Stream translation: each `text_delta` is a `TextChunk`, each `thinking_delta` a `ReasoningChunk`
(and each finished thinking block, with its `signature_delta`, a `ThinkingBlockChunk`),
each finished `tool_use` block one `ToolCallChunk` (its `input_json_delta` fragments joined; no
fragments: "{}"), `message_start` a `UsageChunk` with the input and cache tokens and
`message_delta` one with the output tokens.

Errors become `ProviderError`s (see `map_error`); the SDK client never retries (`max_retries=0`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anthropic
import httpx2
from anthropic.types import (
    InputJSONDelta,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    RawMessageStreamEvent,
    RedactedThinkingBlock,
    SignatureDelta,
    TextBlock,
    TextDelta,
    ThinkingBlock,
    ThinkingDelta,
    ToolUseBlock,
)
from anthropic.types import Message as ApiMessage

from roo.agent.messages import Block, Message
from roo.agent.pricing import ApiProtocol
from roo.agent.providers.base import (
    Chunk,
    ModelRequest,
    ProviderError,
    ReasoningChunk,
    TextChunk,
    ThinkingBlockChunk,
    ToolCallChunk,
    ToolSpec,
    UsageChunk,
)
from roo.agent.providers.errors import (
    connection_error,
    kind_for_status,
    provider_said,
    retry_after_seconds,
    scrub,
    status_message,
    stream_broke,
)
from roo.security.egress import EgressPolicy, guarded_client

DEFAULT_BASE_URL = "https://api.anthropic.com"
_CACHE_CONTROL = {"type": "ephemeral"}


class AnthropicProvider:
    """One Anthropic endpoint with its key. `base_url` defaults to https://api.anthropic.com; a
    trailing `/v1` is dropped (the SDK adds `/v1/messages`). `timeout` (seconds) bounds each
    request, the wait between stream events included. With `egress` (a base URL a user chose),
    connections go through its guard."""

    name: str = "anthropic"
    protocol: ApiProtocol = "anthropic"

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None = None,
        *,
        timeout: float = 600.0,
        egress: EgressPolicy | None = None,
    ) -> None:
        # An empty key rather than None: the SDK would otherwise take ANTHROPIC_API_KEY from the
        # environment (the service's own credential) or a profile on disk.
        self._api_key = api_key or ""
        # Never None either: the SDK would read ANTHROPIC_BASE_URL from the environment.
        base_url = (base_url or DEFAULT_BASE_URL).rstrip("/").removesuffix("/v1")
        self._client = anthropic.AsyncAnthropic(
            api_key=self._api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
            http_client=guarded_client(egress) if egress is not None else None,
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def context_window(self, model: str) -> int | None:
        """None: Anthropic's models API lists ids and names, no context window (the caller
        uses the defaults), so no request is made."""
        return None

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        tools = anthropic_tools(request.tools)
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": anthropic_messages(
                request.messages, thinking=request.thinking_budget is not None
            ),
            "stream": True,
        }
        if request.thinking_budget is not None:
            body["thinking"] = {"type": "enabled", "budget_tokens": request.thinking_budget}
        system = system_blocks(request.system)
        if system:
            body["system"] = system
        if tools:
            body.update(tools=tools, tool_choice={"type": "auto"})
        if request.temperature is not None:
            body["temperature"] = request.temperature
        try:
            # The SDK's own `post` with a body that is already plain JSON: `create()` would walk
            # the whole history through its typed transform on every request (the cost grows
            # with the conversation); the request on the wire is the same.
            events = await self._client.post(
                "/v1/messages",
                body=body,
                cast_to=ApiMessage,
                stream=True,
                stream_cls=anthropic.AsyncStream[RawMessageStreamEvent],
            )
        except anthropic.AnthropicError as exc:
            raise map_error(exc, self._api_key) from exc

        tool_uses: dict[int, tuple[str, str, str, list[str]]] = {}
        # thinking blocks being streamed: index -> (text parts, signature)
        thoughts: dict[int, tuple[list[str], list[str]]] = {}
        finished = False
        try:
            async with events:
                async for event in events:
                    if isinstance(event, RawMessageStartEvent):
                        usage = event.message.usage
                        yield UsageChunk(
                            input_tokens=usage.input_tokens or 0,
                            cache_write_tokens=usage.cache_creation_input_tokens or 0,
                            cache_read_tokens=usage.cache_read_input_tokens or 0,
                        )
                    elif isinstance(event, RawContentBlockStartEvent):
                        block = event.content_block
                        if isinstance(block, ToolUseBlock):
                            # a server may put the whole input in the block start, without deltas
                            given = json.dumps(block.input) if block.input else "{}"
                            tool_uses[event.index] = (block.id, block.name, given, [])
                        elif isinstance(block, TextBlock) and block.text:
                            yield TextChunk(block.text)
                        elif isinstance(block, ThinkingBlock):
                            given_sig = [block.signature] if block.signature else []
                            thoughts[event.index] = ([block.thinking or ""], given_sig)
                            if block.thinking:
                                yield ReasoningChunk(block.thinking)
                        elif isinstance(block, RedactedThinkingBlock):
                            yield ThinkingBlockChunk(
                                {"type": "redacted_thinking", "data": block.data}
                            )
                    elif isinstance(event, RawContentBlockDeltaEvent):
                        delta = event.delta
                        if isinstance(delta, TextDelta):
                            if delta.text:
                                yield TextChunk(delta.text)
                        elif isinstance(delta, ThinkingDelta):
                            if event.index in thoughts:
                                thoughts[event.index][0].append(delta.thinking)
                            if delta.thinking:
                                yield ReasoningChunk(delta.thinking)
                        elif isinstance(delta, SignatureDelta) and event.index in thoughts:
                            thoughts[event.index][1].append(delta.signature)
                        elif isinstance(delta, InputJSONDelta) and event.index in tool_uses:
                            tool_uses[event.index][3].append(delta.partial_json)
                    elif isinstance(event, RawContentBlockStopEvent):
                        if event.index in thoughts:
                            parts, signature = thoughts.pop(event.index)
                            if signature:  # unsigned thinking cannot be sent back
                                yield ThinkingBlockChunk(
                                    {
                                        "type": "thinking",
                                        "thinking": "".join(parts),
                                        "signature": "".join(signature),
                                    }
                                )
                        if event.index in tool_uses:
                            call_id, name, given, parts = tool_uses.pop(event.index)
                            yield ToolCallChunk(call_id, name, "".join(parts) or given)
                    elif isinstance(event, RawMessageDeltaEvent):
                        if event.usage is not None and event.usage.output_tokens:
                            yield UsageChunk(output_tokens=event.usage.output_tokens)
                    elif isinstance(event, RawMessageStopEvent):
                        finished = True
        except anthropic.APIStatusError as exc:  # an `error` event in the stream
            said = provider_said(exc.body)
            if said is None:
                raise ProviderError("stream", stream_broke(exc, self._api_key)) from exc
            message = scrub(f"the response stream carried an error: {said}", self._api_key)
            raise ProviderError("stream", message) from exc
        except (anthropic.APITimeoutError, httpx2.TimeoutException) as exc:
            raise ProviderError("timeout", "the response stream timed out") from exc
        except (anthropic.AnthropicError, httpx2.HTTPError, ValueError) as exc:
            raise ProviderError("stream", stream_broke(exc, self._api_key)) from exc
        if not finished:
            raise ProviderError("stream", "the response stream ended before message_stop")


# ---- request translation ----------------------------------------------------------------------


def system_blocks(system: str) -> list[dict[str, Any]]:
    if not system:
        return []
    return [{"type": "text", "text": system, "cache_control": dict(_CACHE_CONTROL)}]


def anthropic_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}
        for tool in tools
    ]


def _content_block(block: Block, thinking: bool = False) -> Block | None:
    kind = block.get("type")
    if kind == "thinking":
        if not thinking:
            return None
        return {
            "type": "thinking",
            "thinking": block["thinking"],
            "signature": block["signature"],
        }
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block["data"]} if thinking else None
    if kind == "text":
        return {"type": "text", "text": block["text"]} if block.get("text") else None
    if kind == "image":
        return {"type": "image", "source": block["source"]}
    if kind == "tool_use":
        return {
            "type": "tool_use",
            "id": block["id"],
            "name": block["name"],
            "input": block["input"],
        }
    if kind == "tool_result":
        content = block.get("content", [])
        if isinstance(content, list):
            content = [b for b in map(_content_block, content) if b is not None]
        result: Block = {"type": "tool_result", "tool_use_id": block["tool_use_id"]}
        result["content"] = content
        if block.get("is_error"):
            result["is_error"] = True
        return result
    return None  # reasoning blocks (and anything unknown) stay home


def anthropic_messages(
    messages: Sequence[Message], *, thinking: bool = False
) -> list[dict[str, Any]]:
    """The history as the API takes it, with cache breakpoints on the last two user messages.
    `thinking` (the request enables extended thinking): the assistant turns' signed thinking
    blocks go back unchanged, first in their message, as the API requires when tools are used;
    without it they stay home."""
    out: list[dict[str, Any]] = []
    for message in messages:
        converted = (_content_block(b, thinking) for b in message["content"])
        blocks = [b for b in converted if b is not None]
        if blocks:
            out.append({"role": message["role"], "content": blocks})
    user_indexes = [i for i, m in enumerate(out) if m["role"] == "user"]
    for i in user_indexes[-2:]:
        content = out[i]["content"]
        content[-1] = {**content[-1], "cache_control": dict(_CACHE_CONTROL)}
    return out


# ---- errors -------------------------------------------------------------------------------------


def map_error(exc: anthropic.AnthropicError, api_key: str) -> ProviderError:
    """The `ProviderError` for an SDK exception raised before the stream started."""
    if isinstance(exc, anthropic.APITimeoutError):
        return ProviderError("timeout", "the request timed out")
    if isinstance(exc, anthropic.APIConnectionError):
        return connection_error(exc, api_key)
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        message = status_message(status, exc.response, api_key)
        retry_after = retry_after_seconds(exc.response.headers)
        return ProviderError(kind_for_status(status, message), message, status, retry_after)
    return ProviderError("bad_request", f"the request failed ({type(exc).__name__})")
