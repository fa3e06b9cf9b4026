"""Liveness of the runs across processes: the heartbeat, the sweep of dead owners and the poll
of the inboxes.

One background loop per process (started and stopped with the runner): it takes the mail other
processes left for this process's runs (one query for all of them) and hands it to `receive`,
at once when `wake` is called (the push that says mail was posted: Redis pub/sub or PostgreSQL
NOTIFY, `roo.realtime.wake`) and every `inbox_poll_seconds` anyway (the backstop for a wake-up
that was lost: the row is the record, the wake carries nothing); every `ROO_TASK_HEARTBEAT`
seconds it refreshes the heartbeat of this process's tasks (`beat`) and marks active tasks whose
owner stopped beating for three beats `interrupted` (`sweep`). What runs here comes from
`running` (a callable: this module knows no runner).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Collection
from datetime import timedelta

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.db.engine import background_work, unit_of_work
from roo.db.models import Task
from roo.db.types import utcnow
from roo.kit.loops import stop_loop, wait_or_stop
from roo.tasks import inbox, repository, states
from roo.tasks.events import EventStore
from roo.tasks.schemas import ACTIVE_STATES

log = structlog.get_logger(__name__)

# How often a run looks at its task's inbox (answers, messages and cancel from other processes)
# without being woken (`ROO_TASK_INBOX_POLL`)
INBOX_POLL_SECONDS = 0.5
# A task whose heartbeat is this many beats old has lost its process
STALE_BEATS = 3


class Liveness:
    def __init__(
        self,
        *,
        db_sessions: async_sessionmaker[AsyncSession],
        events: EventStore,
        runner_id: str,
        heartbeat_seconds: float,
        running: Callable[[], Collection[uuid.UUID]],
        receive: Callable[[uuid.UUID, inbox.Inbox], None],
        inbox_poll_seconds: float = INBOX_POLL_SECONDS,
        lost: Callable[[Collection[uuid.UUID]], None] | None = None,
        background_wait: float = 300.0,
    ) -> None:
        self.db_sessions = db_sessions
        self._background_wait = background_wait
        self.events = events
        self.runner_id = runner_id
        self.heartbeat_seconds = heartbeat_seconds
        self._running = running
        self._receive = receive
        self._lost = lost
        self.inbox_poll_seconds = inbox_poll_seconds
        self._loop_task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._woken = asyncio.Event()
        self.wakes = 0  # wake-ups received (each starts a round at once)
        self.inbox_reads = 0  # rounds that looked for mail (woken or not)

    # -- the loop ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop the loop after its current round (never mid-query)."""
        if self._loop_task is not None:
            await stop_loop(self._loop_task, self._stop)

    def wake(self) -> None:
        """Mail was posted for one of this process's runs: read the inboxes now rather than at
        the next poll. Never blocks; wake-ups that come during a round make one more round."""
        self.wakes += 1
        self._woken.set()

    async def _loop(self) -> None:
        background_work(self._background_wait)  # a missed beat would cost the runs their lease
        interval = self.heartbeat_seconds
        tick = min(self.inbox_poll_seconds, interval)
        due = 0.0
        loop = asyncio.get_running_loop()
        while True:
            self._woken.clear()  # a wake-up from now on is for mail this round may not see
            try:
                await self.read_inboxes()
                if loop.time() >= due:
                    due = loop.time() + interval
                    await self.beat()
                    await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be down for a moment: try again later
                log.warning("tasks.heartbeat_failed", error=f"{type(exc).__name__}: {exc}")
            if await wait_or_stop(self._stop, tick, self._woken):
                return

    # -- one round --------------------------------------------------------------------------------

    async def read_inboxes(self) -> None:
        """Take the mail other processes left for this process's runs and hand it over once
        it is taken (committed): mail taken twice would be delivered twice."""
        ids = list(self._running())
        if not ids:
            return
        self.inbox_reads += 1
        taken: list[tuple[uuid.UUID, inbox.Inbox]] = []
        async with unit_of_work(self.db_sessions, writes=True) as db:
            for task in await repository.with_mail(db, ids):
                try:
                    taken.append((task.id, inbox.take(task)))
                except ValidationError as exc:  # emptied: it would fail every round
                    log.warning("tasks.inbox_unreadable", task_id=str(task.id), error=str(exc))
        for task_id, box in taken:
            self._receive(task_id, box)

    async def beat(self) -> None:
        """Say this process still runs its tasks. A run stays registered for a moment after
        its task ended: an ended task is not touched (its `updatedAt` is when it ended).
        Runs whose task this process no longer holds (swept `interrupted` while the process
        was paused or cut off, and maybe resumed elsewhere) are handed to `lost`."""
        ids = list(self._running())
        if not ids:
            return
        async with unit_of_work(self.db_sessions, writes=True) as db:
            held = await repository.beat(db, ids, self.runner_id, utcnow())
        gone = set(ids) - held
        if gone and self._lost is not None:
            self._lost(gone)

    async def sweep(self) -> int:
        """Mark active tasks whose runner stopped beating as `interrupted`."""
        before = utcnow() - timedelta(seconds=STALE_BEATS * self.heartbeat_seconds)
        swept = 0
        async with unit_of_work(self.db_sessions, writes=True) as db:
            running = set(self._running())
            for task in await repository.stale(db, before):
                if task.id in running:
                    continue
                end = states.RUNNER_LOST
                await states.transition(
                    self.events, db, task, end.to, reason=end.reason, message=end.message
                )
                swept += 1
        if swept:
            log.info("tasks.interrupted", count=swept)
        return swept

    # -- what other processes do ----------------------------------------------------------------

    def alive(self, task: Task) -> bool:
        """Whether another process runs `task` and still beats for it."""
        if task.runner_id in (None, self.runner_id) or task.heartbeat_at is None:
            return False
        age = (utcnow() - task.heartbeat_at).total_seconds()
        return age < STALE_BEATS * self.heartbeat_seconds

    async def wait_until_ended(self, task_id: uuid.UUID, seconds: float) -> None:
        """Poll until the task is no longer active (or gone), at most `seconds`; each look is
        a unit of work of its own, nothing is held between them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            async with unit_of_work(self.db_sessions) as db:
                state = await repository.state_of(db, task_id)
            if state is None or state not in ACTIVE_STATES:
                return
            await asyncio.sleep(0.05)
