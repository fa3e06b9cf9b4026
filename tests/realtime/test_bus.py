"""The bus on its own: order, holes filled from the log, no duplicates, bounded buffers."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence

import pytest

from roo.api.state import Resources
from roo.realtime.bus import BusClosed, EventBus, Subscription
from roo.tasks.events import EventStore, SessionGone, StoredEvent
from tests.tasks.conftest import Api


class Lossy:
    """A publisher in front of the bus that loses what it is told to."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.losing = False
        self.held: list[Sequence[StoredEvent]] = []
        self.holding = False

    def __call__(self, events: Sequence[StoredEvent]) -> None:
        if self.losing:
            return
        if self.holding:
            self.held.append(events)
            return
        self.bus.publish(events)


@pytest.fixture
async def session_id(api: Api) -> uuid.UUID:
    return uuid.UUID(await api.session())


async def append(store: EventStore, session_id: uuid.UUID, *names: str) -> list[StoredEvent]:
    out: list[StoredEvent] = []
    for name in names:
        out.append(await store.append(session_id, None, name, {"n": name}))
    return out


async def take(subscription: Subscription, count: int, within: float = 5.0) -> list[int]:
    seqs: list[int] = []
    async with asyncio.timeout(within):
        while len(seqs) < count:
            event = await subscription.get()
            assert event is not None
            seqs.append(event.seq)
    return seqs


async def nothing_more(subscription: Subscription) -> None:
    assert await subscription.get(within=0.2) is None


async def test_replay_then_live_in_order(resources: Resources, session_id: uuid.UUID) -> None:
    bus = EventBus(resources.db_sessions, resync_seconds=60)
    store = EventStore(resources.db_sessions, bus.publish)
    await append(store, session_id, "a", "b", "c")
    async with bus.subscribe(session_id, 1) as events:
        assert await take(events, 2) == [2, 3]
        await append(store, session_id, "d")
        first = await events.get(within=1)
        assert first is not None
        assert (first.seq, first.event, first.data) == (4, "d", {"n": "d"})
        assert events.fills == 1  # the replay; the live event came from the publish
        await nothing_more(events)


async def test_a_lost_publish_is_filled_from_the_log_at_the_next_event(
    resources: Resources, session_id: uuid.UUID
) -> None:
    bus = EventBus(resources.db_sessions, resync_seconds=60)
    lossy = Lossy(bus)
    store = EventStore(resources.db_sessions, lossy)
    async with bus.subscribe(session_id, 0) as events:
        await nothing_more(events)
        lossy.losing = True
        await append(store, session_id, "a", "b")
        lossy.losing = False
        await append(store, session_id, "c")
        assert await take(events, 3) == [1, 2, 3]
        await nothing_more(events)


async def test_a_lost_last_publish_is_found_by_the_idle_check(
    resources: Resources, session_id: uuid.UUID
) -> None:
    bus = EventBus(resources.db_sessions, resync_seconds=0.3)
    lossy = Lossy(bus)
    store = EventStore(resources.db_sessions, lossy)
    async with bus.subscribe(session_id, 0) as events:
        await nothing_more(events)
        lossy.losing = True
        await append(store, session_id, "a")
        started = time.monotonic()
        assert await take(events, 1) == [1]
        assert time.monotonic() - started < 2.0


async def test_publishes_out_of_order_are_yielded_in_order(
    resources: Resources, session_id: uuid.UUID
) -> None:
    bus = EventBus(resources.db_sessions, resync_seconds=60)
    lossy = Lossy(bus)
    store = EventStore(resources.db_sessions, lossy)
    async with bus.subscribe(session_id, 0) as events:
        await nothing_more(events)
        lossy.holding = True
        await append(store, session_id, "a", "b", "c")
        for batch in reversed(lossy.held):  # 3, then 2, then 1
            bus.publish(batch)
        assert await take(events, 3) == [1, 2, 3]
        await nothing_more(events)


