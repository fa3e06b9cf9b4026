"""The credential of an audit row: `credential` on `audit_events`, an API key's public prefix
(none for an access token). The hash chain covers it when it is set, so rows sealed before keep
their hashes.

Revision ID: 0010_audit_credential
Revises: 0009_task_checkpoints
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_audit_credential"
down_revision: str | None = "0009_task_checkpoints"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("credential", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("credential")
