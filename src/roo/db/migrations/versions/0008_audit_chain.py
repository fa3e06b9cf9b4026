"""The audit trail's hash chain: `chain_seq`, `prev_hash`, `hash` and `session_id` on
`audit_events`, and the chain's head (`audit_chain`, one row).

Existing rows stay unsealed: the sealer (`roo.security.audit_chain`) seals them, in insertion
order, like new ones. `session_id` is filled in for existing rows whose target is a session or
whose detail names one (task rows), a page of rows at a time. Downgrade drops the chain.

Revision ID: 0008_audit_chain
Revises: 0007_task_messages
Create Date: 2026-12-07
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008_audit_chain"
down_revision: str | None = "0007_task_messages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64
PAGE = 1000

audit_events = sa.table(
    "audit_events",
    sa.column("id", sa.Uuid()),
    sa.column("action", sa.String()),
    sa.column("target", sa.String()),
    sa.column("detail", sa.JSON()),
    sa.column("session_id", sa.Uuid()),
)


def _session_of(target: str | None, detail: Any) -> uuid.UUID | None:
    named = detail.get("session_id") if isinstance(detail, dict) else None
    if named is None and target and target.startswith("session:"):
        named = target.removeprefix("session:")
    try:
        return uuid.UUID(str(named)) if named is not None else None
    except ValueError:
        return None


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("session_id", sa.Uuid(), nullable=True))
    op.add_column("audit_events", sa.Column("chain_seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_events", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_events", sa.Column("hash", sa.String(64), nullable=True))
    op.create_index("ix_audit_events_session_id", "audit_events", ["session_id"])
    op.create_index("ix_audit_events_chain_seq", "audit_events", ["chain_seq"], unique=True)
    op.create_index(
        "ix_audit_events_unsealed",
        "audit_events",
        ["at", "id"],
        postgresql_where=sa.text("chain_seq IS NULL"),
        sqlite_where=sa.text("chain_seq IS NULL"),
    )
    chain = op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("anchor_seq", sa.BigInteger(), nullable=False),
        sa.Column("anchor_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_chain"),
    )
    op.bulk_insert(
        chain,
        [
            {
                "id": 1,
                "last_seq": 0,
                "last_hash": GENESIS_HASH,
                "anchor_seq": 0,
                "anchor_hash": GENESIS_HASH,
                "updated_at": datetime.now(UTC),
            }
        ],
    )
    conn = op.get_bind()
    after: uuid.UUID | None = None
    concerns = sa.or_(
        audit_events.c.target.like("session:%"), audit_events.c.action.like("tasks.%")
    )
    while True:
        query = sa.select(audit_events.c.id, audit_events.c.target, audit_events.c.detail).where(
            concerns
        )
        if after is not None:
            query = query.where(audit_events.c.id > after)
        rows = conn.execute(query.order_by(audit_events.c.id).limit(PAGE)).all()
        if not rows:
            break
        for row_id, target, detail in rows:
            session_id = _session_of(target, detail)
            if session_id is not None:
                conn.execute(
                    audit_events.update()
                    .where(audit_events.c.id == row_id)
                    .values(session_id=session_id)
                )
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_table("audit_chain")
    op.drop_index("ix_audit_events_unsealed", table_name="audit_events")
    op.drop_index("ix_audit_events_chain_seq", table_name="audit_events")
    op.drop_index("ix_audit_events_session_id", table_name="audit_events")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("chain_seq")
        batch.drop_column("session_id")
