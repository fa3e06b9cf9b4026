"""Workspace checkpoints: a snapshot of a session's workspace taken before a task's step that
writes to it (the snapshot itself is a commit of the session's shadow repository,
`roo.checkpoints.shadow`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from roo.db.base import Base
from roo.db.types import UTCDateTime, new_id, utcnow


class TaskCheckpoint(Base):
    __tablename__ = "task_checkpoints"
    __table_args__ = (
        UniqueConstraint("task_id", "step", name="uq_task_checkpoints_task_id_step"),
        Index("ix_task_checkpoints_session_id", "session_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("sessions.id", ondelete="CASCADE")
    )
    task_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tasks.id", ondelete="CASCADE"))
    # the task's step the snapshot was taken before (steps count from 0)
    step: Mapped[int] = mapped_column(Integer)
    # how many messages of the task's conversation came before that step: a restore with the
    # conversation keeps those
    position: Mapped[int] = mapped_column(Integer)
    commit: Mapped[str] = mapped_column(String(64))
    # what changed since the shadow repository's previous snapshot: [{path, status}] (at most
    # roo.checkpoints.shadow.MAX_LISTED) and how many in all
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    files_changed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
