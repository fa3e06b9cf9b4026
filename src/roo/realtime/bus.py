"""The event bus: a session's events pushed to its subscribers once they are committed.

The database stays the source of truth; the bus is how its rows reach people fast.

- **Publishing** (`publish`) is called by the event log after the transaction that appended a
  batch committed (`roo.tasks.events.EventStore`, through the unit of work's `after_commit`).
  It never blocks and never raises: the subscribers of this process get the batch at once (in
  memory); with Redis it is also sent, by a background task, on the session's channel
  (`<ROO_REDIS_PREFIX>events:<session id>`) to the other processes. A failed or dropped send is
  logged and costs nothing but latency: subscribers fill holes from the log.
- **Subscribing** (`subscribe(session_id, after)`) yields the session's events after `after` in
  `seq` order with no gap and no duplicate. The subscriber is registered before anything is
  read, so that events committed during the replay are buffered; the log (`EventStore.after`,
  short reads, no connection held while waiting) fills every hole: the events before the
  subscription, a publish that was lost or arrived out of order, events of the time Redis was
  away, and whatever a slow reader's full queue dropped. What was already yielded is dropped.
- **Bounded**: each subscription buffers at most `max_pending` live events. One that cannot keep
  up does not grow: its buffer is emptied and it falls back to reading the log, page by page,
  until it has caught up (`Subscription.overflows` counts it); its memory stays bounded and it
  still sees every event in order.
- **Idle checks**: an idle subscription reads the log every `resync_seconds` (and every
  `degraded_seconds` while the Redis subscription is down), which also notices that the session
  was deleted: the iteration then raises `SessionGone`.

One Redis connection per process carries every session's channel (SUBSCRIBE while a local
subscriber watches the session, UNSUBSCRIBE when the last one leaves), multiplexed to the
local subscriptions; when it (re)subscribes, the subscriptions concerned read the log once.
The same connection carries the channels other parts of the process `listen` to (the task
inbox's wake-ups, `roo.realtime.wake`), and `send` publishes on them in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.db.engine import uninterrupted, unit_of_work
from roo.db.models import Session
from roo.kit.cache import HEALTH_CHECK_SECONDS
from roo.kit.logs import get_logger
from roo.kit.loops import cancel_listener
from roo.tasks.events import EventStore, SessionGone, StoredEvent

log = get_logger("roo.realtime")

MAX_PENDING = 1000  # live events a subscription buffers before it falls back to the log
PAGE = 200  # events read from the log at a time (what a subscription holds ready at most)
RESYNC_SECONDS = 15.0  # an idle subscription reads the log this often (a lost publish)
DEGRADED_SECONDS = 1.0  # ... and this often while the Redis subscription is down
MAX_MESSAGE_BYTES = 256 * 1024  # larger batches go over Redis as a notice: read the log
GONE = b"gone"  # the notice that a session was deleted (its subscriptions end)
MAX_SENDS_IN_FLIGHT = 1000  # Redis publishes waiting at once; beyond, dropped (logged)


class BusClosed(Exception):
    """The bus stopped (the service is shutting down): reconnect and resume from the last seq."""


class Subscription:
    """One subscriber's view of a session's events: `async for event in subscription`, or
    `await subscription.get(timeout)` (None when nothing came within `timeout`).

    Not shared between tasks: one reader per subscription."""

    def __init__(
        self,
        bus: EventBus,
        session_id: uuid.UUID,
        after: int,
        *,
        max_pending: int,
        page: int,
    ) -> None:
        self.session_id = session_id
        self.last = after  # the seq of the last event yielded
        self.fills = 0  # how often it read the log
        self.overflows = 0  # how often its buffer was full and it fell back to the log
        self._bus = bus
        self._max_pending = max_pending
        self._page = page
        # live events not yet yielded: seq -> (arrival number, event)
        self._pending: dict[int, tuple[int, StoredEvent]] = {}
        self._arrivals = 0
        self._ready: deque[StoredEvent] = deque()  # read from the log, in order
        self._need_fill = True  # the replay of what came before the subscription
        self._wake = asyncio.Event()
        self._ended: BaseException | None = None
        self._checked = time.monotonic()

    # -- the bus's side (synchronous, never blocks) ------------------------------------------

    def offer(self, events: Iterable[StoredEvent]) -> None:
        for event in events:
            if event.seq <= self.last or event.seq in self._pending:
                continue
            if len(self._pending) >= self._max_pending:
                # too slow: forget the buffer (bounded memory), read the log instead
                self._pending.clear()
                self._need_fill = True
                self.overflows += 1
                continue
            self._arrivals += 1
            self._pending[event.seq] = (self._arrivals, event)
        self._wake.set()

    def resync(self) -> None:
        """Something may have been missed: read the log before waiting again."""
        self._need_fill = True
        self._wake.set()

    def end(self, error: BaseException) -> None:
        self._ended = error
        self._wake.set()

    # -- the reader's side -------------------------------------------------------------------

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> StoredEvent:
        event = await self.get()
        if event is None:  # not without a timeout: get waits for an event
            raise StopAsyncIteration
        return event

    async def get(self, within: float | None = None) -> StoredEvent | None:
        """The next event; None if none came within `within` seconds (None: wait for one).
        Raises `SessionGone` once the session is deleted, `BusClosed` when the bus stops."""
        loop = asyncio.get_running_loop()
        deadline = None if within is None else loop.time() + within
        while True:
            while self._ready:
                event = self._ready.popleft()
                if event.seq > self.last:
                    self._pending.pop(event.seq, None)
                    self.last = event.seq
                    return event
            if self._ended is not None:
                raise self._ended
            item = self._pending.pop(self.last + 1, None)
            if item is not None:
                self.last = item[1].seq
                self._checked = time.monotonic()  # the idle check counts from the last event
                return item[1]
            if self._need_fill or self._pending:  # the replay, an overflow, or a hole
                await self._fill()
                continue
            wait = self._bus.idle_check_seconds - (time.monotonic() - self._checked)
            if deadline is not None:
                if deadline <= loop.time():
                    return None
                wait = min(wait, deadline - loop.time())
            if wait <= 0:
                self._need_fill = True  # idle for a while: a publish may have been lost
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _fill(self) -> None:
        mark = self._arrivals
        self._need_fill = False  # a resync asked for while the read runs sets it again
        # a reader cancelled mid-read (a client gone) lets the short read finish first
        try:
            events = await uninterrupted(self._bus.read(self.session_id, self.last, self._page))
        except SessionGone as exc:
            self._ended = exc
            raise
        except BaseException:
            self._need_fill = True  # failed or cancelled: the next get reads again
            raise
        complete = len(events) < self._page
        if not complete:
            self._need_fill = True  # a full page: more may follow, read on once it is yielded
        self.fills += 1
        self._checked = time.monotonic()
        self._ready.extend(events)
        upto = events[-1].seq if events else self.last
        for seq in [
            seq
            for seq, (arrival, _) in self._pending.items()
            # read now; or committed before the read started (it arrived before it) yet not
            # in the log: deleted meanwhile (a finished task deleted with its events)
            if seq <= upto or (complete and arrival <= mark)
        ]:
            del self._pending[seq]


class EventBus:
    """The bus within one process (no `REDIS_URL`): publishing hands the batch to the
    subscriptions of this process."""

    def __init__(
        self,
        db_sessions: async_sessionmaker[AsyncSession],
        *,
        max_pending: int = MAX_PENDING,
        page: int = PAGE,
        resync_seconds: float = RESYNC_SECONDS,
    ) -> None:
        self._db_sessions = db_sessions
        self._log = EventStore(db_sessions)
        self._subscriptions: dict[uuid.UUID, set[Subscription]] = {}
        self.max_pending = max_pending
        self.page = page
        self.resync_seconds = resync_seconds
        self._closed = False

    @property
    def live(self) -> bool:
        """Whether published events reach every subscriber at once (else they poll the log)."""
        return True

    @property
    def idle_check_seconds(self) -> float:
        return self.resync_seconds if self.live else min(DEGRADED_SECONDS, self.resync_seconds)

    async def start(self) -> None:
        """Nothing to start in one process."""

    async def aclose(self) -> None:
        """End every subscription (`BusClosed`)."""
        self._closed = True
        for subscriptions in list(self._subscriptions.values()):
            for subscription in list(subscriptions):
                subscription.end(BusClosed())

    def publish(self, events: Sequence[StoredEvent]) -> None:
        """A committed batch (one session's events, in order). Never blocks, never raises."""
        if events:
            try:
                self.deliver(events[0].session_id, events)
            except Exception:  # a bug here must not fail the run that committed them
                log.exception("realtime.deliver_failed")

    def session_gone(self, session_id: uuid.UUID) -> None:
        """The session was deleted (committed): its subscriptions end at once (`SessionGone`),
        here and, with Redis, in every process. Never blocks, never raises; a lost notice
        costs only time (the idle check notices the deletion)."""
        self._end(session_id)

    def _end(self, session_id: uuid.UUID) -> None:
        for subscription in list(self._subscriptions.get(session_id, ())):
            subscription.end(SessionGone(session_id))

    def deliver(self, session_id: uuid.UUID, events: Sequence[StoredEvent]) -> None:
        for subscription in self._subscriptions.get(session_id, ()):
            subscription.offer(events)

    def resync(self, session_id: uuid.UUID | None = None) -> None:
        """The subscriptions of `session_id` (of every session with None) read the log."""
        groups = (
            self._subscriptions.values()
            if session_id is None
            else [self._subscriptions.get(session_id, set())]
        )
        for subscriptions in list(groups):
            for subscription in list(subscriptions):
                subscription.resync()

    def subscribers(self, session_id: uuid.UUID) -> int:
        return len(self._subscriptions.get(session_id, ()))

    @asynccontextmanager
    async def subscribe(self, session_id: uuid.UUID, after: int) -> AsyncIterator[Subscription]:
        """The session's events after `after`, in order, replayed from the log then live."""
        if self._closed:
            raise BusClosed()
        subscription = Subscription(
            self, session_id, after, max_pending=self.max_pending, page=self.page
        )
        subscriptions = self._subscriptions.setdefault(session_id, set())
        subscriptions.add(subscription)
        try:
            if len(subscriptions) == 1:
                await self._watch(session_id)
            yield subscription
        finally:
            subscriptions.discard(subscription)
            if not subscriptions and self._subscriptions.get(session_id) is subscriptions:
                del self._subscriptions[session_id]
                self._unwatch(session_id)

    async def _watch(self, session_id: uuid.UUID) -> None:
        """The first local subscriber of the session arrived."""

    def _unwatch(self, session_id: uuid.UUID) -> None:
        """The last local subscriber of the session left."""

    async def read(self, session_id: uuid.UUID, after: int, limit: int) -> Sequence[StoredEvent]:
        """One short read of the log; `SessionGone` if the session no longer exists."""
        async with unit_of_work(self._db_sessions) as db:
            if await db.scalar(select(Session.id).where(Session.id == session_id)) is None:
                raise SessionGone(session_id)
            return await self._log.after(db, session_id, after, limit)


def _encode(origin: bytes, events: Sequence[StoredEvent]) -> bytes:
    body = json.dumps(
        [
            [e.event, str(e.task_id) if e.task_id else None, e.seq, e.data, e.timestamp.isoformat()]
            for e in events
        ],
        separators=(",", ":"),
    ).encode()
    if len(body) > MAX_MESSAGE_BYTES:
        body = b"resync"  # too large for a message: the subscribers read the log
    return origin + b"\n" + body


def _decode(session_id: uuid.UUID, body: bytes) -> list[StoredEvent] | None:
    """The events of a message, or None for a notice to read the log."""
    if body == b"resync":
        return None
    items: list[list[Any]] = json.loads(body)
    return [
        StoredEvent(
            event,
            session_id,
            uuid.UUID(task_id) if task_id else None,
            int(seq),
            data,
            datetime.fromisoformat(timestamp),
        )
        for event, task_id, seq, data, timestamp in items
    ]


class RedisEventBus(EventBus):
    """The bus across processes (`REDIS_URL`): a batch goes to this process's subscriptions at
    once and, in the background, to the session's channel for the other processes.

    `subscriber` is a client of its own for the one subscription connection, made without
    retries (as the near-cache's): a lost connection must be noticed (every subscription then
    reads the log) rather than silently re-established with messages lost in between."""

    def __init__(
        self,
        db_sessions: async_sessionmaker[AsyncSession],
        redis: Redis,
        subscriber: Redis,
        prefix: str,
        **options: Any,
    ) -> None:
        super().__init__(db_sessions, **options)
        self._redis = redis
        self._subscriber = subscriber
        self._prefix = f"{prefix}events:"
        self._origin = uuid.uuid4().hex.encode()  # this process's messages come back: skipped
        self._pubsub: Any = None  # the current redis PubSub, while connected
        self._live = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self._commands = asyncio.Lock()  # SUBSCRIBE / UNSUBSCRIBE one at a time
        self._channels: set[str] = set()  # subscribed on the current connection
        self._handlers: dict[str, Callable[[], None]] = {}  # channels listened to (`listen`)
        self.dropped = 0  # publishes not sent (too many in flight)
        self.connections = 0  # how often the subscription was (re)established

    def channel(self, session_id: uuid.UUID) -> str:
        return f"{self._prefix}{session_id}"

    @property
    def live(self) -> bool:
        return self._live.is_set()

    async def start(self, wait_seconds: float = 2.0) -> None:
        """Connect the subscription in the background; wait up to `wait_seconds` for it. Until
        it is up, subscriptions poll the log: starting never fails for Redis."""
        self._listener = asyncio.create_task(self._listen(), name="realtime-subscription")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._live.wait(), wait_seconds)

    async def aclose(self) -> None:
        await super().aclose()
        listener, self._listener = self._listener, None
        if listener is not None and not await cancel_listener(listener):
            log.warning("realtime.listener_did_not_stop")
        if self._sends:
            await asyncio.wait(set(self._sends), timeout=1.0)
        await self._subscriber.aclose()

    # -- publishing --------------------------------------------------------------------------

    def publish(self, events: Sequence[StoredEvent]) -> None:
        if not events:
            return
        super().publish(events)
        if self._saturated():
            return
        try:
            message = _encode(self._origin, events)
        except Exception:  # data the log stored but JSON cannot carry: read the log
            log.exception("realtime.encode_failed")
            message = self._origin + b"\nresync"
        self.send(self.channel(events[0].session_id), message)

    def session_gone(self, session_id: uuid.UUID) -> None:
        super().session_gone(session_id)
        self.send(self.channel(session_id), self._origin + b"\n" + GONE)

    def send(self, channel: str, message: bytes) -> None:
        """PUBLISH `message` on `channel` from a background task: never blocks, never raises;
        a failure is logged, and beyond `MAX_SENDS_IN_FLIGHT` waiting sends it is dropped
        (counted in `dropped`). For what a lost message costs only latency."""
        if self._saturated():
            return
        task = asyncio.get_running_loop().create_task(self._send(channel, message))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    def _saturated(self) -> bool:
        if len(self._sends) < MAX_SENDS_IN_FLIGHT:
            return False
        self.dropped += 1  # Redis is slow or away: the other processes will read the log
        if self.dropped % 1000 == 1:
            log.warning("realtime.publish_dropped", dropped=self.dropped)
        return True

    async def _send(self, channel: str, message: bytes) -> None:
        try:
            await self._redis.publish(channel, message)
        except Exception as exc:
            log.warning("realtime.publish_failed", error=f"{type(exc).__name__}: {exc}")

    # -- the subscription connection ---------------------------------------------------------

    async def _watch(self, session_id: uuid.UUID) -> None:
        await self._command(session_id)

    def _unwatch(self, session_id: uuid.UUID) -> None:
        if not self._closed:
            task = asyncio.get_running_loop().create_task(self._command(session_id))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def listen(self, channel: str, handler: Callable[[], None]) -> None:
        """Also SUBSCRIBE `channel` on the subscription connection, now and at every reconnect.
        `handler()` (never blocking) is called for each message on it and each time its
        subscription is confirmed (a message sent while the connection was down is lost: the
        handler is how the listener catches up). The message itself is not passed on: such a
        channel carries wake-ups, never data."""
        self._handlers[channel] = handler
        await self._align(channel, lambda: channel in self._handlers)

    def unlisten(self, channel: str) -> None:
        """Stop listening to `channel` (its UNSUBSCRIBE goes out in the background)."""
        if self._handlers.pop(channel, None) is not None and not self._closed:
            task = asyncio.get_running_loop().create_task(
                self._align(channel, lambda: channel in self._handlers)
            )
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    async def _command(self, session_id: uuid.UUID) -> None:
        """Bring the connection's channels in line with whether the session has subscribers."""
        await self._align(self.channel(session_id), lambda: session_id in self._subscriptions)

    async def _align(self, channel: str, wanted_now: Callable[[], bool]) -> None:
        """SUBSCRIBE or UNSUBSCRIBE `channel` as `wanted_now()` says once it is this command's
        turn (commands go out one at a time, in order)."""
        async with self._commands:
            pubsub = self._pubsub
            if pubsub is None:
                return  # the listener subscribes every wanted channel when it connects
            wanted = wanted_now()
            try:
                if wanted and channel not in self._channels:
                    self._channels.add(channel)
                    await pubsub.subscribe(channel)
                elif not wanted and channel in self._channels:
                    self._channels.discard(channel)
                    await pubsub.unsubscribe(channel)
            except (RedisError, OSError) as exc:  # the listener reconnects and resubscribes
                log.warning("realtime.subscribe_failed", error=f"{type(exc).__name__}: {exc}")

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            pubsub = self._subscriber.pubsub()
            try:
                async with self._commands:
                    # a channel of its own keeps the connection subscribed with no session
                    self._channels = {self._prefix.rstrip(":")}
                    self._channels.update(self.channel(s) for s in self._subscriptions)
                    self._channels.update(self._handlers)
                    await pubsub.subscribe(*self._channels)
                    self._pubsub = pubsub
                while True:
                    # a timeout now and then lets the client's health check ping the server
                    message = await pubsub.get_message(timeout=HEALTH_CHECK_SECONDS)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        if not self._live.is_set():
                            self.connections += 1
                            self._live.set()
                            delay = 0.1
                        # what was committed before the channel was up is in the log
                        self._on_subscribed(message["channel"])
                    elif message["type"] == "message":
                        self._on_message(message["channel"], message["data"])
                    if message["type"] in ("subscribe", "message"):
                        self._on_handled(message["channel"])
            except (RedisError, OSError) as exc:
                log.warning("realtime.subscription_lost", error=f"{type(exc).__name__}: {exc}")
            finally:
                self._pubsub = None
                self._live.clear()
                self.resync()  # whatever was sent meanwhile is read from the log
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _session_of(self, channel: bytes | str) -> uuid.UUID | None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        if not name.startswith(self._prefix):
            return None
        try:
            return uuid.UUID(name[len(self._prefix) :])
        except ValueError:
            return None

    def _on_handled(self, channel: bytes | str) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        handler = self._handlers.get(name)
        if handler is not None:
            try:
                handler()
            except Exception:  # a bug there must not end the subscription
                log.exception("realtime.handler_failed", channel=name)

    def _on_subscribed(self, channel: bytes | str) -> None:
        session_id = self._session_of(channel)
        if session_id is not None:
            self.resync(session_id)

    def _on_message(self, channel: bytes | str, data: bytes | str) -> None:
        session_id = self._session_of(channel)
        if session_id is None or session_id not in self._subscriptions:
            return
        raw = data if isinstance(data, bytes) else data.encode()
        origin, _, body = raw.partition(b"\n")
        if origin == self._origin:
            return  # delivered here when it was published
        if body == GONE:
            self._end(session_id)
            return
        try:
            events = _decode(session_id, body)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("realtime.unreadable_message", error=f"{type(exc).__name__}: {exc}")
            events = None
        if events is None:
            self.resync(session_id)
        else:
            self.deliver(session_id, events)
