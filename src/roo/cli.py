"""The `roo` command: serve, migrate, version (more come with later capabilities)."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from roo import __version__
from roo.config import ConfigError, Settings, load_settings

app = typer.Typer(
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

    settings = _settings()
    if settings.should_auto_migrate:
        # Once, here, before any worker starts: workers then find the schema at head.
        asyncio.run(_migrate(settings, "head", down=False))
    uvicorn.run(
        "roo.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        server_header=False,
    )


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
    down: Annotated[bool, typer.Option("--down", help="Downgrade to REVISION instead")] = False,
) -> None:
    """Apply database migrations (upgrade to head by default)."""
    settings = _settings()
    current = asyncio.run(_migrate(settings, revision, down))
    typer.echo(f"database at revision {current or 'base'}")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"roo-core {__version__}")


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
