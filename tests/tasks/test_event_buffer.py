"""The run's event buffer: order, numbering, the timed flush, and a failed write kept."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from roo.api.state import Resources
from roo.tasks.run import FLUSH_SECONDS, EventBuffer
from tests.tasks.conftest import Api


async def test_buffered_events_are_written_in_order_soon_after(
    api: Api, resources: Resources
) -> None:
    session = await api.session()
    buffer = EventBuffer(resources.tasks.events, uuid.UUID(session), uuid.uuid4())
    await buffer("first", {"n": 1})
    await buffer("second", {"n": 2})
    assert await api.events(session) == []  # not yet: they wait for company
    await asyncio.sleep(FLUSH_SECONDS * 3)
    events = await api.events(session)
    assert [(e["event"], e["seq"]) for e in events] == [("first", 1), ("second", 2)]
    assert events[0]["timestamp"] <= events[1]["timestamp"]


async def test_a_failed_write_keeps_the_events_for_the_next(
    api: Api, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await api.session()
    store = resources.tasks.events
    buffer = EventBuffer(store, uuid.UUID(session), uuid.uuid4())
    await buffer("a", {})
    await buffer("b", {})

    async def down(*_args: object, **_kwargs: object) -> None:
        raise ConnectionError("database down")

    with monkeypatch.context() as patch:
        patch.setattr(store, "append_many", down)
        with pytest.raises(ConnectionError):
            await buffer.flush()
    await buffer("c", {})
    await buffer.flush()
    assert [(e["event"], e["seq"]) for e in await api.events(session)] == [
        ("a", 1),
        ("b", 2),
        ("c", 3),
    ]
