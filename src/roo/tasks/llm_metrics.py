"""Model requests measured for Prometheus: the engine tells each of a task's model calls as it
ends (`AgentSetup.on_model_call`, a plain callback: `roo.agent` imports nothing of the service),
and `observe` records its latency (`roo_llm_request_duration_seconds`, with its outcome), its
tokens (`roo_llm_tokens_total`) and its cost (`roo_llm_cost_dollars_total`).

Nothing wraps the provider or its stream: the engine consumes the provider's stream exactly as
without metrics, and nothing here awaits, locks beyond prometheus-client's own counters, or
touches the database. The model label is the id the price table knows, or `other` (any name
goes behind a custom base URL: one series each would grow without bound).
"""

from __future__ import annotations

from roo.agent.engine import ModelCall
from roo.agent.pricing import active_price_table
from roo.observability.metrics import LLM_COST, LLM_DURATION, LLM_TOKENS

OTHER_MODEL = "other"


def model_label(provider: str, model: str) -> str:
    return model if model in active_price_table().get(provider, {}) else OTHER_MODEL


def observe(call: ModelCall) -> None:
    model = model_label(call.provider, call.model)
    LLM_DURATION.labels(call.provider, model, call.outcome).observe(call.seconds)
    usage = call.usage
    if usage is None:
        return
    for kind, value in (
        ("input", usage.input_tokens),
        ("output", usage.output_tokens),
        ("cache_read", usage.cache_read_tokens),
        ("cache_write", usage.cache_write_tokens),
    ):
        if value:
            LLM_TOKENS.labels(call.provider, model, kind).inc(value)
    if usage.cost:
        LLM_COST.labels(call.provider, model).inc(usage.cost)
