"""A user's own provider credentials route their tasks; the service's key never follows a base
URL the user chose."""

from __future__ import annotations

import pytest

from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.tasks.conftest import LLM_KEY, Api

DONE = Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})])
# The users' own fake servers below listen on loopback: an address a user's base URL may reach
# only when the operator allows it (docs/providers.md).
LOOPBACK_ALLOWED = pytest.mark.task_settings(provider_allowed_hosts=["127.0.0.1"])


@LOOPBACK_ALLOWED
async def test_users_key_and_base_url_are_used(api: Api, llm: FakeLLM) -> None:
    async with FakeLLM(api_key="sk-users-own-key") as own:
        own.script(DONE)
        response = await api.request(
            "PUT",
            "/api/v1/auth/providers/openai",
            json={"apiKey": "sk-users-own-key", "baseUrl": own.openai_base_url},
        )
        assert response.status_code == 200, response.text
        session = await api.session()
        task = await api.start(session, config={"provider": "openai", "model": "my-local-model"})
        done = await api.wait(session, task["id"], "completed")
        assert done["usage"]["cost"] is None  # an unknown model: its price is unknown
        assert len(own.requests) == 1
        assert own.requests[0].body["model"] == "my-local-model"
        assert llm.requests == []  # the service's endpoint was not used


@LOOPBACK_ALLOWED
async def test_service_key_never_goes_to_a_users_base_url(api: Api, llm: FakeLLM) -> None:
    # This server would accept the *service's* key: it must not receive it.
    async with FakeLLM(api_key=LLM_KEY) as theirs:
        theirs.script(DONE)
        response = await api.request(
            "PUT", "/api/v1/auth/providers/openai", json={"baseUrl": theirs.openai_base_url}
        )
        assert response.status_code == 200, response.text
        session = await api.session()
        task = await api.start(session)
        failed = await api.wait(session, task["id"], "failed")
        assert failed["failure"]["reason"] == "api_req_failed"
        assert "auth" in failed["failure"]["message"]
        assert theirs.requests
        assert all(r.outcome == "unauthorized" for r in theirs.requests)
        assert LLM_KEY not in failed["failure"]["message"]


async def test_users_key_alone_goes_to_the_service_endpoint(api: Api, llm: FakeLLM) -> None:
    response = await api.request(
        "PUT", "/api/v1/auth/providers/openai", json={"apiKey": "sk-wrong-for-the-service"}
    )
    assert response.status_code == 200
    session = await api.session()
    task = await api.start(session)
    failed = await api.wait(session, task["id"], "failed")
    # The fake service endpoint only takes the service key: the user's key was what it got.
    assert failed["failure"]["reason"] == "api_req_failed"
    assert llm.requests
    assert all(r.outcome == "unauthorized" for r in llm.requests)
