"""Model facts and cost accounting (Roo's `ModelInfo` and `src/shared/cost.ts`, reference 5.3).

The price table is data: `models.json` next to this module (package data), keyed by provider
then model id, prices in USD per million tokens. `load_price_table(path)` merges an operator's
file of the same shape over it. Unknown models (custom base URLs, or a model released after the
table was written) get `default_model_info`: a 128k context window, `known=False`, and no prices
(`priced=False`): their cost is unknown, None in `Usage`, never a made-up 0. A table entry that
gives none of the four prices is unpriced the same way.

`supports_temperature` (default true) is false for models that refuse the parameter (the gpt-5
family and the o-series): the engine then sends none. `supports_reasoning_effort` (default
false) marks the OpenAI reasoning models that take `reasoning_effort` (the same families).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

ApiProtocol = Literal["anthropic", "openai"]

_DEFAULTS: dict[str, Any] = {
    "context_window": 128_000,
    "max_tokens": 8192,
    "supports_images": False,
    "supports_prompt_cache": False,
    "supports_temperature": True,
    "supports_reasoning_effort": False,
    "supports_reasoning_budget": False,
    "input_price": 0.0,
    "output_price": 0.0,
    "cache_write_price": 0.0,
    "cache_read_price": 0.0,
}
_INT_FIELDS = ("context_window", "max_tokens")
_BOOL_FIELDS = (
    "supports_images",
    "supports_prompt_cache",
    "supports_temperature",
    "supports_reasoning_effort",
    "supports_reasoning_budget",
)
_PRICE_FIELDS = ("input_price", "output_price", "cache_write_price", "cache_read_price")
# Roo's per-model tool customisation (`ModelInfo.includedTools` / `excludedTools`)
_TOOL_LIST_FIELDS = ("included_tools", "excluded_tools")
# OpenAI model families that refuse `temperature` (reasoning models): an unknown model of
# theirs (gpt-5.2, o5-mini...) is assumed to refuse it too, as its known siblings do.
_NO_TEMPERATURE_FAMILY = re.compile(r"^(?:gpt-5|o\d)(?:$|[-.])")
# A date or "latest" after the model id: claude-sonnet-4-5-20250929, gpt-4o-2024-08-06.
_VARIANT_SUFFIX = re.compile(r"^(?P<base>.+?)[-@](?:\d{8}|\d{4}-\d{2}-\d{2}|latest)$")


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    provider: str
    context_window: int
    max_tokens: int  # output tokens
    supports_images: bool
    supports_prompt_cache: bool
    input_price: float  # USD per million tokens
    output_price: float
    cache_write_price: float
    cache_read_price: float
    known: bool = True
    supports_temperature: bool = True
    # OpenAI reasoning models: `reasoning_effort` is sent when the task sets one
    supports_reasoning_effort: bool = False
    # The table gives prices for it (those left out are 0): costs can be computed (else None).
    priced: bool = True
    # Anthropic's extended thinking (Roo's supportsReasoningBudget): a thinking budget is sent
    # when the task sets one
    supports_reasoning_budget: bool = False
    # Roo's includedTools / excludedTools: opt-in tools of the mode's groups offered to this
    # model (`edit`, `insert_content`), tools it is not offered (roo.agent.modes.tools_for_mode)
    included_tools: tuple[str, ...] = ()
    excluded_tools: tuple[str, ...] = ()


# provider -> model id -> fields (plus an optional "aliases" list)
PriceTable = Mapping[str, Mapping[str, Mapping[str, Any]]]


def _validate_entry(where: str, entry: Any) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: expected an object")
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if key in _INT_FIELDS:
            ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
        elif key in _BOOL_FIELDS:
            ok = isinstance(value, bool)
        elif key in _PRICE_FIELDS:
            ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
        elif key == "aliases" or key in _TOOL_LIST_FIELDS:
            ok = isinstance(value, list) and all(isinstance(a, str) for a in value)
        else:
            raise ValueError(f"{where}: unknown field {key!r}")
        if not ok:
            raise ValueError(f"{where}: invalid value for {key!r}: {value!r}")
        out[key] = value
    return out


def _merge(base: PriceTable, overlay: Any, source: str) -> dict[str, dict[str, dict[str, Any]]]:
    if not isinstance(overlay, Mapping):
        raise ValueError(f"{source}: expected an object of providers")
    merged = {p: {m: dict(e) for m, e in models.items()} for p, models in base.items()}
    for provider, models in overlay.items():
        if provider.startswith("_"):
            continue  # comments
        if not isinstance(models, Mapping):
            raise ValueError(f"{source}: {provider}: expected an object of models")
        target = merged.setdefault(provider, {})
        for model, entry in models.items():
            fields = _validate_entry(f"{source}: {provider}/{model}", entry)
            target[model] = {**target.get(model, {}), **fields}
    return merged


@cache
def builtin_price_table() -> PriceTable:
    """The table shipped with the package (`roo/agent/models.json`)."""
    text = resources.files("roo.agent").joinpath("models.json").read_text(encoding="utf-8")
    return _merge({}, json.loads(text), "models.json")


# The table lookups use when given none: the built-in one, or what `load_price_table`
# installed at startup (configuration data, set once; tests reset it with `use_price_table`).
_active: PriceTable | None = None


def active_price_table() -> PriceTable:
    return builtin_price_table() if _active is None else _active


def use_price_table(table: PriceTable | None) -> None:
    """Make `table` the default of the lookups; None goes back to the built-in table."""
    global _active
    _active = table


def load_price_table(
    path: str | Path, base: PriceTable | None = None, *, install: bool = True
) -> PriceTable:
    """The built-in table (or `base`) with a JSON file of the same shape merged over it, made
    the lookups' default unless `install=False`. A model's fields override the known ones field
    by field; new models and providers are added (missing fields take `default_model_info`'s
    values); keys starting with "_" are comments. Invalid data raises ValueError."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read price table: {exc}") from exc
    table = _merge(builtin_price_table() if base is None else base, data, str(path))
    if install:
        use_price_table(table)
    return table


