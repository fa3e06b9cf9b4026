"""Waking the task inbox of another process (`roo.realtime.wake`): two app instances on one
database, the task run by the first, the approval, message or cancel sent to the second. The
first's inbox poll is set to an hour, so the run can only go on at once if the push woke it:
over Redis pub/sub, or PostgreSQL LISTEN/NOTIFY without Redis. With the listener down the poll
still finds the mail. The Redis half needs REDIS_URL, the NOTIFY half PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from roo.api.state import Resources
from roo.app import create_app
from roo.config import Settings
from roo.realtime.bus import RedisEventBus
from roo.realtime.wake import InboxWakes, PostgresInboxWakes, RedisInboxWakes
from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.realtime.test_redis import MakeBus, _client_id, make_bus
from tests.support.databases import is_postgres
from tests.support.lifespan import app_lifespan
from tests.tasks.conftest import RUN_ANYTHING, Api, is_command_event, tool_results_of

__all__ = ["make_bus"]

HOUR = 3600.0
# Nothing reads the first instance's inboxes unless woken: no poll, and no heartbeat round
# (its loop reads the inboxes at each beat too) within the test.
LONG_POLL = pytest.mark.task_settings(task_inbox_poll_seconds=HOUR, task_heartbeat_seconds=HOUR)
BACKENDS = pytest.mark.parametrize("settings", ["redis", "postgres"], indirect=True)


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Both instances' settings, for the tests marked `BACKENDS`: with Redis, or on PostgreSQL
    without it (NOTIFY)."""
    backend = getattr(request, "param", None)
    if backend is None:
        return settings
    if backend == "redis":
        if not settings.redis_url:
            pytest.skip("REDIS_URL not set: the Redis half runs in CI's second pass")
        return settings
    if not is_postgres(settings.db_url):
        pytest.skip("NOTIFY needs PostgreSQL (DATABASE_URL)")
    return settings.model_copy(update={"redis_url": None})


@dataclass
class Instance:
    api: Api
    resources: Resources


@pytest.fixture
async def second(settings: Settings, api: Api) -> AsyncIterator[Instance]:
    """The same user on a second app instance (a second `roo serve` process)."""
    app: FastAPI = create_app(settings)
    async with app_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://second") as client:
            yield Instance(Api(client, api.user), app.state.resources)


def _expected_kind(settings: Settings) -> type[InboxWakes]:
    return RedisInboxWakes if settings.redis_url else PostgresInboxWakes


@BACKENDS
@LONG_POLL
async def test_an_approval_through_one_instance_wakes_the_run_on_the_other(
    settings: Settings, api: Api, second: Instance, llm: FakeLLM, resources: Resources
) -> None:
    for wakes in (resources.inbox_wakes, second.resources.inbox_wakes):
        assert type(wakes) is _expected_kind(settings)
        assert wakes.live
    liveness = resources.tasks.runner.liveness
    session = await api.session()
    llm.script(
        Reply(tool_calls=[ToolCall("execute_command", {"command": "echo far"}, id="c1")]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]),
    )
    task = await api.start(session)  # run by the first instance
    waiting = await second.api.wait(session, task["id"], "awaiting_approval")
    reads, wakes = liveness.inbox_reads, liveness.wakes
    response = await second.api.act(
        session, task["id"], action="approve", approvalId=waiting["pending"]["id"]
    )
    assert response.status_code == 200, response.text
    # an hour's poll: only the wake-up can have made it go on
    done = await second.api.wait(session, task["id"], "completed", within=20)
    assert done["result"] == "ok"
    assert "far" in json.dumps(tool_results_of(llm)[-1]["content"])
    assert liveness.wakes > wakes
    assert liveness.inbox_reads > reads


