"""The MCP servers of every session, in this process (Roo's `McpHub`, one per session).

A server starts lazily: when a task of its session starts (its tools are offered to the model)
or a call needs it. It is then reused by every task and tools-API call of the session in this
process, and stopped when unused for the idle time, when its config changes, when restarted
through the API, or with the process. A server that fails to start or crashes stays failed
(its error is its status and the answer to calls) for `retry_seconds`; the next call after
that starts it again.

Each connection is one asyncio task that owns the SDK's `Client` for its lifetime (anyio's
contexts are entered and left by the same task); calls from runs and requests go through it.
Calls never raise for a server's failure: they answer a tool error with Roo's texts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from mcp.client._transport import TransportStreams
from mcp.shared.exceptions import MCPError
from mcp_types import (
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    ReadResourceResult,
    TextContent,
    TextResourceContents,
)

from mcp import Client
from roo.agent.prompts import responses as r
from roo.agent.tools.base import ContentBlock, ImageBlock, TextBlock, ToolResult
from roo.agent.tools.mcp import (
    McpFunctionTool,
    McpToolInfo,
    function_name,
    normalize_function_name,
)
from roo.kit.logs import get_logger
from roo.mcp.config import ResolvedServer, in_sandbox
from roo.mcp.transport import ProcessEnd, StartProcess, remote, sandbox_stdio
from roo.security.egress import EgressPolicy, EgressRefused

log = get_logger("roo.mcp")

Status = Literal["stopped", "starting", "connected", "failed", "disabled"]
# Runs a stdio server's command in the session's sandbox: (argv, cwd, env) -> a starter.
SandboxStarter = Callable[[list[str], str, Mapping[str, str]], StartProcess]

NO_CONNECTION = (
    "No connection found for server: {name}. Please make sure to use MCP servers available "
    "under 'Connected MCP Servers'."
)
TIMED_OUT = "MCP error -32001: Request timed out"
CLOSED = "MCP error -32000: Connection closed"


def _now() -> datetime:
    return datetime.now(UTC)


def _error(detail: str) -> ToolResult:
    """Roo's `handleError("executing MCP tool", ...)` answer."""
    return ToolResult.error(r.tool_error(f"Error executing MCP tool: {detail}"), mcp_error=True)


def unknown_server(name: str, available: list[str]) -> ToolResult:
    """Roo's `unknownMcpServerError`."""
    text = json.dumps(
        {
            "status": "error",
            "type": "unknown_server",
            "message": "Server is not configured",
            "server": name,
            "available_servers": available,
        }
    )
    return ToolResult.error(text, invalid_parameters=True)


def unknown_tool(server: str, tool: str, available: list[str]) -> ToolResult:
    """Roo's `unknownMcpToolError`."""
    text = json.dumps(
        {
            "status": "error",
            "type": "unknown_tool",
            "message": "Tool does not exist on server",
            "server": server,
            "tool": tool,
            "available_tools": available,
            "suggestion": "Please use one of the available tools or check if the server is "
            "properly configured",
        }
    )
    return ToolResult.error(text, invalid_parameters=True)


def _without_blob(resource: TextResourceContents | BlobResourceContents) -> str:
    data = resource.model_dump(mode="json", by_alias=True, exclude_none=True)
    data.pop("blob", None)
    return json.dumps(data, indent=2)


def tool_result(result: CallToolResult) -> ToolResult:
    """Roo's rendering of a tool's answer: its text parts joined by a blank line (an embedded
    resource as its JSON without the blob), images as images, "Error:\\n" before the text when
    the server says `isError`, "(No response)" when there is nothing."""
    texts: list[str] = []
    images: list[ContentBlock] = []
    for item in result.content or []:
        if isinstance(item, TextContent) and item.text:
            texts.append(item.text)
        elif isinstance(item, EmbeddedResource):
            texts.append(_without_blob(item.resource))
        elif isinstance(item, ImageContent):
            images.append(ImageBlock(item.mime_type, item.data))
    text = "\n\n".join(texts)
    error = bool(result.is_error)
    if not text and not images:
        text = "(No response)"
    elif text and error:
        text = "Error:\n" + text
    blocks: tuple[ContentBlock, ...] = ((TextBlock(text),) if text else ()) + tuple(images)
    return ToolResult(blocks, error, {})


