"""The credential a task was created with: `credential` on `tasks`, an API key's public prefix
(none for an access token), set for its runs so that the audit rows they write (commands, MCP
calls) carry it as the request's rows do. Subtasks inherit their parent's.

Revision ID: 0012_task_credential
Revises: 0011_mcp_board
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_task_credential"
down_revision: str | None = "0011_mcp_board"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("credential", sa.String(32), nullable=True))


def downgrade() -> None:
    # In place, also on SQLite (3.35+ drops a column itself): batch mode would copy `tasks` and
    # drop the original, and with foreign keys on that DROP deletes every row that refers to a
    # task (its messages, events and checkpoints, ON DELETE CASCADE).
    op.drop_column("tasks", "credential")
