"""Helpers shared by the provider tests: a request, and the stream collected or failed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from roo.agent import messages as m
from roo.agent.providers.base import (
    Chunk,
    ModelRequest,
    Provider,
    ProviderError,
    ReasoningChunk,
    TextChunk,
    ToolSpec,
)

MODEL = "test-model"
READ_FILE = ToolSpec(
    "read_file",
    "Read a file",
    {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)


def request(*history: m.Message, tools: Sequence[ToolSpec] = ()) -> ModelRequest:
    return ModelRequest(
        model=MODEL,
        system="You are Roo.",
        messages=history or (m.user(m.text_block("hi")),),
        tools=tools,
        max_tokens=1000,
    )


async def collect(provider: Provider, req: ModelRequest | None = None) -> list[Chunk]:
    return [chunk async for chunk in provider.stream(req or request())]


async def collect_into(provider: Provider, received: list[Chunk]) -> None:
    async for chunk in provider.stream(request()):
        received.append(chunk)


async def failure(provider: Provider) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    return caught.value


def texts(chunks: Sequence[Chunk], kind: type[TextChunk] | type[ReasoningChunk]) -> list[str]:
    return [c.text for c in chunks if isinstance(c, kind)]
