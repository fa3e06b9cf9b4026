"""Task conversations one message a row (`task_messages`), out of `tasks.engine_state`.

Upgrade moves each task's `engine_state["history"]` into rows at positions 0.. (stamped with
the task's last update) and leaves the rest of the state where it was; downgrade puts the
visible conversation (the first message, then those after `hidden`) back into the state.
One task at a time, so memory stays bounded by the largest conversation.

Revision ID: 0007_task_messages
Revises: 0006_tasks
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007_task_messages"
down_revision: str | None = "0006_tasks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

tasks = sa.table(
    "tasks",
    sa.column("id", sa.Uuid()),
    sa.column("engine_state", sa.JSON()),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
task_messages = sa.table(
    "task_messages",
    sa.column("task_id", sa.Uuid()),
    sa.column("position", sa.Integer()),
    sa.column("message", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "task_messages",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name="fk_task_messages_task_id_tasks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", "position", name="pk_task_messages"),
    )
    conn = op.get_bind()
    for task_id in conn.scalars(sa.select(tasks.c.id)).all():
        state, updated_at = conn.execute(
            sa.select(tasks.c.engine_state, tasks.c.updated_at).where(tasks.c.id == task_id)
        ).one()
        if not isinstance(state, dict) or "history" not in state:
            continue
        history: list[Any] = state.pop("history") or []
        if history:
            conn.execute(
                task_messages.insert(),
                [
                    {"task_id": task_id, "position": i, "message": m, "created_at": updated_at}
                    for i, m in enumerate(history)
                ],
            )
        conn.execute(tasks.update().where(tasks.c.id == task_id).values(engine_state=state))


def downgrade() -> None:
    conn = op.get_bind()
    task_ids = conn.scalars(sa.select(task_messages.c.task_id).distinct()).all()
    for task_id in task_ids:
        state = conn.scalar(sa.select(tasks.c.engine_state).where(tasks.c.id == task_id))
        state = dict(state) if isinstance(state, dict) else {}
        hidden = int(state.pop("hidden", 0) or 0)
        history = conn.scalars(
            sa.select(task_messages.c.message)
            .where(
                task_messages.c.task_id == task_id,
                sa.or_(task_messages.c.position == 0, task_messages.c.position > hidden),
            )
            .order_by(task_messages.c.position)
        ).all()
        state["history"] = list(history)
        conn.execute(tasks.update().where(tasks.c.id == task_id).values(engine_state=state))
    op.drop_table("task_messages")
