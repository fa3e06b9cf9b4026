"""What the app lifespan opens and every request may use: created once, injected, closed once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from limits.aio.storage import Storage
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from roo.agent.tools.base import IgnoreRules
from roo.agent.tools.registry import ToolRegistry
from roo.config import Settings
from roo.db.reads import Reads
from roo.kit.cache import Cache
from roo.sandbox import Sandbox

if TYPE_CHECKING:
    from roo.auth.service import AuthService
    from roo.credentials.service import CredentialStore
    from roo.mcp.service import McpService
    from roo.realtime.bus import EventBus
    from roo.realtime.connections import ConnectionCounter
    from roo.realtime.tickets import TicketStore
    from roo.realtime.wake import InboxWakes
    from roo.security.session_limits import Budgets
    from roo.sessions.service import SessionManager
    from roo.tasks.service import TaskService


@dataclass(slots=True)
class Resources:
    settings: Settings
    engine: AsyncEngine
    db_sessions: async_sessionmaker[AsyncSession]
    # Single-statement reads outside units of work (the hot read paths).
    reads: Reads
    # None when REDIS_URL is not set: the in-process equivalents are used instead.
    redis: Redis | None
    # Shared outbound HTTP client (OAuth providers, webhooks); never one per request.
    http: httpx.AsyncClient
    # Redis-backed when REDIS_URL is set, else process memory.
    cache: Cache
    auth: AuthService
    sessions_manager: SessionManager
    # Runs commands in workspaces (bubblewrap when available); built once, shared.
    sandbox: Sandbox
    # The agent's tools, and the `.rooignore` rules of a workspace (for the agent's tools).
    tools: ToolRegistry
    ignore_rules: Callable[[Path], IgnoreRules]
    # Users' own provider credentials (encrypted at rest); the agent runner calls `resolve`.
    credentials: CredentialStore
    # Agent tasks: the service of the tasks API (its runner runs them in this process).
    tasks: TaskService
    # Committed session events pushed to subscribers (in process, or over Redis pub/sub).
    bus: EventBus
    # The rate limits' counters (roo.security.rate_limits): Redis with REDIS_URL, else memory.
    limit_storage: Storage
    # Budgets of sessions' tool calls and commands and of WebSocket connects, in that storage.
    budgets: Budgets
    # One-use tickets for the WebSocket and the event stream (in `cache`).
    tickets: TicketStore
    # Open event streams (WebSockets and SSE) per user, bounded.
    connections: ConnectionCounter
    # Wakes the process that runs a task when mail is left in its inbox (and listens for this
    # process's): over the bus's Redis, PostgreSQL LISTEN/NOTIFY, or nothing with SQLite.
    inbox_wakes: InboxWakes
    # Sessions' MCP servers in this process (roo.mcp)
    mcp: McpService | None = None
    # A worker's job-queue connection check for its /readyz (None in an API process)
    queue_ping: Callable[[], Awaitable[None]] | None = None
