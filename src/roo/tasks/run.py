"""One run of a task in this process, as the engine and the task control see it.

`Run` is the engine's `Interaction` (questions and queued messages) and the handle the control
reaches a local run by (deliver an answer, queue a message, cancel). It knows nothing of the
runner: what it needs comes in as callables (`park`: store a question; the wait timeout).
`EventBuffer` is the run's event sink; it needs only the event store.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from roo.agent.state import Answer, Ask
from roo.db.types import utcnow
from roo.tasks.events import EventStore

log = structlog.get_logger(__name__)

FLUSH_SECONDS = 0.05  # the longest an emitted event waits before it is written
MAX_BUFFERED_EVENTS = 64
# Merged events stay within these: a `message` delta (characters), a command's `output` event
# (characters; one read of the sandbox is at most 64 KiB, so a chunk is never cut).
MESSAGE_DELTA_CHARS = 400
OUTPUT_EVENT_CHARS = 64 * 1024

Item = tuple[str, dict[str, Any], datetime]


class WaitTimedOut(Exception):
    """Nobody answered within the wait timeout."""


def _merged(last: Item, event: str, data: dict[str, Any]) -> tuple[Item, str] | None:
    """`last` with the text of the event (event, data) appended, and what did not fit of it;
    None when the two do not merge: only consecutive text deltas of one kind and consecutive
    output chunks of one tool call do, and nothing else differs between them."""
    if event != last[0]:
        return None
    before = last[1]
    if event == "message":
        field, limit = "delta", MESSAGE_DELTA_CHARS
    elif event == "tool.execution" and data.get("phase") == "output":
        field, limit = "output", OUTPUT_EVENT_CHARS
    else:
        return None
    head, text = before.get(field), data.get(field)
    if not isinstance(head, str) or not isinstance(text, str) or len(head) >= limit:
        return None
    if {k: v for k, v in before.items() if k != field} != {
        k: v for k, v in data.items() if k != field
    }:
        return None
    room = limit - len(head)
    if field == "output" and len(text) > room:  # output chunks are never cut
        return None
    return (event, {**before, field: head + text[:room]}, last[2]), text[room:]


class EventBuffer:
    """The engine's event sink for one run. Events keep their order and emission time and are
    written together: in the transaction of the next checkpoint, before anything else writes
    for the task (a question, the end of the run, a subtask), or at most FLUSH_SECONDS after the
    first of them, whichever comes first. The engine hands over streamed text and command
    output as it comes; consecutive text deltas of one kind and consecutive output chunks of
    one tool call that wait together become one event (a delta of at most MESSAGE_DELTA_CHARS,
    an output chunk of at most OUTPUT_EVENT_CHARS; the merged event has the emission time of
    its first part). So what is streamed is in the log, and with the subscribers, within
    FLUSH_SECONDS (plus the write) of its emission, at a cost of at most 1 / FLUSH_SECONDS
    transactions a second per run; a crash loses at most the events since the last write,
    which describe work that the resumed task does not count as done either."""

    def __init__(
        self,
        events: EventStore,
        session_id: uuid.UUID,
        task_id: uuid.UUID,
        guard: Callable[[AsyncSession], Awaitable[bool]] | None = None,
    ) -> None:
        """`guard(db)`: asked in a write of the buffer's own (a timed one, not a checkpoint's,
        whose caller asks it); False drops what is buffered (the run lost its task)."""
        self._events = events
        self._guard = guard
        self._session_id = session_id
        self._task_id = task_id
        self._items: list[Item] = []
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._timed: asyncio.Task[None] | None = None  # the timer's write, until it is done
        self._since = 0.0  # loop time of the first unwritten event

    async def __call__(self, event: str, data: dict[str, Any]) -> None:
        if not self._items:
            self._since = asyncio.get_running_loop().time()
        self._add(event, data)
        if len(self._items) >= MAX_BUFFERED_EVENTS:
            await self.flush()
        elif self._timer is None and self._timed is None:
            self._arm()

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._since + FLUSH_SECONDS - loop.time())
        self._timer = loop.call_later(delay, self._on_timer)

    def _add(self, event: str, data: dict[str, Any]) -> None:
        items = self._items
        merged = _merged(items[-1], event, data) if items else None
        if merged is None:
            items.append((event, data, utcnow()))
            if event == "message":
                self._split_last()
            return
        items[-1], rest = merged
        if rest:
            items.append((event, {**data, "delta": rest}, utcnow()))
            self._split_last()

    def _split_last(self) -> None:
        """A delta longer than MESSAGE_DELTA_CHARS becomes several events."""
        event, data, at = self._items[-1]
        delta = data.get("delta")
        if not isinstance(delta, str) or len(delta) <= MESSAGE_DELTA_CHARS:
            return
        self._items[-1:] = [
            (event, {**data, "delta": delta[i : i + MESSAGE_DELTA_CHARS]}, at)
            for i in range(0, len(delta), MESSAGE_DELTA_CHARS)
        ]

    def _on_timer(self) -> None:
        self._timer = None
        self._timed = asyncio.create_task(self._timed_flush())

    async def _timed_flush(self) -> None:
        # One timed write at a time: what is emitted while it waits for the database goes with
        # the next one, armed when this one is done. So a run never queues writes behind each
        # other; when the database is slow, its writes become fewer and larger.
        try:
            await self.flush()
        except Exception as exc:  # kept for the next flush (the checkpoint's, at the latest)
            log.warning("tasks.events_flush_failed", error=f"{type(exc).__name__}: {exc}")
            return  # the next event arms the timer again
        finally:
            self._timed = None
        if self._items and self._timer is None:
            self._arm()

    async def flush(self, db: AsyncSession | None = None) -> None:
        """Write what is buffered (in `db`'s transaction when given)."""
        async with self._lock:
            await self._write(db)

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[Callable[[AsyncSession], Awaitable[None]]]:
        """For a unit of work that writes for the task and locks its row (a checkpoint, a
        question, the run's end): the buffer's lock, taken *before* that unit of work locks
        anything, and a `flush(db)` that writes what is buffered in it. A timed write locks
        the task's row (its guard) while it holds this lock: taken in the other order, the two
        would wait for each other (a row lock against an asyncio lock, which no database sees)."""
        async with self._lock:
            yield self._write

    async def _write(self, db: AsyncSession | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        items, self._items = self._items, []
        if not items:
            return
        try:
            await self._events.append_many(
                self._session_id, self._task_id, items, db=db, guard=self._guard
            )
        except BaseException:
            self._items[:0] = items
            raise


# Stores a question: (the state the task waits in, the `pending` question) -> committed.
Park = Callable[[str, dict[str, Any]], Awaitable[None]]
# Answers a question for the user: (its id, the answer's text) -> True once committed, False
# when it was no longer pending (answered meanwhile).
AutoAnswer = Callable[[str, str], Awaitable[bool]]


class Run:
    """One task running in this process."""

    def __init__(
        self,
        task_id: uuid.UUID,
        session_id: uuid.UUID,
        *,
        parent_id: uuid.UUID | None = None,
        park: Park,
        wait_timeout: float,
        auto_answer: AutoAnswer | None = None,
    ) -> None:
        self.task_id = task_id
        self.session_id = session_id
        self.parent_id = parent_id
        self.asyncio_task: asyncio.Task[None] | None = None
        # set when the user (not this process stopping) cancelled it
        self.cancel_requested = False
        # set when this process no longer holds the task's lease (another process took it
        # over): the run stops and records nothing more
        self.lost = False
        # its event sink, once the run has started
        self.buffer: EventBuffer | None = None
        self._park = park
        self._wait_timeout = wait_timeout
        self._auto_answer = auto_answer
        self._waiting: asyncio.Future[Answer] | None = None
        self._pending_id: str | None = None
        self._queued: list[str] = []
        self._condense = False  # the user asked to condense the context

    # -- the engine's Interaction ---------------------------------------------------------------

    def take_queued_messages(self) -> list[str]:
        taken, self._queued = self._queued, []
        return taken

    def take_condense_request(self) -> bool:
        taken, self._condense = self._condense, False
        return taken

    async def ask(self, question: Ask) -> Answer:
        pending_id = str(uuid.uuid4())
        pending = {
            "id": pending_id,
            "kind": question.kind,
            "tool": question.tool,
            "params": dict(question.params),
            "text": question.text,
            "suggestions": [dict(s) for s in question.suggestions],
            "callId": question.call_id,
            "createdAt": utcnow().isoformat(),
        }
        auto_text, auto_after = question.auto_answer, question.auto_after
        if auto_text is None or auto_after is None or self._auto_answer is None:
            auto_text = auto_after = None
        elif auto_after >= self._wait_timeout:
            auto_text = auto_after = None  # the wait ends first
        else:
            pending["autoAnswer"] = {"text": auto_text, "afterMs": round(auto_after * 1000)}
        approval = question.kind in ("tool", "command", "api_retry", "auto_approval_limit")
        state = "awaiting_approval" if approval else "awaiting_input"
        # set before the question is stored: an answer can only be given once it is
        self._waiting = asyncio.get_running_loop().create_future()
        self._pending_id = pending_id
        try:
            await self._park(state, pending)
            # answered by this process's API (deliver), or through the task's inbox, which
            # liveness reads for every run of this process
            waited = 0.0
            if auto_text is not None and auto_after is not None and self._auto_answer:
                waited = auto_after
                try:
                    return await asyncio.wait_for(asyncio.shield(self._waiting), waited)
                except TimeoutError:
                    if await self._auto_answer(pending_id, auto_text):
                        return Answer("answer", auto_text, auto=True)
                    # the user's answer came first: it is on its way
            return await asyncio.wait_for(
                asyncio.shield(self._waiting), self._wait_timeout - waited
            )
        except TimeoutError:
            raise WaitTimedOut from None
        finally:
            self._waiting = None
            self._pending_id = None

    # -- the task control's side ----------------------------------------------------------------

    @property
    def waiting(self) -> bool:
        """Whether the run is parked on a question (its state is saved: a safe point)."""
        return self._waiting is not None and not self._waiting.done()

    @property
    def question_id(self) -> str | None:
        """The id of the question the run waits for, if it waits."""
        return self._pending_id

    def awaits(self, approval_id: str | None) -> bool:
        """Whether the run waits for the answer to question `approval_id` now."""
        return self._pending_id is not None and self._pending_id == approval_id

    def deliver(self, approval_id: str | None, answer: Answer) -> bool:
        """Hand the answer to question `approval_id` to the waiting engine; False when the run
        does not wait for it (any more)."""
        if not self.awaits(approval_id) or self._waiting is None or self._waiting.done():
            return False
        self._waiting.set_result(answer)
        return True

    def queue(self, text: str) -> None:
        """A message for the next user turn."""
        self._queued.append(text)

    def request_condense(self) -> None:
        """Condense the context before the next model request."""
        self._condense = True

    def cancel(self, *, by_user: bool = True) -> asyncio.Task[None] | None:
        """Stop the run (its command is killed); the asyncio task to wait for."""
        if self.asyncio_task is None:
            return None
        self.cancel_requested = by_user
        self.asyncio_task.cancel()
        return self.asyncio_task