def known_models(provider: str, table: PriceTable | None = None) -> list[str]:
    """The model ids the table knows for a provider, sorted (aliases not included)."""
    return sorted((active_price_table() if table is None else table).get(provider, {}))


def _info(provider: str, model: str, fields: Mapping[str, Any]) -> ModelInfo:
    values = {**_DEFAULTS, **{k: v for k, v in fields.items() if k != "aliases"}}
    return ModelInfo(
        id=model,
        provider=provider,
        context_window=int(values["context_window"]),
        max_tokens=int(values["max_tokens"]),
        supports_images=bool(values["supports_images"]),
        supports_prompt_cache=bool(values["supports_prompt_cache"]),
        input_price=float(values["input_price"]),
        output_price=float(values["output_price"]),
        cache_write_price=float(values["cache_write_price"]),
        cache_read_price=float(values["cache_read_price"]),
        known=True,
        supports_temperature=bool(values["supports_temperature"]),
        supports_reasoning_effort=bool(values["supports_reasoning_effort"]),
        supports_reasoning_budget=bool(values["supports_reasoning_budget"]),
        priced=any(key in fields for key in _PRICE_FIELDS),
        included_tools=tuple(fields.get("included_tools", ())),
        excluded_tools=tuple(fields.get("excluded_tools", ())),
    )


def _find(models: Mapping[str, Mapping[str, Any]], model_id: str) -> Mapping[str, Any] | None:
    if model_id in models:
        return models[model_id]
    for entry in models.values():
        if model_id in entry.get("aliases", ()):
            return entry
    return None


