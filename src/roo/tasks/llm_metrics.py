"""Model requests measured for Prometheus, around the engine's provider (which stays free of
metrics: `roo.agent` imports nothing of the service).

`MeteredProvider` wraps the client `ModelResolver.build` hands out: each `stream` is timed from
the request to the end of its response (`roo_llm_request_duration_seconds`, with its outcome:
`ok`, the `ProviderError` kind, `error` or `cancelled`) and its usage chunks are counted
(`roo_llm_tokens_total`). The model label is the id the price table knows, or `other` (any name
goes behind a custom base URL: one series each would grow without bound).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from roo.agent.pricing import active_price_table
from roo.agent.providers.base import Chunk, ModelRequest, Provider, ProviderError, UsageChunk
from roo.observability.metrics import LLM_DURATION, LLM_TOKENS

OTHER_MODEL = "other"


def model_label(provider: str, model: str) -> str:
    return model if model in active_price_table().get(provider, {}) else OTHER_MODEL


class MeteredProvider:
    """A `Provider` that records what each of its streams took and used."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.name = inner.name
        self.protocol = inner.protocol

    def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        provider = self.inner.name
        return _MeteredStream(
            self.inner.stream(request), provider, model_label(provider, request.model)
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


class _MeteredStream:
    """The provider's stream, observed chunk by chunk. A plain iterator, not a generator of its
    own: the provider's generator is finished or collected exactly as it is without metrics (a
    second generator around it would outlive a cancelled run and keep its HTTP response open).
    A stream its reader abandons half-way is not timed."""

    def __init__(self, chunks: AsyncIterator[Chunk], provider: str, model: str) -> None:
        self._chunks = chunks
        self._provider = provider
        self._model = model
        self._start = time.perf_counter()
        self._done = False

    def __aiter__(self) -> _MeteredStream:
        return self

    async def __anext__(self) -> Chunk:
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._finish("ok")
            raise
        except ProviderError as error:
            self._finish(error.kind)
            raise
        except asyncio.CancelledError:
            self._finish("cancelled")
            raise
        except Exception:
            self._finish("error")
            raise
        if isinstance(chunk, UsageChunk):
            _count_tokens(self._provider, self._model, chunk)
        return chunk

    def _finish(self, outcome: str) -> None:
        if not self._done:
            self._done = True
            elapsed = time.perf_counter() - self._start
            LLM_DURATION.labels(self._provider, self._model, outcome).observe(elapsed)


def _count_tokens(provider: str, model: str, usage: UsageChunk) -> None:
    for kind, value in (
        ("input", usage.input_tokens),
        ("output", usage.output_tokens),
        ("cache_read", usage.cache_read_tokens),
        ("cache_write", usage.cache_write_tokens),
    ):
        if value:
            LLM_TOKENS.labels(provider, model, kind).inc(value)
