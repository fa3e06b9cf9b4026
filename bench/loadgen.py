"""A closed-loop HTTP/1.1 load generator: the fallback of the benchmarks when `wrk` is absent.

    python bench/loadgen.py http://127.0.0.1:8000/healthz --connections 32 --duration 10
    python bench/loadgen.py URL --header "Authorization: Bearer ..."   # extra request headers

Opens N keep-alive connections, each sending one GET and the next as soon as the answer is in,
for a fixed duration; records the latency of every response that completes within it and prints
one JSON object: requests, errors, rps, p50_ms, p99_ms. Loopback only; it stops by itself.

It is deliberately minimal (asyncio protocols, no HTTP library) so that the client costs as little
CPU as possible; responses must carry Content-Length (no chunked bodies), which FastAPI's JSON
responses do.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass
class RunState:
    request: bytes
    deadline: float = math.inf
    stopping: bool = False
    latencies: list[float] = field(default_factory=list)
    non_2xx: int = 0
    errors: int = 0


class Connection(asyncio.Protocol):
    """One keep-alive connection with one request in flight at a time."""

    def __init__(self, state: RunState, lost: asyncio.Future[None]) -> None:
        self.state = state
        self.lost = lost
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.need: int | None = None  # total bytes of the response being read, once known
        self.status = 0
        self.sent_at = 0.0
        self.in_flight = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def send(self) -> None:
        assert self.transport is not None
        self.in_flight = True
        self.sent_at = time.perf_counter()
        self.transport.write(self.state.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.need is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            self.status = int(head[9:12])
            marker = head.find(b"\r\ncontent-length:")
            if marker < 0:
                self._fail()  # chunked or close-delimited bodies are not supported
                return
            value_end = head.find(b"\r\n", marker + 2)
            length = int(head[marker + 17 : value_end if value_end >= 0 else None])
            self.need = end + 4 + length
        if len(self.buffer) < self.need:
            return
        done = time.perf_counter()
        del self.buffer[: self.need]
        self.need = None
        self.in_flight = False
        state = self.state
        if done <= state.deadline:
            state.latencies.append(done - self.sent_at)
            if not 200 <= self.status < 400:
                state.non_2xx += 1
        if not state.stopping:
            self.send()

    def _fail(self) -> None:
        self.state.errors += 1
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.in_flight and not self.state.stopping:
            self.state.errors += 1
        if not self.lost.done():
            self.lost.set_result(None)


async def _keep_connection(host: str, port: int, state: RunState, started: asyncio.Event) -> None:
    """Hold one connection open until the run stops, reconnecting if the server drops it."""
    loop = asyncio.get_running_loop()
    first = True
    while not state.stopping:
        lost: asyncio.Future[None] = loop.create_future()
        try:
            transport, proto = await loop.create_connection(
                functools.partial(Connection, state, lost), host, port
            )
        except OSError:
            state.errors += 1
            await asyncio.sleep(0.05)
            continue
        if first:
            await started.wait()  # every connection is open before the clock starts
            first = False
        if not state.stopping:
            proto.send()
        try:
            await lost
        finally:
            transport.close()


async def run(
    url: str, connections: int, duration: float, headers: Sequence[str] = ()
) -> dict[str, Any]:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if host not in LOOPBACK:
        raise SystemExit(f"loadgen: refusing non-loopback target {host}")
    port = parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    extra = "".join(f"{line}\r\n" for line in headers)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"User-Agent: roo-bench-loadgen\r\nAccept: */*\r\n{extra}\r\n"
    ).encode()
    state = RunState(request=request)
    started = asyncio.Event()
    tasks = [
        asyncio.create_task(_keep_connection(host, port, state, started))
        for _ in range(connections)
    ]
    await asyncio.sleep(0.2)  # let the connections open (loopback: well under this)
    start = time.perf_counter()
    state.deadline = start + duration
    started.set()
    await asyncio.sleep(duration)
    state.stopping = True
    elapsed = time.perf_counter() - start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = sorted(state.latencies)
    return {
        "tool": "python",
        "requests": len(latencies),
        "errors": state.errors,
        "non_2xx": state.non_2xx,
        "duration_s": round(elapsed, 3),
        "rps": round(len(latencies) / duration, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 3),
        "p99_ms": round(percentile(latencies, 99) * 1000, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("url", help="a loopback http:// URL")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds")
    parser.add_argument(
        "--header", action="append", default=[], help="'Name: value', added to every request"
    )
    args = parser.parse_args(argv)
    for line in args.header:
        if ":" not in line or "\r" in line or "\n" in line:
            parser.error(f"--header must be 'Name: value' on one line, not {line!r}")
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        result = asyncio.run(run(args.url, args.connections, args.duration, args.header))
    else:
        result = uvloop.run(run(args.url, args.connections, args.duration, args.header))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