def model_info(provider: str, model: str, table: PriceTable | None = None) -> ModelInfo | None:
    """The known facts of a model: its exact id or alias, or a dated / "-latest" variant of one
    (`claude-sonnet-4-5-20250929` -> `claude-sonnet-4-5`). `id` is the id asked for."""
    models = (active_price_table() if table is None else table).get(provider)
    if models is None:
        return None
    entry = _find(models, model)
    if entry is None:
        variant = _VARIANT_SUFFIX.match(model)
        entry = _find(models, variant.group("base")) if variant else None
    return None if entry is None else _info(provider, model, entry)


def default_model_info(
    provider: str, model: str, *, context_window: int | None = None
) -> ModelInfo:
    """What we assume of a model we do not know (Roo's sane defaults for OpenAI-compatible
    endpoints): unknown prices (cost None), a 128k context window unless the provider's model
    listing said otherwise (`context_window`), 8192 output tokens, no images, no prompt
    cache, temperature accepted (except by the OpenAI families that refuse it: gpt-5*, o1...)."""
    fields = dict(_DEFAULTS)
    if context_window:
        fields["context_window"] = context_window
    if provider == "openai" and _NO_TEMPERATURE_FAMILY.match(model):
        fields["supports_temperature"] = False
        fields["supports_reasoning_effort"] = True
    return ModelInfo(id=model, provider=provider, known=False, priced=False, **fields)


def resolve_model_info(provider: str, model: str, table: PriceTable | None = None) -> ModelInfo:
    """`model_info`, falling back to `default_model_info`."""
    return model_info(provider, model, table) or default_model_info(provider, model)


def cost(
    info: ModelInfo,
    protocol: ApiProtocol,
    input_tokens: int,
    output_tokens: int,
    cache_write_tokens: int = 0,
    cache_read_tokens: int = 0,
) -> float | None:
    """USD cost of one response (Roo's `calculateApiCostAnthropic` / `...OpenAI`); None when
    the model's prices are unknown (`info.priced` false).

    Anthropic protocol: `input_tokens` excludes the cache tokens. OpenAI protocol: it includes
    them, so the uncached part is input - cache_write - cache_read, floored at 0."""
    if not info.priced:
        return None
    uncached = input_tokens
    if protocol == "openai":
        uncached = max(0, input_tokens - cache_write_tokens - cache_read_tokens)
    return (
        info.input_price * uncached
        + info.output_price * output_tokens
        + info.cache_write_price * cache_write_tokens
        + info.cache_read_price * cache_read_tokens
    ) / 1_000_000


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts and cost of one response or, summed with `+`, of a whole task. Token
    counts are as the provider reports them (see `cost` for the protocols' difference).
    `cost` None: unknown (a model without prices); a sum with an unknown part is unknown."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    cost: float | None = 0.0

    @classmethod
    def priced(
        cls,
        info: ModelInfo,
        protocol: ApiProtocol,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_write_tokens: int = 0,
        cache_read_tokens: int = 0,
    ) -> Usage:
        """Counts with their cost computed from the model's prices."""
        return cls(
            input_tokens,
            output_tokens,
            cache_write_tokens,
            cache_read_tokens,
            cost(
                info, protocol, input_tokens, output_tokens, cache_write_tokens, cache_read_tokens
            ),
        )

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            None if self.cost is None or other.cost is None else self.cost + other.cost,
        )

    def total_input_tokens(self, protocol: ApiProtocol) -> int:
        """All prompt tokens, cached or not (Roo's tokensIn for context accounting)."""
        if protocol == "anthropic":
            return self.input_tokens + self.cache_write_tokens + self.cache_read_tokens
        return self.input_tokens

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        """The inverse of `to_dict`; missing keys count as 0, a null cost is unknown."""
        cost = data.get("cost", 0.0)
        return cls(
            int(data.get("input_tokens") or 0),
            int(data.get("output_tokens") or 0),
            int(data.get("cache_write_tokens") or 0),
            int(data.get("cache_read_tokens") or 0),
            None if cost is None else float(cost),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cost": self.cost,
        }
