"""Users: email_verified.

Revision ID: 0004_email_verified
Revises: 0003_sessions
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_email_verified"
down_revision: str | None = "0003_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("email_verified", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    # In place, also on SQLite (3.35+): batch mode would copy `users` and drop the original,
    # and with foreign keys on, that DROP deletes every row that refers to a user (sessions,
    # keys, tokens: ON DELETE CASCADE).
    op.drop_column("users", "email_verified")
