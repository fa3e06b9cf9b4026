"""Runs tasks in the background of this process and joins the engine to the rest.

Each run is an asyncio task owned by this `TaskRunner` (its `runner_id` and a heartbeat are on
the task row). The run's sink stores every event in the session's event log; its checkpoint
saves what changed in the engine state after every step and tool result
(`roo.tasks.state_store`); its interaction parks the task in `awaiting_approval`/
`awaiting_input` with a `pending` question until an answer arrives from the API (`answer()`),
or the wait times out (the task is then cancelled cleanly).

A task whose runner stops beating (the process crashed or was stopped) is marked `interrupted`
by whichever runner sweeps next; `resume` continues it from its last saved step. A clean shutdown
marks this runner's tasks `interrupted` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.agent import messages as m
from roo.agent.approval import ApprovalPolicy
from roo.agent.engine import Agent, AgentLimits, AgentSetup
from roo.agent.messages import Block
from roo.agent.pricing import default_model_info, model_info
from roo.agent.prompts import WorkspaceFacts
from roo.agent.state import Answer, Ask, Outcome, SubtaskFailed, TaskState
from roo.agent.tools.base import IgnoreRules, OnOutput, ToolContext
from roo.agent.tools.list_files import list_workspace
from roo.agent.tools.registry import ToolRegistry
from roo.config import Settings
from roo.db.engine import uninterrupted, unit_of_work
from roo.db.models import Session, Task
from roo.db.types import utcnow
from roo.kit.loops import stop_loop, wait_or_stop
from roo.security.pathguard import PathRejected
from roo.sessions.service import SessionManager
from roo.tasks.events import EventStore, SessionGone
from roo.tasks.llm import ModelResolver
from roo.tasks.schemas import ACTIVE_STATES, FINISHED_STATES
from roo.tasks.state_store import StateWriter, load_state

log = structlog.get_logger(__name__)

FLUSH_SECONDS = 0.1  # the longest an emitted event waits before it is written
MAX_BUFFERED_EVENTS = 64
# How often a run looks at its task's inbox (answers, messages and cancel from other processes)
INBOX_POLL_SECONDS = 0.5


class WaitTimedOut(Exception):
    """Nobody answered within the wait timeout."""


def image_blocks(images: Sequence[str]) -> list[Block]:
    """Data URLs (validated by the API) as image blocks."""
    blocks: list[Block] = []
    for url in images:
        header, _, data = url.partition(",")
        media_type = header.removeprefix("data:").split(";")[0]
        blocks.append(m.image_block(media_type, "".join(data.split())))
    return blocks


def workspace_listing(workspace: Path, ignore: IgnoreRules) -> str:
    """The first request's file list (as a recursive list_files shows it); a workspace that
    cannot be listed is said so, not a failed task."""
    try:
        return list_workspace(workspace, ignore)
    except (OSError, PathRejected) as exc:
        return f"(the workspace could not be listed: {type(exc).__name__})"


class EventBuffer:
    """The engine's event sink for one run. Events keep their order and emission time and are
    written together: in the transaction of the next checkpoint, before anything else writes
    for the task (a question, the end of the run, a subtask), or at most FLUSH_SECONDS after the
    first of them, whichever comes first. A step costs one or two transactions, not one per
    event; a crash loses at most the events since the last checkpoint's fraction of a second,
    which describe work that the resumed task does not count as done either."""

    def __init__(
        self,
        events: EventStore,
        session_id: uuid.UUID,
        task_id: uuid.UUID,
    ) -> None:
        self._events = events
        self._session_id = session_id
        self._task_id = task_id
        self._items: list[tuple[str, dict[str, Any], datetime]] = []
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    async def __call__(self, event: str, data: dict[str, Any]) -> None:
        self._items.append((event, data, utcnow()))
        if len(self._items) >= MAX_BUFFERED_EVENTS:
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        task = asyncio.create_task(self._timed_flush())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _timed_flush(self) -> None:
        try:
            await self.flush()
        except Exception as exc:  # kept for the next flush (the checkpoint's, at the latest)
            log.warning("tasks.events_flush_failed", error=f"{type(exc).__name__}: {exc}")

    async def flush(self, db: AsyncSession | None = None) -> None:
        """Write what is buffered (in `db`'s transaction when given)."""
        async with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            items, self._items = self._items, []
            if not items:
                return
            try:
                await self._events.append_many(self._session_id, self._task_id, items, db=db)
            except BaseException:
                self._items[:0] = items
                raise


@dataclass(eq=False)
class Run:
    """One task running in this process: what the API needs to reach it."""

    task_id: uuid.UUID
    session_id: uuid.UUID
    runner: TaskRunner
    asyncio_task: asyncio.Task[None] | None = None
    waiting: asyncio.Future[Answer] | None = None
    pending_id: uuid.UUID | None = None
    queued: list[str] = field(default_factory=list)
    cancel_requested: bool = False
    parent_id: uuid.UUID | None = None
    buffer: EventBuffer | None = None

    # -- the engine's Interaction ---------------------------------------------------------------

    def take_queued_messages(self) -> list[str]:
        taken, self.queued = self.queued, []
        return taken

    async def ask(self, question: Ask) -> Answer:
        runner = self.runner
        pending_id = uuid.uuid4()
        pending = {
            "id": str(pending_id),
            "kind": question.kind,
            "tool": question.tool,
            "params": dict(question.params),
            "text": question.text,
            "suggestions": [dict(s) for s in question.suggestions],
            "callId": question.call_id,
            "createdAt": utcnow().isoformat(),
        }
        state = "awaiting_approval" if question.kind in ("tool", "command") else "awaiting_input"
        loop = asyncio.get_running_loop()
        self.waiting = loop.create_future()
        self.pending_id = pending_id

        async def park() -> None:
            async with unit_of_work(runner.sessions) as db:
                if self.buffer is not None:
                    await self.buffer.flush(db)
                await runner.transition(db, self.task_id, state, pending=pending)
                await runner.events.append(
                    self.session_id,
                    self.task_id,
                    "approval.required",
                    {
                        "approvalId": str(pending_id),
                        "kind": question.kind,
                        "tool": question.tool,
                        "params": dict(question.params),
                        "text": question.text,
                        "suggestions": pending["suggestions"],
                    },
                    db=db,
                )

        await uninterrupted(park())
        try:
            # answered by this process's API (deliver), or through the task's inbox, which
            # the runner's loop reads for every run of this process (read_inboxes)
            return await asyncio.wait_for(
                asyncio.shield(self.waiting), runner.settings.task_wait_timeout_seconds
            )
        except TimeoutError:
            raise WaitTimedOut from None
        finally:
            self.waiting = None
            self.pending_id = None

    def deliver(self, answer: Answer) -> None:
        """An answer recorded by the API (after its commit) reaches the waiting engine."""
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_result(answer)


class TaskRunner:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        events: EventStore,
        manager: SessionManager,
        registry: ToolRegistry,
        ignore_rules: Callable[[Path], IgnoreRules],
        models: ModelResolver,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.events = events
        self.manager = manager
        self.registry = registry
        self.ignore_rules = ignore_rules
        self.models = models
        self.runner_id = uuid.uuid4().hex
        self.runs: dict[uuid.UUID, Run] = {}
        # Tasks running at once in this process (the rest wait, `queued`): the API shares the
        # event loop and must stay responsive. Subtasks run in their parent's slot.
        self._slots = asyncio.Semaphore(settings.max_running_tasks)
        self._background: asyncio.Task[None] | None = None
        self._stop_heartbeat = asyncio.Event()
        self._stopping = False

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self._background = asyncio.create_task(self._heartbeat_loop())

    async def stop(self) -> None:
        """Shut down: this process's runs end as `interrupted` (resumable)."""
        self._stopping = True
        if self._background is not None:  # its current round finishes first
            await stop_loop(self._background, self._stop_heartbeat)
        tasks = [r.asyncio_task for r in self.runs.values() if r.asyncio_task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.models.aclose()

    def running_in(self, session_id: uuid.UUID) -> int:
        return sum(1 for r in self.runs.values() if r.session_id == session_id)

    async def _heartbeat_loop(self) -> None:
        interval = self.settings.task_heartbeat_seconds
        tick = min(INBOX_POLL_SECONDS, interval)
        due = 0.0
        loop = asyncio.get_running_loop()
        while True:
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
            if await wait_or_stop(self._stop_heartbeat, tick):
                return

    async def read_inboxes(self) -> None:
        """Answers, messages and cancel requests that other processes left for this process's
        runs (one query for all of them)."""
        if not self.runs:
            return
        cancel: list[uuid.UUID] = []
        async with unit_of_work(self.sessions) as db:
            rows = (
                await db.scalars(
                    select(Task)
                    .where(Task.id.in_(list(self.runs)), Task.inbox.is_not(None))
                    .with_for_update()
                )
            ).all()
            for task in rows:
                inbox = dict(task.inbox or {})
                run = self.runs.get(task.id)
                if run is None:
                    continue
                run.queued.extend(inbox.pop("messages", []))
                if inbox.pop("cancel", False):
                    cancel.append(task.id)
                # an answer can only be written once its question is pending (and pending_id
                # is set before the question is stored): any other one is stale
                answers = inbox.pop("answers", None) or {}
                given = answers.get(str(run.pending_id)) if run.pending_id else None
                if given is not None:
                    run.deliver(Answer(given["action"], given.get("text")))
                task.inbox = inbox or None
        for task_id in cancel:
            self._request_cancel(task_id)

    def alive(self, task: Task) -> bool:
        """Whether another process runs `task` and still beats for it."""
        if task.runner_id in (None, self.runner_id) or task.heartbeat_at is None:
            return False
        age = (utcnow() - task.heartbeat_at).total_seconds()
        return age < 3 * self.settings.task_heartbeat_seconds

    async def wait_until_ended(self, task_id: uuid.UUID, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            async with unit_of_work(self.sessions) as db:
                state = await db.scalar(select(Task.state).where(Task.id == task_id))
            if state is None or state not in ACTIVE_STATES:
                return
            await asyncio.sleep(0.05)

    async def beat(self) -> None:
        """Say this process still runs its tasks. A run stays in `runs` for a moment after its
        task ended: an ended task is not touched (its `updatedAt` is when it ended)."""
        if not self.runs:
            return
        async with unit_of_work(self.sessions) as db:
            await db.execute(
                update(Task)
                .where(Task.id.in_(list(self.runs)), Task.state.in_(ACTIVE_STATES))
                .values(heartbeat_at=utcnow(), runner_id=self.runner_id)
            )

    async def sweep(self) -> int:
        """Mark active tasks whose runner stopped beating as `interrupted`."""
        stale = utcnow() - timedelta(seconds=3 * self.settings.task_heartbeat_seconds)
        async with unit_of_work(self.sessions) as db:
            rows = (
                await db.scalars(
                    select(Task)
                    .where(Task.state.in_(ACTIVE_STATES), Task.heartbeat_at < stale)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            swept = 0
            for task in rows:
                if task.id in self.runs:
                    continue
                await self.transition(
                    db,
                    task.id,
                    "interrupted",
                    reason="runner_lost",
                    message="The process running this task stopped; resume it to continue",
                    task=task,
                )
                swept += 1
        if swept:
            log.info("tasks.interrupted", count=swept)
        return swept

    # -- state ----------------------------------------------------------------------------------

    async def transition(
        self,
        db: AsyncSession,
        task_id: uuid.UUID,
        to: str,
        *,
        reason: str | None = None,
        message: str | None = None,
        pending: dict[str, Any] | None = None,
        task: Task | None = None,
        **data: Any,
    ) -> Task:
        """Move a task to state `to` and log the transition as a `task.state` event."""
        if task is None:
            task = await db.get(Task, task_id, with_for_update=True)
            if task is None:
                raise LookupError(task_id)
        previous = task.state
        now = utcnow()
        task.state = to
        task.pending = pending
        task.updated_at = now
        if to == "running" and task.started_at is None:
            task.started_at = now
        if to in FINISHED_STATES:
            task.finished_at = now
            task.failure_reason = reason if to != "completed" else None
            task.failure_message = message if to != "completed" else None
        elif to == "running":
            task.failure_reason = task.failure_message = None
            task.finished_at = None
        payload: dict[str, Any] = {"from": previous, "to": to, **data}
        if reason:
            payload["reason"] = reason
        await self.events.append(task.session_id, task.id, "task.state", payload, db=db)
        return task

    # -- running --------------------------------------------------------------------------------

    def launch(self, task: Task, text: str | None = None) -> Run:
        """Start (or continue, with the user's `text`) a task in the background."""
        run = Run(task.id, task.session_id, self, parent_id=task.parent_id)
        self.runs[task.id] = run
        run.asyncio_task = asyncio.create_task(self._run(run, text), name=f"task-{task.id}")
        return run

    async def _run(self, run: Run, text: str | None) -> None:
        try:
            await self._execute(run, text)
        except Exception:
            # The end could not be recorded (the database is down or overloaded): the task
            # stays active without heartbeats, and the next sweep marks it interrupted.
            log.exception("tasks.end_not_recorded", task_id=str(run.task_id))
        finally:
            self.runs.pop(run.task_id, None)

    async def _execute(self, run: Run, text: str | None) -> None:
        """Prepare, run and record one run. Whatever happens, the task leaves `running`:
        completed, failed, cancelled, or (on shutdown) interrupted."""
        try:
            async with contextlib.AsyncExitStack() as stack:
                if run.parent_id is None:  # a subtask runs in its parent's slot
                    await stack.enter_async_context(self._slots)
                prepared = await self._prepare(run, text)
                if prepared is None:
                    return
                agent, message, images = prepared
                outcome = await agent.run(message, images)
        except asyncio.CancelledError:
            await asyncio.shield(self._cancelled(run))
            raise
        except SessionGone:
            return  # deleted while it ran: its task went with it
        except WaitTimedOut:
            await self._finish(
                run,
                "cancelled",
                reason="wait_timeout",
                message="Nobody answered within "
                f"{self.settings.task_wait_timeout_seconds:g} s; the task was cancelled",
            )
            return
        except Exception as exc:
            log.exception("tasks.run_failed", task_id=str(run.task_id))
            await self._finish(
                run, "failed", reason="internal_error", message=f"{type(exc).__name__}: {exc}"
            )
            return
        await self._outcome(run, outcome, agent.state)

    async def _start(self, run: Run) -> tuple[Task, Session, Any] | None:
        """Mark the task running: its row, its session and its model endpoint; None when it
        must not run (deleted, or no longer queued: cancelled before it started)."""
        async with unit_of_work(self.sessions) as db:
            task = await db.get(Task, run.task_id, with_for_update=True)
            session = await db.get(Session, run.session_id)
            if task is None or session is None or task.state != "queued":
                return None
            endpoint = await self.models.endpoint(db, task.user_id, task.provider)
            await self.transition(db, task.id, "running", task=task)
            task.runner_id, task.heartbeat_at = self.runner_id, utcnow()
            await self.events.append(
                task.session_id,
                task.id,
                "task.started",
                {
                    "mode": task.mode,
                    "provider": task.provider,
                    "model": task.model,
                    "resumed": bool(task.engine_state),
                    "parentId": str(task.parent_id) if task.parent_id else None,
                },
                db=db,
            )
        return task, session, endpoint

    async def _prepare(
        self, run: Run, text: str | None
    ) -> tuple[Agent, str | None, list[Block]] | None:
        """Mark the task running and build its engine; None when it must not run (deleted,
        or no longer queued: cancelled before it started)."""
        settings = self.settings
        started = await uninterrupted(self._start(run))
        if started is None:
            return None
        task, session, endpoint = started
        first_run = not task.engine_state
        if first_run:
            state = TaskState(mode=task.mode)
        else:  # the run owns the task now: nothing else writes its state
            async with unit_of_work(self.sessions) as db:
                state = await load_state(db, task)
        workspace = self.manager.workspaces.path(session.workspace_dir)
        ignore = self.ignore_rules(workspace)
        config = session.config or {}
        info = model_info(task.provider, task.model) or default_model_info(
            task.provider, task.model
        )
        provider = self.models.build(task.provider, endpoint)

        buffer = run.buffer = EventBuffer(self.events, run.session_id, run.task_id)
        writer = StateWriter(run.task_id, state)

        async def save(snapshot: TaskState) -> None:
            async with unit_of_work(self.sessions) as db:
                await buffer.flush(db)
                now = utcnow()
                await writer.write(
                    db, snapshot, mode=snapshot.mode, heartbeat_at=now, updated_at=now
                )

        async def checkpoint(snapshot: TaskState) -> None:
            await uninterrupted(save(snapshot))

        async def save_policy(policy: ApprovalPolicy) -> None:
            async with unit_of_work(self.sessions) as db:
                row = await db.get(Session, run.session_id, with_for_update=True)
                if row is not None:
                    row.config = {**row.config, "approvalPolicy": policy.to_mapping(by_alias=True)}

        async def on_policy_change(policy: ApprovalPolicy) -> None:
            await uninterrupted(save_policy(policy))

        def tool_context(on_output: OnOutput) -> ToolContext:
            return ToolContext(
                workspace=workspace,
                run_command=functools.partial(self.manager.run_command, session),
                ignore=self.ignore_rules(workspace),
                on_output=on_output,
                supports_images=info.supports_images,
            )

        async def spawn(mode: str, message: str, todos: str | None) -> tuple[str, str]:
            return await self._subtask(run, mode, message, todos)

        setup = AgentSetup(
            provider=provider,
            model=task.model,
            model_info=info,
            registry=self.registry,
            tool_context=tool_context,
            sink=buffer,
            interaction=run,
            checkpoint=checkpoint,
            policy=ApprovalPolicy.from_mapping(config.get("approvalPolicy") or {}),
            on_policy_change=on_policy_change,
            spawn_subtask=spawn,
            limits=AgentLimits(
                max_requests=settings.task_max_requests,
                max_cost=settings.task_max_cost,
                max_wall_seconds=settings.task_max_wall_seconds,
                mistake_limit=settings.task_mistake_limit,
                retry_attempts=settings.llm_retry_attempts,
                retry_base_delay=settings.llm_retry_base_delay,
                # Events keep at most what the model gets of a command's output, or less.
                output_event_bytes=min(
                    settings.task_output_event_bytes,
                    self.manager.limits(session).max_output_bytes,
                ),
            ),
            custom_instructions=config.get("customInstructions"),
            workspace=WorkspaceFacts(
                file_listing=await asyncio.to_thread(workspace_listing, workspace, ignore)
                if first_run
                else ""
            ),
        )
        agent = Agent(setup, state)
        if first_run:
            return agent, task.input, image_blocks(task.images or [])
        return agent, text, []

    async def _outcome(self, run: Run, outcome: Outcome, state: TaskState) -> None:
        if outcome.status == "completed":
            await self._finish(run, "completed", result=outcome.result, usage=state.usage.to_dict())
        else:
            await self._finish(
                run,
                "failed",
                reason=outcome.reason,
                message=outcome.message,
            )

    async def _cancelled(self, run: Run) -> None:
        if run.cancel_requested:
            await self._finish(run, "cancelled", reason="user_cancelled")
        else:  # shutdown
            await self._finish(
                run,
                "interrupted",
                reason="shutdown",
                message="The service stopped while this task ran; resume it to continue",
            )

    async def _finish(
        self,
        run: Run,
        to: str,
        *,
        reason: str | None = None,
        message: str | None = None,
        result: str | None = None,
        usage: dict[str, Any] | None = None,
    ) -> None:
        with contextlib.suppress(SessionGone):  # deleted meanwhile: nothing left to record
            await self._record_end(run, to, reason, message, result, usage)

    async def _record_end(
        self,
        run: Run,
        to: str,
        reason: str | None,
        message: str | None,
        result: str | None,
        usage: dict[str, Any] | None,
    ) -> None:
        async with unit_of_work(self.sessions) as db:
            if run.buffer is not None:
                await run.buffer.flush(db)
            task = await db.get(Task, run.task_id, with_for_update=True)
            if task is None or task.state not in ACTIVE_STATES:
                return  # deleted, or already ended (e.g. cancelled before it started)
            task.result = result if to == "completed" else task.result
            pending = task.pending
            await self.transition(db, task.id, to, reason=reason, message=message, task=task)
            if pending:  # the question dies with the run: say so to whoever shows it
                await self.events.append(
                    task.session_id,
                    task.id,
                    "approval.resolved",
                    {"approvalId": pending.get("id"), "action": "rejected", "reason": reason},
                    db=db,
                )
            if to == "completed":
                event, data = "task.complete", {"result": result, "usage": usage or {}}
            elif to == "cancelled":
                event, data = "task.cancelled", {"reason": reason}
            elif to == "failed":
                event, data = "error.occurred", {"reason": reason, "message": message}
            else:
                event, data = "task.interrupted", {"reason": reason, "message": message}
            await self.events.append(task.session_id, task.id, event, data, db=db)

    async def _subtask(
        self, parent: Run, mode: str, message: str, todos: str | None
    ) -> tuple[str, str]:
        """Create a child task in the same session and run it to its end inside the parent's
        run (cancelling the parent cancels the child)."""
        async with unit_of_work(self.sessions) as db:
            if parent.buffer is not None:
                await parent.buffer.flush(db)
            row = await db.get(Task, parent.task_id)
            if row is None:
                raise SubtaskFailed("the parent task is gone")
            child = Task(
                session_id=row.session_id,
                user_id=row.user_id,
                parent_id=row.id,
                state="queued",
                mode=mode,
                provider=row.provider,
                model=row.model,
                input=message if not todos else f"{message}\n\nTodo list:\n{todos}",
                images=[],
                engine_state={},
                heartbeat_at=utcnow(),
                runner_id=self.runner_id,
            )
            db.add(child)
            await db.flush()
            await self.events.append(
                row.session_id,
                child.id,
                "task.created",
                {"parentId": str(row.id), "mode": mode, "input": child.input},
                db=db,
            )
            await self.events.append(
                row.session_id, row.id, "task.delegated", {"childId": str(child.id)}, db=db
            )
        run = self.launch(child)
        if run.asyncio_task is None:
            raise SubtaskFailed("the subtask could not start")
        try:
            # wait() does not raise the child's CancelledError: a cancelled child is a failed
            # subtask for the parent; a cancelled parent cancels its child.
            await asyncio.wait([run.asyncio_task])
        except asyncio.CancelledError:
            run.cancel_requested = parent.cancel_requested
            run.asyncio_task.cancel()
            await asyncio.wait([run.asyncio_task])
            raise
        async with unit_of_work(self.sessions) as db:
            done = await db.get(Task, child.id)
        if done is None or done.state != "completed":
            state = done.state if done else "deleted"
            detail = f": {done.failure_message}" if done and done.failure_message else ""
            raise SubtaskFailed(f"Subtask {child.id} ended {state}{detail}")
        return str(child.id), done.result or ""

    # -- the API's side -------------------------------------------------------------------------

    def local(self, task_id: uuid.UUID) -> Run | None:
        return self.runs.get(task_id)

    def cancel_session(self, session_id: uuid.UUID) -> list[asyncio.Task[None]]:
        """Ask every run of a session in this process to stop; the runs to wait for."""
        stopping = [
            self._request_cancel(run.task_id)
            for run in list(self.runs.values())
            if run.session_id == session_id and run.parent_id is None
        ]
        return [task for task in stopping if task is not None]

    def _request_cancel(self, task_id: uuid.UUID) -> asyncio.Task[None] | None:
        run = self.runs.get(task_id)
        if run is None or run.asyncio_task is None:
            return None
        run.cancel_requested = True
        run.asyncio_task.cancel()
        return run.asyncio_task

    async def cancel(self, task_id: uuid.UUID, wait: float = 10.0) -> bool:
        """Cancel a run of this process and wait for it to record `cancelled`."""
        target = self._request_cancel(task_id)
        if target is None:
            return False
        with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
            await asyncio.wait_for(asyncio.shield(target), wait)
        return True
