"""Workspace checkpoints of tasks (`task_checkpoints`): step, position in the conversation,
the shadow repository's commit, and the files changed.

Revision ID: 0009_task_checkpoints
Revises: 0008_audit_chain
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_task_checkpoints"
down_revision: str | None = "0008_audit_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_checkpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("files_changed", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name="fk_task_checkpoints_session_id_sessions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name="fk_task_checkpoints_task_id_tasks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_task_checkpoints"),
        sa.UniqueConstraint("task_id", "step", name="uq_task_checkpoints_task_id_step"),
    )
    op.create_index("ix_task_checkpoints_session_id", "task_checkpoints", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_task_checkpoints_session_id", table_name="task_checkpoints")
    op.drop_table("task_checkpoints")
