"""Tasks run against the project's fake LLM server on loopback, through the official SDKs."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from roo.app import create_app
from roo.config import Settings
from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.auth.conftest import SignedIn, SignIn, auth, make_user, resources, sign_in
from tests.support.lifespan import app_lifespan

__all__ = ["auth", "make_user", "resources", "sign_in"]

LLM_KEY = "sk-fake-service-key"


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with FakeLLM(api_key=LLM_KEY) as server:
        yield server


@pytest.fixture
def settings(settings: Settings, llm: FakeLLM, request: pytest.FixtureRequest) -> Settings:
    """The service's defaults point at the fake server; retries and heartbeats are fast.
    `@pytest.mark.task_settings(name=value)` overrides more for one test."""
    marker = request.node.get_closest_marker("task_settings")
    overrides = marker.kwargs if marker else {}
    return settings.model_copy(
        update={
            "openai_base_url": llm.openai_base_url,
            "openai_api_key": SecretStr(LLM_KEY),
            "anthropic_base_url": llm.anthropic_base_url,
            "anthropic_api_key": SecretStr(LLM_KEY),
            "default_provider": "openai",
            "default_model": "gpt-4o",
            "llm_retry_base_delay": 0.01,
            "llm_timeout_seconds": 5.0,
            "task_heartbeat_seconds": 0.2,
            "task_create_limit": "1000/minute",
            **overrides,
        }
    )


Json = dict[str, Any]


class Api:
    """A signed-in user's view of the tasks API."""

    def __init__(self, client: httpx.AsyncClient, user: SignedIn) -> None:
        self.client, self.user = client, user

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, url, headers=self.user.headers, **kwargs)

    async def session(self, **config: Any) -> str:
        response = await self.request(
            "POST", "/api/v1/sessions", json={"name": "tasks", "config": config}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def write(self, session_id: str, path: str, content: str) -> None:
        response = await self.request(
            "PUT", f"/api/v1/sessions/{session_id}/files/{path}", content=content.encode()
        )
        assert response.status_code in (200, 201), response.text

    async def read(self, session_id: str, path: str) -> str:
        response = await self.request("GET", f"/api/v1/sessions/{session_id}/files/{path}")
        assert response.status_code == 200, response.text
        return response.text

    async def create(self, session_id: str, text: str = "do it", **body: Any) -> httpx.Response:
        return await self.request(
            "POST", f"/api/v1/sessions/{session_id}/tasks", json={"input": text, **body}
        )

    async def start(self, session_id: str, text: str = "do it", **body: Any) -> Json:
        response = await self.create(session_id, text, **body)
        assert response.status_code == 202, response.text
        task: Json = response.json()
        return task

    async def task(self, session_id: str, task_id: str) -> Json:
        response = await self.request("GET", f"/api/v1/sessions/{session_id}/tasks/{task_id}")
        assert response.status_code == 200, response.text
        body: Json = response.json()
        return body

    async def act(self, session_id: str, task_id: str, **body: Any) -> httpx.Response:
        return await self.request(
            "PUT", f"/api/v1/sessions/{session_id}/tasks/{task_id}", json=body
        )

    async def wait(self, session_id: str, task_id: str, *states: str, within: float = 20.0) -> Json:
        deadline = time.monotonic() + within
        while True:
            task = await self.task(session_id, task_id)
            if task["state"] in states:
                return task
            if time.monotonic() > deadline:
                raise AssertionError(f"task stayed {task['state']}, wanted {states}: {task}")
            await asyncio.sleep(0.02)

    async def wait_event(
        self, session_id: str, matches: Callable[[Json], bool], within: float = 10.0
    ) -> Json:
        """The first event of the session for which `matches` is true, polling for it."""
        deadline = time.monotonic() + within
        while True:
            for event in await self.events(session_id):
                if matches(event):
                    return event
            if time.monotonic() > deadline:
                raise AssertionError("no such event came")
            await asyncio.sleep(0.02)

    async def events(self, session_id: str, after: int = 0, limit: int = 1000) -> list[Json]:
        response = await self.request(
            "GET", f"/api/v1/sessions/{session_id}/events", params={"after": after, "limit": limit}
        )
        assert response.status_code == 200, response.text
        items: list[Json] = response.json()["items"]
        return items


MakeApi = Callable[..., Awaitable[Api]]


@pytest.fixture
def make_api(client: httpx.AsyncClient, sign_in: SignIn) -> MakeApi:
    async def make(role: str = "member") -> Api:
        return Api(client, await sign_in(role))

    return make


@pytest.fixture
async def api(make_api: MakeApi) -> Api:
    return await make_api()


def new_id() -> str:
    return uuid.uuid4().hex


# Auto-approved commands, for tests where approvals are not the point
RUN_ANYTHING = {"autoApproveExecute": True, "allowedCommands": ["*"]}


def question(text: str = "?") -> Reply:
    """A reply asking the user a follow-up question (the task then waits for an answer)."""
    return Reply(
        tool_calls=[
            ToolCall("ask_followup_question", {"question": text, "follow_up": [{"text": "y"}]})
        ]
    )


def is_command_event(event: Json) -> bool:
    return event["event"] == "tool.execution" and event["data"]["tool"] == "execute_command"


def tool_results_of(llm: FakeLLM, request: int = -1) -> list[Json]:
    """The tool results of one OpenAI request to the fake server (role:tool messages)."""
    messages = llm.requests[request].body["messages"]
    return [msg for msg in messages if msg.get("role") == "tool"]


@pytest.fixture
async def other(settings: Settings, api: Api) -> AsyncIterator[Api]:
    """The same user talking to a second app instance (its own task runner), as a second
    process of `roo serve --workers 2` on the same database."""
    second: FastAPI = create_app(settings)
    async with app_lifespan(second):
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url="http://second") as client:
            yield Api(client, api.user)
