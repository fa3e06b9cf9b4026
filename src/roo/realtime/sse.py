"""Server-sent events: a session's event log as a `text/event-stream` (docs/realtime.md).

Each event is one message: `id: <seq>`, `event: <name>`, `data: <the event as the JSON route
returns it>`. A comment (`: heartbeat`) goes out whenever no event came for `heartbeat`
seconds. The stream ends when the session is deleted or the service stops (the client
reconnects with `Last-Event-ID` and misses nothing).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager

from starlette.responses import StreamingResponse

from roo.kit.logs import get_logger
from roo.realtime.bus import BusClosed, EventBus
from roo.realtime.connections import TooManyConnections
from roo.tasks.events import SessionGone, StoredEvent
from roo.tasks.schemas import EventOut

log = get_logger("roo.realtime")

MEDIA_TYPE = "text/event-stream"
HEADERS = {
    "Cache-Control": "no-cache",
    # nginx and others: pass each message on as it comes, do not buffer the response
    "X-Accel-Buffering": "no",
}
HEARTBEAT = b": heartbeat\n\n"
MAX_BATCH = 64  # events already there go out together (one write), at most this many


def wants_event_stream(accept: str | None) -> bool:
    """Whether an Accept header asks for server-sent events."""
    return accept is not None and MEDIA_TYPE in accept.lower()


def event_json(event: StoredEvent) -> str:
    """An event exactly as the JSON page of the events route carries it (one line: newlines in
    strings are escaped). The one rendering of SSE's `data` and of the WebSocket's events."""
    return EventOut.model_validate(event).model_dump_json()


def frame(event: StoredEvent) -> bytes:
    """One SSE message."""
    return f"id: {event.seq}\nevent: {event.event}\ndata: {event_json(event)}\n\n".encode()


async def _messages(
    bus: EventBus,
    session_id: uuid.UUID,
    after: int,
    heartbeat: float,
    slot: AbstractContextManager[None],
) -> AsyncIterator[bytes]:
    try:
        with slot:  # the user's stream count (checked before the response, held while it runs)
            async with bus.subscribe(session_id, after) as events:
                while True:
                    event = await events.get(within=heartbeat)
                    if event is None:
                        yield HEARTBEAT
                        continue
                    chunk = [frame(event)]
                    while len(chunk) < MAX_BATCH and (more := await events.get(within=0)):
                        chunk.append(frame(more))
                    yield b"".join(chunk)
    except (SessionGone, BusClosed):
        return
    except TooManyConnections:  # opened by a race past the check: ends at once
        return
    except Exception as exc:  # the database is away or busy: the client reconnects later
        log.warning("realtime.sse_ended", error=f"{type(exc).__name__}: {exc}")


def event_stream(
    bus: EventBus,
    session_id: uuid.UUID,
    after: int,
    *,
    heartbeat: float,
    slot: AbstractContextManager[None],
) -> StreamingResponse:
    """The response that follows `session_id`'s events after `after` until the client leaves,
    holding `slot` (a stream of the user's, `ConnectionCounter.hold`) while it runs."""
    return StreamingResponse(
        _messages(bus, session_id, after, heartbeat, slot), media_type=MEDIA_TYPE, headers=HEADERS
    )
