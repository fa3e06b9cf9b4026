"""The `roo` command: serve, migrate, worker, user, audit, version; and the client commands
(login, logout, sessions, task, files, tools, apikey: roo.client.commands)."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from roo import __version__
from roo.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from roo.security.audit_verify import ChainReport

# How long a shutdown waits for open responses (event streams) before closing them
SHUTDOWN_GRACE_SECONDS = 10

# The client commands (roo.client.commands, a module of the SDK: it imports nothing of the
# service). Loaded when one of them is named or the help lists them: the server's commands do not
# import the SDK (about 0.3 s). tests/client/test_commands.py checks the names against the module.
CLIENT_COMMANDS = ("login", "logout", "sessions", "task", "files", "tools", "apikey")


class RooGroup(TyperGroup):
    """The `roo` group, with the client commands loaded on demand."""

    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        return [*super().list_commands(ctx), *CLIENT_COMMANDS]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:  # type: ignore[override]
        if cmd_name in CLIENT_COMMANDS:
            from roo.client.commands import click_group

            return click_group().get_command(ctx, cmd_name)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    cls=RooGroup,
    name="roo",
    help="roo-core: a multi-user service hosting a Roo-Code-style coding agent.",
    no_args_is_help=True,
    add_completion=False,
)


def _settings(**overrides: object) -> Settings:
    """Load settings (and configure logging to stderr) or exit with the one-line reason (code 2)."""
    from roo.kit.logs import configure_logging

    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        typer.echo(f"roo: {exc}", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, json=settings.wants_json_logs)
    from roo.security.datadir import secure_data_dir

    secure_data_dir(settings)  # before a command creates the database or a workspace
    return settings


async def _migrate(settings: Settings, revision: str, down: bool) -> str | None:
    from roo.db import migrate
    from roo.db.engine import create_engine

    engine = create_engine(settings)
    try:
        if down:
            await migrate.downgrade(engine, revision)
        else:
            await migrate.upgrade(engine, revision)
            if settings.task_runner == "queue":
                from roo.tasks.queue import ensure_schema

                await ensure_schema(engine)  # the job queue's tables (procrastinate's own)
        return await migrate.current_revision(engine)
    finally:
        await engine.dispose()


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default: HOST or 127.0.0.1)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: PORT or 3000)")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
) -> None:
    """Start the API server."""
    import uvicorn

    from roo.realtime.ws import websocket_options

    settings = _settings()
    if workers > 1 and settings.is_sqlite:
        typer.echo(
            "roo: --workers above 1 needs PostgreSQL (DATABASE_URL): an embedded SQLite "
            "database is written by one process",
            err=True,
        )
        raise typer.Exit(2)
    if settings.should_auto_migrate:
        # Once, here, before any worker starts: workers then find the schema at head.
        asyncio.run(_migrate(settings, "head", down=False))
    if workers > 1:
        from roo.observability.multiproc import use_directory

        # Before the workers start: they inherit the setting and merge their metrics
        use_directory(settings.data_dir / "metrics")
    uvicorn.run(
        "roo.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=None,
        access_log=False,
        # X-Forwarded-For believed only from the proxies in TRUSTED_PROXIES (uvicorn's own
        # default would believe any client on loopback)
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or [],
        server_header=False,
        # An open event stream (SSE) never ends by itself, and uvicorn waits for open responses
        # before the lifespan stops: past this, what is still open is closed (clients resume
        # from their last event id).
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        **websocket_options(settings),
    )


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Tasks run at once (default: ROO_MAX_RUNNING_TASKS)"),
    ] = None,
    health_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Serve /healthz and /readyz on this port"),
    ] = None,
    health_host: Annotated[
        str, typer.Option(help="Interface of the probes (with --health-port)")
    ] = "127.0.0.1",
) -> None:
    """Run tasks taken from the job queue (ROO_TASK_RUNNER=queue, PostgreSQL)."""
    from roo.worker import run_worker

    overrides: dict[str, object] = {}
    if concurrency is not None:
        overrides["max_running_tasks"] = concurrency
    settings = _settings(**overrides)
    if settings.task_runner != "queue":
        typer.echo(
            "roo: a worker takes tasks from the job queue: set ROO_TASK_RUNNER=queue "
            "(with DATABASE_URL on PostgreSQL) for it and for the API processes",
            err=True,
        )
        raise typer.Exit(2)
    if settings.should_auto_migrate:
        asyncio.run(_migrate(settings, "head", down=False))
    asyncio.run(run_worker(settings, health_host=health_host, health_port=health_port))


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
    down: Annotated[bool, typer.Option("--down", help="Downgrade to REVISION instead")] = False,
) -> None:
    """Apply database migrations (upgrade to head by default)."""
    settings = _settings()
    current = asyncio.run(_migrate(settings, revision, down))
    typer.echo(f"database at revision {current or 'base'}")


user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
app.add_typer(user_app, name="user")


async def _create_user(
    settings: Settings, email: str, role: str, password: str | None, display_name: str
) -> str:
    from roo.auth.wiring import build_auth
    from roo.db.engine import create_engine, create_session_factory, unit_of_work
    from roo.kit.cache import MemoryCache

    engine = create_engine(settings)
    try:
        db_sessions = create_session_factory(engine)
        auth = build_auth(settings, db_sessions, MemoryCache())
        async with unit_of_work(db_sessions) as db:
            # An operator vouches for the address of an account they create.
            user = await auth.create_user(
                db,
                email,
                password=password,
                roles=[role],
                display_name=display_name,
                email_verified=True,
            )
            return str(user.id)
    finally:
        await engine.dispose()


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="Email address (sign-in name)")],
    role: Annotated[str, typer.Option(help="admin, member or viewer")] = "member",
    display_name: Annotated[str, typer.Option(help="Display name")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No password: OAuth sign-in only")
    ] = False,
) -> None:
    """Create a user (the first admin, typically)."""
    from pydantic import TypeAdapter, ValidationError

    from roo.auth.exceptions import EmailTaken
    from roo.auth.permissions import Role
    from roo.auth.schemas import Email, Password

    try:
        role = Role(role).value
        email = TypeAdapter(Email).validate_python(email)
    except (ValueError, ValidationError):
        typer.echo(f"roo: invalid email or role (roles: {', '.join(Role)})", err=True)
        raise typer.Exit(2) from None
    password: str | None = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not no_password:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if password is not None:
        try:
            TypeAdapter(Password).validate_python(password)
        except ValidationError:
            typer.echo("roo: the password needs 8 to 256 characters", err=True)
            raise typer.Exit(2) from None
    settings = _settings()
    if settings.should_auto_migrate:
        asyncio.run(_migrate(settings, "head", down=False))
    try:
        user_id = asyncio.run(_create_user(settings, email, role, password, display_name))
    except EmailTaken:
        typer.echo(f"roo: {email} is already registered", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created user {email} ({role}) id={user_id}")


audit_app = typer.Typer(help="The audit trail's hash chain.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


async def _audit(settings: Settings, seal: bool) -> tuple[int, ChainReport]:
    from roo.db.engine import create_engine
    from roo.security.audit_chain import AuditSealer
    from roo.security.audit_verify import verify_chain

    engine = create_engine(settings)
    try:
        sealed = await AuditSealer(engine).seal_all() if seal else 0
        return sealed, await verify_chain(engine)
    finally:
        await engine.dispose()


async def _unlock(settings: Settings, email: str | None, address: str | None) -> str | None:
    from roo.auth.wiring import build_auth
    from roo.db.engine import create_engine, create_session_factory, unit_of_work
    from roo.kit.cache import MemoryCache

    engine = create_engine(settings)
    try:
        db_sessions = create_session_factory(engine)
        auth = build_auth(settings, db_sessions, MemoryCache())
        async with unit_of_work(db_sessions) as db:
            user = await auth.clear_sign_in_failures(
                db, email=email, address=address, actor_id=None, client=None, via="cli"
            )
            return str(user.id) if user else None
    finally:
        await engine.dispose()


@audit_app.command("verify")
def audit_verify(
    seal: Annotated[
        bool, typer.Option("--seal", help="Seal the rows not sealed yet first (as the server does)")
    ] = False,
) -> None:
    """Verify the audit chain; exit 1 naming the first bad position when it does not hold."""
    settings = _settings()
    sealed, report = asyncio.run(_audit(settings, seal))
    if seal:
        typer.echo(f"sealed {sealed} rows")
    if not report.ok:
        typer.echo(
            f"roo: audit chain broken at position {report.bad_seq}: {report.problem}", err=True
        )
        raise typer.Exit(1)
    typer.echo(
        f"audit chain intact: {report.checked} rows, positions {report.first_seq} to "
        f"{report.last_seq}, head {report.last_hash}, {report.unsealed} not sealed yet"
    )


@user_app.command("unlock")
def user_unlock(
    email: Annotated[
        str | None, typer.Argument(help="The account whose failed sign-ins to forget")
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(help="Also (or only) forget the failed sign-ins from this client address"),
    ] = None,
) -> None:
    """Forget failed sign-ins: an account's from every address, and/or an address's (audited)."""
    import ipaddress

    if email is None and address is None:
        typer.echo("roo: give an EMAIL, an --address, or both", err=True)
        raise typer.Exit(2)
    if address is not None:
        try:
            address = str(ipaddress.ip_address(address.strip()))
        except ValueError:
            typer.echo(f"roo: not an IP address: {address!r}", err=True)
            raise typer.Exit(2) from None
    settings = _settings()
    if not settings.redis_url:
        # The server keeps the counters in its own memory: this process cannot reach them.
        typer.echo(
            "roo: without REDIS_URL, failed sign-ins live in the server's memory: restart it, "
            "or call DELETE /api/v1/users/{id}/sign-in-failures as an admin",
            err=True,
        )
    if settings.should_auto_migrate:
        asyncio.run(_migrate(settings, "head", down=False))
    user_id = asyncio.run(_unlock(settings, email, address))
    if email is not None:
        known = f"id={user_id}" if user_id else "(no such account)"
        typer.echo(f"cleared failed sign-ins of {email.strip().lower()} {known}")
    if address is not None:
        typer.echo(f"cleared failed sign-ins from {address}")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"roo-core {__version__}")


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
