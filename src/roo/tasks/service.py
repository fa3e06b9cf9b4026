"""The tasks API's logic: create, list, read, act on, cancel and delete tasks."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Sequence
from typing import Any

from limits import parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from roo.agent.modes import MODES
from roo.agent.pricing import Usage
from roo.agent.state import Answer
from roo.auth.identity import Principal
from roo.config import Settings
from roo.db.engine import after_commit, release_connection, unit_of_work
from roo.db.models import Session, Task
from roo.db.types import utcnow
from roo.kit.errors import Conflict, NotFound, TooManyRequests, Unprocessable
from roo.security.audit import ClientInfo, record
from roo.sessions import exceptions as session_errors
from roo.sessions.service import SessionManager
from roo.tasks.events import EventStore
from roo.tasks.llm import ModelResolver
from roo.tasks.runner import TaskRunner
from roo.tasks.schemas import (
    ACTIVE_STATES,
    FailureOut,
    PendingOut,
    TaskActionIn,
    TaskCreateIn,
    TaskDetailOut,
    TaskOut,
    UsageOut,
)
from roo.tasks.state_store import hidden_of, visible_messages

CANCEL_WAIT_SECONDS = 10.0  # how long DELETE waits for another process to stop a task


class TaskNotFound(NotFound):
    slug, title = "task-not-found", "Task not found"

    def __init__(self) -> None:
        super().__init__("No such task in this session")


class SessionBusy(Conflict):
    slug, title = "session-busy", "Session busy"


class TaskStateConflict(Conflict):
    slug, title = "task-state-conflict", "Action does not fit the task's state"


class TaskRateLimited(TooManyRequests):
    slug, title = "task-rate-limited", "Too many tasks created"


class UnknownMode(Unprocessable):
    slug, title = "unknown-mode", "Unknown mode"


def _usage(task: Task) -> UsageOut:
    state = task.engine_state or {}
    usage = Usage.from_dict(state.get("usage") or {})
    return UsageOut(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cost=round(usage.cost, 6),
        requests=int(state.get("requests") or 0),
    )


def _pending(task: Task) -> PendingOut | None:
    pending = task.pending
    if not pending:
        return None
    return PendingOut(
        id=uuid.UUID(pending["id"]),
        kind=pending["kind"],
        tool=pending.get("tool"),
        params=pending.get("params") or {},
        text=pending.get("text"),
        suggestions=pending.get("suggestions") or [],
        created_at=pending["createdAt"],
    )


def task_view(task: Task, child_ids: Sequence[uuid.UUID] = ()) -> dict[str, Any]:
    state = task.engine_state or {}
    return {
        "id": task.id,
        "session_id": task.session_id,
        "parent_id": task.parent_id,
        "child_ids": list(child_ids),
        "state": task.state,
        "mode": task.mode,
        "provider": task.provider,
        "model": task.model,
        "input": task.input,
        "result": task.result,
        "todos": state.get("todos"),
        "usage": _usage(task),
        "pending": _pending(task),
        "failure": FailureOut(reason=task.failure_reason, message=task.failure_message)
        if task.failure_reason
        else None,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
    }


class TaskService:
    def __init__(
        self,
        settings: Settings,
        manager: SessionManager,
        runner: TaskRunner,
        events: EventStore,
        models: ModelResolver,
        limit_storage: Storage,
    ) -> None:
        self.settings = settings
        self.manager = manager
        self.runner = runner
        self.events = events
        self.models = models
        self._limiter = MovingWindowRateLimiter(limit_storage)
        self._create_limit = parse(settings.task_create_limit)

    # -- reading --------------------------------------------------------------------------------

    async def session(
        self, db: AsyncSession, principal: Principal, session_id: uuid.UUID
    ) -> Session:
        return await self.manager.get(db, principal, session_id)

    async def get(
        self, db: AsyncSession, principal: Principal, session_id: uuid.UUID, task_id: uuid.UUID
    ) -> Task:
        await self.session(db, principal, session_id)
        task = await db.get(Task, task_id, populate_existing=True)
        if task is None or task.session_id != session_id:
            raise TaskNotFound()
        return task

    async def active_count(self, db: AsyncSession, session_id: uuid.UUID) -> int:
        count = await db.scalar(
            select(func.count())
            .select_from(Task)
            .where(Task.session_id == session_id, Task.state.in_(ACTIVE_STATES))
        )
        return int(count or 0)

    async def children(self, db: AsyncSession, task_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await db.scalars(
            select(Task.id).where(Task.parent_id == task_id).order_by(Task.created_at)
        )
        return list(rows)

    async def out(self, db: AsyncSession, task: Task) -> TaskOut:
        return TaskOut(**task_view(task, await self.children(db, task.id)))

    async def detail(self, db: AsyncSession, task: Task) -> TaskDetailOut:
        view = task_view(task, await self.children(db, task.id))
        messages = await visible_messages(db, task.id, hidden_of(task))
        return TaskDetailOut(**view, messages=messages)

    async def list(
        self,
        db: AsyncSession,
        principal: Principal,
        session_id: uuid.UUID,
        *,
        state: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[TaskOut], int]:
        await self.session(db, principal, session_id)
        conditions = [Task.session_id == session_id]
        if state is not None:
            conditions.append(Task.state == state)
        total = await db.scalar(select(func.count()).select_from(Task).where(*conditions))
        rows = (
            await db.scalars(
                select(Task)
                .where(*conditions)
                .order_by(Task.created_at.desc(), Task.id)
                .limit(limit)
                .offset(offset)
            )
        ).all()
        children: dict[uuid.UUID, list[uuid.UUID]] = {}
        if rows:
            pairs = await db.execute(
                select(Task.parent_id, Task.id)
                .where(Task.parent_id.in_([r.id for r in rows]))
                .order_by(Task.created_at)
            )
            for parent_id, child_id in pairs:
                if parent_id is not None:
                    children.setdefault(parent_id, []).append(child_id)
        return [TaskOut(**task_view(r, children.get(r.id, []))) for r in rows], int(total or 0)

    # -- creating -------------------------------------------------------------------------------

    async def _rate_limit(self, principal: Principal) -> None:
        key = str(principal.user_id)
        if not await self._limiter.hit(self._create_limit, "tasks", key):
            stats = await self._limiter.get_window_stats(self._create_limit, "tasks", key)
            retry = max(1, math.ceil(stats.reset_time - time.time()))
            raise TaskRateLimited(
                f"At most {self.settings.task_create_limit} new tasks per user; "
                f"try again in {retry} s",
                headers={"Retry-After": str(retry)},
            )

    async def create(
        self,
        db: AsyncSession,
        principal: Principal,
        session_id: uuid.UUID,
        body: TaskCreateIn,
        client: ClientInfo,
    ) -> Task:
        session = await self.session(db, principal, session_id)
        if session.state == "archived":
            raise session_errors.SessionArchived("Restore the session before starting a task")
        if session.workspace_deleted_at is not None:
            raise session_errors.WorkspaceGone("This session's workspace was deleted")
        requested = body.config.model_dump(exclude_none=True) if body.config else {}
        config = session.config or {}
        mode = requested.get("mode") or config.get("mode") or "code"
        if mode not in MODES:
            raise UnknownMode(f"Unknown mode {mode!r}; modes: {', '.join(MODES)}")
        choice = await self.models.choose(db, principal.user_id, requested, config)

        task_id = uuid.uuid4()
        # The event's UPDATE of the session row comes first: it serialises concurrent creators
        # of one session (row lock / SQLite's write lock) before the busy check below.
        await self.events.append(
            session.id,
            task_id,
            "task.created",
            {"mode": mode, "provider": choice.provider, "model": choice.model},
            db=db,
        )
        limit = self.manager.limits(session).max_concurrent_tasks
        busy = await db.scalar(
            select(func.count())
            .select_from(Task)
            .where(
                Task.session_id == session.id,
                Task.parent_id.is_(None),
                Task.state.in_(ACTIVE_STATES),
            )
        )
        if busy and busy >= limit:
            raise SessionBusy(
                f"The session already runs {busy} task(s) (maxConcurrentTasks = {limit}); "
                "wait for it to finish or cancel it"
            )
        # Last of the checks: a creation refused for another reason costs none of the budget.
        await self._rate_limit(principal)
        now = utcnow()
        task = Task(
            id=task_id,
            session_id=session.id,
            user_id=principal.user_id,
            state="queued",
            mode=mode,
            provider=choice.provider,
            model=choice.model,
            input=body.input,
            images=list(body.images or []),
            engine_state={},
            runner_id=self.runner.runner_id,
            heartbeat_at=now,
            created_at=now,
            updated_at=now,
        )
        db.add(task)
        await self.manager.touch(db, session)
        await record(
            db,
            "tasks.create",
            actor_id=principal.user_id,
            target=f"task:{task_id}",
            client=client,
            session_id=str(session.id),
            provider=choice.provider,
            model=choice.model,
            mode=mode,
        )
        await db.flush()

        async def start() -> None:
            self.runner.launch(task)

        after_commit(db, start)
        return task

    # -- acting ---------------------------------------------------------------------------------

    async def act(
        self,
        db: AsyncSession,
        principal: Principal,
        session_id: uuid.UUID,
        task_id: uuid.UUID,
        body: TaskActionIn,
        client: ClientInfo,
    ) -> Task:
        task = await self.get(db, principal, session_id, task_id)
        await db.refresh(task, with_for_update=True)
        action = body.action
        if action == "resume":
            return await self._continue(db, principal, task, body.text, client, "resume")
        if action == "message":
            if not body.text:
                raise Unprocessable("`text` is required for action message")
            if task.state == "completed":
                return await self._continue(db, principal, task, body.text, client, "message")
            if task.state == "running":
                run = self.runner.local(task.id)
                if run is not None:
                    run.queued.append(body.text)
                else:  # another process runs it: through the task's inbox
                    inbox = dict(task.inbox or {})
                    inbox["messages"] = [*inbox.get("messages", []), body.text]
                    task.inbox = inbox
                await self._audit(db, principal, task, client, "message")
                return task
            if task.state == "awaiting_input":
                return await self._answer(
                    db, principal, task, body, Answer("answer", body.text), client
                )
            if task.state == "awaiting_approval":
                # Roo: a message typed during an approval approves it, with the text as feedback
                return await self._answer(
                    db, principal, task, body, Answer("approve", body.text), client
                )
            raise self._conflict(task, action)
        if action in ("approve", "approve_always", "deny"):
            allowed = (
                ("awaiting_approval", "awaiting_input")
                if action == "deny"
                else ("awaiting_approval",)
            )
            if task.state not in allowed:
                raise self._conflict(task, action)
            return await self._answer(
                db, principal, task, body, Answer(action, body.feedback or body.text), client
            )
        # answer
        if task.state != "awaiting_input":
            raise self._conflict(task, action)
        if not body.text:
            raise Unprocessable("`text` is required for action answer")
        return await self._answer(db, principal, task, body, Answer("answer", body.text), client)

    def _conflict(self, task: Task, action: str) -> TaskStateConflict:
        return TaskStateConflict(f"Cannot {action} a task that is {task.state}")

    async def _answer(
        self,
        db: AsyncSession,
        principal: Principal,
        task: Task,
        body: TaskActionIn,
        answer: Answer,
        client: ClientInfo,
    ) -> Task:
        pending = task.pending or {}
        if body.approval_id is not None and str(body.approval_id) != pending.get("id"):
            raise TaskStateConflict(
                f"Approval {body.approval_id} is not pending; the pending one is "
                f"{pending.get('id')}"
            )
        run = self.runner.local(task.id)
        if run is not None and (run.pending_id is None or str(run.pending_id) != pending.get("id")):
            raise TaskStateConflict("The task is not waiting for this answer any more")
        if run is None:  # another process runs it: it reads the answer from the inbox
            inbox = dict(task.inbox or {})
            answers = dict(inbox.get("answers") or {})
            answers[str(pending.get("id"))] = {"action": answer.action, "text": answer.text}
            inbox["answers"] = answers
            task.inbox = inbox
        await self.runner.transition(db, task.id, "running", task=task)
        data: dict[str, Any] = {"approvalId": pending.get("id"), "action": answer.action}
        if answer.text:
            data["text"] = answer.text
        await self.events.append(task.session_id, task.id, "approval.resolved", data, db=db)
        await self._audit(
            db,
            principal,
            task,
            client,
            answer.action,
            kind=pending.get("kind"),
            tool=pending.get("tool"),
        )

        if run is not None:
            local = run

            async def deliver() -> None:
                local.deliver(answer)

            after_commit(db, deliver)
        return task

    async def _continue(
        self,
        db: AsyncSession,
        principal: Principal,
        task: Task,
        text: str | None,
        client: ClientInfo,
        action: str,
    ) -> Task:
        resumable = (
            ("completed",) if action == "message" else ("failed", "interrupted", "cancelled")
        )
        if task.state not in resumable:
            raise self._conflict(task, action)
        if task.parent_id is not None:
            raise TaskStateConflict("A subtask continues through its parent task")
        session = await db.get(Session, task.session_id)
        if session is None:
            raise session_errors.SessionNotFound()
        if session.state == "archived":
            raise session_errors.SessionArchived("Restore the session before resuming a task")
        busy = await db.scalar(
            select(func.count())
            .select_from(Task)
            .where(
                Task.session_id == task.session_id,
                Task.parent_id.is_(None),
                Task.state.in_(ACTIVE_STATES),
                Task.id != task.id,
            )
        )
        limit = self.manager.limits(session).max_concurrent_tasks
        if busy and busy >= limit:
            raise SessionBusy(f"The session already runs {busy} task(s)")
        await self.models.choose(
            db, principal.user_id, {"provider": task.provider, "model": task.model}, {}
        )
        await self.runner.transition(db, task.id, "queued", task=task, action=action)
        task.heartbeat_at = utcnow()
        task.runner_id = self.runner.runner_id
        task.inbox = None  # mail for an earlier run is not for this one
        await self._audit(db, principal, task, client, action)

        async def start() -> None:
            self.runner.launch(task, text)

        after_commit(db, start)
        return task

    async def _audit(
        self,
        db: AsyncSession,
        principal: Principal,
        task: Task,
        client: ClientInfo,
        action: str,
        **detail: Any,
    ) -> None:
        await record(
            db,
            f"tasks.{action}",
            actor_id=principal.user_id,
            target=f"task:{task.id}",
            client=client,
            session_id=str(task.session_id),
            **{k: v for k, v in detail.items() if v is not None},
        )

    # -- cancel / delete ------------------------------------------------------------------------

    async def _cancel_elsewhere(self, db: AsyncSession, task: Task) -> None:
        """Cancel a task this process does not run: through its inbox when its runner is alive
        (waiting a little for it to say so), directly when nobody runs it."""
        await db.refresh(task, with_for_update=True)
        if task.state not in ACTIVE_STATES:
            return
        if self.runner.alive(task):
            task.inbox = {**(task.inbox or {}), "cancel": True}
            await release_connection(db)  # written; nothing held while the runner reacts
            await self.runner.wait_until_ended(task.id, CANCEL_WAIT_SECONDS)
            return
        await self.runner.transition(db, task.id, "cancelled", reason="user_cancelled", task=task)
        await self.events.append(
            task.session_id, task.id, "task.cancelled", {"reason": "user_cancelled"}, db=db
        )
        await release_connection(db)

    async def stop_session(self, session_id: uuid.UUID) -> None:
        """Stop every active task of a session before it is deleted: this process's runs are
        cancelled (their commands killed) and the others asked through their inbox, all at
        once; waits at most CANCEL_WAIT_SECONDS in all, holding no connection meanwhile."""
        local = self.runner.cancel_session(session_id)
        remote: list[uuid.UUID] = []
        async with unit_of_work(self.runner.sessions) as db:
            rows = (
                await db.scalars(
                    select(Task)
                    .where(Task.session_id == session_id, Task.state.in_(ACTIVE_STATES))
                    .with_for_update()
                )
            ).all()
            for task in rows:
                if self.runner.local(task.id) is not None:
                    continue
                if self.runner.alive(task):
                    task.inbox = {**(task.inbox or {}), "cancel": True}
                    remote.append(task.id)
        pollers = [
            asyncio.ensure_future(self.runner.wait_until_ended(task_id, CANCEL_WAIT_SECONDS))
            for task_id in remote
        ]
        if local or pollers:
            await asyncio.wait([*local, *pollers], timeout=CANCEL_WAIT_SECONDS)
        for poller in pollers:
            poller.cancel()

    async def cancel_or_delete(
        self,
        db: AsyncSession,
        principal: Principal,
        session_id: uuid.UUID,
        task_id: uuid.UUID,
        client: ClientInfo,
    ) -> Task | None:
        """Cancel an active task (returns it, now `cancelled`); delete a finished one (None)."""
        task = await self.get(db, principal, session_id, task_id)
        if task.state in ACTIVE_STATES:
            await self._audit(db, principal, task, client, "cancel")
            # the audit row is written; no connection is held while the run stops
            await release_connection(db)
            if not await self.runner.cancel(task.id):
                await self._cancel_elsewhere(db, task)
            await db.refresh(task)
            return task
        await self._audit(db, principal, task, client, "delete")
        await db.delete(task)
        return None
