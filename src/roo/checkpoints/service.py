"""Checkpoints of tasks: saving (for the engine, through `Recorder`), listing, diffing and
restoring (for the API).

Git runs in the session's sandbox (`roo.checkpoints.shadow`); no database connection is held
while it does. A session's saves, diffs and restores take turns, in this process (an asyncio
lock) and across the processes that share the checkpoints directory (`roo.checkpoints.lock`).
A restore also holds the workspace alone (no command, file write through the API or task start
of the session meanwhile) and is refused while any task of the session is active.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import os
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.checkpoints.lock import LockTimeout, session_lock
from roo.checkpoints.shadow import ShadowError, ShadowRepo, session_directory
from roo.config import Settings
from roo.db.engine import unit_of_work
from roo.db.models import Session, Task, TaskCheckpoint, TaskMessage
from roo.kit.errors import Conflict, NotFound, ServiceUnavailable
from roo.pathguard import PathRejected, remove_tree
from roo.sandbox import SandboxError, SandboxPathError
from roo.sandbox.disk import workspace_usage_bytes
from roo.security.audit import ClientInfo, record
from roo.sessions.exceptions import SessionNotFound, WorkspaceBusy, WorkspaceGone
from roo.sessions.service import SessionManager
from roo.tasks.events import EventStore
from roo.tasks.schemas import ACTIVE_STATES

log = structlog.get_logger(__name__)

# The run's event sink (roo.tasks.run.EventBuffer)
Sink = Callable[[str, dict[str, Any]], Awaitable[None]]
_FAILURES = (ShadowError, SandboxError, PathRejected, OSError, LockTimeout)
_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class CheckpointNotFound(NotFound):
    slug, title = "checkpoint-not-found", "Checkpoint not found"

    def __init__(self) -> None:
        super().__init__("No such checkpoint of this task")


class TaskNotFound(NotFound):
    slug, title = "task-not-found", "Task not found"

    def __init__(self) -> None:
        super().__init__("No such task in this session")


class SessionTaskActive(Conflict):
    slug, title = "session-task-active", "A task of the session is active"


class CheckpointFailed(ServiceUnavailable):
    slug, title = "checkpoint-failed", "The checkpoint operation failed"


class CheckpointService:
    def __init__(
        self,
        settings: Settings,
        db_sessions: async_sessionmaker[AsyncSession],
        manager: SessionManager,
        events: EventStore,
    ) -> None:
        self.settings = settings
        self.db_sessions = db_sessions
        self.manager = manager
        self.events = events
        self.root = settings.checkpoints_dir or settings.data_dir / "checkpoints"
        self._locks: weakref.WeakValueDictionary[uuid.UUID, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        # session -> its shadow repository's size after its last save in this process
        self._sizes: dict[uuid.UUID, int] = {}

    # -- the shadow repository of a session -----------------------------------------------------

    def directory(self, session_id: uuid.UUID) -> Path:
        return session_directory(self.root, session_id.hex)

    @contextlib.asynccontextmanager
    async def _turn(self, session_id: uuid.UUID, *, create: bool = True) -> AsyncIterator[None]:
        """The session's turn for a checkpoint operation: after the others of this process
        (an asyncio lock) and of every process sharing the checkpoints directory (a file
        lock), waiting at most twice an operation's timeout (LockTimeout past that)."""
        lock = self._locks.get(session_id)
        if lock is None:
            lock = self._locks[session_id] = asyncio.Lock()
        async with lock:
            wait = 2 * self.settings.checkpoint_timeout_seconds
            async with session_lock(self.root, session_id.hex, wait, create=create):
                yield

    async def _repo(self, session: Session) -> ShadowRepo:
        manager = self.manager
        workspace = manager.workspaces.path(session.workspace_dir)
        # Not in the session's group of commands: a command the agent left running must not
        # keep a checkpoint waiting for its slot. The session's limits still bound git.
        run = functools.partial(
            manager.sandbox.run,
            workspace=workspace,
            limits=manager.sandbox_limits(session),
            network=False,
        )
        return ShadowRepo(
            run,
            self.directory(session.id),
            workspace,
            isolated=await manager.sandbox.backend() == "bwrap",
            file_max_bytes=self.settings.checkpoint_file_max_bytes,
            timeout=self.settings.checkpoint_timeout_seconds,
        )

    async def _size(self, session_id: uuid.UUID) -> int:
        """The shadow repository's size: as its last save here reported it (Git's count of
        its objects), else its bytes on disk (a walk of its files, once per process)."""
        used = self._sizes.get(session_id)
        if used is None:
            used = await asyncio.to_thread(workspace_usage_bytes, self.directory(session_id))
            self._sizes[session_id] = used
        return used

    async def remove(self, session_id: uuid.UUID) -> bool:
        """Delete a session's shadow repository (the session or its workspace is gone), after
        the operation running on it if any, beneath directory fds with no link followed (git's
        sandbox can write in it). True when it is gone (also when there was none); a failure
        is logged, never raised."""
        self._sizes.pop(session_id, None)
        key = session_id.hex
        try:
            try:
                async with self._turn(session_id, create=False):
                    await asyncio.to_thread(_remove, self.root, key)
            except LockTimeout:  # an operation stuck past its timeout: it fails, the tree goes
                await asyncio.to_thread(_remove, self.root, key)
        except FileNotFoundError:
            return True  # none, or already gone
        except Exception as exc:  # one session's failure must not stop the caller's round
            log.warning("checkpoints.remove_failed", session_id=str(session_id), error=repr(exc))
            return False
        return True

    # -- saving (the engine's WorkspaceCheckpoints) ---------------------------------------------

    def recorder(self, session: Session, task_id: uuid.UUID, sink: Sink) -> Recorder | None:
        """What a run of the task gives its engine; None when checkpoints are off."""
        if not self.settings.checkpoints_enabled:
            return None
        return Recorder(self, session, task_id, sink)

    async def save(
        self, session: Session, task_id: uuid.UUID, step: int, position: int
    ) -> TaskCheckpoint | str | None:
        """Snapshot the workspace before step `step` of the task; the record, or None when
        this step already has one (a resumed run), or a reason why none was taken."""
        async with unit_of_work(self.db_sessions) as db:
            found = await db.scalar(
                select(TaskCheckpoint.id).where(
                    TaskCheckpoint.task_id == task_id, TaskCheckpoint.step == step
                )
            )
        if found is not None:
            return None
        used = await self._size(session.id)
        if used >= self.settings.checkpoint_max_bytes:
            return (
                f"the session's checkpoints use {used} bytes, at least their cap of "
                f"{self.settings.checkpoint_max_bytes} (ROO_CHECKPOINT_MAX_BYTES)"
            )
        repo = await self._repo(session)
        async with self._turn(session.id):
            async with self.manager.workspaces.held(session.workspace_dir, exclusive=False):
                saved = await repo.save(f"task {task_id} step {step}")
        self._sizes[session.id] = saved.repository_bytes
        row = TaskCheckpoint(
            session_id=session.id,
            task_id=task_id,
            step=step,
            position=position,
            commit=saved.commit,
            files=saved.files,
            files_changed=saved.files_changed,
        )
        try:
            async with unit_of_work(self.db_sessions, writes=True) as db:
                db.add(row)
        except IntegrityError:
            return None  # saved meanwhile by another run of the task
        return row

    # -- reading --------------------------------------------------------------------------------

    async def _task(
        self, db: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID, task_id: uuid.UUID
    ) -> tuple[Session, Task]:
        session = await db.get(Session, session_id)
        if session is None or session.user_id != user_id:
            raise SessionNotFound()
        task = await db.get(Task, task_id)
        if task is None or task.session_id != session_id:
            raise TaskNotFound()
        return session, task

    async def list(
        self, user_id: uuid.UUID, session_id: uuid.UUID, task_id: uuid.UUID
    ) -> list[TaskCheckpoint]:
        async with unit_of_work(self.db_sessions) as db:
            await self._task(db, user_id, session_id, task_id)
            rows = await db.scalars(
                select(TaskCheckpoint)
                .where(TaskCheckpoint.task_id == task_id)
                .order_by(TaskCheckpoint.step)
            )
            return list(rows)

    async def _checkpoint(
        self, db: AsyncSession, task_id: uuid.UUID, checkpoint_id: uuid.UUID
    ) -> TaskCheckpoint:
        row = await db.get(TaskCheckpoint, checkpoint_id)
        if row is None or row.task_id != task_id:
            raise CheckpointNotFound()
        return row

    async def diff(
        self,
        user_id: uuid.UUID,
        session_id: uuid.UUID,
        task_id: uuid.UUID,
        checkpoint_id: uuid.UUID,
        against: uuid.UUID | None,
    ) -> tuple[str, bool]:
        """The unified diff from the checkpoint to checkpoint `against` of the same task, or to
        the workspace now (None); and whether it was cut at the session's maxOutputBytes."""
        async with unit_of_work(self.db_sessions) as db:
            session, _ = await self._task(db, user_id, session_id, task_id)
            commit = (await self._checkpoint(db, task_id, checkpoint_id)).commit
            other = None
            if against is not None:
                other = (await self._checkpoint(db, task_id, against)).commit
            if session.workspace_deleted_at is not None:
                raise WorkspaceGone("This session's workspace was deleted")
        repo = await self._repo(session)
        try:
            async with self._turn(session.id):
                async with self.manager.workspaces.held(session.workspace_dir, exclusive=False):
                    diff = await repo.diff(commit, other)
        except WorkspaceBusy:
            raise
        except SandboxPathError:  # deleted meanwhile (the janitor)
            raise WorkspaceGone("This session's workspace was deleted") from None
        except _FAILURES as exc:
            log.warning("checkpoints.diff_failed", session_id=str(session_id), error=str(exc))
            raise CheckpointFailed("The diff could not be computed; try again") from exc
        return diff.text, diff.truncated

    # -- restoring ------------------------------------------------------------------------------

    async def restore(
        self,
        user_id: uuid.UUID,
        session_id: uuid.UUID,
        task_id: uuid.UUID,
        checkpoint_id: uuid.UUID,
        *,
        conversation: bool,
        client: ClientInfo | None,
    ) -> TaskCheckpoint:
        """Roo's two restores: the workspace's files as they were at the checkpoint, and with
        `conversation` the task's conversation as it was then too (the messages of that step
        and after removed, the task ready to be continued from there)."""
        async with unit_of_work(self.db_sessions) as db:
            session, _ = await self._task(db, user_id, session_id, task_id)
            checkpoint = await self._checkpoint(db, task_id, checkpoint_id)
            await self._refuse_if_active(db, session_id)
            # a change to the workspace: refused for an archived session or a deleted
            # workspace (409)
            await self.manager.touch(db, session)
        repo = await self._repo(session)
        try:
            # Alone in the workspace: no command, no file write through the API and no task
            # start of the session from here on (each takes or checks the workspace, 409
            # `workspace-busy`). Then no task may be active: a task created just before
            # committed its row while holding the session's row, which the check below waits
            # for (and a creation after it finds the workspace taken).
            async with self.manager.workspaces.held(
                session.workspace_dir,
                exclusive=True,
                busy="Commands or file writes are under way in this workspace; restore when "
                "they have finished",
            ):
                async with unit_of_work(self.db_sessions) as db:
                    await _lock_row(db, session_id)
                    await self._refuse_if_active(db, session_id)
                    current = await db.get(Session, session_id)
                    if current is None:
                        raise SessionNotFound()
                    await self.manager.touch(db, current)
                async with self._turn(session.id):
                    await repo.restore(checkpoint.commit)
        except WorkspaceBusy:
            raise
        except SandboxPathError:  # deleted meanwhile (the janitor)
            raise WorkspaceGone("This session's workspace was deleted") from None
        except _FAILURES as exc:
            log.warning("checkpoints.restore_failed", session_id=str(session_id), error=str(exc))
            raise CheckpointFailed("The checkpoint could not be restored; try again") from exc
        async with unit_of_work(self.db_sessions) as db:
            task = await db.get(Task, task_id, with_for_update=True)
            if task is None:
                raise TaskNotFound()
            removed = 0
            if conversation:
                await self._refuse_if_active(db, session_id)
                removed = await _truncate(db, task, checkpoint)
            await self.events.append(
                session_id,
                task_id,
                "checkpoint.restored",
                {
                    "checkpointId": str(checkpoint.id),
                    "step": checkpoint.step,
                    "commit": checkpoint.commit,
                    "conversation": conversation,
                    "messagesRemoved": removed,
                },
                db=db,
            )
            await record(
                db,
                "tasks.checkpoint_restore",
                actor_id=user_id,
                target=f"task:{task_id}",
                client=client,
                session_id=str(session_id),
                checkpoint=str(checkpoint.id),
                step=checkpoint.step,
                conversation=conversation,
            )
        return checkpoint

    async def _refuse_if_active(self, db: AsyncSession, session_id: uuid.UUID) -> None:
        active = await db.scalar(
            select(Task.id)
            .where(Task.session_id == session_id, Task.state.in_(ACTIVE_STATES))
            .limit(1)
        )
        if active is not None:
            raise SessionTaskActive(
                "A task of this session is active; restore a checkpoint once it has ended "
                "(or cancel it)"
            )