@pytest.mark.parametrize("snapshot", ["before", "after"])
async def test_no_duplicate_when_a_live_event_races_the_replay(
    resources: Resources, session_id: uuid.UUID, snapshot: str
) -> None:
    """An event committed and published while the replay reads the log: whether the read saw
    it (`after`) or not (`before`), it is yielded once, in its place."""
    store_for_race: list[EventStore] = []

    class RacingBus(EventBus):
        racing = True

        async def read(
            self, session_id: uuid.UUID, after: int, limit: int
        ) -> Sequence[StoredEvent]:
            early = await super().read(session_id, after, limit)
            if not self.racing:
                return early
            self.racing = False
            await append(store_for_race[0], session_id, "during")  # committed, published
            return early if snapshot == "before" else await super().read(session_id, after, limit)

    bus = RacingBus(resources.db_sessions, resync_seconds=60)
    store = EventStore(resources.db_sessions, bus.publish)
    store_for_race.append(store)
    await append(store, session_id, "a", "b")
    async with bus.subscribe(session_id, 0) as events:
        received = [await events.get(within=2) for _ in range(3)]
        assert [event.event if event else None for event in received] == ["a", "b", "during"]
        await nothing_more(events)
        await append(store, session_id, "c")
        assert await take(events, 1) == [4]


async def test_a_slow_reader_is_bounded_and_still_gets_every_event(
    resources: Resources, session_id: uuid.UUID
) -> None:
    bus = EventBus(resources.db_sessions, max_pending=5, page=4, resync_seconds=60)
    store = EventStore(resources.db_sessions, bus.publish)
    async with bus.subscribe(session_id, 0) as events:
        await nothing_more(events)
        for i in range(30):  # published one by one while nobody reads
            await append(store, session_id, f"e{i}")
            assert len(events._pending) <= 5  # bounded, whatever the backlog
        assert events.overflows >= 1
        assert await take(events, 30) == list(range(1, 31))
        assert events.fills >= 30 // 4  # caught up from the log, a page at a time
        await nothing_more(events)


async def test_many_subscribers_of_one_session_each_get_everything(
    resources: Resources, session_id: uuid.UUID
) -> None:
    bus = EventBus(resources.db_sessions, resync_seconds=60)
    store = EventStore(resources.db_sessions, bus.publish)
    async with bus.subscribe(session_id, 0) as one, bus.subscribe(session_id, 0) as two:
        assert bus.subscribers(session_id) == 2
        await append(store, session_id, "a", "b")
        assert await take(one, 2) == [1, 2]
        assert await take(two, 2) == [1, 2]
    assert bus.subscribers(session_id) == 0


async def test_deleting_the_session_ends_the_subscription(
    api: Api, resources: Resources, session_id: uuid.UUID
) -> None:
    bus = EventBus(resources.db_sessions, resync_seconds=0.2)
    async with bus.subscribe(session_id, 0) as events:
        await nothing_more(events)
        response = await api.request("DELETE", f"/api/v1/sessions/{session_id}")
        assert response.status_code == 204
        with pytest.raises(SessionGone):
            await events.get(within=3)


async def test_closing_the_bus_ends_its_subscriptions(
    resources: Resources, session_id: uuid.UUID
) -> None:
    bus = EventBus(resources.db_sessions)
    async with bus.subscribe(session_id, 0) as events:
        await nothing_more(events)
        await bus.aclose()
        with pytest.raises(BusClosed):
            await events.get(within=1)


async def test_a_publish_that_fails_does_not_fail_the_append(
    resources: Resources, session_id: uuid.UUID
) -> None:
    def broken(events: Sequence[StoredEvent]) -> None:
        raise RuntimeError("bus on fire")

    store = EventStore(resources.db_sessions, broken)
    stored = await append(store, session_id, "a")
    assert stored[0].seq == 1


async def test_a_resync_asked_for_during_a_read_is_not_lost(
    resources: Resources, session_id: uuid.UUID
) -> None:
    """E.g. the Redis channel's subscription confirmed while the replay reads: what was
    committed after the read's snapshot and never delivered is read once more."""
    lossy_store: list[EventStore] = []

    class ResyncingBus(EventBus):
        racing = True

        async def read(
            self, session_id: uuid.UUID, after: int, limit: int
        ) -> Sequence[StoredEvent]:
            early = await super().read(session_id, after, limit)
            if self.racing:
                self.racing = False
                await append(lossy_store[0], session_id, "unpublished")
                self.resync(session_id)
            return early

    bus = ResyncingBus(resources.db_sessions, resync_seconds=60)
    lossy = Lossy(bus)
    lossy.losing = True
    lossy_store.append(EventStore(resources.db_sessions, lossy))
    async with bus.subscribe(session_id, 0) as events:
        assert await take(events, 1, within=1.0) == [1]
