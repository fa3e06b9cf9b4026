"""MCP tool call overhead: a call to an MCP server's tool against a direct built-in tool call.

    .venv/bin/python bench/mcp_calls.py [--calls 300]

In process, as the runner calls tools: `McpFunctionTool.execute` with the session's MCP access
(`roo.mcp.hub`), against `read_file` of a small file with the same `ToolContext`. The MCP
server is the test suite's (tests/mcp/mcp_server.py, the SDK's `MCPServer`), tool `echo`:

- stdio: started inside the sandbox as a session's server is (bwrap, cgroups, the SDK shown
  read-only), through `Sandbox.run` with a stdin pipe;
- Streamable HTTP: the same server in a process of its own on loopback, reached through the
  egress guard (loopback allowed for the run, as ROO_PROVIDER_ALLOWED_HOSTS would).

Each case gets a warm-up, then N timed calls one after the other. Also reported: the time a
server takes to start and list its tools (the first call of a session pays it), and, as a
reference, the SDK's own stdio client calling the same server outside any sandbox (what the
SDK's stdio server costs by itself: it reads stdin through a worker thread). Results go to
bench/results/mcp.json.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import (
    RESULTS_DIR,
    BenchError,
    bench_parser,
    exit_on_sigterm,
    free_port,
    latency_stats,
    machine_info,
    report_and_exit,
    require_at_least,
    source_revision,
)

from roo.agent.tools.base import ToolContext, ToolResult
from roo.agent.tools.mcp import McpFunctionTool, McpToolInfo
from roo.agent.tools.read_file import ReadFileParams, ReadFileTool
from roo.agent.tools.rooignore import RooIgnore
from roo.kit.logs import configure_logging
from roo.mcp.config import ResolvedServer, ServerConfig
from roo.mcp.hub import BoundMcp, McpHub
from roo.mcp.transport import StartProcess
from roo.sandbox import ProcessResult, ResourceLimits, Sandbox, StdinPipe
from roo.security.egress import AllowedHosts, EgressPolicy

DEFAULT_OUTPUT = RESULTS_DIR / "mcp.json"
SERVER_SCRIPT = Path(__file__).resolve().parent.parent / "tests" / "mcp" / "mcp_server.py"
SITE, SCRIPTS = "/opt/roo-mcp-site", "/opt/roo-mcp-tests"
CALL_TIMEOUT = 30.0


async def timed(call: Callable[[], Awaitable[ToolResult]], calls: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        result = await asyncio.wait_for(call(), CALL_TIMEOUT)
        if result.is_error:
            raise BenchError(f"warm-up call failed: {result.text_content[:300]}")
    seconds: list[float] = []
    for _ in range(calls):
        started = time.perf_counter()
        result = await asyncio.wait_for(call(), CALL_TIMEOUT)
        seconds.append(time.perf_counter() - started)
        if result.is_error:
            raise BenchError(f"call failed: {result.text_content[:300]}")
    return seconds


def wait_port(port: int, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise BenchError(f"the HTTP MCP server did not listen on {port}")


async def measure(calls: int, warmup: int) -> dict[str, Any]:
    sandbox = Sandbox(
        ro_binds={SITE: Path(sysconfig.get_paths()["purelib"]), SCRIPTS: SERVER_SCRIPT.parent},
    )
    limits = ResourceLimits(max_execution_time=3600)
    port = free_port()
    http = subprocess.Popen(  # noqa: ASYNC220 - started once, before the timed part
        [sys.executable, str(SERVER_SCRIPT), "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    hub = McpHub(
        EgressPolicy(AllowedHosts.parse(["127.0.0.1"])),
        start_timeout=30.0,
        idle_seconds=3600.0,
        retry_seconds=0.0,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="roo-bench-mcp-") as tmp:
            ws = Path(tmp)
            (ws / "small.txt").write_text("hello\n" * 20)

            async def run_command(command: Any, **options: Any) -> ProcessResult:
                return await sandbox.run(command, workspace=ws, limits=limits, **options)

            def starter(argv: list[str], cwd: str, env: Mapping[str, str]) -> StartProcess:
                async def start(
                    pipe: StdinPipe, on_output: Callable[[str, bytes], Awaitable[None]]
                ) -> ProcessResult:
                    return await sandbox.run(
                        argv, workspace=ws, limits=limits, cwd=cwd, env=dict(env),
                        stdin=pipe, on_output=on_output, group="bench", use_slot=False,
                    )  # fmt: skip

                return start

            mcp = hub.session(uuid.uuid4(), starter)
            wait_port(port)
            servers = {
                "stdio": ResolvedServer(
                    "stdio",
                    "session",
                    ServerConfig(command="python3", args=[f"{SCRIPTS}/mcp_server.py"]),
                    {"PYTHONPATH": SITE},
                ),
                "http": ResolvedServer(
                    "http",
                    "session",
                    ServerConfig(type="streamable-http", url=f"http://127.0.0.1:{port}/mcp"),
                ),
            }
            await mcp.configure(servers, None)
            ctx = ToolContext(
                workspace=ws, run_command=run_command, ignore=RooIgnore.load(ws), mcp=BoundMcp(mcp)
            )
            report: dict[str, Any] = {"cases": {}, "start_ms": {}}
            for name in servers:
                started = time.perf_counter()
                conn = await mcp.connection(name)
                if conn is None or conn.status != "connected":
                    raise BenchError(f"{name}: {conn.error if conn else 'no server'}")
                report["start_ms"][name] = round((time.perf_counter() - started) * 1000, 1)
            read = ReadFileTool()
            params = ReadFileParams.model_validate({"path": "small.txt"})
            cases: dict[str, Callable[[], Awaitable[ToolResult]]] = {
                "direct_read_file": lambda: read.execute(params, ctx),
            }
            for name in servers:
                tool = McpFunctionTool(McpToolInfo(name, "echo", "", {}))
                args = tool.Params.model_validate({"text": "ping"})
                cases[f"mcp_{name}_echo"] = functools.partial(tool.execute, args, ctx)
            # Reference: the SDK's own stdio client and the same server, no sandbox, no service
            # (the SDK by name: a type checker takes this file for the package `mcp`)
            sdk = importlib.import_module("mcp")
            reference = sdk.Client(
                sdk.StdioServerParameters(command=sys.executable, args=[str(SERVER_SCRIPT)]),
                cache=None,
            )
            async with reference:

                async def sdk_call() -> ToolResult:
                    await reference.call_tool("echo", {"text": "ping"})
                    return ToolResult.text("ok")

                report["cases"]["sdk_stdio_unsandboxed_reference"] = {
                    "calls": calls,
                    **latency_stats(await timed(sdk_call, calls, warmup)),
                }
            for name, call in cases.items():
                report["cases"][name] = {
                    "calls": calls,
                    **latency_stats(await timed(call, calls, warmup)),
                }
            direct = report["cases"]["direct_read_file"]
            report["overhead_vs_direct_ms"] = {
                name: {
                    "p50": round(case["p50_ms"] - direct["p50_ms"], 3),
                    "p99": round(case["p99_ms"] - direct["p99_ms"], 3),
                }
                for name, case in report["cases"].items()
                if name.startswith("mcp_")
            }
            report["sandbox"] = await sandbox.backend()
            return report
    finally:
        await hub.aclose()
        http.terminate()
        http.wait(10)


def print_summary(report: dict[str, Any], output: Path) -> None:
    for name, case in report["cases"].items():
        print(f"{name:22} p50 {case['p50_ms']:8.3f} ms  p99 {case['p99_ms']:8.3f} ms")
    for name, ms in report["start_ms"].items():
        print(f"start {name:16} {ms:8.1f} ms")
    print(f"-> {output}")


def main() -> int:
    parser = bench_parser(__doc__, DEFAULT_OUTPUT)
    parser.add_argument("--calls", type=int, default=300, help="timed calls per case (300)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls first (20)")
    args = parser.parse_args()
    require_at_least(parser, args, 1, "calls", "warmup")
    configure_logging("WARNING", json=False)
    exit_on_sigterm()

    def produce() -> dict[str, Any]:
        measured = asyncio.run(measure(args.calls, args.warmup))
        return {
            "benchmark": "mcp",
            "measured_at": datetime.now(UTC).isoformat(),
            "source": source_revision(),
            "machine": machine_info(),
            "settings": {"calls": args.calls, "warmup": args.warmup},
            **measured,
        }

    return report_and_exit("mcp", produce, args.output, print_summary)


if __name__ == "__main__":
    sys.exit(main())
