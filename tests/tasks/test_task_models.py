"""Models the table does not know, and the task's temperature, through the tasks API: the model
asked for runs, a warning says it is unknown, its cost is null, its window comes from the
provider's listing when there is one."""

from __future__ import annotations

import pytest

from roo.testing.fake_llm import FakeLLM, Reply, ToolCall, Usage
from tests.tasks.conftest import Api, Json

DONE = Reply(
    tool_calls=[ToolCall("attempt_completion", {"result": "ok"})],
    usage=Usage(input_tokens=100, output_tokens=5),
)


def of(events: list[Json], name: str) -> list[Json]:
    return [e["data"] for e in events if e["event"] == name]


@pytest.mark.parametrize(
    ("provider", "model"), [("anthropic", "claude-sonnet-4-6"), ("openai", "gpt-5.2")]
)
async def test_an_unknown_model_runs_with_a_warning_and_an_unknown_cost(
    api: Api, llm: FakeLLM, provider: str, model: str
) -> None:
    session = await api.session()
    llm.script(DONE)
    task = await api.start(session, config={"provider": provider, "model": model})
    assert task["model"] == model
    done = await api.wait(session, task["id"], "completed")

    assert llm.requests[0].model == model  # never another model
    assert done["usage"]["cost"] is None
    assert done["usage"]["inputTokens"] == 100
    events = await api.events(session)
    (started,) = of(events, "task.started")
    assert started["modelKnown"] is False
    (warning,) = of(events, "task.warning")
    assert warning["code"] == "unknown_model"
    assert model in warning["message"]
    assert (warning["contextWindow"], warning["contextWindowSource"]) == (128_000, "default")
    (complete,) = of(events, "task.complete")
    assert complete["usage"]["cost"] is None
    if model == "gpt-5.2":  # the gpt-5 family refuses temperature: none is sent
        assert "temperature" not in llm.requests[0].body


async def test_the_listing_gives_an_unknown_models_window(api: Api, llm: FakeLLM) -> None:
    llm.models = {"my-local-model": {"context_length": 32_768}}
    session = await api.session()
    llm.script(DONE)
    task = await api.start(session, config={"provider": "openai", "model": "my-local-model"})
    await api.wait(session, task["id"], "completed")

    (warning,) = of(await api.events(session), "task.warning")
    assert (warning["contextWindow"], warning["contextWindowSource"]) == (32_768, "provider")


async def test_a_known_model_has_no_warning_and_a_price(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(DONE)
    task = await api.start(session)
    done = await api.wait(session, task["id"], "completed")
    assert done["usage"]["cost"] > 0
    events = await api.events(session)
    assert of(events, "task.warning") == []
    assert of(events, "task.started")[0]["modelKnown"] is True


async def test_temperature_is_0_unless_the_task_says(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(DONE, DONE)
    first = await api.start(session)
    await api.wait(session, first["id"], "completed")
    second = await api.start(session, config={"temperature": 0.4})
    await api.wait(session, second["id"], "completed")
    assert [r.temperature for r in llm.requests] == [0, 0.4]


async def test_reasoning_effort_reaches_a_reasoning_model(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(DONE)
    config = {"model": "gpt-5", "reasoningEffort": "low", "temperature": 0.3}
    task = await api.start(session, config=config)
    await api.wait(session, task["id"], "completed")
    body = llm.requests[0].body
    assert body["reasoning_effort"] == "low"
    assert "temperature" not in body  # gpt-5 refuses it


@pytest.mark.parametrize(
    "config",
    [
        {"temperature": -0.1},
        {"temperature": 2.5},
        {"temperature": "hot"},
        {"reasoningEffort": "extreme"},
    ],
)
async def test_invalid_settings_are_422(api: Api, config: dict[str, object]) -> None:
    session = await api.session()
    response = await api.create(session, config=config)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
