"""A task run against the fake LLM shows in /metrics: the model call's latency with its outcome,
the tokens the provider reported and their cost, the events the run appended; audit writes are
timed."""

from __future__ import annotations

import httpx
import pytest

from roo.agent.pricing import model_info
from roo.tasks.llm_metrics import model_label
from roo.testing.fake_llm import Failure, FakeLLM, Reply, ToolCall, Usage
from tests.auth.conftest import SignIn
from tests.observability.scrapes import Scrape
from tests.tasks.conftest import RUN_ANYTHING, Api

LLM = {"provider": "openai", "model": "gpt-4o"}


@pytest.mark.task_settings(llm_retry_attempts=1)
async def test_a_task_run_counts_llm_latency_tokens_cost_and_events(
    api: Api, llm: FakeLLM, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    admin = await sign_in("admin")

    async def scrape() -> Scrape:
        response = await client.get("/metrics", headers=admin.headers)
        assert response.status_code == 200, response.text
        return Scrape(response.text)

    session = await api.session(approvalPolicy=RUN_ANYTHING)
    before = await scrape()
    llm.script(
        Reply(
            text="Running.",
            tool_calls=[ToolCall("execute_command", {"command": "echo hi"})],
            usage=Usage(input_tokens=1000, output_tokens=200),
        ),
        Reply(
            text="Done.",
            tool_calls=[ToolCall("attempt_completion", {"result": "ok"})],
            usage=Usage(input_tokens=1500, output_tokens=30),
        ),
    )
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    after = await scrape()

    def delta(name: str, **labels: str) -> float:
        return after.total(name, **labels) - before.total(name, **labels)

    assert delta("roo_llm_request_duration_seconds_count", **LLM, outcome="ok") == 2
    assert delta("roo_llm_request_duration_seconds_sum", **LLM, outcome="ok") > 0
    assert delta("roo_llm_tokens_total", **LLM, kind="input") == 2500
    assert delta("roo_llm_tokens_total", **LLM, kind="output") == 230
    info = model_info("openai", "gpt-4o")
    assert info is not None
    expected = (2500 * info.input_price + 230 * info.output_price) / 1_000_000
    assert delta("roo_llm_cost_dollars_total", **LLM) == pytest.approx(expected)
    # the command's audit row is written in a unit of work of its own, and timed
    assert delta("roo_audit_write_duration_seconds_count", kind="row") >= 1
    events = await api.events(session)
    assert events
    assert delta("roo_task_events_appended_total") >= len(events)


@pytest.mark.task_settings(llm_retry_attempts=0)
async def test_a_failed_model_call_is_timed_with_its_error_kind(
    api: Api, llm: FakeLLM, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    admin = await sign_in("admin")
    scrape = Scrape((await client.get("/metrics", headers=admin.headers)).text)
    llm.script(Failure(status=401))
    session = await api.session()
    task = await api.start(session)
    await api.wait(session, task["id"], "failed")
    after = Scrape((await client.get("/metrics", headers=admin.headers)).text)
    name = "roo_llm_request_duration_seconds_count"
    assert after.total(name, **LLM, outcome="auth") - scrape.total(name, **LLM, outcome="auth") == 1


def test_a_model_outside_the_price_table_is_labelled_other() -> None:
    """A custom base URL takes any model name: each would otherwise be a new series."""
    assert model_label("openai", "gpt-4o") == "gpt-4o"
    assert model_label("openai", "my-own-fine-tune-123") == "other"
    assert model_label("nobody", "gpt-4o") == "other"
