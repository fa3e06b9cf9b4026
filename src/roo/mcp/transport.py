"""How the service reaches one MCP server: the SDK's session streams over

- stdio: the server's command run in the session's sandbox (`Sandbox.run` with a stdin pipe:
  bubblewrap, the session's cgroup and limits, its network setting), newline-delimited JSON-RPC
  as the SDK's own stdio transport speaks it;
- Streamable HTTP and SSE: the SDK's client transports over an HTTP client whose every
  connection goes through the egress guard (`roo.security.egress`, the rules of users' provider
  base URLs: public addresses only unless an operator allows the host).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import mcp_types
from mcp.client._transport import TransportStreams
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage

from roo.sandbox import ProcessResult, StdinPipe
from roo.security.egress import EgressPolicy, GuardedTransport

# Start a stdio server: (its stdin pipe, its output callback) -> its end.
StartProcess = Callable[
    [StdinPipe, Callable[[str, bytes], Awaitable[None]]], Awaitable[ProcessResult]
]

STDERR_TAIL = 4096  # what a crashed server's last stderr words keep, for its error message
STOP_GRACE = 2.0  # seconds a stdio server has to exit after its stdin closed
MAX_LINE = 16 * 1024 * 1024  # one JSON-RPC message from a server; longer is a broken server
HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)  # the SDK's defaults (streams stay open)


@dataclass(slots=True)
class ProcessEnd:
    """How a stdio server ended (set when it has): for its status and error message."""

    done: asyncio.Event = field(default_factory=asyncio.Event)
    result: ProcessResult | None = None
    error: str | None = None
    stderr: bytearray = field(default_factory=bytearray)

    def describe(self) -> str:
        """Roo-like words for the end: exit code or signal, and the stderr tail."""
        if self.error is not None:
            text = self.error
        elif self.result is None:
            text = "the server process ended"
        elif self.result.killed_reason is not None:
            text = f"the server was stopped by the sandbox ({self.result.killed_reason} limit)"
        elif self.result.signal:
            text = f"the server process was killed by {self.result.signal}"
        else:
            text = f"the server process exited with code {self.result.exit_code}"
        tail = self.stderr.decode("utf-8", errors="replace").strip()
        return f"{text}: {tail}" if tail else text


@contextlib.asynccontextmanager
async def sandbox_stdio(start: StartProcess, end: ProcessEnd) -> AsyncIterator[TransportStreams]:
    """The SDK's transport streams over a stdio server started by `start` (in the sandbox).
    The server ends when the context ends: its stdin is closed, it has STOP_GRACE seconds to
    exit, then the sandbox kills it (and all it started)."""
    read_send, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](16)
    write_stream, write_receive = anyio.create_memory_object_stream[SessionMessage](16)
    pipe = StdinPipe()
    pending = bytearray()

    async def on_output(name: str, chunk: bytes) -> None:
        if name != "stdout":
            end.stderr += chunk
            del end.stderr[:-STDERR_TAIL]
            return
        pending.extend(chunk)
        while (cut := pending.find(b"\n")) >= 0:
            line = bytes(pending[:cut])
            del pending[: cut + 1]
            if line.strip():
                await _deliver(read_send, line)
        if len(pending) > MAX_LINE:
            pending.clear()
            await _deliver(read_send, None)

    async def run() -> None:
        try:
            end.result = await start(pipe, on_output)
        except Exception as exc:  # the sandbox refused it (busy, unavailable, bad cwd...)
            end.error = f"{type(exc).__name__}: {exc}"
        finally:
            end.done.set()
            read_send.close()  # the session sees the connection close

    async def write() -> None:
        async with write_receive:
            async for message in write_receive:
                data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                try:
                    await pipe.write(data.encode() + b"\n")
                except (ConnectionError, OSError):
                    return

    process = asyncio.create_task(run())
    writer = asyncio.create_task(write())
    try:
        await pipe.started.wait()
        yield read_stream, write_stream
    finally:
        pipe.close()
        writer.cancel()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(end.done.wait()), STOP_GRACE)
        if not process.done():
            process.cancel()  # the sandbox kills the server's whole tree
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(process)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(writer)
        for stream in (read_stream, write_stream, read_send, write_receive):
            await stream.aclose()


async def _deliver(
    stream: anyio.abc.ObjectSendStream[SessionMessage | Exception], line: bytes | None
) -> None:
    item: SessionMessage | Exception
    if line is None:
        item = ValueError("a message from the server was longer than the limit")
    else:
        try:
            item = SessionMessage(
                mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
            )
        except ValueError as exc:
            item = exc  # the session reports it; a server's log line on stdout is its bug
    with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
        await stream.send(item)


def guarded_http_client(
    policy: EgressPolicy,
    headers: Mapping[str, str] | None = None,
    timeout: httpx2.Timeout | None = None,
    auth: httpx2.Auth | None = None,
) -> httpx2.AsyncClient:
    """An HTTP client for the SDK's remote transports: every connection checked by the egress
    guard, no proxy from the environment, redirects left to the SDK (same origin only)."""
    return httpx2.AsyncClient(
        transport=GuardedTransport(policy),
        headers=dict(headers or {}),
        timeout=timeout or HTTP_TIMEOUT,
        auth=auth,
        follow_redirects=False,
        trust_env=False,
    )


@contextlib.asynccontextmanager
async def remote(
    kind: str, url: str, headers: Mapping[str, str], policy: EgressPolicy
) -> AsyncIterator[TransportStreams]:
    """The SDK's Streamable HTTP or SSE transport to `url`, through the egress guard."""
    if kind == "streamable-http":
        async with (
            guarded_http_client(policy, headers) as client,
            streamable_http_client(url, http_client=client) as streams,
        ):
            yield streams
        return

    def factory(
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        return guarded_http_client(policy, headers, timeout, auth)

    extra: dict[str, Any] = {"headers": dict(headers)} if headers else {}
    async with sse_client(url, httpx_client_factory=factory, **extra) as streams:
        yield streams
