"""Tasks on a job queue (`ROO_TASK_RUNNER=queue`): procrastinate on PostgreSQL.

In queue mode an API process runs no task. Starting a task (new, resumed or continued) writes
a procrastinate job in the request's own transaction (`defer`): the task and its job commit
together or not at all. Any `roo worker` takes the job, claims the task (its runner id and
heartbeat on the row, the lease `roo.tasks.liveness` keeps fresh) and runs it with the same
`TaskRunner` as embedded mode; control messages reach it through the task's inbox and the
wake-up push, as they reach any other process.

A job is only a "run this task now" message: the task row is the record. A job whose task is
no longer `queued` (cancelled meanwhile, or deleted) ends at once, and a job is never retried by
the queue: a run that stopped half-way is `interrupted`, and `resume` (a new job) continues it
from its last checkpoint.

procrastinate's own tables are not Alembic's: `ensure_schema` applies procrastinate's schema
once (when `procrastinate_jobs` is missing); upgrading procrastinate across versions means
applying its migrations (see docs/deployment.md).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from procrastinate import App, PsycopgConnector
from procrastinate.schema import SchemaManager
from procrastinate.types import JobToDefer
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from roo.config import Settings

log = structlog.get_logger(__name__)

RUN_TASK = "roo.run_task"
# Serialises concurrent `ensure_schema` calls (API processes and workers starting together)
SCHEMA_LOCK = 0x726F6F71  # "rooq"

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def psycopg_conninfo(database_url: str) -> str:
    """DATABASE_URL (SQLAlchemy's form, any PostgreSQL driver) as a libpq connection URI."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class UnitOfWorkConnector(PsycopgConnector):
    """procrastinate's psycopg connector (the worker's pool, LISTEN/NOTIFY), which also runs a
    defer on the connection of a SQLAlchemy unit of work (asyncpg): `connection=db` in
    `defer_async` puts the job in the caller's transaction.

    procrastinate hands over its own query (psycopg's `%(name)s` placeholders) and arguments;
    they are passed to the driver as they are, positionally (`$n`), through SQLAlchemy's
    connection so the transaction is the unit of work's."""

    async def execute_query_all_async_with_connection(
        self, connection: Any, query: Any, **arguments: Any
    ) -> list[dict[str, Any]]:
        if not isinstance(connection, AsyncSession):
            rows: list[dict[str, Any]] = await super().execute_query_all_async_with_connection(
                connection, query, **arguments
            )
            return rows
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        statement = _PLACEHOLDER.sub(number, query)
        values = tuple(_driver_value(arguments[name]) for name in names)
        conn: AsyncConnection = await connection.connection()
        result = await conn.exec_driver_sql(statement, values)
        return [dict(row._mapping) for row in result]

    async def execute_query_one_async_with_connection(
        self, connection: Any, query: Any, **arguments: Any
    ) -> dict[str, Any]:
        rows = await self.execute_query_all_async_with_connection(connection, query, **arguments)
        return rows[0]


def _driver_value(value: Any) -> Any:
    """A procrastinate argument as asyncpg encodes it: a job to defer is a composite (a tuple),
    its JSON arguments text (SQLAlchemy's jsonb codec takes text)."""
    if isinstance(value, list):
        return [_driver_value(item) for item in value]
    if isinstance(value, JobToDefer):
        return tuple(json.dumps(v) if isinstance(v, dict) else v for v in value)
    return value


RunJob = Callable[[uuid.UUID, str | None], Awaitable[None]]


def build_queue_app(settings: Settings, run_job: RunJob | None = None) -> App:
    """The procrastinate app: its connector (opened only by a worker: an API process defers on
    its unit of work's connection) and the one task, `roo.run_task`, run by `run_job`."""
    if settings.database_url is None:
        raise ValueError("the job queue needs PostgreSQL (DATABASE_URL)")
    app = App(connector=UnitOfWorkConnector(conninfo=psycopg_conninfo(settings.database_url)))

    async def run_task(task_id: str, text: str | None = None) -> None:
        if run_job is None:  # an API process never takes jobs
            raise RuntimeError("this process does not run tasks")
        await run_job(uuid.UUID(task_id), text)

    app.task(name=RUN_TASK, queue=settings.task_queue, retry=False, pass_context=False)(run_task)
    return app


async def defer(app: App, db: AsyncSession, task_id: uuid.UUID, text: str | None) -> int:
    """Queue a run of `task_id` in `db`'s transaction (on the queue of `roo.run_task`); the
    job's id."""
    job_id: int = await app.configure_task(RUN_TASK, connection=db).defer_async(
        task_id=str(task_id), text=text
    )
    return job_id


async def ensure_schema(engine: AsyncEngine) -> bool:
    """Apply procrastinate's schema when it is not there yet (True then). Several processes may
    call it at once: an advisory lock makes one apply it and the others find it."""
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        present = await conn.scalar(text("SELECT to_regclass('procrastinate_jobs')"))
        if present is not None:
            return False
        raw = await conn.get_raw_connection()
        # the whole script at once (several statements: the driver's simple query protocol)
        await raw.driver_connection.execute(SchemaManager.get_schema())  # type: ignore[union-attr]
    log.info("queue.schema_applied")
    return True
