"""The session's WebSocket driven by a client no one here wrote: `wscat` (npm), pinned in
tests/support/wscat (installed by .ci/run, or here on first use when npm is there)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.realtime.conftest import ticket, ws_url
from tests.tasks.conftest import RUN_ANYTHING, Api

ROOT = Path(__file__).resolve().parents[2]
WSCAT_DIR = ROOT / "tests" / "support" / "wscat"
WSCAT = WSCAT_DIR / "node_modules" / ".bin" / "wscat"
NPM_TIMEOUT_SECONDS = 300
Json = dict[str, Any]


def _missing(why: str) -> None:
    """No wscat: a failure under CI (it must install it), a skip that says how elsewhere."""
    how = f"install it with `npm ci --prefix {WSCAT_DIR.relative_to(ROOT)}`"
    if os.environ.get("CI"):
        pytest.fail(f"wscat is needed under CI ({why}): .ci/run must {how}")
    pytest.skip(f"wscat is not installed ({why}): {how} (needs Node.js and npm)")


def _wscat() -> Path:
    if WSCAT.exists():
        return WSCAT
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        _missing("no node or npm")
    result = subprocess.run(
        [str(npm), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=WSCAT_DIR,
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0 or not WSCAT.exists():
        _missing(f"npm ci failed: {result.stdout}{result.stderr}")
    return WSCAT


class Lines:
    """wscat's output, a line at a time: each message received on a line of its own (after its
    `< ` mark, or its `> ` prompt)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.seen: list[str] = []

    async def message(self, within: float = 10.0) -> Json:
        """The next message received (other lines, such as `Connected`, are kept in `seen`)."""
        assert self.process.stdout is not None
        while True:
            try:
                raw = await asyncio.wait_for(self.process.stdout.readline(), within)
            except TimeoutError:
                raise AssertionError(f"no message from wscat in {within} s: {self.seen}") from None
            if not raw:
                raise AssertionError(f"wscat ended: {self.seen}")
            line = raw.decode().strip()
            self.seen.append(line)
            # wscat's prompt (`> `) and received mark (`< `) may precede a message, depending on
            # how its output interleaves with what it reads from stdin
            body = line
            while body[:2] in ("> ", "< "):
                body = body[2:]
            if body.startswith("{"):
                value: Json = json.loads(body)
                return value


async def test_wscat_gets_the_hello_an_event_and_a_pong(
    api: Api, llm: FakeLLM, live: str, http: httpx.AsyncClient
) -> None:
    wscat = _wscat()
    session = await api.session(approvalPolicy=RUN_ANYTHING)
    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Done."})]))
    task = await api.start(session, "finish")
    await api.wait(session, task["id"], "completed")
    stored = await api.events(session)
    url = ws_url(live, session, ticket=await ticket(http, live, api.user.headers, session))
    process = await asyncio.create_subprocess_exec(
        str(wscat), "--no-color", "--connect", url,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        lines = Lines(process)
        hello = await lines.message()
        assert hello["type"] == "hello", hello
        assert hello["sessionId"] == session
        assert hello["state"]["seq"] == stored[-1]["seq"]
        first = await lines.message()
        assert first == stored[0]  # the log replayed, exactly as REST returns it
        assert process.stdin is not None
        process.stdin.write(b'{"type": "ping", "id": "from-wscat"}\n')
        await process.stdin.drain()
        while (reply := await lines.message()).get("type") != "pong":
            assert "seq" in reply, reply  # the rest of the log, then the pong
        assert reply == {"type": "pong", "id": "from-wscat"}
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
