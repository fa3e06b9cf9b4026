"""The tasks API's logic: create, list, read, act on, cancel and delete tasks."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from limits import parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.agent.pricing import Usage
from roo.agent.state import Answer
from roo.auth.identity import Principal
from roo.checkpoints.service import CheckpointService
from roo.config import Settings
from roo.db.engine import unit_of_work
from roo.db.models import Session, Task
from roo.db.reads import Reads
from roo.db.types import utcnow
from roo.kit.errors import Conflict, NotFound, TooManyRequests, Unprocessable
from roo.kit.logs import get_logger
from roo.security.audit import ClientInfo, record
from roo.sessions import exceptions as session_errors
from roo.sessions.modes import session_modes
from roo.sessions.service import SessionManager
from roo.tasks import repository
from roo.tasks.control import AnswerNotAwaited, TaskControl
from roo.tasks.events import EventStore
from roo.tasks.llm import ModelResolver
from roo.tasks.runner import TaskRunner
from roo.tasks.schemas import (
    ACTIVE_STATES,
    FailureOut,
    PendingOut,
    TaskActionIn,
    TaskConfigIn,
    TaskCreateIn,
    TaskDetailOut,
    TaskOut,
    UsageOut,
)
from roo.tasks.state_store import hidden_in

log = get_logger("roo.tasks")

# where a run exists that can condense before its next request
CONDENSABLE_STATES = ("running", "awaiting_approval", "awaiting_input")
# Task config fields kept as the task's own options (EngineState.options), read by its runs
TASK_OPTIONS = ("temperature", "reasoning_effort", "reasoning_budget")


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


TaskLike = Task | RowMapping  # an ORM task, or its row (roo.tasks.repository.COLUMNS)


def _getter(task: TaskLike) -> Any:
    return task.__getitem__ if isinstance(task, Mapping) else task.__getattribute__


def _task_options(config: TaskConfigIn | None) -> dict[str, Any]:
    """The initial `engine_state` of a task: its options when the request gave any (by their
    Python names: `reasoning_effort`)."""
    given = config.model_dump(exclude_none=True, by_alias=False) if config is not None else {}
    options = {key: given[key] for key in TASK_OPTIONS if key in given}
    return {"options": options} if options else {}


def _usage(state: Mapping[str, Any]) -> UsageOut:
    usage = Usage.from_dict(state.get("usage") or {})
    return UsageOut(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cost=None if usage.cost is None else round(usage.cost, 6),
        requests=int(state.get("requests") or 0),
    )


def _pending(pending: Mapping[str, Any] | None) -> PendingOut | None:
    if not pending:
        return None
    return PendingOut(
        id=uuid.UUID(pending["id"]),
        kind=pending["kind"],
        tool=pending.get("tool"),
        params=pending.get("params") or {},
        text=pending.get("text"),
        suggestions=pending.get("suggestions") or [],
        auto_answer=pending.get("autoAnswer"),
        created_at=pending["createdAt"],
    )


def task_view(task: TaskLike, child_ids: Sequence[uuid.UUID] = ()) -> dict[str, Any]:
    """What the API shows of a task, from its ORM object or its row."""
    get = _getter(task)
    state = get("engine_state") or {}
    failure_reason = get("failure_reason")
    return {
        "id": get("id"),
        "session_id": get("session_id"),
        "parent_id": get("parent_id"),
        "child_ids": list(child_ids),
        "state": get("state"),
        "mode": get("mode"),
        "provider": get("provider"),
        "model": get("model"),
        "input": get("input"),
        "result": get("result"),
        "todos": state.get("todos"),
        "usage": _usage(state),
        "pending": _pending(get("pending")),
        "failure": FailureOut(reason=failure_reason, message=get("failure_message"))
        if failure_reason
        else None,
        "created_at": get("created_at"),
        "updated_at": get("updated_at"),
        "started_at": get("started_at"),
        "finished_at": get("finished_at"),
    }


class TaskService:
    """The tasks API's logic. What reaches a run goes through `control` (the task-control
    port); the service itself never commits: the request's unit of work does, and where
    something must be committed before a wait, a short unit of work of its own says why."""

    def __init__(
        self,
        settings: Settings,
        db_sessions: async_sessionmaker[AsyncSession],
        manager: SessionManager,
        control: TaskControl,
        runner: TaskRunner,
        events: EventStore,
        model_resolver: ModelResolver,
        limit_storage: Storage,
        checkpoints: CheckpointService | None = None,
    ) -> None:
        self.settings = settings
        self.db_sessions = db_sessions
        self.manager = manager
        self.control = control
        # for the app's lifespan only (start, stop): the service reaches runs through `control`
        self.runner = runner
        self.events = events
        self.model_resolver = model_resolver
        self._limiter = MovingWindowRateLimiter(limit_storage)
        self._create_limit = parse(settings.task_create_limit)
        # the checkpoints API's service (roo.checkpoints.endpoints)
        self.checkpoints = checkpoints

    # -- reading --------------------------------------------------------------------------------

    async def session(
        self, db: AsyncSession, principal: Principal, session_id: uuid.UUID
    ) -> Session:
        return await self.manager.get(db, principal, session_id)

    async def _locked(
        self, db: AsyncSession, principal: Principal, session_id: uuid.UUID, task_id: uuid.UUID
    ) -> Task:
        """The user's task, its row locked in `db` (to act on it)."""
        await self.session(db, principal, session_id)
        task = await repository.lock(db, task_id)
        if task is None or task.session_id != session_id:
            raise TaskNotFound()
        return task

    async def read(
        self, reads: Reads, principal: Principal, session_id: uuid.UUID, task_id: uuid.UUID
    ) -> repository.TaskRead:
        """The user's task as the API shows it, read outside any unit of work."""
        try:
            found = await repository.one(reads, principal.user_id, session_id, task_id)
        except repository.SessionMissing:
            raise session_errors.SessionNotFound() from None
        if found is None:
            raise TaskNotFound()
        return found

    async def active_count(self, db: AsyncSession, session_id: uuid.UUID) -> int:
        """The session's active tasks, subtasks included (its resources' `runningTasks`)."""
        return await repository.active_count(db, session_id)

    async def out(self, db: AsyncSession, task: Task) -> TaskOut:
        return TaskOut(**task_view(task, await repository.children(db, task.id)))

    @staticmethod
    def created_out(task: Task) -> TaskOut:
        """A task just created: it has no subtasks yet, so no statement asks for them."""
        return TaskOut(**task_view(task, []))

    async def detail(
        self, reads: Reads, principal: Principal, session_id: uuid.UUID, task_id: uuid.UUID
    ) -> TaskDetailOut:
        """One task with its conversation: its row (with the session's check and its children)
        in one statement, its visible messages in another; no unit of work."""
        found = await self.read(reads, principal, session_id, task_id)
        hidden = hidden_in(found.row["engine_state"])
        messages = await repository.messages(reads, task_id, hidden)
        return TaskDetailOut(**task_view(found.row, found.child_ids), messages=messages)

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
        rows, children, total = await repository.page(
            db, session_id, state=state, limit=limit, offset=offset
        )
        return [TaskOut(**task_view(r, children.get(r.id, []))) for r in rows], total

    async def unfinished(self, db: AsyncSession, session_id: uuid.UUID) -> Sequence[TaskOut]:
        """The session's tasks that have not ended (queued, running, waiting), oldest first:
        what a client that starts watching the session needs to know at once."""
        rows = await repository.unfinished(db, session_id)
        children = await repository.children_of(db, rows)
        return [TaskOut(**task_view(r, children.get(r.id, []))) for r in rows]

    # -- creating -------------------------------------------------------------------------------

    async def _rate_limit(self, principal: Principal) -> None:
        """The user's `ROO_TASK_CREATE_LIMIT`: 429 past it. When the store fails (Redis away)
        the task is created uncounted, with a logged warning, as the other budgets do."""
        key = str(principal.user_id)
        try:
            if await self._limiter.hit(self._create_limit, "tasks", key):
                return
            stats = await self._limiter.get_window_stats(self._create_limit, "tasks", key)
        except Exception as exc:  # the store is away: the task is created, uncounted
            log.warning(
                "rate_limit.store_failed",
                policy="task-create",
                error=f"{type(exc).__name__}: {exc}",
            )
            return
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise TaskRateLimited(
            f"At most {self.settings.task_create_limit} new tasks per user; try again in {retry} s",
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
        # Nothing is written yet: the read's transaction ends here, so that no connection is held
        # while .roomodes is read in a thread (the rows stay loaded: expire_on_commit=False;
        # the writes below start a transaction of their own in the same unit of work).
        await db.commit()
        modes = await session_modes(self.manager.workspaces.path(session.workspace_dir), config)
        modes.check()
        if mode not in modes.table:
            raise UnknownMode(f"Unknown mode {mode!r}; modes: {', '.join(modes.table)}")
        choice = await self.model_resolver.choose(db, principal.user_id, requested, config)

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
        # Holding the row: no checkpoint restore may be under way (it holds the workspace
        # alone, then checks for active tasks after this creation commits).
        await self.manager.workspaces.check_free(session.workspace_dir)
        limit = self.manager.limits(session).max_concurrent_tasks
        busy = await repository.active_count(db, session.id, top_level=True)
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
            credential=principal.key_prefix,
            state="queued",
            mode=mode,
            provider=choice.provider,
            model=choice.model,
            input=body.input,
            images=list(body.images or []),
            # the task's own settings travel with its state (EngineState.options)
            engine_state=_task_options(body.config),
            created_at=now,
            updated_at=now,
        )
        db.add(task)
        await self.control.start(db, task)  # once the request's unit of work commits
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
        task = await self._locked(db, principal, session_id, task_id)
        action = body.action
        if action == "resume":
            return await self._continue(db, principal, task, body.text, client, "resume")
        if action == "condense":
            return await self._condense(db, principal, task, client)
        if action == "message":
            if not body.text:
                raise Unprocessable("`text` is required for action message")
            if task.state == "completed":
                return await self._continue(db, principal, task, body.text, client, "message")
            if task.state == "running":
                await self.control.message(db, task, body.text)
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

    async def _condense(
        self, db: AsyncSession, principal: Principal, task: Task, client: ClientInfo
    ) -> Task:
        """Roo's "condense context" button: the run condenses before its next model request
        (a waiting task, once it is answered)."""
        if task.state not in CONDENSABLE_STATES:
            raise TaskStateConflict(
                f"Cannot condense a task that is {task.state}: only a running or waiting "
                "task's context can be condensed (continue or resume it first)"
            )
        await self.control.condense(db, task)
        await self.events.append(
            task.session_id, task.id, "context.condense_requested", {"state": task.state}, db=db
        )
        await self._audit(db, principal, task, client, "condense")
        return task

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
        try:
            await self.control.answer(db, task, answer)
        except AnswerNotAwaited:
            raise TaskStateConflict("The task is not waiting for this answer any more") from None
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
        session = await self.session(db, principal, task.session_id)
        if session.state == "archived":
            raise session_errors.SessionArchived("Restore the session before resuming a task")
        busy = await repository.active_count(db, task.session_id, top_level=True, excluding=task.id)
        limit = self.manager.limits(session).max_concurrent_tasks
        if busy and busy >= limit:
            raise SessionBusy(f"The session already runs {busy} task(s)")
        await self.model_resolver.choose(
            db, principal.user_id, {"provider": task.provider, "model": task.model}, {}
        )
        await self.control.transition(db, task, "queued", action=action)
        # its event holds the session's row: as for a creation, no restore may be under way
        await self.manager.workspaces.check_free(session.workspace_dir)
        await self.control.start(db, task, text)  # once the request's unit of work commits
        await self._audit(db, principal, task, client, action)
        return task

    async def _audit(
        self,
        db: AsyncSession,
        principal: Principal,
        task: Task | repository.TaskRead,
        client: ClientInfo,
        action: str,
        **detail: Any,
    ) -> None:
        row: TaskLike = task.row if isinstance(task, repository.TaskRead) else task
        get = _getter(row)
        await record(
            db,
            f"tasks.{action}",
            actor_id=principal.user_id,
            target=f"task:{get('id')}",
            client=client,
            session_id=str(get("session_id")),
            **{k: v for k, v in detail.items() if v is not None},
        )

    # -- cancel / delete ------------------------------------------------------------------------

    async def stop_session(self, session_id: uuid.UUID) -> None:
        """Stop every active task of a session before it is deleted (their commands killed),
        waiting a few seconds at most, holding no connection meanwhile."""
        await self.control.stop_session(session_id)

    async def cancel(
        self,
        reads: Reads,
        principal: Principal,
        session_id: uuid.UUID,
        task_id: uuid.UUID,
        client: ClientInfo,
    ) -> TaskOut:
        """Cancel an active task and return it, now `cancelled`; 409 for a finished one."""
        task = await self.read(reads, principal, session_id, task_id)
        if task.row["state"] not in ACTIVE_STATES:
            raise TaskStateConflict(f"Cannot cancel a task that is {task.row['state']}")
        return await self._cancel(reads, principal, task, client)

    async def _cancel(
        self, reads: Reads, principal: Principal, task: repository.TaskRead, client: ClientInfo
    ) -> TaskOut:
        # The audit row commits on its own, before the cancel: it must stay when the wait
        # below is cut short (the client goes away), and no transaction may stay open while
        # the run stops (the run needs to write its end).
        async with unit_of_work(self.db_sessions) as audit:
            await self._audit(audit, principal, task, client, "cancel")
        session_id, task_id = task.row["session_id"], task.row["id"]
        await self.control.cancel(task_id)
        cancelled = await self.read(reads, principal, session_id, task_id)
        return TaskOut(**task_view(cancelled.row, cancelled.child_ids))

    async def cancel_or_delete(
        self,
        reads: Reads,
        db: AsyncSession,
        principal: Principal,
        session_id: uuid.UUID,
        task_id: uuid.UUID,
        client: ClientInfo,
    ) -> TaskOut | None:
        """Cancel an active task (returns it, now `cancelled`); delete a finished one (None)."""
        # read outside the unit of work: `db` holds no connection while a run stops
        task = await self.read(reads, principal, session_id, task_id)
        if task.row["state"] in ACTIVE_STATES:
            return await self._cancel(reads, principal, task, client)
        await self._audit(db, principal, task, client, "delete")
        await repository.remove(db, task_id)
        return None
