"""Which provider and model run a task, with whose key: request > session > service defaults.

Keys and base URLs: the user's stored credentials for the provider first, then the service's
(`ANTHROPIC_API_KEY`/`ANTHROPIC_BASE_URL`, `OPENAI_API_KEY`/`OPENAI_BASE_URL`). A base URL the
user chose is reached through the egress guard (`roo.security.egress`): public addresses only,
checked at every connection, no redirects. A model must be
in the price table, except behind a custom base URL (Ollama, vLLM, a proxy), where any model
name is accepted with unknown prices (cost 0).
"""

from __future__ import annotations

import contextlib
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from roo.agent.pricing import ModelInfo, default_model_info, known_models, model_info
from roo.agent.providers.base import Provider
from roo.agent.providers.factory import PROVIDERS, build_provider
from roo.config import Settings
from roo.credentials.service import CredentialStore
from roo.kit.errors import Unprocessable


class ProviderNotConfigured(Unprocessable):
    slug, title = "provider-not-configured", "No model provider configured"


class UnknownModel(Unprocessable):
    slug, title = "unknown-model", "Unknown model"


@dataclass(frozen=True, slots=True)
class ModelChoice:
    provider: str
    model: str
    info: ModelInfo


@dataclass(frozen=True, slots=True)
class Endpoint:
    api_key: str | None
    base_url: str | None
    # The user chose the base URL: connections go through the egress guard.
    guarded: bool = False


def _service_endpoint(settings: Settings, provider: str) -> Endpoint:
    if provider == "anthropic":
        key, url = settings.anthropic_api_key, settings.anthropic_base_url
    else:
        key, url = settings.openai_api_key, settings.openai_base_url
    return Endpoint(key.get_secret_value() if key else None, url)


# Distinct (provider, key, base URL) clients kept for reuse; beyond it the least recently used
# is dropped (not closed: a running task may still hold it; its connections close with it).
CLIENT_CACHE_SIZE = 256


class ModelResolver:
    def __init__(self, settings: Settings, credentials: CredentialStore) -> None:
        self._settings = settings
        self._credentials = credentials
        # One SDK client per endpoint, shared by the tasks that use it: building one costs
        # ~20 ms of CPU (TLS context) and its connection pool is worth reusing.
        self._clients: OrderedDict[tuple[str, str | None, str | None, bool], Provider] = (
            OrderedDict()
        )

    async def endpoint(self, db: AsyncSession, user_id: uuid.UUID, provider: str) -> Endpoint:
        service = _service_endpoint(self._settings, provider)
        own = await self._credentials.resolve(db, user_id, provider)
        if own is None:
            return service
        # the service's key never goes to a base URL the user chose
        key, url = own.over_defaults(service.api_key, service.base_url)
        return Endpoint(key, url, guarded=own.base_url is not None)

    async def choose(
        self,
        db: AsyncSession,
        user_id: uuid.UUID,
        requested: Mapping[str, Any],
        session_config: Mapping[str, Any],
    ) -> ModelChoice:
        """Validate the provider/model a new task would use; 422 saying what to set."""
        settings = self._settings
        provider = (
            requested.get("provider") or session_config.get("provider") or settings.default_provider
        )
        if provider is None:
            for candidate in PROVIDERS:
                if _service_endpoint(settings, candidate).api_key:
                    provider = candidate
                    break
        if provider is None:
            raise ProviderNotConfigured(
                "No model provider is configured: pass config.provider (anthropic or openai), "
                "set it in the session's config, or set ROO_DEFAULT_PROVIDER"
            )
        if provider not in PROVIDERS:
            raise ProviderNotConfigured(
                f"Unknown provider {provider!r}; known providers: {', '.join(PROVIDERS)}"
            )
        model = requested.get("model") or session_config.get("model") or settings.default_model
        if not model:
            raise ProviderNotConfigured(
                "No model is configured: pass config.model, set it in the session's config, or "
                "set ROO_DEFAULT_MODEL"
            )
        endpoint = await self.endpoint(db, user_id, provider)
        if not endpoint.api_key and not endpoint.base_url:
            env = "ANTHROPIC_API_KEY" if provider == "anthropic" else "OPENAI_API_KEY"
            raise ProviderNotConfigured(
                f"No API key for provider {provider}: store one with PUT "
                f"/api/v1/auth/providers/{provider} or ask the operator to set {env}"
            )
        info = model_info(provider, model)
        if info is None:
            if not endpoint.base_url:
                known = ", ".join(known_models(provider))
                raise UnknownModel(
                    f"Unknown model {model!r} for provider {provider}; known models: {known}. "
                    "Any model name works behind a custom base URL."
                )
            info = default_model_info(provider, model)
        return ModelChoice(provider, model, info)

    def build(self, provider: str, endpoint: Endpoint) -> Provider:
        """The shared client for this endpoint (callers must not close it)."""
        key = (provider, endpoint.api_key, endpoint.base_url, endpoint.guarded)
        client = self._clients.get(key)
        if client is None:
            client = build_provider(
                provider,
                api_key=endpoint.api_key,
                base_url=endpoint.base_url,
                timeout=self._settings.llm_timeout_seconds,
                egress=self._credentials.egress if endpoint.guarded else None,
            )
            self._clients[key] = client
            while len(self._clients) > CLIENT_CACHE_SIZE:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(key)
        return client

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            with contextlib.suppress(Exception):
                await client.aclose()
