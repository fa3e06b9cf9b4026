"""A real MCP server for the tests, written with the SDK's server API (`MCPServer`, FastMCP's
name since mcp 2). Run as a script it serves stdio (the tests start it inside the session's
sandbox), or Streamable HTTP with `http PORT` (bench/mcp_calls.py); `build()` also serves it over
Streamable HTTP in the test process."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

from mcp.server.mcpserver import MCPServer

INSTANCE = uuid.uuid4().hex  # this process's own: a restarted server answers another


def build(name: str = "roo-test", *, dangerous: bool = True) -> MCPServer:
    server: MCPServer = MCPServer(name)

    @server.tool(description="Echo the text back")
    def echo(text: str) -> str:
        return f"echo: {text}"

    @server.tool(description="Add two integers")
    def add(a: int, b: int) -> str:
        return str(a + b)

    @server.tool(description="The length of an environment variable's value (never the value)")
    def secret_length(name: str) -> str:
        return str(len(os.environ.get(name, "")))

    @server.tool(description="Where the server runs: working directory and user id")
    def where() -> str:
        return f"cwd={os.getcwd()} uid={os.getuid()}"

    @server.tool(description="Which start of the server answers (new at each start)")
    def instance() -> str:
        return INSTANCE

    @server.tool(description="A long answer: HEAD, `size` dashes, TAIL")
    def big(size: int) -> str:
        return "HEAD" + "-" * size + "TAIL"

    @server.tool(description="Never answers")
    async def hang() -> str:
        await asyncio.sleep(3600)
        return "never"

    if dangerous:

        @server.tool(description="Kill the server process")
        def crash() -> str:
            sys.stderr.write("about to crash\n")
            sys.stderr.flush()
            os._exit(3)

    @server.resource("note://readme", name="readme", mime_type="text/plain")
    def readme() -> str:
        return "the readme resource"

    return server


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:  # bench/mcp_calls.py: Streamable HTTP on loopback, this port
        build("roo-http", dangerous=False).run(
            "streamable-http", host="127.0.0.1", port=int(sys.argv[2])
        )
    else:
        build().run("stdio")
