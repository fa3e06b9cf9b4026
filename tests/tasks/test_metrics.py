"""A task run against the fake LLM shows in /metrics: the events the run appended."""

from __future__ import annotations

import httpx

from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.auth.conftest import SignIn
from tests.observability.scrapes import Scrape
from tests.tasks.conftest import Api


async def test_a_task_run_counts_the_events_it_appends(
    api: Api, llm: FakeLLM, client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    admin = await sign_in("admin")

    async def scrape() -> Scrape:
        response = await client.get("/metrics", headers=admin.headers)
        assert response.status_code == 200, response.text
        return Scrape(response.text)

    session = await api.session()
    before = await scrape()
    llm.script(Reply(text="Done.", tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]))
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    after = await scrape()

    events = await api.events(session)
    assert events
    appended = after.total("roo_task_events_appended_total") - before.total(
        "roo_task_events_appended_total"
    )
    assert appended >= len(events)
