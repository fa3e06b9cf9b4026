"""The MCP board (`mcp_board`): what each process says about the MCP servers it runs, its
restart requests and their answers, each entry with its expiry (`roo.mcp.board`; used on
PostgreSQL without Redis).

Revision ID: 0011_mcp_board
Revises: 0010_audit_credential
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_mcp_board"
down_revision: str | None = "0010_audit_credential"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mcp_board",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "scope", "name", name="pk_mcp_board"),
    )
    op.create_index("ix_mcp_board_expires_at", "mcp_board", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_mcp_board_expires_at", table_name="mcp_board")
    op.drop_table("mcp_board")
