"""Model facts, the price table and Roo's cost rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from roo.agent.pricing import (
    ModelInfo,
    Usage,
    builtin_price_table,
    cost,
    default_model_info,
    known_models,
    load_price_table,
    model_info,
    resolve_model_info,
    use_price_table,
)


@pytest.fixture(autouse=True)
def _builtin_table() -> Iterator[None]:
    use_price_table(None)
    yield
    use_price_table(None)


def test_table_is_package_data() -> None:
    data = json.loads(
        resources.files("roo.agent").joinpath("models.json").read_text(encoding="utf-8")
    )
    assert {"anthropic", "openai"} <= set(data)
    assert builtin_price_table()["anthropic"]["claude-sonnet-4-5"]["input_price"] == 3.0


@pytest.mark.parametrize(
    ("provider", "model", "prices", "context", "max_tokens"),
    [
        ("anthropic", "claude-sonnet-4-5", (3, 15, 3.75, 0.3), 200_000, 64_000),
        ("anthropic", "claude-opus-4-1", (15, 75, 18.75, 1.5), 200_000, 32_000),
        ("anthropic", "claude-haiku-4-5", (1, 5, 1.25, 0.1), 200_000, 64_000),
        ("anthropic", "claude-3-5-haiku-latest", (0.8, 4, 1, 0.08), 200_000, 8192),
        ("openai", "gpt-4o", (2.5, 10, 0, 1.25), 128_000, 16_384),
        ("openai", "gpt-4o-mini", (0.15, 0.6, 0, 0.075), 128_000, 16_384),
        ("openai", "gpt-4.1", (2, 8, 0, 0.5), 1_047_576, 32_768),
        ("openai", "gpt-5", (1.25, 10, 0, 0.125), 400_000, 128_000),
        ("openai", "o3-mini", (1.1, 4.4, 0, 0.55), 200_000, 100_000),
    ],
)
def test_known_models(
    provider: str,
    model: str,
    prices: tuple[float, float, float, float],
    context: int,
    max_tokens: int,
) -> None:
    info = model_info(provider, model)
    assert info is not None
    assert info.known
    assert (info.input_price, info.output_price, info.cache_write_price, info.cache_read_price) == (
        pytest.approx(prices)
    )
    assert info.context_window == context
    assert info.max_tokens == max_tokens


@pytest.mark.parametrize(
    ("provider", "model", "base_price"),
    [
        ("anthropic", "claude-sonnet-4-5-20250929", 3.0),
        ("anthropic", "claude-opus-4-1-20250805", 15.0),
        ("anthropic", "claude-sonnet-4-20250514", 3.0),  # alias claude-sonnet-4 + date
        ("anthropic", "claude-3-5-haiku-20241022", 0.8),
        ("openai", "gpt-4o-2024-08-06", 2.5),
        ("openai", "gpt-4o-mini-2024-07-18", 0.15),
        ("openai", "o3-mini-2025-01-31", 1.1),
        ("openai", "chatgpt-4o-latest", 2.5),
    ],
)
def test_dated_variants(provider: str, model: str, base_price: float) -> None:
    info = model_info(provider, model)
    assert info is not None
    assert info.id == model
    assert info.input_price == base_price


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("anthropic", "claude-sonnet-4-5-beta"),  # not a date
        ("anthropic", "gpt-4o"),  # wrong provider
        ("openai", "gpt-4o-mini-fast"),
        ("mistral", "mistral-large"),
        ("openai", "llama3.1:8b"),
    ],
)
def test_unknown_models(provider: str, model: str) -> None:
    assert model_info(provider, model) is None
    info = resolve_model_info(provider, model)
    assert info == default_model_info(provider, model)
    assert not info.known
    assert info.context_window == 128_000
    assert info.max_tokens == 8192
    assert not info.priced
    assert cost(info, "openai", 10_000, 10_000, 0, 5000) is None  # unknown, never a made-up 0
    assert Usage.priced(info, "openai", 10, 10).cost is None
    assert (Usage(cost=1.0) + Usage.priced(info, "openai", 1, 1)).cost is None
    assert Usage.from_dict(Usage(cost=None).to_dict()).cost is None


def test_fake_models_for_tests() -> None:
    for provider in ("anthropic", "openai"):
        info = model_info(provider, "fake")
        assert info is not None
        assert (info.input_price, info.output_price) == (1.0, 2.0)
        assert (info.cache_write_price, info.cache_read_price) == (1.25, 0.1)
        assert (info.context_window, info.max_tokens) == (200_000, 8192)
    assert "fake" in known_models("openai")
    assert known_models("openai") == sorted(known_models("openai"))
    assert known_models("nobody") == []


FAKE = ModelInfo("fake", "anthropic", 200_000, 8192, True, True, 1.0, 2.0, 1.25, 0.1)


def test_cost_anthropic_protocol_input_excludes_cache() -> None:
    # 1M uncached in + 1M out + 1M cache write + 1M cache read
    assert cost(FAKE, "anthropic", 1_000_000, 1_000_000, 1_000_000, 1_000_000) == pytest.approx(
        1.0 + 2.0 + 1.25 + 0.1
    )
    assert cost(FAKE, "anthropic", 1000, 500, 0, 0) == pytest.approx(0.001 + 0.001)


def test_cost_openai_protocol_input_includes_cache() -> None:
    # 3M input of which 1M written to and 1M read from the cache: 1M uncached
    assert cost(FAKE, "openai", 3_000_000, 1_000_000, 1_000_000, 1_000_000) == pytest.approx(
        1.0 + 2.0 + 1.25 + 0.1
    )
    # the uncached part is floored at 0
    assert cost(FAKE, "openai", 100, 0, 0, 1_000_000) == pytest.approx(0.1)


def test_cost_with_list_prices() -> None:
    sonnet = model_info("anthropic", "claude-sonnet-4-5")
    assert sonnet is not None
    assert cost(sonnet, "anthropic", 10_000, 2_000, 5_000, 20_000) == pytest.approx(
        (10_000 * 3 + 2_000 * 15 + 5_000 * 3.75 + 20_000 * 0.3) / 1e6
    )
    gpt = model_info("openai", "gpt-4o")
    assert gpt is not None
    assert cost(gpt, "openai", 10_000, 1_000, 0, 4_000) == pytest.approx(
        (6_000 * 2.5 + 1_000 * 10 + 4_000 * 1.25) / 1e6
    )


def test_usage_sums_and_serialises() -> None:
    a = Usage.priced(FAKE, "anthropic", 1000, 100, 10, 1)
    b = Usage(input_tokens=5, output_tokens=6, cache_write_tokens=7, cache_read_tokens=8, cost=0.5)
    total = a + b
    assert total.input_tokens == 1005
    assert total.output_tokens == 106
    assert total.cache_write_tokens == 17
    assert total.cache_read_tokens == 9
    assert total.cost == pytest.approx(a.cost + 0.5)
    assert sum([a, b], Usage()) == total
    data = total.to_dict()
    assert set(data) == {
        "input_tokens",
        "output_tokens",
        "cache_write_tokens",
        "cache_read_tokens",
        "cost",
    }
    assert Usage.from_dict(data) == total
    assert Usage.from_dict({}) == Usage()
    assert total.total_input_tokens("anthropic") == 1005 + 17 + 9
    assert total.total_input_tokens("openai") == 1005


def test_load_price_table_merges_and_installs(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {
                "_comment": "ours",
                "anthropic": {"claude-sonnet-4-5": {"input_price": 2.5}},
                "openai": {"my-model": {"context_window": 32_000, "output_price": 1.0}},
                "local": {"qwen": {}},
            }
        )
    )
    table = load_price_table(path, install=False)
    assert table["anthropic"]["claude-sonnet-4-5"]["input_price"] == 2.5
    assert table["anthropic"]["claude-sonnet-4-5"]["output_price"] == 15.0
    assert model_info("anthropic", "claude-sonnet-4-5").input_price == 3.0  # type: ignore[union-attr]
    sonnet = model_info("anthropic", "claude-sonnet-4-5-20250929", table)
    assert sonnet is not None
    assert sonnet.input_price == 2.5

    load_price_table(path)  # installed: the default of the lookups from now on
    mine = model_info("openai", "my-model")
    assert mine is not None
    assert (mine.context_window, mine.max_tokens, mine.output_price) == (32_000, 8192, 1.0)
    assert model_info("local", "qwen") is not None
    assert "my-model" in known_models("openai")
    assert builtin_price_table()["anthropic"]["claude-sonnet-4-5"]["input_price"] == 3.0


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps([1, 2]),
        json.dumps({"openai": []}),
        json.dumps({"openai": {"m": {"input_price": -1}}}),
        json.dumps({"openai": {"m": {"context_window": "big"}}}),
        json.dumps({"openai": {"m": {"supports_images": 1}}}),
        json.dumps({"openai": {"m": {"price": 1}}}),
    ],
)
def test_load_price_table_rejects_bad_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=r"prices\.json"):
        load_price_table(path)
    assert model_info("openai", "m") is None


def test_load_price_table_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        load_price_table(tmp_path / "nope.json")
