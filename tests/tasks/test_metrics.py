"""A task run against the fake LLM shows in /metrics: the model call's latency with its outcome,
the tokens the provider reported, and the events the run appended."""

from __future__ import annotations

import httpx

from roo.tasks.llm_metrics import model_label
from roo.testing.fake_llm import FakeLLM, Reply, ToolCall, Usage
from tests.auth.conftest import SignIn
from tests.observability.scrapes import Scrape
from tests.tasks.conftest import Api

LLM = {"provider": "openai", "model": "gpt-4o"}


async def test_a_task_run_counts_llm_latency_tokens_and_events(
    api: Api, llm: FakeLLM, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    admin = await sign_in("admin")

    async def scrape() -> Scrape:
        response = await client.get("/metrics", headers=admin.headers)
        assert response.status_code == 200, response.text
        return Scrape(response.text)

    session = await api.session()
    before = await scrape()
    llm.script(
        Reply(
            text="Done.",
            tool_calls=[ToolCall("attempt_completion", {"result": "ok"})],
            usage=Usage(input_tokens=120, output_tokens=30),
        )
    )
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    after = await scrape()

    def delta(name: str, **labels: str) -> float:
        return after.total(name, **labels) - before.total(name, **labels)

    assert delta("roo_llm_request_duration_seconds_count", **LLM, outcome="ok") == 1
    assert delta("roo_llm_tokens_total", **LLM, kind="output") == 30
    assert delta("roo_llm_tokens_total", **LLM, kind="input") == 120
    events = await api.events(session)
    assert events
    assert delta("roo_task_events_appended_total") >= len(events)


def test_a_model_outside_the_price_table_is_labelled_other() -> None:
    """A custom base URL takes any model name: each would otherwise be a new series."""
    assert model_label("openai", "gpt-4o") == "gpt-4o"
    assert model_label("openai", "my-own-fine-tune-123") == "other"
    assert model_label("nobody", "gpt-4o") == "other"