@BACKENDS
@LONG_POLL
async def test_a_message_and_a_cancel_through_one_instance_wake_the_run_on_the_other(
    api: Api, second: Instance, llm: FakeLLM
) -> None:
    session = await api.session(approvalPolicy=RUN_ANYTHING)
    llm.script(
        Reply(tool_calls=[ToolCall("list_files", {"path": "."})], first_byte_delay=1.0),
        Reply(tool_calls=[ToolCall("execute_command", {"command": "sleep 30"})]),
    )
    task = await api.start(session)
    await second.api.wait(session, task["id"], "running")
    response = await second.api.act(session, task["id"], action="message", text="remote note")
    assert response.status_code == 200, response.text
    await second.api.wait_event(session, is_command_event)
    assert "remote note" in json.dumps(llm.requests[-1].body["messages"])
    # DELETE waits up to 10 s for the run to record `cancelled`: it does, once woken
    response = await second.api.request("DELETE", f"/api/v1/sessions/{session}/tasks/{task['id']}")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "cancelled"
    assert response.json()["failure"]["reason"] == "user_cancelled"


@BACKENDS
@pytest.mark.task_settings(task_inbox_poll_seconds=0.2, task_heartbeat_seconds=HOUR)
async def test_with_the_listener_down_the_poll_still_finds_the_mail(
    api: Api, second: Instance, llm: FakeLLM, resources: Resources
) -> None:
    liveness = resources.tasks.runner.liveness
    await resources.inbox_wakes.aclose()  # the first instance no longer listens
    assert not resources.inbox_wakes.live
    session = await api.session()
    llm.script(
        Reply(tool_calls=[ToolCall("execute_command", {"command": "echo far"}, id="c1")]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]),
    )
    task = await api.start(session)
    waiting = await second.api.wait(session, task["id"], "awaiting_approval")
    wakes = liveness.wakes
    response = await second.api.act(
        session, task["id"], action="approve", approvalId=waiting["pending"]["id"]
    )
    assert response.status_code == 200, response.text
    done = await second.api.wait(session, task["id"], "completed", within=20)
    assert done["result"] == "ok"
    assert liveness.wakes == wakes  # the wake-up was sent, and lost: the poll found the mail


# -- the listeners alone ------------------------------------------------------------------------


