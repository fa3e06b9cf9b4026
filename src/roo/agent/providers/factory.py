"""Build a configured provider from its name, key and base URL."""

from __future__ import annotations

from typing import Final

from roo.agent.providers.anthropic import AnthropicProvider
from roo.agent.providers.base import Provider
from roo.agent.providers.openai import OpenAIProvider
from roo.security.egress import EgressPolicy

PROVIDERS: Final = ("anthropic", "openai")


def build_provider(
    name: str,
    *,
    api_key: str | None,
    base_url: str | None,
    timeout: float = 600,
    egress: EgressPolicy | None = None,
) -> Provider:
    """A provider for `name` ("anthropic" or "openai"; the OpenAI one also serves compatible
    servers through `base_url`). `timeout` (seconds) bounds each request. With `egress`, every
    connection goes through that policy's guard (a base URL a user chose). Unknown names raise
    `ValueError`."""
    if name == "anthropic":
        return AnthropicProvider(api_key, base_url, timeout=timeout, egress=egress)
    if name == "openai":
        return OpenAIProvider(api_key, base_url, timeout=timeout, egress=egress)
    raise ValueError(f"unknown provider {name!r} (known: {', '.join(PROVIDERS)})")
