"""Migrations run up, down and up again on this run's backend, and agree with the models.

Runs the real `alembic` command (with the repository's alembic.ini) as CI would, against a
scratch database of its own: SQLite without DATABASE_URL, PostgreSQL with it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from roo.config import load_settings
from roo.db import migrate, models
from roo.db.engine import create_engine
from tests.support import databases

ROOT = Path(__file__).resolve().parents[2]
ALEMBIC = str(Path(sys.executable).parent / "alembic")


@pytest.fixture
def scratch_url(server_url: str | None, tmp_path: Path) -> Iterator[str]:
    name = f"roo_mig_{os.getpid()}_{tmp_path.name[-12:].lower().replace('-', '_')}"
    with databases.scratch_database(server_url, tmp_path, name) as url:
        yield url


def alembic(url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": url, "ROO_ENV": "test"}
    result = subprocess.run(
        [ALEMBIC, "-c", str(ROOT / "alembic.ini"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def _state(conn: Connection) -> tuple[str | None, set[str], list[object]]:
    ctx = MigrationContext.configure(conn, opts={"include_name": migrate.is_ours})
    tables = {t for t in inspect(conn).get_table_names() if migrate.is_ours(t, "table", {})}
    return ctx.get_current_revision(), tables, compare_metadata(ctx, models.Base.metadata)


def state(url: str) -> tuple[str | None, set[str], list[object]]:
    async def read() -> tuple[str | None, set[str], list[object]]:
        engine = create_engine(load_settings(env="test", database_url=url))
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(_state)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_upgrade_downgrade_upgrade_with_alembic_cli(scratch_url: str) -> None:
    head = migrate.head_revision()
    model_tables = set(models.Base.metadata.tables)

    alembic(scratch_url, "upgrade", "head")
    revision, tables, diff = state(scratch_url)
    assert revision == head
    assert tables - {"alembic_version"} == model_tables
    assert diff == [], f"models and migrations disagree: {diff}"

    alembic(scratch_url, "downgrade", "base")
    revision, tables, _ = state(scratch_url)
    assert revision is None
    assert tables - {"alembic_version"} == set()

    alembic(scratch_url, "upgrade", "head")
    revision, tables, diff = state(scratch_url)
    assert revision == head
    assert diff == []


def test_every_revision_steps_down_and_up(scratch_url: str) -> None:
    """Walk the chain one revision at a time, so each downgrade is exercised on its own."""
    revisions = [r.revision for r in migrate.script_directory().walk_revisions()][::-1]
    assert revisions, "no migrations found"
    for target in revisions:
        alembic(scratch_url, "upgrade", target)
        assert state(scratch_url)[0] == target
    for target in [*revisions[-2::-1], "base"]:
        alembic(scratch_url, "downgrade", "-1")
        assert state(scratch_url)[0] == (None if target == "base" else target)


def test_run_database_is_at_head(database_url: str) -> None:
    revision, _, diff = state(database_url)
    assert revision == migrate.head_revision()
    assert diff == []
