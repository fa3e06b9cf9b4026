"""The bus across processes over Redis pub/sub: two buses (and two app instances with a bus
each) on one Redis and one database. Skipped without REDIS_URL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from roo.api.state import Resources
from roo.app import create_app
from roo.config import Settings
from roo.realtime.bus import RedisEventBus, Subscription
from roo.tasks.events import EventStore, SessionGone
from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.realtime.conftest import sse
from tests.realtime.test_bus import Lossy, append, nothing_more, take
from tests.support.lifespan import app_lifespan
from tests.tasks.conftest import RUN_ANYTHING, Api

MakeBus = Callable[..., Awaitable[RedisEventBus]]


@pytest.fixture
async def make_bus(redis_settings: Settings, resources: Resources) -> AsyncIterator[MakeBus]:
    """Buses as separate processes would have them: a subscription connection each (named,
    so that a test can kill it), the app's Redis client for publishing."""
    buses: list[RedisEventBus] = []

    async def make(**options: object) -> RedisEventBus:
        assert redis_settings.redis_url
        assert resources.redis is not None
        name = f"roo-test-realtime-{uuid.uuid4().hex[:12]}"
        subscriber = Redis.from_url(
            redis_settings.redis_url,
            decode_responses=False,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=5,
            client_name=name,
        )
        bus = RedisEventBus(
            resources.db_sessions, resources.redis, subscriber, redis_settings.redis_prefix,
            **options,
        )  # fmt: skip
        bus.client_name = name  # type: ignore[attr-defined]
        await bus.start()
        assert bus.live
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        await bus.aclose()


@pytest.fixture
async def session_id(api: Api) -> uuid.UUID:
    return uuid.UUID(await api.session())


async def test_an_event_published_by_one_bus_reaches_the_other_at_once(
    make_bus: MakeBus, resources: Resources, session_id: uuid.UUID
) -> None:
    one, other = await make_bus(resync_seconds=60), await make_bus(resync_seconds=60)
    store = EventStore(resources.db_sessions, one.publish)  # "process one" appends
    async with other.subscribe(session_id, 0) as events:
        await _confirmed(resources, other, session_id, events)
        reads = events.fills
        started = time.monotonic()
        await append(store, session_id, "a")
        event = await events.get(within=1.0)
        elapsed = time.monotonic() - started
        assert event is not None
        assert (event.seq, event.event, event.data) == (1, "a", {"n": "a"})
        assert elapsed < 1.0
        assert events.fills == reads  # no read of the log: the event came over Redis
        await append(store, session_id, "b", "c")
        assert await take(events, 2, within=1.0) == [2, 3]
        await nothing_more(events)
    await asyncio.sleep(0.1)  # the UNSUBSCRIBE of the last subscriber goes out
    assert await _subscribers_of(resources, other.channel(session_id)) == 0


async def test_what_was_lost_while_the_subscription_was_down_is_read_from_the_log(
    make_bus: MakeBus, resources: Resources, session_id: uuid.UUID
) -> None:
    one, other = await make_bus(resync_seconds=60), await make_bus(resync_seconds=60)
    lossy = Lossy(one)
    store = EventStore(resources.db_sessions, lossy)
    async with other.subscribe(session_id, 0) as events:
        await nothing_more(events)
        lossy.losing = True  # as if Redis were away: the message never arrives
        await append(store, session_id, "lost")
        await nothing_more(events)
        assert resources.redis is not None
        killed = await resources.redis.execute_command(
            "CLIENT",
            "KILL",
            "ID",
            await _client_id(resources, other.client_name),  # type: ignore[attr-defined]
        )
        assert killed
        event = await events.get(within=5.0)  # the lost subscription made it read the log
        assert event is not None
        assert event.event == "lost"
        deadline = time.monotonic() + 5
        while other.connections < 2:  # and it subscribes again
            assert time.monotonic() < deadline, "the subscription did not come back"
            await asyncio.sleep(0.02)
        lossy.losing = False
        await append(store, session_id, "after")
        assert await take(events, 1, within=1.0) == [2]