async def _lock_row(db: AsyncSession, session_id: uuid.UUID) -> None:
    """Take the session's row (PostgreSQL's row lock, SQLite's write lock) until `db` commits:
    after a task creation of the session that holds it now (it updates the row first)."""
    await db.execute(
        update(Session)
        .where(Session.id == session_id)
        .values(event_seq=Session.event_seq)
        .execution_options(synchronize_session=False)
    )


def _remove(root: Path, key: str) -> None:
    """Delete `root/key` beneath an fd on `root`, never following a link (blocking)."""
    root_fd = os.open(root, _O_DIR)
    try:
        remove_tree(root_fd, key)
    finally:
        os.close(root_fd)


async def _truncate(db: AsyncSession, task: Task, checkpoint: TaskCheckpoint) -> int:
    """Cut the task's conversation back to the checkpoint's step: its messages from that step
    on are deleted, marks that named a removed summary or truncation are lifted, the state
    goes back to that step, and the task's checkpoints from that step on are dropped (the
    next run takes them again). Returns how many messages were removed."""
    cut = checkpoint.position
    rows = (
        await db.execute(
            select(TaskMessage.position, TaskMessage.message)
            .where(TaskMessage.task_id == task.id)
            .order_by(TaskMessage.position)
        )
    ).all()
    removed_ids = {
        value
        for position, message in rows
        if position >= cut
        for value in (message.get("condenseId"), message.get("truncationId"))
        if value
    }
    for position, message in rows:
        if position >= cut:
            break
        marks = [k for k in ("condenseParent", "truncationParent") if message.get(k) in removed_ids]
        if marks:
            kept = {k: v for k, v in copy.deepcopy(message).items() if k not in marks}
            await db.execute(
                update(TaskMessage)
                .where(TaskMessage.task_id == task.id, TaskMessage.position == position)
                .values(message=kept)
            )
    await db.execute(
        delete(TaskMessage).where(TaskMessage.task_id == task.id, TaskMessage.position >= cut)
    )
    await db.execute(
        delete(TaskCheckpoint).where(
            TaskCheckpoint.task_id == task.id, TaskCheckpoint.step >= checkpoint.step
        )
    )
    state = dict(task.engine_state or {})
    state.update(
        step=checkpoint.step,
        pendingResults=[],
        result=None,
        mistakes=0,
        noToolReplies=0,
        contextTokens=0,
    )
    task.engine_state = state
    task.result = None
    return sum(1 for position, _ in rows if position >= cut)


