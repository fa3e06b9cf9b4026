"""Alembic environment for roo-core, shared by SQLite (aiosqlite) and PostgreSQL (asyncpg).

Either a live connection is handed in through `config.attributes["connection"]` (the service
and the tests do that) or one is opened from `sqlalchemy.url`, falling back to the service's
own settings (`DATABASE_URL`, else the embedded SQLite file).
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from roo.db import migrate, models

target_metadata = models.Base.metadata
config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=migrate.is_ours,  # not the job queue's tables
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str) -> None:
    from roo.config import load_settings
    from roo.db.engine import create_engine

    engine = create_engine(load_settings(database_url=url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_configure)
    finally:
        await engine.dispose()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from roo.config import load_settings

    return load_settings().db_url


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
    else:
        asyncio.run(_run_online(_url()))
