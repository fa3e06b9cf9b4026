"""OpenAI Chat Completions (and compatible servers: Ollama, vLLM, LM Studio, OpenRouter...)
through the official SDK (`openai.AsyncOpenAI`), streamed.

History translation (Roo's `convertToOpenAiMessages`): the system prompt first; an assistant
message carries its text and `tool_calls` (reasoning blocks are dropped); each `tool_result`
becomes a `role: tool` message (its text; images in tool results go to a user message that
follows, as data-URL `image_url` parts); the rest of a user message becomes content parts.

Stream translation: `delta.content` is text, with `<think>...</think>` split out into reasoning
(Roo's `TagMatcher`; a tag may be split across deltas); `reasoning_content` / `reasoning` deltas
are reasoning; tool-call fragments are gathered by index and emitted complete when the finish
reason arrives (or the stream ends); the usage chunk (`stream_options.include_usage`) gives
input = `prompt_tokens` (cached tokens included: OpenAI protocol), cache reads =
`prompt_tokens_details.cached_tokens`, output = `completion_tokens`. A server that sends no usage
simply yields no `UsageChunk`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import httpx2
import openai
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import ChoiceDelta

from roo.agent.messages import Block, Message
from roo.agent.pricing import ApiProtocol
from roo.agent.providers.base import (
    Chunk,
    ModelRequest,
    ProviderError,
    ReasoningChunk,
    TextChunk,
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

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Where OpenAI-compatible servers put a model's context window in their `GET /models` entries.
LISTED_CONTEXT_KEYS = ("context_window", "context_length", "max_model_len", "max_context_length")
_NO_KEY = "not-needed"  # local servers take any key; the SDK insists on one


class OpenAIProvider:
    """One OpenAI-compatible endpoint with its key. `base_url` defaults to
    https://api.openai.com/v1; compatible servers are reached through theirs. No key: a
    placeholder is sent (local servers want none). `timeout` (seconds) bounds each request.
    With `egress` (a base URL a user chose), connections go through its guard."""

    name: str = "openai"
    protocol: ApiProtocol = "openai"

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None = None,
        *,
        timeout: float = 600.0,
        egress: EgressPolicy | None = None,
    ) -> None:
        # Never None: the SDK would take OPENAI_API_KEY from the environment (the service's own).
        self._api_key = api_key or _NO_KEY
        self._client = openai.AsyncOpenAI(
            api_key=self._api_key,
            base_url=base_url or DEFAULT_BASE_URL,  # None: the SDK would read OPENAI_BASE_URL
            timeout=timeout,
            max_retries=0,
            http_client=guarded_client(egress) if egress is not None else None,
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def context_window(self, model: str) -> int | None:
        """The model's context window as the server's `GET /models` listing gives it, or None.
        OpenAI's own listing gives none; compatible servers often do, each under its own
        name (vLLM `max_model_len`, OpenRouter `context_length`, LM Studio
        `max_context_length`, others `context_window`). Any failure is None: the caller
        falls back to the defaults."""
        try:
            async for entry in self._client.models.list():
                if entry.id != model:
                    continue
                extra = entry.model_extra or {}
                for key in LISTED_CONTEXT_KEYS:
                    value = extra.get(key)
                    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                        return value
                return None
        except (openai.OpenAIError, httpx2.HTTPError, ValueError):
            return None
        return None

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        tools = openai_tools(request.tools)
        body: dict[str, Any] = {
            "model": request.model,
            "messages": openai_messages(request.system, request.messages),
            "max_completion_tokens": request.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            body.update(tools=tools, tool_choice="auto", parallel_tool_calls=True)
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.reasoning_effort is not None:
            body["reasoning_effort"] = request.reasoning_effort
        try:
            # The SDK's own `post` with a body that is already plain JSON: `create()` would walk
            # the whole history through its typed transform on every request (~0.2 ms per
            # message, most of a step's CPU in long tasks); the request on the wire is the same.
            stream = await self._client.post(
                "/chat/completions",
                body=body,
                cast_to=ChatCompletion,
                stream=True,
                stream_cls=openai.AsyncStream[ChatCompletionChunk],
            )
        except openai.OpenAIError as exc:
            raise map_error(exc, self._api_key) from exc

        calls = _ToolCalls()
        think = ThinkSplitter()
        try:
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        yield _usage(chunk.usage)
                    for choice in chunk.choices[:1]:
                        delta = choice.delta
                        reasoning = _reasoning_of(delta)
                        if reasoning:
                            yield ReasoningChunk(reasoning)
                        if delta.content:
                            for part in think.feed(delta.content):
                                yield part
                        for call in delta.tool_calls or ():
                            function = call.function
                            calls.add(
                                call.index,
                                call.id,
                                function.name if function else None,
                                function.arguments if function else None,
                            )
                        if choice.finish_reason is not None:
                            for part in think.flush():
                                yield part
                            for tool_call in calls.flush():
                                yield tool_call
        except (openai.APITimeoutError, httpx2.TimeoutException) as exc:
            raise ProviderError("timeout", "the response stream timed out") from exc
        except openai.APIError as exc:  # an error object in the stream, or a broken connection
            # the SDK raises it for an event whose JSON has an "error" (its body)
            said = provider_said({"error": exc.body}) if isinstance(exc.body, dict) else None
            if said is None:
                raise ProviderError("stream", stream_broke(exc, self._api_key)) from exc
            message = scrub(f"the response stream carried an error: {said}", self._api_key)
            raise ProviderError("stream", message) from exc
        except (openai.OpenAIError, httpx2.HTTPError, ValueError) as exc:
            raise ProviderError("stream", stream_broke(exc, self._api_key)) from exc
        for part in think.flush():
            yield part
        for tool_call in calls.flush():
            yield tool_call


def _usage(usage: CompletionUsage) -> UsageChunk:
    details = usage.prompt_tokens_details
    return UsageChunk(
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=usage.completion_tokens or 0,
        cache_read_tokens=(details.cached_tokens or 0) if details else 0,
        cache_write_tokens=(details.cache_write_tokens or 0) if details else 0,
    )


def _reasoning_of(delta: ChoiceDelta) -> str | None:
    """`reasoning_content` (DeepSeek, vLLM...) or `reasoning` (OpenRouter, Ollama...)."""
    extra = delta.model_extra or {}
    for key in ("reasoning_content", "reasoning"):
        value = extra.get(key)
        if isinstance(value, str) and value:
            return value
    return None


class _ToolCalls:
    """Tool-call fragments gathered by index until the response says it is done."""

    def __init__(self) -> None:
        self._calls: dict[int, list[str]] = {}  # index -> [id, name, arguments]

    def add(self, index: int, call_id: str | None, name: str | None, args: str | None) -> None:
        call = self._calls.setdefault(index, ["", "", ""])
        if call_id:
            call[0] = call_id
        if name and not call[1]:
            call[1] = name
        if args:
            call[2] += args

    def flush(self) -> Iterator[ToolCallChunk]:
        calls, self._calls = self._calls, {}
        for index in sorted(calls):
            call_id, name, arguments = calls[index]
            yield ToolCallChunk(call_id or f"call_{index}", name, arguments or "{}")


class ThinkSplitter:
    """Splits `<think>...</think>` out of streamed text into reasoning (Roo's `TagMatcher`).

    Text that might be the start of a tag is held back until the next delta tells."""

    OPEN, CLOSE = "<think>", "</think>"

    def __init__(self) -> None:
        self._buffer = ""
        self._inside = False

    def feed(self, text: str) -> list[TextChunk | ReasoningChunk]:
        self._buffer += text
        out: list[TextChunk | ReasoningChunk] = []
        while True:
            tag = self.CLOSE if self._inside else self.OPEN
            found = self._buffer.find(tag)
            if found >= 0:
                self._emit(self._buffer[:found], out)
                self._buffer = self._buffer[found + len(tag) :]
                self._inside = not self._inside
                continue
            keep = next(
                (
                    n
                    for n in range(min(len(tag) - 1, len(self._buffer)), 0, -1)
                    if self._buffer.endswith(tag[:n])
                ),
                0,
            )
            self._emit(self._buffer[: len(self._buffer) - keep], out)
            self._buffer = self._buffer[len(self._buffer) - keep :]
            return out

    def flush(self) -> list[TextChunk | ReasoningChunk]:
        out: list[TextChunk | ReasoningChunk] = []
        self._emit(self._buffer, out)
        self._buffer = ""
        return out

    def _emit(self, text: str, out: list[TextChunk | ReasoningChunk]) -> None:
        if text:
            out.append(ReasoningChunk(text) if self._inside else TextChunk(text))


# ---- request translation ----------------------------------------------------------------------


def openai_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters,
            },
        }
        for tool in tools
    ]


def _image_part(block: Block) -> dict[str, Any]:
    source = block["source"]
    url = f"data:{source['media_type']};base64,{source['data']}"
    return {"type": "image_url", "image_url": {"url": url}}


def _tool_result(block: Block) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The `role: tool` message for a tool_result block, and the images it carried."""
    content = block.get("content", [])
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    text = "\n".join(b["text"] for b in content if b.get("type") == "text")
    images = [_image_part(b) for b in content if b.get("type") == "image"]
    if not text and images:
        text = "(see following user message for image)"
    return {"role": "tool", "tool_call_id": block["tool_use_id"], "content": text}, images


def openai_messages(system: str, messages: Sequence[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for message in messages:
        blocks = message["content"]
        if message["role"] == "assistant":
            text = "".join(b["text"] for b in blocks if b.get("type") == "text")
            tool_calls = [
                {
                    "id": b["id"],
                    "type": "function",
                    "function": {"name": b["name"], "arguments": json.dumps(b["input"])},
                }
                for b in blocks
                if b.get("type") == "tool_use"
            ]
            if not text and not tool_calls:
                continue  # reasoning only
            entry: dict[str, Any] = {"role": "assistant", "content": text or None}
            if tool_calls:
                entry["tool_calls"] = tool_calls
            out.append(entry)
            continue
        parts: list[dict[str, Any]] = []
        for block in blocks:
            kind = block.get("type")
            if kind == "tool_result":
                tool_message, images = _tool_result(block)
                out.append(tool_message)
                parts.extend(images)
            elif kind == "text" and block.get("text"):
                parts.append({"type": "text", "text": block["text"]})
            elif kind == "image":
                parts.append(_image_part(block))
        if parts:
            out.append({"role": "user", "content": parts})
    return out


# ---- errors -------------------------------------------------------------------------------------


def map_error(exc: openai.OpenAIError, api_key: str) -> ProviderError:
    """The `ProviderError` for an SDK exception raised before the stream started."""
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError("timeout", "the request timed out")
    if isinstance(exc, openai.APIConnectionError):
        return connection_error(exc, api_key)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = status_message(status, exc.response, api_key)
        if exc.code == "context_length_exceeded":
            return ProviderError("context_window", message, status)
        retry_after = retry_after_seconds(exc.response.headers)
        return ProviderError(kind_for_status(status, message), message, status, retry_after)
    return ProviderError("bad_request", f"the request failed ({type(exc).__name__})")
