"""Migration 0008 adds the audit hash chain: rows written before it keep their content, get
the session they concern, and are sealed afterwards like new rows; downgrade drops the chain.
Runs the real `alembic` command on a scratch database, SQLite or PostgreSQL like the others."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from roo.config import load_settings
from roo.db.engine import create_engine
from roo.security.audit_chain import AuditSealer
from roo.security.audit_verify import verify_chain
from tests.db.test_migrations import alembic, scratch_url
from tests.db.test_task_messages_migration import on

__all__ = ["scratch_url"]

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SESSION = uuid.uuid4()

audit_events = sa.table(
    "audit_events",
    *(sa.column(n) for n in ("action", "target", "outcome")),
    sa.column("id", sa.Uuid()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("detail", sa.JSON()),
)


async def seed(conn: AsyncConnection) -> None:
    rows = [
        ("sessions.create", f"session:{SESSION}", {}),
        ("tasks.create", f"task:{uuid.uuid4()}", {"session_id": str(SESSION)}),
        ("auth.login", "user:x", {}),
        ("sessions.create", "session:not-a-uuid", {}),
    ]
    await conn.execute(
        audit_events.insert(),
        [
            {
                "id": uuid.uuid4(),
                "at": NOW + timedelta(seconds=i),
                "action": action,
                "target": target,
                "outcome": "success",
                "detail": detail,
            }
            for i, (action, target, detail) in enumerate(rows)
        ],
    )


async def sessions_of(conn: AsyncConnection) -> list[tuple[str, uuid.UUID | None]]:
    rows = await conn.execute(sa.text("SELECT action, session_id FROM audit_events ORDER BY at"))
    return [(a, uuid.UUID(str(s)) if s else None) for a, s in rows]


def test_existing_rows_get_their_session_and_are_sealed(scratch_url: str) -> None:
    alembic(scratch_url, "upgrade", "0007_task_messages")
    on(scratch_url, seed)
    alembic(scratch_url, "upgrade", "0008_audit_chain")
    assert on(scratch_url, sessions_of) == [
        ("sessions.create", SESSION),
        ("tasks.create", SESSION),
        ("auth.login", None),
        ("sessions.create", None),
    ]
    # the sealer is today's code: it reads the columns of the latest schema (0009's credential)
    alembic(scratch_url, "upgrade", "head")

    async def seal_and_verify() -> tuple[int, bool, int]:
        engine = create_engine(load_settings(env="test", database_url=scratch_url))
        try:
            sealed = await AuditSealer(engine).seal_all()
            report = await verify_chain(engine)
            return sealed, report.ok, report.last_seq
        finally:
            await engine.dispose()

    assert asyncio.run(seal_and_verify()) == (4, True, 4)
    alembic(scratch_url, "downgrade", "0007_task_messages")

    async def columns(conn: AsyncConnection) -> set[str]:
        return set(
            await conn.run_sync(
                lambda c: {col["name"] for col in sa.inspect(c).get_columns("audit_events")}
            )
        )

    assert "chain_seq" not in on(scratch_url, columns)
    assert on(scratch_url, lambda c: c.scalar(sa.text("SELECT count(*) FROM audit_events"))) == 4
