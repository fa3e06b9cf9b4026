"""The context window of a model the table does not know, from the provider's model listing
(the fake LLM's `GET /v1/models`), through the official SDKs."""

from __future__ import annotations

import pytest

from roo.agent.providers.anthropic import AnthropicProvider
from roo.agent.providers.openai import OpenAIProvider
from roo.testing import FakeLLM

KEY = "sk-listing-test-0123456789"


@pytest.mark.parametrize(
    "field", ["context_length", "max_model_len", "max_context_length", "context_window"]
)
async def test_an_openai_compatible_listing_gives_the_window(field: str) -> None:
    models = {"my-model": {field: 32_768}, "other": {field: 8_192}}
    async with FakeLLM(api_key=KEY, models=models) as llm:
        provider = OpenAIProvider(KEY, llm.openai_base_url, timeout=5)
        try:
            assert await provider.context_window("my-model") == 32_768
            assert await provider.context_window("missing") is None
        finally:
            await provider.aclose()
        assert llm.requests == []  # a listing is no model request


async def test_openais_own_listing_shape_gives_none() -> None:
    async with FakeLLM(api_key=KEY, models={"gpt-5.2": {}}) as llm:
        provider = OpenAIProvider(KEY, llm.openai_base_url, timeout=5)
        try:
            assert await provider.context_window("gpt-5.2") is None
        finally:
            await provider.aclose()


async def test_a_failing_listing_gives_none() -> None:
    async with FakeLLM(api_key=KEY, models={"my-model": {"context_length": 1000}}) as llm:
        provider = OpenAIProvider("sk-wrong-key-000000", llm.openai_base_url, timeout=5)
        try:
            assert await provider.context_window("my-model") is None  # 401: defaults
        finally:
            await provider.aclose()


async def test_anthropic_gives_no_window_and_asks_nothing() -> None:
    async with FakeLLM(api_key=KEY, models={"claude-next": {}}) as llm:
        provider = AnthropicProvider(KEY, llm.url, timeout=5)
        try:
            assert await provider.context_window("claude-next") is None
        finally:
            await provider.aclose()
