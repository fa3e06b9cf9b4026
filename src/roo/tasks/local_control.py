"""The task control of one process (`roo.tasks.control.TaskControl`): a run of this process is
reached directly (`roo.tasks.run.Run`), a run of another process through its task's inbox
(`roo.tasks.inbox`), which that process reads when the wake-up sent once the mail is committed
reaches it (`wake`: Redis pub/sub or PostgreSQL NOTIFY, `roo.realtime.wake`), and within
`ROO_TASK_INBOX_POLL` (0.5 s) anyway (`roo.tasks.liveness`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from typing import Any

from procrastinate import App
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.agent.state import Answer
from roo.db.engine import after_commit, unit_of_work
from roo.db.models import Task
from roo.db.types import utcnow
from roo.tasks import inbox, queue, repository, states
from roo.tasks.control import AnswerNotAwaited
from roo.tasks.events import EventStore
from roo.tasks.runner import TaskRunner
from roo.tasks.schemas import ACTIVE_STATES

CANCEL_WAIT_SECONDS = 10.0  # how long a cancel waits for the run to record `cancelled`


class LocalControl:
    def __init__(
        self,
        runner: TaskRunner,
        db_sessions: async_sessionmaker[AsyncSession],
        events: EventStore,
        wake: Callable[[str], None] | None = None,
        queue: App | None = None,
    ) -> None:
        """`wake(runner_id)`: tell the process `runner_id` that its inbox has mail (called after
        the commit; never blocks, never raises). None: that process finds it at its poll.
        `queue`: the job queue (`ROO_TASK_RUNNER=queue`): tasks start on whichever worker takes
        their job, never in this process; None: they run here."""
        self.runner = runner
        self._queue = queue
        self.liveness = runner.liveness
        self.db_sessions = db_sessions
        self.events = events
        self._wake = wake

    def _post(self, db: AsyncSession, task: Task, mail: inbox.Mail) -> None:
        """Leave `mail` in the task's inbox and, once that is committed, wake its runner."""
        inbox.post(task, mail)
        runner_id, wake = task.runner_id, self._wake
        if wake is None or runner_id is None or runner_id == self.runner.runner_id:
            return

        async def send() -> None:
            wake(runner_id)

        after_commit(db, send)

    async def transition(
        self, db: AsyncSession, task: Task, to: str, *, reason: str | None = None, **data: Any
    ) -> Task:
        return await states.transition(self.events, db, task, to, reason=reason, **data)

    async def start(self, db: AsyncSession, task: Task, text: str | None = None) -> None:
        inbox.clear(task)  # mail for an earlier run is not for this one
        task.heartbeat_at = utcnow()
        if self._queue is not None:
            # Unclaimed until a worker takes the job (the sweep leaves it alone meanwhile);
            # the job commits with the request's unit of work, or not at all.
            task.runner_id = None
            await queue.defer(self._queue, db, task.id, text)
            return
        task.runner_id = self.runner.runner_id

        async def launch() -> None:
            self.runner.launch(task, text)

        after_commit(db, launch)

    async def answer(self, db: AsyncSession, task: Task, answer: Answer) -> None:
        approval_id = (task.pending or {}).get("id")
        run = self.runner.run(task.id)
        if run is not None:
            if not run.awaits(approval_id):
                raise AnswerNotAwaited(task.id)

            async def deliver() -> None:
                run.deliver(approval_id, answer)

            after_commit(db, deliver)
        else:  # another process runs it
            self._post(
                db,
                task,
                inbox.AnswerMail(
                    approval_id=str(approval_id), action=answer.action, text=answer.text
                ),
            )
        await states.transition(self.events, db, task, "running")

    async def message(self, db: AsyncSession, task: Task, text: str) -> None:
        run = self.runner.run(task.id)
        if run is not None:

            async def queue() -> None:
                run.queue(text)

            after_commit(db, queue)
        else:  # another process runs it
            self._post(db, task, inbox.MessageMail(text=text))

    async def condense(self, db: AsyncSession, task: Task) -> None:
        run = self.runner.run(task.id)
        if run is not None:

            async def request() -> None:
                run.request_condense()

            after_commit(db, request)
        else:  # another process runs it
            self._post(db, task, inbox.CondenseMail())

    async def cancel(self, task_id: uuid.UUID) -> None:
        run = self.runner.run(task_id)
        stopping = run.cancel() if run is not None else None
        if stopping is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(stopping), CANCEL_WAIT_SECONDS)
            return
        # Not run here. A unit of work of its own: the cancel must be committed before we
        # wait for the other process to read it, and nothing is held while we wait.
        async with unit_of_work(self.db_sessions) as db:
            task = await repository.lock(db, task_id)
            if task is None or task.state not in ACTIVE_STATES:
                return
            elsewhere = self.liveness.alive(task)
            if elsewhere:
                self._post(db, task, inbox.CancelMail())
            else:  # nobody runs it any more: cancelled here and now
                end = states.End("cancelled", reason="user_cancelled")
                await states.transition(
                    self.events, db, task, end.to, reason=end.reason, then=[end.event()]
                )
        if elsewhere:
            await self.liveness.wait_until_ended(task_id, CANCEL_WAIT_SECONDS)

    async def stop_session(self, session_id: uuid.UUID) -> None:
        local = self.runner.cancel_session(session_id)
        remote: list[uuid.UUID] = []
        # committed before the wait, as in `cancel`
        async with unit_of_work(self.db_sessions) as db:
            for task in await repository.active_in_session(db, session_id):
                if self.runner.runs_here(task.id):
                    continue
                if self.liveness.alive(task):
                    self._post(db, task, inbox.CancelMail())
                    remote.append(task.id)
        pollers = [
            asyncio.ensure_future(self.liveness.wait_until_ended(task_id, CANCEL_WAIT_SECONDS))
            for task_id in remote
        ]
        if local or pollers:
            await asyncio.wait([*local, *pollers], timeout=CANCEL_WAIT_SECONDS)
        for poller in pollers:
            poller.cancel()
