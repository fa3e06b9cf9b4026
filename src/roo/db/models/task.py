"""Tasks (agent runs inside a session) and the session's event log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from roo.db.base import Base
from roo.db.types import UTCDateTime, new_id, utcnow


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_session_id_created_at", "session_id", "created_at"),
        Index("ix_tasks_state_heartbeat_at", "state", "heartbeat_at"),
        Index("ix_tasks_parent_id", "parent_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("sessions.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    # The credential it was created with: an API key's public prefix (none for an access token),
    # bound for its runs so that their audit rows carry it; a subtask has its parent's.
    credential: Mapped[str | None] = mapped_column(String(32), default=None)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("tasks.id", ondelete="CASCADE"), default=None
    )
    # queued | running | awaiting_approval | awaiting_input | completed | failed | cancelled
    # | interrupted
    state: Mapped[str] = mapped_column(String(20), default="queued")
    mode: Mapped[str] = mapped_column(String(50))
    provider: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(200))
    input: Mapped[str] = mapped_column(Text)
    images: Mapped[list[str]] = mapped_column(JSON, default=list)
    # the engine's EngineState but its history (mode, usage, counters, todos, the results of the
    # step in progress): rewritten at every checkpoint; the conversation itself is in
    # `task_messages`, one row per message (older tasks: `hidden`, roo.tasks.state_store)
    engine_state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # what the task waits for: {id, kind, tool, params, text, suggestions, createdAt}
    pending: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    # what the API hands to the process running the task when that is another process:
    # {"answers": {pendingId: {action, text}}, "messages": [...], "cancel": bool}
    # (None is stored as SQL NULL, so `inbox IS NOT NULL` finds only tasks with mail)
    inbox: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    result: Mapped[str | None] = mapped_column(Text, default=None)
    failure_reason: Mapped[str | None] = mapped_column(String(50), default=None)
    failure_message: Mapped[str | None] = mapped_column(Text, default=None)
    # the process running it and when it last said so (a stale heartbeat = interrupted)
    runner_id: Mapped[str | None] = mapped_column(String(64), default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class TaskMessage(Base):
    """One message of a task's conversation (`roo.agent.messages`), at its position from 0.

    Rows are appended as the conversation grows and are never deleted while the task lives;
    a row is rewritten only where the engine edits a message in place (the marks of
    condensing and of the sliding window inside its JSON, the sliding window's marker text, a
    note added to the last user turn). Marked messages are kept, no longer sent
    (`roo.agent.context`)."""

    __tablename__ = "task_messages"

    task_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TaskEvent(Base):
    """One event of a session, numbered gap-free per session (`seq` from `sessions.event_seq`)."""

    __tablename__ = "task_events"
    __table_args__ = (Index("ix_task_events_task_id", "task_id"),)

    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    task_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    event: Mapped[str] = mapped_column(String(50))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
