"""`create_app()`: the FastAPI application, its lifespan, middleware and routers.

Run it with `roo serve`, or `uvicorn --factory roo.app:create_app`.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy.engine import make_url

from roo import __version__
from roo.agent.tools.registry import default_registry, workspace_ignore_rules
from roo.api import docs, health, meta, metrics
from roo.api.headers import SecurityHeadersMiddleware
from roo.api.middleware import (
    BodyLimitMiddleware,
    CorsForCrossOriginOnly,
    InFlightLimitMiddleware,
    RequestContextMiddleware,
)
from roo.api.problems import install_problem_handlers
from roo.api.routing import ApiRoute
from roo.api.state import Resources
from roo.audit import endpoints as audit_endpoints
from roo.auth import endpoints as auth_endpoints
from roo.auth import oauth_endpoints
from roo.auth.throttle import create_limit_storage
from roo.auth.wiring import build_auth
from roo.checkpoints import endpoints as checkpoints_endpoints
from roo.config import Settings, load_settings
from roo.console import install_console
from roo.credentials import endpoints as credentials_endpoints
from roo.credentials.service import CredentialStore, egress_policy
from roo.db import migrate
from roo.db.engine import create_engine, create_session_factory, warm_pool
from roo.db.reads import Reads
from roo.files import endpoints as files_endpoints
from roo.kit.cache import HEALTH_CHECK_SECONDS, Cache, MemoryCache, NearCache, RedisCache
from roo.kit.logs import configure_logging, get_logger
from roo.kit.loops import stop_loop, wait_or_stop
from roo.mcp import endpoints as mcp_endpoints
from roo.mcp.cluster import build_cluster
from roo.mcp.hub import McpHub
from roo.mcp.service import McpService
from roo.observability import multiproc
from roo.observability.http import MetricsMiddleware
from roo.observability.scrape import CountsCache
from roo.realtime import endpoints as realtime_endpoints
from roo.realtime.connections import ConnectionCounter
from roo.realtime.tickets import TicketStore
from roo.realtime.wiring import build_bus, build_inbox_wakes
from roo.sandbox import Sandbox, SandboxUnavailable
from roo.security.audit import drain_writes
from roo.security.audit_chain import AuditSealer, seal_at_start, seal_loop
from roo.security.datadir import secure_data_dir
from roo.security.denials import DenialAuditMiddleware, DenialLog
from roo.security.rate_limits import Policies, RateLimitMiddleware
from roo.security.secrets_box import box_from_settings
from roo.security.session_limits import Budgets
from roo.sessions import endpoints as sessions_endpoints
from roo.sessions.janitor import SessionJanitor
from roo.sessions.service import SessionManager
from roo.sessions.workspace import WorkspaceManager
from roo.tasks import endpoints as tasks_endpoints
from roo.tasks import queue
from roo.tasks.wiring import build_tasks
from roo.toolsapi import endpoints as tools_endpoints

log = get_logger("roo.app")


def describe_backends(settings: Settings) -> dict[str, str]:
    """The backends in use, for the start-up log line (no credentials)."""
    db = make_url(settings.db_url)
    database = (
        f"sqlite ({db.database})"
        if db.drivername.startswith("sqlite")
        else f"postgresql ({db.host}:{db.port or 5432}/{db.database})"
    )
    redis = "none (in-process)"
    identity_cache = "in-process"
    if settings.redis_url:
        r = make_url(settings.redis_url)
        redis = f"redis ({r.host}:{r.port or 6379}/{r.database or 0})"
        identity_cache = "redis + in-process copy" if settings.identity_near_cache else "redis"
    return {
        "database": database,
        "redis": redis,
        "identity_cache": identity_cache,
        "jwt_key": settings.secret_source,
        "task_runner": settings.task_runner,
    }


async def _sandbox_backend(sandbox: Sandbox) -> str:
    """Which sandbox commands will run in; loud when it is not bubblewrap."""
    try:
        backend = await sandbox.backend()
    except SandboxUnavailable as exc:
        # Production without bubblewrap: the service runs, but refuses to execute commands.
        log.error("sandbox.unavailable", reason=str(exc), commands="refused")
        return "unavailable (commands refused)"
    if backend != "bwrap":
        log.warning(
            "sandbox.not_isolated",
            detail="bubblewrap (bwrap) is missing or unusable: commands run with limits but "
            "without namespaces or network isolation. Install the `bubblewrap` package.",
        )
    return backend


async def _janitor_loop(janitor: SessionJanitor, interval: float, stop: asyncio.Event) -> None:
    """Sweep orphaned workspaces once, then move sessions through their life cycle until `stop`.

    Errors are logged and retried next round: a database hiccup must not end the loop, and a
    sweep that fails never keeps the life cycle from running.
    """
    swept = False
    while True:
        if not swept:
            try:
                await janitor.sweep_orphans()
                swept = True
            except Exception:
                log.exception("sessions.orphan_sweep_failed")
        try:
            await janitor.run_once()
        except Exception:
            log.exception("sessions.cleanup_failed")
        if await wait_or_stop(stop, interval):
            return


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    starting = time.perf_counter()
    secure_data_dir(settings)  # before the database file or a workspace is created
    engine = create_engine(settings)
    redis: Redis | None = None
    http = httpx.AsyncClient(timeout=settings.http_timeout_seconds, follow_redirects=False)
    # Each stops its loop after the current round (never mid-query), in order.
    background_stops: list[Callable[[], Awaitable[None]]] = []
    try:
        if settings.should_auto_migrate:
            await migrate.upgrade(engine)
        if settings.task_runner == "queue":
            try:
                await queue.ensure_schema(engine)  # procrastinate's own tables, once
            except Exception as exc:  # as the warm-up: /readyz says the database is down
                log.warning("queue.schema_deferred", error=type(exc).__name__)
        try:
            await warm_pool(engine, settings.db_pool_min)
        except Exception as exc:  # the database may come up later: /readyz says so meanwhile
            log.warning("db.warm_up_deferred", error=type(exc).__name__)
        cache: Cache
        identity_cache: Cache
        denylist: Cache | None = None
        if settings.redis_url:
            # A bounded pool that makes a command wait for a free connection (then 503)
            # instead of failing at once when every connection is busy.
            redis = Redis(
                connection_pool=BlockingConnectionPool.from_url(
                    settings.redis_url,
                    max_connections=settings.redis_max_connections,
                    timeout=settings.redis_pool_timeout,
                    decode_responses=False,
                )
            )
            cache = identity_cache = RedisCache(redis, settings.redis_prefix + "cache:")
            if settings.identity_near_cache:
                near = await _near_cache(
                    settings, settings.redis_url, redis, settings.redis_prefix + "cache:"
                )
                background_stops.append(near.aclose)
                identity_cache = near
        else:
            cache = identity_cache = MemoryCache()
            denylist = MemoryCache(max_entries=None)
        db_sessions = create_session_factory(engine)
        auth = build_auth(settings, db_sessions, identity_cache, denylist)
        try:
            await auth.resolver.load_denylist()
        except Exception as exc:  # the database may come up later: /readyz says so meanwhile
            log.warning("auth.denylist_deferred", error=type(exc).__name__)
        sandbox = Sandbox(
            backend=settings.sandbox_backend,
            require_isolation=settings.sandbox_isolation_required,
            cgroup_parent=settings.sandbox_cgroup_parent,
            # Shared by every process of this host serving the same data directory.
            slots_dir=settings.data_dir / "command-slots",
            slot_wait=settings.command_slot_wait_seconds,
            ro_binds=settings.sandbox_ro_binds,
        )
        sandbox_backend = await _sandbox_backend(sandbox)
        workspaces = WorkspaceManager(settings.workspaces_dir)
        workspaces.prepare()
        janitor = SessionJanitor(
            db_sessions,
            workspaces,
            idle_after=timedelta(seconds=settings.session_idle_after_seconds),
            idle_ttl=timedelta(seconds=settings.session_idle_ttl_seconds),
            retention=timedelta(seconds=settings.workspace_retention_seconds),
        )
        credentials = CredentialStore(box_from_settings(settings), egress_policy(settings))
        limit_storage = create_limit_storage(settings)
        budgets = Budgets.from_settings(settings, limit_storage)
        sessions_manager = SessionManager(
            workspaces,
            sandbox,
            allow_network=settings.allow_session_network,
            default_max_files=settings.session_max_files,
            mcp_secrets=credentials.box,
            budgets=budgets,
        )
        # MCP servers: remote URLs under the provider base URLs' egress rules
        mcp_hub = McpHub(
            credentials.egress,
            start_timeout=settings.mcp_start_timeout_seconds,
            idle_seconds=settings.mcp_idle_seconds or settings.session_idle_after_seconds,
            retry_seconds=settings.mcp_retry_seconds,
        )
        mcp = McpService(mcp_hub, sessions_manager, credentials.box, db_sessions)
        tools = default_registry()
        bus = build_bus(settings, db_sessions, redis)
        await bus.start()
        wakes = build_inbox_wakes(settings, db_sessions, bus)
        mcp.cluster = build_cluster(settings, mcp_hub, db_sessions, redis, wakes)
        tasks = build_tasks(
            settings,
            db_sessions,
            sessions_manager,
            tools,
            workspace_ignore_rules,
            credentials,
            publish=bus.publish,
            wake=wakes.send,
            mcp=mcp,
        )
        app.state.resources = Resources(
            settings=settings,
            engine=engine,
            db_sessions=db_sessions,
            reads=Reads(engine),
            redis=redis,
            http=http,
            cache=cache,
            auth=auth,
            sessions_manager=sessions_manager,
            sandbox=sandbox,
            tools=tools,
            ignore_rules=workspace_ignore_rules,
            credentials=credentials,
            tasks=tasks,
            mcp=mcp,
            bus=bus,
            limit_storage=limit_storage,
            budgets=budgets,
            tickets=TicketStore(cache, settings.ws_ticket_seconds),
            connections=ConnectionCounter(settings.ws_max_connections_per_user),
            inbox_wakes=wakes,
        )
        tasks.runner.start()
        background_stops.append(tasks.runner.stop)
        if mcp.cluster is not None:
            background_stops.append(mcp.cluster.aclose)  # what it published goes first
        background_stops.append(mcp_hub.aclose)  # after the runs: their servers stop last
        await wakes.listen(tasks.runner.runner_id, tasks.runner.liveness.wake)
        background_stops.append(wakes.aclose)
        if mcp.cluster is not None:
            await mcp.cluster.start(mcp.reload)  # the servers of other processes (docs/mcp.md)
        background_stops.append(bus.aclose)  # after the runs: their last events go out
        if tasks.checkpoints is not None:  # a deleted workspace's checkpoints go with it
            janitor.also_remove = tasks.checkpoints.remove
        janitor_stop = asyncio.Event()
        janitor_task = asyncio.create_task(
            _janitor_loop(janitor, settings.cleanup_interval_seconds, janitor_stop)
        )
        background_stops.append(lambda: stop_loop(janitor_task, janitor_stop))
        # Last to stop: it seals what everything before it wrote, once more as it ends.
        denials: DenialLog = app.state.denials
        sealer = AuditSealer(engine)
        await seal_at_start(sealer)
        audit_stop = asyncio.Event()
        audit_task = asyncio.create_task(
            seal_loop(
                sealer,
                settings.audit_seal_interval_seconds,
                audit_stop,
                retention_days=settings.audit_retention_days,
                before_seal=lambda: denials.flush(engine),
            )
        )
        # audit rows still being written (each writer waits for its own: at most a tail)
        background_stops.append(lambda: drain_writes(db_sessions))
        background_stops.append(lambda: stop_loop(audit_task, audit_stop))
        multiproc.process_started()
        log.info(
            "app.started",
            env=settings.env.value,
            workspaces=str(workspaces.root),
            sandbox=sandbox_backend,
            startup_ms=round((time.perf_counter() - starting) * 1000),
            **describe_backends(settings),
        )
        if settings.gc_freeze:
            gc.collect()
            gc.freeze()
        yield
    finally:
        for stop in background_stops:  # running tasks end as `interrupted` (resumable)
            await stop()
        await http.aclose()
        if redis is not None:
            await redis.aclose()
        await engine.dispose()
        multiproc.process_ended()
        if settings.gc_freeze:
            gc.unfreeze()
        log.info("app.stopped")


async def _near_cache(settings: Settings, url: str, redis: Redis, prefix: str) -> NearCache:
    """The identity cache's in-process copy, subscribed to the invalidations of every process.
    Its subscription has a client of its own without retries: a dropped connection must be
    noticed (the copy is cleared), not silently re-established."""
    subscriber = Redis.from_url(
        url,
        decode_responses=False,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=int(HEALTH_CHECK_SECONDS),
        socket_keepalive=True,
        client_name="roo-identity-invalidations",
    )
    near = NearCache(
        redis, prefix, subscriber, max_age_seconds=max(settings.identity_cache_ttl_seconds, 1)
    )
    await near.start()
    return near


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application. Without `settings`, they are read from the environment."""
    if settings is None:
        settings = load_settings()
        configure_logging(settings.log_level, json=settings.wants_json_logs)
    app = FastAPI(
        title="roo-core API",
        version=__version__,
        description=docs.DESCRIPTION,
        lifespan=lifespan,
        openapi_url=None,  # served by roo.api.docs under /api/v1
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
        telemetry=None
        if settings.opentelemetry
        else {"tracing": False, "metrics": False, "logs": False},
    )
    app.router.route_class = ApiRoute
    app.state.settings = settings
    app.state.denials = DenialLog()
    app.state.metrics_counts = CountsCache()
    install_problem_handlers(app)
    # Probes first: the router tries routes in order, and they are the most frequent requests;
    # the docs last: they are the rarest.
    for router in (
        health.router,
        meta.router,
        metrics.router,
        auth_endpoints.router,
        oauth_endpoints.router,
        auth_endpoints.users_router,
        audit_endpoints.own_router,
        audit_endpoints.admin_router,
        credentials_endpoints.router,
        mcp_endpoints.router,
        sessions_endpoints.router,
        sessions_endpoints.admin_router,
        files_endpoints.router,
        tools_endpoints.router,
        tools_endpoints.session_router,
        tasks_endpoints.router,
        checkpoints_endpoints.router,
        realtime_endpoints.router,
    ):
        app.include_router(router)
    docs.install_docs(app)
    install_console(app)  # `/` and `/assets`: the web console

    # Added last = outermost: the request context wraps everything, including CORS and limits
    # (and the hardening headers wrap the request context).
    app.add_middleware(
        RateLimitMiddleware,
        policies=Policies.from_settings(settings),
        enabled=settings.rate_limit_enabled,
    )
    # Outside the rate limiter: its 429s are counted too (written by the audit sealer's loop)
    app.add_middleware(DenialAuditMiddleware, denials=app.state.denials)
    app.add_middleware(
        BodyLimitMiddleware,
        json_limit=settings.max_json_body_bytes,
        other_limit=settings.max_upload_bytes,
    )
    app.add_middleware(
        CorsForCrossOriginOnly,
        allow_origins=settings.allowed_origins,
        expose_headers=["X-Request-ID", "Retry-After", "RateLimit", "RateLimit-Policy"],
    )
    app.add_middleware(InFlightLimitMiddleware, limit=settings.max_requests_in_flight)
    app.add_middleware(RequestContextMiddleware)
    # Outside the request context: its 500s, the in-flight limit's 503s and the rate limiter's
    # 429s are counted with their final status.
    app.add_middleware(MetricsMiddleware)
    # Outermost: every answer gets the hardening headers, a 500 or a 429 of the layers within
    # included.
    app.add_middleware(
        SecurityHeadersMiddleware,
        hsts=settings.hsts,
        api_prefix="/api",
        cacheable_prefixes=(docs.ASSETS_URL,),
    )
    return app
