"""Alembic, driven from code: `roo migrate`, the embedded start-up, and the tests use these.

The migration scripts live in `roo/db/migrations` inside the package, so an installed service can
migrate without the source tree. `alembic.ini` at the repository root points at the same place for
developers who run `alembic` directly.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from roo.kit.logs import get_logger

log = get_logger("roo.db")

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


# Tables in the database that are not the models' (Alembic leaves them alone): the job
# queue's, which procrastinate's own schema creates (`roo.tasks.queue.ensure_schema`).
FOREIGN_TABLE_PREFIXES = ("procrastinate_",)


def is_ours(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's `include_name` hook: compare (autogenerate) only what the models describe."""
    return not (type_ == "table" and name is not None and name.startswith(FOREIGN_TABLE_PREFIXES))


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # '%' is ConfigParser's interpolation character; escape it for URLs with encoded parts.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str | None:
    return script_directory().get_current_head()


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _run(connection: Connection, action: str, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    if action == "upgrade":
        command.upgrade(cfg, revision)
    else:
        command.downgrade(cfg, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def _apply(engine: AsyncEngine, action: str, revision: str) -> None:
    async with engine.begin() as conn:
        before = await conn.run_sync(_current)
        await conn.run_sync(_run, action, revision)
        after = await conn.run_sync(_current)
    if before != after:
        log.info("db.migrated", action=action, before=before or "base", after=after or "base")


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision` on `engine`'s database (no-op when already there)."""
    await _apply(engine, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _apply(engine, "downgrade", revision)