class Woken:
    """A wake handler that counts its calls and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.calls = 0
        self._event = asyncio.Event()

    def __call__(self) -> None:
        self.calls += 1
        self._event.set()

    async def after(self, calls: int, within: float = 5.0) -> None:
        """Until it was called more than `calls` times."""
        async with asyncio.timeout(within):
            while self.calls <= calls:
                self._event.clear()
                await self._event.wait()


@pytest.fixture
def postgres_settings(settings: Settings) -> Settings:
    if not is_postgres(settings.db_url):
        pytest.skip("NOTIFY needs PostgreSQL (DATABASE_URL)")
    return settings


def _dsn(settings: Settings) -> str:
    url = make_url(settings.db_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def test_notify_wakes_the_listener_of_its_runner_only_and_it_comes_back_after_a_drop(
    postgres_settings: Settings, resources: Resources
) -> None:
    mine, theirs = Woken(), Woken()
    one = PostgresInboxWakes(_dsn(postgres_settings), resources.db_sessions)
    other = PostgresInboxWakes(_dsn(postgres_settings), resources.db_sessions)
    runner = uuid.uuid4().hex
    try:
        await one.listen(runner, mine)
        await other.listen(uuid.uuid4().hex, theirs)
        assert one.live
        assert other.live
        await mine.after(0)  # connecting wakes it once: what was sent before was lost
        calls, their_calls = mine.calls, theirs.calls
        other.send(runner)  # from the other process
        await mine.after(calls)
        assert theirs.calls == their_calls
        # the listener's connection is killed: it reconnects, and wakes once when it does
        pid = one.backend_pid
        async with resources.db_sessions() as db:
            assert await db.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        calls = mine.calls
        await mine.after(calls)
        deadline = time.monotonic() + 5
        while not (one.live and one.connections == 2):
            assert time.monotonic() < deadline, "the listener did not reconnect"
            await asyncio.sleep(0.02)
        calls = mine.calls
        other.send(runner)
        await mine.after(calls)
    finally:
        await one.aclose()
        await other.aclose()


async def test_a_topic_added_to_a_connected_listener_shares_its_connection(
    postgres_settings: Settings, resources: Resources
) -> None:
    """Another mailbox (topic) of the process, listened to once the inbox listener is up: its
    wake-ups reach it alone, over the same connection, and again after a reconnect."""
    inbox, mcp = Woken(), Woken()
    one = PostgresInboxWakes(_dsn(postgres_settings), resources.db_sessions)
    other = PostgresInboxWakes(_dsn(postgres_settings), resources.db_sessions)
    process = uuid.uuid4().hex
    try:
        await one.listen(process, inbox)
        await one.on_signal("mcp", process, mcp)
        await mcp.after(0)  # listening wakes it once
        assert one.connections == 1
        calls, inbox_calls = mcp.calls, inbox.calls
        other.signal("mcp", process)
        await mcp.after(calls)
        assert inbox.calls == inbox_calls
        async with resources.db_sessions() as db:
            await db.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": one.backend_pid})
        deadline = time.monotonic() + 5
        while not (one.live and one.connections == 2):
            assert time.monotonic() < deadline, "the listener did not reconnect"
            await asyncio.sleep(0.02)
        calls = mcp.calls
        other.signal("mcp", process)
        await mcp.after(calls)
    finally:
        await one.aclose()
        await other.aclose()


async def test_the_redis_inbox_channel_rides_on_the_bus_connection_and_comes_back(
    make_bus: MakeBus, resources: Resources
) -> None:
    one, other = await make_bus(), await make_bus()
    prefix = resources.settings.redis_prefix
    mine, theirs = RedisInboxWakes(one, prefix), RedisInboxWakes(other, prefix)
    woken = Woken()
    runner = uuid.uuid4().hex
    await mine.listen(runner, woken)
    await woken.after(0)  # the channel's subscription was confirmed
    assert mine.live
    calls = woken.calls
    theirs.send(runner)
    await woken.after(calls)
    # the bus's one subscription connection carries it: killed, it comes back with the channel
    assert resources.redis is not None
    await resources.redis.execute_command(
        "CLIENT",
        "KILL",
        "ID",
        await _client_id(resources, one.client_name),  # type: ignore[attr-defined]
    )
    deadline = time.monotonic() + 5
    while one.connections < 2:
        assert time.monotonic() < deadline, "the subscription did not come back"
        await asyncio.sleep(0.02)
    await woken.after(calls + 1)  # woken when resubscribed
    calls = woken.calls
    theirs.send(runner)
    await woken.after(calls)
    await mine.aclose()
    assert not mine.live
    calls = woken.calls
    theirs.send(runner)
    await asyncio.sleep(0.3)
    assert woken.calls == calls  # not listening any more


async def test_a_wake_that_cannot_be_sent_is_logged_not_raised(resources: Resources) -> None:
    """No server behind the URL: sending returns at once and the failure stays in the
    background; listening gives up waiting for the listener and keeps retrying."""
    nowhere = "postgresql+asyncpg://roo@127.0.0.1:9/nowhere"
    engine = create_async_engine(nowhere)
    try:
        wakes = PostgresInboxWakes(
            make_url(nowhere).set(drivername="postgresql").render_as_string(),
            async_sessionmaker(engine),
        )
        wakes.send(uuid.uuid4().hex)  # does not raise
        await wakes.listen(uuid.uuid4().hex, Woken(), wait_seconds=0.2)
        assert not wakes.live
        await wakes.aclose()
    finally:
        await engine.dispose()


def test_one_process_on_sqlite_has_nothing_to_wake(resources: Resources) -> None:
    if resources.settings.is_sqlite and not resources.settings.redis_url:
        assert type(resources.inbox_wakes) is InboxWakes
        assert not resources.inbox_wakes.live
    else:
        assert isinstance(resources.inbox_wakes, (RedisInboxWakes, PostgresInboxWakes))
        assert isinstance(resources.bus, RedisEventBus) == bool(resources.settings.redis_url)
