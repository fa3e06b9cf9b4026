"""The mix users make at once (sessions deleted while their tasks run, tasks started, reads)
with a small connection pool: nothing holds a connection while it waits, so the pool never
runs dry and nothing times out.

Before this held, `DELETE /sessions/{id}` kept its request's connection while it waited for the
session's runs to record their cancellation, and each run needed a connection of its own to
record it: a handful of deletes took the whole pool, every other request waited out the pool
timeout, and the deletes themselves waited out the 10 s cancel wait.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text, update

from roo.api.state import Resources
from roo.db.engine import unit_of_work
from roo.db.models import Task
from roo.db.write_gate import SQLiteWriteGate
from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.tasks.conftest import Api

DONE_SLOWLY = Reply(
    tool_calls=[ToolCall("attempt_completion", {"result": "done"})], first_byte_delay=1.0
)
# Long enough that every task of a batch is still mid-request when the batch has started, on
# a machine as busy as CI's (the tests stop these tasks; none waits for the reply)
DONE_MUCH_LATER = Reply(
    tool_calls=[ToolCall("attempt_completion", {"result": "done"})], first_byte_delay=30.0
)


async def start_slow_tasks(api: Api, llm: FakeLLM, count: int) -> list[tuple[str, str]]:
    """`count` sessions, each with a task that is mid-request (the model answers slowly)."""
    llm.default_reply = DONE_MUCH_LATER
    running = []
    for _ in range(count):
        session_id = await api.session()
        task = await api.start(session_id)
        running.append((session_id, task["id"]))
    for session_id, task_id in running:
        await api.wait(session_id, task_id, "running")
    return running


@pytest.mark.task_settings(db_pool_max=3, db_pool_timeout=3.0, max_running_tasks=64)
async def test_deleting_sessions_while_their_tasks_run_starves_nothing(
    api: Api, llm: FakeLLM
) -> None:
    running = await start_slow_tasks(api, llm, 8)

    async def delete(session_id: str) -> httpx.Response:
        return await api.request("DELETE", f"/api/v1/sessions/{session_id}")

    async def start_another() -> httpx.Response:
        session_id = await api.session()
        return await api.create(session_id)

    answers = await asyncio.gather(
        *(delete(session_id) for session_id, _ in running),
        *(start_another() for _ in range(6)),
        *(api.request("GET", "/api/v1/auth/profile") for _ in range(6)),
    )

    statuses = [a.status_code for a in answers]
    assert statuses[:8] == [204] * 8, [a.text for a in answers if a.status_code >= 300]
    assert statuses[8:14] == [202] * 6, [a.text for a in answers if a.status_code >= 300]
    assert statuses[14:] == [200] * 6
    for session_id, _ in running:
        gone = await api.request("GET", f"/api/v1/sessions/{session_id}")
        assert gone.status_code == 404


@pytest.mark.task_settings(db_pool_max=2, db_pool_timeout=3.0)
async def test_cancelling_tasks_while_they_run_starves_nothing(api: Api, llm: FakeLLM) -> None:
    running = await start_slow_tasks(api, llm, 6)

    answers = await asyncio.gather(
        *(
            api.request("DELETE", f"/api/v1/sessions/{session_id}/tasks/{task_id}")
            for session_id, task_id in running
        )
    )

    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    assert {a.json()["state"] for a in answers} == {"cancelled"}


@pytest.mark.task_settings(db_pool_max=1, db_pool_min=1, db_pool_timeout=0.3)
async def test_a_run_that_finds_no_connection_waits_its_turn_while_requests_get_503(
    api: Api, llm: FakeLLM, app: FastAPI
) -> None:
    """A request that finds no connection within the pool timeout is answered 503 (someone
    waits for it); a run has no one waiting and work to lose, so it waits for its turn."""
    session_id = await api.session()
    llm.default_reply = DONE_SLOWLY
    task = await api.start(session_id)
    await api.wait(session_id, task["id"], "running")
    resources: Resources = app.state.resources

    async with unit_of_work(resources.db_sessions) as db:  # the pool's only connection
        await db.execute(text("SELECT 1"))
        busy = await api.request("GET", "/api/v1/auth/profile")
        # the model answers after 1 s: the run's next writes find the pool empty meanwhile
        await asyncio.sleep(2.0)

    assert busy.status_code == 503, busy.text
    assert busy.json()["type"] == "urn:roo:problem:service-overloaded"
    done = await api.wait(session_id, task["id"], "completed", "failed", "interrupted")
    assert done["state"] == "completed", done


@pytest.mark.task_settings(db_pool_max=3, db_pool_timeout=1.0, max_running_tasks=64)
async def test_runs_waiting_for_the_write_turn_leave_the_pool_to_requests(
    api: Api, llm: FakeLLM, app: FastAPI
) -> None:
    """SQLite: while a writer holds the database's write turn, the runs' next writes (their
    checkpoints and ends, the heartbeat) wait for it, for up to DATABASE_BACKGROUND_WAIT;
    they wait holding no connection, so a request that only reads still gets one. Before,
    each waited at its first write with its connection checked out: two of them took this
    pool of three, and every request was answered 503 until the turn came round."""
    resources: Resources = app.state.resources
    gate = SQLiteWriteGate.of(resources.engine)
    if gate is None:
        pytest.skip("PostgreSQL has no write turn")
    llm.default_reply = DONE_SLOWLY
    running = []
    for _ in range(4):
        session_id = await api.session()
        running.append((session_id, (await api.start(session_id))["id"]))
    for session_id, task_id in running:
        await api.wait(session_id, task_id, "running")
    holding, done = asyncio.Event(), asyncio.Event()

    async def holder() -> None:  # in a task of its own, as another request's would be
        async with unit_of_work(resources.db_sessions) as db:
            await db.execute(update(Task).where(Task.id.is_(None)).values(failure_message=None))
            holding.set()
            await done.wait()

    hold = asyncio.create_task(holder())
    try:
        await holding.wait()
        async with asyncio.timeout(20):  # the model answers after 1 s; then they queue
            while True:
                if gate.waiting() >= 2:
                    break
                await asyncio.sleep(0.02)
        profile = await api.request("GET", "/api/v1/auth/profile")
        sessions = await api.request("GET", "/api/v1/sessions")
    finally:
        done.set()
        await hold

    assert profile.status_code == 200, profile.text
    assert sessions.status_code == 200, sessions.text
    for session_id, task_id in running:
        ended = await api.wait(session_id, task_id, "completed", "failed", "interrupted")
        assert ended["state"] == "completed", ended
