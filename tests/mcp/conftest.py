"""MCP servers for the tests: the stdio one runs inside the session's sandbox (the SDK and the
test server's directory are shown read-only there), the HTTP one serves Streamable HTTP on
loopback in the test process (the egress rules allow 127.0.0.1 only where a test says so, as
they allow a provider URL: ROO_PROVIDER_ALLOWED_HOSTS)."""

from __future__ import annotations

import asyncio
import contextlib
import sysconfig
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.mcp.mcp_server import build
from tests.tasks.conftest import (
    Api,
    api,
    auth,
    llm,
    make_api,
    make_user,
    resources,
    settings,
    sign_in,
)

__all__ = ["api", "auth", "llm", "make_api", "make_user", "resources", "settings", "sign_in"]

SITE = "/opt/roo-mcp-site"
SERVERS = "/opt/roo-mcp-tests"


# For `@pytest.mark.task_settings(**MCP_SETTINGS, ...)` (tests/tasks/conftest.py's settings)
MCP_SETTINGS: dict[str, Any] = {
    "sandbox_ro_binds": {
        SITE: Path(sysconfig.get_paths()["purelib"]),
        SERVERS: Path(__file__).parent,
    },
    "mcp_start_timeout_seconds": 20.0,
}


def stdio_server(**extra: Any) -> dict[str, Any]:
    """A session config entry for the test server over stdio, in the sandbox."""
    return {
        "command": "python3",
        "args": [f"{SERVERS}/mcp_server.py"],
        "env": {"PYTHONPATH": SITE},
        **extra,
    }


class HttpServer:
    def __init__(self, port: int, path: str = "/mcp") -> None:
        self.port, self.path = port, path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"


@pytest.fixture
async def http_server() -> AsyncIterator[HttpServer]:
    """The test server over Streamable HTTP on loopback (no tool that would kill pytest)."""
    async with serving(build("roo-http", dangerous=False).streamable_http_app()) as port:
        yield HttpServer(port)


@pytest.fixture
async def sse_server() -> AsyncIterator[HttpServer]:
    """The test server over the (older) SSE transport on loopback."""
    async with serving(build("roo-sse", dangerous=False).sse_app()) as port:
        yield HttpServer(port, "/sse")


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[int]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def mcp_session(api: Api, servers: dict[str, Any], **config: Any) -> str:
    return await api.session(mcpServers=servers, **config)