class Recorder:
    """The engine's `WorkspaceCheckpoints` for one run: saves, records and tells."""

    def __init__(
        self, service: CheckpointService, session: Session, task_id: uuid.UUID, sink: Sink
    ) -> None:
        self._service = service
        self._session = session
        self._task_id = task_id
        self._sink = sink

    async def before_write(self, step: int, position: int) -> None:
        try:
            outcome = await self._service.save(self._session, self._task_id, step, position)
        except Exception as exc:  # git, the sandbox, a busy workspace, the database: reported
            # (cancellation, a lost lease included, is no Exception: it goes through)
            log.warning(
                "checkpoints.save_failed",
                session_id=str(self._session.id),
                task_id=str(self._task_id),
                error=str(exc),
            )
            await self._sink(
                "checkpoint.skipped",
                {"step": step, "reason": "error", "message": "the snapshot failed"},
            )
            return
        if isinstance(outcome, str):
            await self._sink("checkpoint.skipped", {"step": step, "reason": "size_cap"})
            log.info("checkpoints.skipped", session_id=str(self._session.id), reason=outcome)
        elif isinstance(outcome, TaskCheckpoint):
            await self._sink(
                "checkpoint.saved",
                {
                    "checkpointId": str(outcome.id),
                    "step": step,
                    "commit": outcome.commit,
                    "filesChanged": outcome.files_changed,
                },
            )