def resource_result(result: ReadResourceResult) -> ToolResult:
    """Roo's rendering of a resource: its text contents joined by a blank line (image blobs
    as images), "(Empty response)" when there is no text."""
    texts: list[str] = []
    images: list[ContentBlock] = []
    for item in result.contents:
        if isinstance(item, TextResourceContents) and item.text:
            texts.append(item.text)
        elif isinstance(item, BlobResourceContents) and (item.mime_type or "").startswith("image/"):
            images.append(ImageBlock(item.mime_type or "image/png", item.blob))
    text = "\n\n".join(texts) or "(Empty response)"
    return ToolResult((TextBlock(text), *images), False, {})


@dataclass(slots=True)
class ToolEntry:
    name: str
    description: str
    input_schema: dict[str, Any]
    enabled: bool
    always_allow: bool


@dataclass(slots=True)
class ResourceEntry:
    uri: str
    name: str
    mime_type: str | None
    description: str | None
    template: bool = False


class Connection:
    """One server of one session, from its start to its stop."""

    def __init__(
        self,
        server: ResolvedServer,
        transport: Callable[[], AbstractAsyncContextManager[TransportStreams]],
        end: ProcessEnd | None,
        start_timeout: float,
    ) -> None:
        self.server = server
        self.fingerprint = server.fingerprint()
        self._transport = transport
        self.end = end
        self.start_timeout = start_timeout
        self.status: Status = "starting"
        self.error: str | None = None
        self.tools: list[ToolEntry] = []
        self.resources: list[ResourceEntry] = []
        self.started_at: datetime | None = None
        self.failed_at = 0.0  # monotonic time of the failure (start, crash, broken connection)
        self.client: Client | None = None
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self._closed = asyncio.Event()  # the connection is over (stopped, crashed, broken)
        self._task: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Connect, initialize and list what the server offers; on failure `status` is
        `failed` and `error` says why (never raises)."""
        self._task = asyncio.create_task(self._main(), name=f"mcp:{self.server.name}")
        try:
            async with asyncio.timeout(self.start_timeout):
                await asyncio.shield(self._ready)
        except TimeoutError:
            self._fail(f"the server did not answer within {self.start_timeout:g} s of its start")
            await self._cancel()
        except Exception as exc:
            self._fail(self._why(exc))
            await self._cancel()
        else:
            self.status, self.started_at = "connected", _now()

    def _fail(self, error: str) -> None:
        self.status, self.error, self.failed_at = "failed", error, time.monotonic()
        log.info("mcp.server_failed", server=self.server.name, error=error)

    def _why(self, exc: BaseException) -> str:
        if self.end is not None and self.end.done.is_set():
            return self.end.describe()
        if isinstance(exc, EgressRefused) or (
            isinstance(exc, BaseExceptionGroup) and exc.subgroup(EgressRefused)
        ):
            return f"refused: {_first(exc)}"
        return _first(exc)

    async def _main(self) -> None:
        try:
            async with Client(self._transport(), cache=None) as client:
                self.client = client
                self.tools = await self._list_tools(client)
                self.resources = await self._list_resources(client)
                self._ready.set_result(None)
                waits = [asyncio.ensure_future(self._stop.wait())]
                if self.end is not None:
                    waits.append(asyncio.ensure_future(self.end.done.wait()))
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for w in waits:
                        w.cancel()
                if not self._stop.is_set() and self.end is not None:
                    result = self.end.result
                    if result is not None and result.killed_reason == "timeout":
                        # the session's wall-clock limit (maxExecutionTime), not a fault: the
                        # next call starts it again at once
                        self.status = "stopped"
                        self.error = "stopped at the session's time limit (maxExecutionTime)"
                    else:
                        self._fail(f"the server crashed: {self.end.describe()}")
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the start failed, or the connection broke
            if not self._ready.done():
                self._ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError())
            elif not self._stop.is_set():
                self._fail(f"the connection failed: {self._why(exc)}")
        finally:
            self.client = None
            self._closed.set()
            if not self._ready.done():
                self._ready.set_exception(RuntimeError(CLOSED))

    async def _list_tools(self, client: Client) -> list[ToolEntry]:
        config = self.server.config
        entries: list[ToolEntry] = []
        cursor: str | None = None
        while True:
            page = await client.list_tools(cursor=cursor)
            for tool in page.tools:
                entries.append(
                    ToolEntry(
                        name=tool.name,
                        description=tool.description or "",
                        input_schema=dict(tool.input_schema or {}),
                        enabled=tool.name not in config.disabled_tools,
                        always_allow=tool.name in config.always_allow or "*" in config.always_allow,
                    )
                )
            cursor = page.next_cursor
            if not cursor or len(entries) > 1000:
                return entries

    async def _list_resources(self, client: Client) -> list[ResourceEntry]:
        entries: list[ResourceEntry] = []
        with contextlib.suppress(MCPError):  # a server without resources says so
            listed = await client.list_resources()
            entries += [
                ResourceEntry(str(x.uri), x.name, x.mime_type, x.description)
                for x in listed.resources
            ]
        with contextlib.suppress(MCPError):
            templates = await client.list_resource_templates()
            entries += [
                ResourceEntry(x.uri_template, x.name, x.mime_type, x.description, template=True)
                for x in templates.resource_templates
            ]
        return entries

    async def _cancel(self) -> None:
        """End a start that failed: the task is stuck in the handshake, not waiting for stop
        (its transport's exit still stops the server's process)."""
        self._stop.set()
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    async def stop(self) -> None:
        self._stop.set()
        task = self._task
        if task is None or task.done():
            return
        try:
            async with asyncio.timeout(10.0):
                await asyncio.shield(task)
        except (TimeoutError, Exception):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    def _closed_error(self, exc: BaseException) -> str:
        if self.end is not None and self.end.done.is_set():
            return f"{CLOSED} (the server crashed: {self.end.describe()})"
        return f"{CLOSED} ({_first(exc)})"

    async def _request(self, request: Awaitable[Any]) -> Any:
        """The answer to `request`, or TimeoutError after the server's timeout, or
        ConnectionError as soon as the connection ends (a crash does not wait for the
        timeout)."""
        timeout = self.server.config.timeout
        call = asyncio.ensure_future(request)
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait([call, closed], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
            if not call.done():
                call.cancel()
                with contextlib.suppress(BaseException):
                    await call
        if call.cancelled():
            if self._closed.is_set():
                raise ConnectionError("the connection ended")
            raise TimeoutError
        return call.result()

    async def call(self, tool: str, arguments: Mapping[str, Any] | None) -> ToolResult:
        client = self.client
        if client is None:
            return _error(self._no_connection())
        args = dict(arguments) if arguments is not None else None
        try:
            result = await self._request(client.call_tool(tool, args))
        except (TimeoutError, MCPError) as exc:
            return self._call_error(exc)
        except Exception as exc:
            return _error(self._closed_error(exc))
        return tool_result(result)

    async def read(self, uri: str) -> ToolResult:
        client = self.client
        if client is None:
            return _error(self._no_connection())
        try:
            result = await self._request(client.read_resource(uri))
        except (TimeoutError, MCPError) as exc:
            return self._call_error(exc)
        except Exception as exc:
            return _error(self._closed_error(exc))
        return resource_result(result)

    def _call_error(self, exc: Exception) -> ToolResult:
        if isinstance(exc, TimeoutError) or "timed out" in str(exc).lower():
            timeout = self.server.config.timeout
            return _error(f"{TIMED_OUT} (no answer within {timeout} s)")
        if self.end is not None and self.end.done.is_set():
            return _error(self._closed_error(exc))
        return _error(f"MCP error: {exc}")

    def _no_connection(self) -> str:
        text = NO_CONNECTION.format(name=self.server.name)
        return f"{text} ({self.error})" if self.error else text


def _first(exc: BaseException) -> str:
    """The first real error inside an exception group, as one line."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _redacted(text: str | None, server: ResolvedServer) -> str | None:
    """An error without the server's env and header values (a server's stderr may echo one)."""
    if text:
        for value in sorted((*server.env.values(), *server.headers.values()), key=len)[::-1]:
            if len(value) >= 4:
                text = text.replace(value, "***")
    return text