async def test_a_batch_too_large_for_a_message_is_read_from_the_log(
    make_bus: MakeBus, resources: Resources, session_id: uuid.UUID
) -> None:
    one, other = await make_bus(resync_seconds=60), await make_bus(resync_seconds=60)
    store = EventStore(resources.db_sessions, one.publish)
    async with other.subscribe(session_id, 0) as events:
        await _confirmed(resources, other, session_id, events)
        reads = events.fills
        big = "x" * (300 * 1024)
        await store.append(session_id, None, "big", {"text": big})
        event = await events.get(within=2.0)
        assert event is not None
        assert event.data == {"text": big}
        assert events.fills == reads + 1  # the notice made it read the log


async def test_a_task_on_one_app_followed_over_sse_on_another(
    redis_settings: Settings,
    api: Api,
    llm: FakeLLM,
    resources: Resources,
    http: httpx.AsyncClient,
) -> None:
    """Two app instances with a bus each, one Redis, one database: the task runs on the first
    (`api` talks to it), the client watches the second over SSE."""
    from tests.realtime.conftest import serving

    second = create_app(redis_settings)
    async with app_lifespan(second):
        bus = _resources(second).bus
        bus.resync_seconds = 60  # nothing from the idle re-read: the events come over Redis
        assert bus.live
        async with serving(second) as url:
            session = await api.session(approvalPolicy=RUN_ANYTHING)
            llm.script(
                Reply(text="Running.", tool_calls=[ToolCall("execute_command", {"command": "ls"})]),
                Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Done."})]),
            )
            async with sse(http, url, api, session) as stream:
                task = await api.start(session, "go")
                await api.wait(session, task["id"], "completed")
                stored = await api.events(session)
                received = await stream.until(stored[-1]["seq"], within=5)
                assert received == stored
                # one more event appended by the first app: on the second within a second
                started = time.monotonic()
                await resources.tasks.events.append(uuid.UUID(session), None, "ping", {})
                [event] = await stream.until(stored[-1]["seq"] + 1, within=1.0)
                assert event["event"] == "ping"
                assert time.monotonic() - started < 1.0


async def _confirmed(
    resources: Resources, bus: RedisEventBus, session_id: uuid.UUID, events: Subscription
) -> None:
    """Once the session's channel is subscribed and the subscription has read the log for
    it (the replay, and once more when the channel's subscription is confirmed)."""
    deadline = time.monotonic() + 5
    while await _subscribers_of(resources, bus.channel(session_id)) < 1:
        assert time.monotonic() < deadline, "the channel was not subscribed"
        await asyncio.sleep(0.01)
    await nothing_more(events)


def _resources(app: FastAPI) -> Resources:
    res: Resources = app.state.resources
    return res


async def _client_id(resources: Resources, name: str) -> int:
    assert resources.redis is not None
    listing = await resources.redis.execute_command("CLIENT", "LIST")
    text = listing.decode() if isinstance(listing, bytes) else str(listing)
    for line in text.splitlines():
        fields = dict(item.split("=", 1) for item in line.split(" ") if "=" in item)
        if fields.get("name") == name:
            return int(fields["id"])
    raise AssertionError(f"no Redis client named {name}")


async def _subscribers_of(resources: Resources, channel: str) -> int:
    assert resources.redis is not None
    counts = await resources.redis.pubsub_numsub(channel)
    return int(counts[0][1])


async def test_a_deleted_session_ends_the_subscriptions_of_every_process_at_once(
    make_bus: MakeBus, resources: Resources, session_id: uuid.UUID
) -> None:
    one, other = await make_bus(resync_seconds=60), await make_bus(resync_seconds=60)
    async with other.subscribe(session_id, 0) as events:
        await _confirmed(resources, other, session_id, events)
        one.session_gone(session_id)  # the process that deleted it says so
        with pytest.raises(SessionGone):
            await events.get(within=2.0)  # not the idle check a minute later
