"""Migration 0007 moves a task's stored conversation into `task_messages` rows and back.

A task saved by the code before it (the whole history inside `tasks.engine_state`) must resume
the same after the upgrade, and a downgrade must give the older code a history it can resume.
Runs the real `alembic` command on a scratch database, SQLite or PostgreSQL like the others.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from roo.agent import messages as m
from roo.agent.context import effective_history
from roo.agent.state import EngineState
from roo.config import load_settings
from roo.db.engine import create_engine, create_session_factory, unit_of_work
from roo.db.models import Task
from roo.tasks.state_store import load_state
from tests.db.test_migrations import alembic, scratch_url

__all__ = ["scratch_url"]

T = TypeVar("T")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
USER, SESSION = uuid.uuid4(), uuid.uuid4()
TASK, FRESH = uuid.uuid4(), uuid.uuid4()

HISTORY = [
    m.user(m.text_block("<user_message>fix it</user_message>"), m.text_block("<env/>")),
    m.assistant(
        m.text_block("Reading."), m.tool_use_block("call_1", "read_file", {"path": "a.py"})
    ),
    m.user(m.tool_result_block("call_1", [m.text_block("1 | x = 1\n" * 50)])),
]
OLD_STATE: dict[str, Any] = {
    "history": HISTORY,
    "mode": "debug",
    "usage": {"input_tokens": 120, "output_tokens": 30, "cost": 0.01},
    "requests": 1,
    "step": 1,
    "mistakes": 0,
    "noToolReplies": 0,
    "contextTokens": 150,
    "todos": "- [ ] fix",
    "result": None,
    "pendingResults": [],
}

users = sa.table(
    "users",
    *(sa.column(n) for n in ("email", "display_name", "provider", "session_version")),
    sa.column("id", sa.Uuid()),
    sa.column("roles", sa.JSON()),
    sa.column("preferences", sa.JSON()),
    sa.column("disabled", sa.Boolean()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
sessions = sa.table(
    "sessions",
    *(sa.column(n) for n in ("name", "state", "workspace_dir")),
    sa.column("id", sa.Uuid()),
    sa.column("user_id", sa.Uuid()),
    sa.column("config", sa.JSON()),
    *(sa.column(n, sa.DateTime(timezone=True)) for n in ("created_at", "updated_at")),
    sa.column("last_active_at", sa.DateTime(timezone=True)),
)
tasks = sa.table(
    "tasks",
    *(sa.column(n) for n in ("state", "mode", "provider", "model", "input")),
    *(sa.column(n, sa.Uuid()) for n in ("id", "session_id", "user_id")),
    sa.column("images", sa.JSON()),
    sa.column("engine_state", sa.JSON()),
    *(sa.column(n, sa.DateTime(timezone=True)) for n in ("created_at", "updated_at")),
)
task_messages = sa.table(
    "task_messages",
    sa.column("task_id", sa.Uuid()),
    sa.column("position", sa.Integer()),
    sa.column("message", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def on(url: str, work: Callable[[AsyncConnection], Coroutine[Any, Any, T]]) -> T:
    async def run() -> T:
        engine = create_engine(load_settings(env="test", database_url=url))
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def seed(conn: AsyncConnection) -> None:
    """A user, a session, a task saved with its history inside engine_state (0006's format)
    and a task that never ran."""
    await conn.execute(
        users.insert().values(
            id=USER,
            email="old@example.com",
            display_name="old",
            provider="local",
            roles=["member"],
            preferences={},
            disabled=False,
            session_version=0,
            created_at=NOW,
            updated_at=NOW,
        )
    )
    await conn.execute(
        sessions.insert().values(
            id=SESSION,
            user_id=USER,
            name="s",
            state="active",
            config={},
            workspace_dir=uuid.uuid4().hex,
            created_at=NOW,
            updated_at=NOW,
            last_active_at=NOW,
        )
    )
    common = {
        "session_id": SESSION,
        "user_id": USER,
        "mode": "code",
        "provider": "openai",
        "model": "gpt-4o",
        "input": "fix it",
        "images": [],
        "created_at": NOW,
        "updated_at": NOW,
    }
    await conn.execute(
        tasks.insert(),
        [
            {**common, "id": TASK, "state": "interrupted", "engine_state": OLD_STATE},
            {**common, "id": FRESH, "state": "queued", "engine_state": {}},
        ],
    )


async def rows(conn: AsyncConnection, task_id: uuid.UUID) -> list[tuple[int, Any]]:
    result = await conn.execute(
        sa.select(task_messages.c.position, task_messages.c.message)
        .where(task_messages.c.task_id == task_id)
        .order_by(task_messages.c.position)
    )
    return [(p, msg) for p, msg in result]


async def engine_state(conn: AsyncConnection, task_id: uuid.UUID) -> Any:
    return await conn.scalar(sa.select(tasks.c.engine_state).where(tasks.c.id == task_id))


def resumed_state(url: str) -> EngineState:
    """What the runner loads to resume TASK, through its own code. Today's code reads the
    latest schema's columns (later migrations add some to `tasks`), so the database is brought
    to the head first; the later migrations leave the conversation's rows as 0007 wrote them."""
    alembic(url, "upgrade", "head")

    async def read() -> EngineState:
        engine = create_engine(load_settings(env="test", database_url=url))
        try:
            async with unit_of_work(create_session_factory(engine)) as db:
                task = await db.get(Task, TASK)
                assert task is not None
                return await load_state(db, task)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_history_moves_to_rows_and_back(scratch_url: str) -> None:
    alembic(scratch_url, "upgrade", "0006_tasks")
    on(scratch_url, seed)

    alembic(scratch_url, "upgrade", "0007_task_messages")

    assert on(scratch_url, lambda c: rows(c, TASK)) == list(enumerate(HISTORY))
    assert on(scratch_url, lambda c: rows(c, FRESH)) == []
    scalars = {k: v for k, v in OLD_STATE.items() if k != "history"}
    assert on(scratch_url, lambda c: engine_state(c, TASK)) == scalars
    assert on(scratch_url, lambda c: engine_state(c, FRESH)) == {}
    # the runner resumes it exactly as the old code would have
    assert resumed_state(scratch_url) == EngineState.from_dict(copy.deepcopy(OLD_STATE))

    alembic(scratch_url, "downgrade", "0006_tasks")

    assert on(scratch_url, lambda c: engine_state(c, TASK)) == OLD_STATE
    assert on(scratch_url, lambda c: engine_state(c, FRESH)) == {}


def test_downgrade_keeps_the_visible_conversation(scratch_url: str) -> None:
    """After a sliding-window truncation (messages 1 and 2 hidden, two more appended), the
    older code gets the conversation the engine would send: the first message and the rest."""
    alembic(scratch_url, "upgrade", "0006_tasks")
    on(scratch_url, seed)
    alembic(scratch_url, "upgrade", "0007_task_messages")
    later = [
        m.assistant(m.tool_use_block("call_2", "list_files", {"path": "."})),
        m.user(m.tool_result_block("call_2", [m.text_block("a.py")])),
    ]

    async def truncate(conn: AsyncConnection) -> None:
        await conn.execute(
            task_messages.insert(),
            [
                {"task_id": TASK, "position": 3 + i, "message": msg, "created_at": NOW}
                for i, msg in enumerate(later)
            ],
        )
        state = {k: v for k, v in OLD_STATE.items() if k != "history"}
        await conn.execute(
            tasks.update().where(tasks.c.id == TASK).values(engine_state={**state, "hidden": 2})
        )

    on(scratch_url, truncate)
    # this code reads the older count as marks: the hidden messages kept, no longer sent
    resumed = resumed_state(scratch_url).history
    assert effective_history(resumed) == [HISTORY[0], *later]
    assert [msg.get("truncationParent") for msg in resumed] == [
        None,
        "legacy",
        "legacy",
        None,
        None,
    ]
    assert [{"role": msg["role"], "content": msg["content"]} for msg in resumed] == [
        *HISTORY[:3],
        *later,
    ]

    alembic(scratch_url, "downgrade", "0006_tasks")

    assert on(scratch_url, lambda c: engine_state(c, TASK)) == {
        **OLD_STATE,
        "history": [HISTORY[0], *later],
    }