@dataclass(slots=True)
class ServerView:
    """A server as GET /mcp shows it: never its env or header values."""

    name: str
    source: str
    type: str
    status: Status
    error: str | None
    tools: list[ToolEntry]
    resources: list[ResourceEntry]
    started_at: datetime | None
    timeout: int
    disabled: bool


class SessionMcp:
    """The MCP servers of one session in this process; what the tools reach (`McpAccess`)."""

    def __init__(
        self,
        session_id: uuid.UUID,
        starter: Callable[[ResolvedServer], tuple[Any, ProcessEnd | None]],
        start_timeout: float,
        retry_seconds: float,
    ) -> None:
        self.session_id = session_id
        # set again by each McpHub.session() call: the session's current sandbox settings
        self.starter = starter
        self.start_timeout = start_timeout
        self.retry_seconds = retry_seconds
        self.servers: dict[str, ResolvedServer] = {}
        self.config_error: str | None = None
        self.connections: dict[str, Connection] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.last_used = time.monotonic()
        self.busy = 0  # starts and calls in flight

    async def configure(self, servers: Mapping[str, ResolvedServer], error: str | None) -> None:
        """Take the session's current servers: a connection whose server changed or went is
        stopped (a changed one starts again with its new config when next needed)."""
        self.config_error = error
        self.servers = dict(servers)
        for name, conn in list(self.connections.items()):
            current = self.servers.get(name)
            if current is None or current.fingerprint() != conn.fingerprint:
                del self.connections[name]
                await conn.stop()

    @contextlib.contextmanager
    def _in_use(self) -> Iterator[None]:
        """A start or a call in flight: the idle reaper leaves the session alone meanwhile."""
        self.busy += 1
        try:
            yield
        finally:
            self.busy -= 1
            self.last_used = time.monotonic()

    async def connection(self, name: str, *, retry: bool = True) -> Connection | None:
        """The server's connection, started if need be (None: no such server, or disabled)."""
        with self._in_use():
            return await self._connection(name, retry=retry)

    async def _connection(self, name: str, *, retry: bool) -> Connection | None:
        server = self.servers.get(name)
        if server is None or server.config.disabled:
            return None
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            conn = self.connections.get(name)
            if conn is not None and conn.status == "stopped":
                conn = None  # ended at the time limit: start a new one
            if conn is not None and conn.status == "connected" and not conn.alive:
                conn._fail(conn.error or CLOSED)  # ended by itself (remote closed, crashed)
            if conn is not None and conn.status == "connected":
                return conn
            if conn is not None and conn.status == "failed":
                if not retry or time.monotonic() - conn.failed_at < self.retry_seconds:
                    return conn
            transport, end = self.starter(server)
            conn = Connection(server, transport, end, self.start_timeout)
            self.connections[name] = conn
            await conn.start()
            return conn

    async def start_all(self) -> None:
        """Start every enabled server (at a task's start: its tools are offered)."""
        names = [n for n, s in self.servers.items() if not s.config.disabled]
        await asyncio.gather(*(self.connection(n) for n in names))

    async def restart(self, name: str) -> Connection | None:
        conn = self.connections.pop(name, None)
        if conn is not None:
            await conn.stop()
        return await self.connection(name)

    async def stop(self) -> None:
        connections, self.connections = list(self.connections.values()), {}
        await asyncio.gather(*(c.stop() for c in connections), return_exceptions=True)

    # -- what the model is offered ----------------------------------------------------------

    def tool_infos(self) -> list[McpToolInfo]:
        """The enabled tools of the connected servers, workspace servers first (for a clash
        of function names the first wins, as Roo's project servers do)."""
        ordered = sorted(
            self.connections.values(), key=lambda c: (c.server.source != "workspace", c.server.name)
        )
        return [
            McpToolInfo(c.server.name, t.name, t.description, t.input_schema)
            for c in ordered
            if c.status == "connected"
            for t in c.tools
            if t.enabled
        ]

    async def find_function(self, name: str) -> McpFunctionTool | None:
        """The server tool an `mcp--server--tool` name stands for, its server started if
        need be (only the servers whose sanitised name matches)."""
        wanted = normalize_function_name(name)
        for server in sorted(self.servers, key=lambda n: self.servers[n].source != "workspace"):
            prefix = function_name(server, "x")[:-1]
            if not wanted.startswith(prefix):
                continue
            conn = await self.connection(server)
            if conn is None or conn.status != "connected":
                continue
            for tool in conn.tools:
                if tool.enabled and function_name(server, tool.name) == wanted:
                    return McpFunctionTool(
                        McpToolInfo(server, tool.name, tool.description, tool.input_schema)
                    )
        return None

    def has_resources(self) -> bool:
        return any(c.status == "connected" and c.resources for c in self.connections.values())

    # -- McpAccess ---------------------------------------------------------------------------

    def always_allowed(self, server: str, tool: str) -> bool:
        found = self.servers.get(server)
        if found is None:
            return False
        allow = found.config.always_allow
        return tool in allow or "*" in allow

    def resolve_function(self, name: str) -> tuple[str, str] | None:
        wanted = normalize_function_name(name)
        for info in self.tool_infos():
            if function_name(info.server, info.name) == wanted:
                return info.server, info.name
        return None

    async def call_tool(
        self, server: str, tool: str, arguments: Mapping[str, Any] | None
    ) -> ToolResult:
        found = self.servers.get(server)
        if found is None:
            return unknown_server(server, sorted(self.servers))
        if found.config.disabled:
            return ToolResult.error(
                r.tool_error(f'Server "{server}" is disabled and cannot be used'), mcp_error=True
            )
        conn = await self.connection(server)
        if conn is None or conn.status != "connected":
            return _error(conn._no_connection() if conn else NO_CONNECTION.format(name=server))
        entry = next((t for t in conn.tools if t.name == tool), None)
        if entry is None or not entry.enabled:
            return unknown_tool(server, tool, [t.name for t in conn.tools if t.enabled])
        with self._in_use():
            return await conn.call(tool, arguments)

    async def read_resource(self, server: str, uri: str) -> ToolResult:
        found = self.servers.get(server)
        if found is None:
            return unknown_server(server, sorted(self.servers))
        if found.config.disabled:
            return ToolResult.error(r.tool_error(f'Server "{server}" is disabled'), mcp_error=True)
        conn = await self.connection(server)
        if conn is None or conn.status != "connected":
            return _error(conn._no_connection() if conn else NO_CONNECTION.format(name=server))
        with self._in_use():
            return await conn.read(uri)

    # -- status ----------------------------------------------------------------------------

    def views(self) -> list[ServerView]:
        views: list[ServerView] = []
        for name, server in sorted(self.servers.items()):
            conn = self.connections.get(name)
            status: Status = "disabled" if server.config.disabled else "stopped"
            if conn is not None and not server.config.disabled:
                status = conn.status
                if status == "connected" and not conn.alive:
                    status = "failed"
            views.append(
                ServerView(
                    name=name,
                    source=server.source,
                    type=server.config.type or "stdio",
                    status=status,
                    error=_redacted(conn.error, server) if conn else None,
                    tools=list(conn.tools) if conn else [],
                    resources=list(conn.resources) if conn else [],
                    started_at=conn.started_at if conn else None,
                    timeout=server.config.timeout,
                    disabled=server.config.disabled,
                )
            )
        return views


