"""Assembling the tasks services from settings (used by the app lifespan)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.agent.pricing import load_price_table
from roo.agent.tools.base import IgnoreRules
from roo.agent.tools.registry import ToolRegistry
from roo.auth.throttle import create_limit_storage
from roo.checkpoints.service import CheckpointService
from roo.config import Settings
from roo.credentials.service import CredentialStore
from roo.mcp.service import McpService
from roo.sessions.service import SessionManager
from roo.tasks.events import EventStore, Publish
from roo.tasks.llm import ModelResolver
from roo.tasks.local_control import LocalControl
from roo.tasks.queue import build_queue_app
from roo.tasks.runner import TaskRunner
from roo.tasks.service import TaskService


def build_tasks(
    settings: Settings,
    db_sessions: async_sessionmaker[AsyncSession],
    manager: SessionManager,
    registry: ToolRegistry,
    ignore_rules: Callable[[Path], IgnoreRules],
    credentials: CredentialStore,
    publish: Publish | None = None,
    wake: Callable[[str], None] | None = None,
    mcp: McpService | None = None,
) -> TaskService:
    """`publish`: where committed event batches go (the real-time bus); `wake(runner_id)`:
    how a process is told that mail was left in the inbox of a task it runs (ditto)."""
    if settings.model_table_file is not None:
        load_price_table(settings.model_table_file)
    events = EventStore(db_sessions, publish)
    model_resolver = ModelResolver(settings, credentials)
    checkpoints = CheckpointService(settings, db_sessions, manager, events)
    runner = TaskRunner(
        settings,
        db_sessions,
        events,
        manager,
        registry,
        ignore_rules,
        model_resolver,
        mcp=mcp,
        checkpoints=checkpoints,
    )
    queue_app = build_queue_app(settings) if settings.task_runner == "queue" else None
    control = LocalControl(runner, db_sessions, events, wake, queue_app)
    return TaskService(
        settings,
        db_sessions,
        manager,
        control,
        runner,
        events,
        model_resolver,
        create_limit_storage(settings),
        checkpoints,
    )
