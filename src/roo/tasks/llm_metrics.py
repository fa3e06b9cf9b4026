"""Model requests measured for Prometheus, around the engine's provider (which stays free of
metrics: `roo.agent` imports nothing of the service).

`MeteredProvider` wraps the client `ModelResolver.build` hands out: each `stream` is timed from
the request to the end of its response (`roo_llm_request_duration_seconds`, with its outcome:
`ok` or the `ProviderError` kind) and its usage chunks are counted (`roo_llm_tokens_total`). The
model label is the id the price table knows, or `other` (any name goes behind a custom base
URL: one series each would grow without bound).
"""

from __future__ import annotations

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

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        provider = self.inner.name
        model = model_label(provider, request.model)
        start = time.perf_counter()
        outcome = "cancelled"  # the consumer stopped reading (or was cancelled)
        chunks = self.inner.stream(request)
        try:
            async for chunk in chunks:
                if isinstance(chunk, UsageChunk):
                    _count_tokens(provider, model, chunk)
                yield chunk
            outcome = "ok"
        except ProviderError as error:
            outcome = error.kind
            raise
        except Exception:
            outcome = "error"
            raise
        finally:
            LLM_DURATION.labels(provider, model, outcome).observe(time.perf_counter() - start)
            # Closed now, not when collected: a stream left open holds its HTTP connection
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()

    async def aclose(self) -> None:
        await self.inner.aclose()


def _count_tokens(provider: str, model: str, usage: UsageChunk) -> None:
    for kind, value in (
        ("input", usage.input_tokens),
        ("output", usage.output_tokens),
        ("cache_read", usage.cache_read_tokens),
        ("cache_write", usage.cache_write_tokens),
    ):
        if value:
            LLM_TOKENS.labels(provider, model, kind).inc(value)