@dataclass(slots=True)
class BoundMcp:
    """A session's servers as one run or request reaches them: each call is audited
    (`audit(server, tool or uri, is_error)`), each answer bounded by `max_output_bytes`
    (`roo.agent.tools.mcp.bounded`)."""

    session: SessionMcp
    audit: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None
    # the longest answer text the model gets (the session's maxOutputBytes; None: all)
    max_output_bytes: int | None = None

    def always_allowed(self, server: str, tool: str) -> bool:
        return self.session.always_allowed(server, tool)

    def resolve_function(self, name: str) -> tuple[str, str] | None:
        return self.session.resolve_function(name)

    async def call_tool(
        self, server: str, tool: str, arguments: Mapping[str, Any] | None
    ) -> ToolResult:
        result = await self.session.call_tool(server, tool, arguments)
        await self._audit("mcp.call_tool", server=server, tool=tool, is_error=result.is_error)
        return result

    async def read_resource(self, server: str, uri: str) -> ToolResult:
        result = await self.session.read_resource(server, uri)
        await self._audit("mcp.read_resource", server=server, uri=uri, is_error=result.is_error)
        return result

    async def _audit(self, action: str, **detail: Any) -> None:
        if self.audit is None:
            return
        try:
            await self.audit(action, detail)
        except Exception as exc:  # the call happened; a lost audit row is logged, not fatal
            log.warning("mcp.audit_failed", error=f"{type(exc).__name__}: {exc}")


class McpHub:
    """Every session's MCP servers in this process (built in the app lifespan)."""

    def __init__(
        self,
        egress: EgressPolicy,
        *,
        start_timeout: float,
        idle_seconds: float,
        retry_seconds: float,
    ) -> None:
        self.egress = egress
        self.start_timeout = start_timeout
        self.idle_seconds = idle_seconds
        self.retry_seconds = retry_seconds
        self._sessions: dict[uuid.UUID, SessionMcp] = {}
        self._reaper: asyncio.Task[None] | None = None

    def session(
        self, session_id: uuid.UUID, sandbox: SandboxStarter, *, keep: bool = True
    ) -> SessionMcp:
        """The session's servers in this process (created on first use). `sandbox` runs a
        stdio server's command in the session's sandbox. `keep` False (a session without
        servers): a new entry is not kept (nothing to reuse, nothing to stop)."""

        def starter(server: ResolvedServer) -> tuple[Any, ProcessEnd | None]:
            return self._transport(server, sandbox)

        found = self._sessions.get(session_id)
        if found is None:
            found = SessionMcp(session_id, starter, self.start_timeout, self.retry_seconds)
            if not keep:
                return found
            self._sessions[session_id] = found
            self._ensure_reaper()
        found.starter = starter
        return found

    def _transport(
        self, server: ResolvedServer, sandbox: SandboxStarter
    ) -> tuple[Callable[[], AbstractAsyncContextManager[TransportStreams]], ProcessEnd | None]:
        config = server.config
        if config.type == "stdio":
            argv = [in_sandbox(config.command or ""), *(in_sandbox(a) for a in config.args)]
            cwd = in_sandbox(config.cwd) if config.cwd else "."
            start = sandbox(argv, cwd, dict(server.env))
            end = ProcessEnd()
            return (lambda: sandbox_stdio(start, end)), end
        url, headers = config.url or "", dict(server.headers)
        return (lambda: remote(config.type or "sse", url, headers, self.egress)), None

    def _ensure_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(self._reap(), name="mcp-idle-reaper")

    async def _reap(self) -> None:
        """Stop the servers of sessions idle for `idle_seconds` (checked every few seconds)."""
        tick = max(0.05, min(self.idle_seconds / 4, 30.0))
        while self._sessions:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for session_id, mcp in list(self._sessions.items()):
                # The entry stays (a run may hold it and call again: its servers then start
                # anew, still under this hub); only deleting the session drops it.
                idle = not mcp.busy and now - mcp.last_used >= self.idle_seconds
                if mcp.connections and idle:
                    await mcp.stop()
                    log.info("mcp.session_idle", session_id=str(session_id))

    def peek(self, session_id: uuid.UUID) -> SessionMcp | None:
        return self._sessions.get(session_id)

    def sessions(self) -> list[tuple[uuid.UUID, SessionMcp]]:
        """Every session with an entry in this process."""
        return list(self._sessions.items())

    async def stop_session(self, session_id: uuid.UUID) -> None:
        mcp = self._sessions.pop(session_id, None)
        if mcp is not None:
            await mcp.stop()

    async def aclose(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        await asyncio.gather(*(s.stop() for s in sessions), return_exceptions=True)
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
