"""`examples/websocket_client.py` run as a program against the live service (uvicorn on
loopback, the fake LLM asking for a command approval): answers typed on its stdin or given by
flag, its output, its exit codes, and its reconnect after the service restarts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.realtime.conftest import serving
from tests.support.github_double import HOST
from tests.tasks.conftest import RUN_ANYTHING, Api, MakeApi

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "websocket_client.py"
PROMPT = "[y]es, [a]lways, [n]o (reason): "
Json = dict[str, Any]


class Client:
    """The example running in a subprocess; its stdout read as it comes (text deltas and
    prompts end without a newline)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output = ""
        self._seen = 0  # where the next `expect` starts looking

    async def expect(self, text: str, within: float = 20.0) -> None:
        """Read until `text` appears (after what an earlier `expect` matched)."""
        assert self.process.stdout is not None
        async with asyncio.timeout(within):
            while (found := self.output.find(text, self._seen)) < 0:
                chunk = await self.process.stdout.read(4096)
                if not chunk:
                    raise AssertionError(f"exited before {text!r}:\n{self.output}")
                self.output += chunk.decode()
        self._seen = found + len(text)

    async def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def finish(self, within: float = 30.0) -> int:
        """Its exit code, once it ended by itself; everything it printed is in `output`."""
        assert self.process.stdout is not None
        async with asyncio.timeout(within):
            self.output += (await self.process.stdout.read()).decode()
            return await self.process.wait()

    def started_task(self) -> str:
        found = re.search(r"started task ([0-9a-f-]{36})", self.output)
        assert found, self.output
        return found.group(1)


@asynccontextmanager
async def example(base: str, session: str, *args: str, token: str) -> AsyncIterator[Client]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROO_")}
    env["ROO_TOKEN"] = token  # the credential from the environment, as a user would
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), "--url", base, "--session", session, *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        yield Client(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _command_then_done(llm: FakeLLM) -> None:
    llm.script(
        Reply(
            text="Let me run it.",
            tool_calls=[ToolCall("execute_command", {"command": "echo one; echo two"})],
        ),
        Reply(text="All good.", tool_calls=[ToolCall("attempt_completion", {"result": "Done."})]),
    )


async def _resolved(api: Api, session: str) -> list[Json]:
    return [e["data"] for e in await api.events(session) if e["event"] == "approval.resolved"]


# -- a task started, watched and answered -------------------------------------------------------


async def test_a_task_approved_at_the_keyboard(api: Api, llm: FakeLLM, live: str) -> None:
    session = await api.session()  # commands ask for approval
    _command_then_done(llm)
    async with example(live, session, "--task-text", "run it", token=api.user.token) as client:
        await client.expect("? command: echo one; echo two\n  " + PROMPT)
        await client.type("y")
        code = await client.finish()
    out = client.output
    assert code == 0, out
    task = await api.task(session, client.started_task())
    assert task["state"] == "completed"
    assert task["result"] == "Done."
    assert (await _resolved(api, session))[0]["action"] == "approve"
    # in the order it happened: text, the question, the call with its parameters, its output
    expected = [
        "Let me run it.",
        "? command: echo one; echo two",
        "= approve",
        "> execute_command(command=echo one; echo two)",
        "one\ntwo\n",
        "< execute_command: exit 0",
        "All good.",
        "task completed: Done.",
        f"task {task['id']} completed",
    ]
    positions = [out.find(piece) for piece in expected]
    assert -1 not in positions, (expected, out)
    assert positions == sorted(positions), out
    assert out.count(PROMPT) == 1


async def test_a_denial_with_a_reason_typed_at_the_keyboard(
    api: Api, llm: FakeLLM, live: str
) -> None:
    session = await api.session()
    _command_then_done(llm)
    async with example(live, session, "--task-text", "run it", token=api.user.token) as client:
        await client.expect(PROMPT)
        await client.type("n not on this machine")
        code = await client.finish()
    assert code == 0, client.output  # the model then completes without running it
    (resolved,) = await _resolved(api, session)
    assert resolved["action"] == "deny"
    assert "not on this machine" in str(llm.requests[-1].body["messages"])
    assert "one\ntwo" not in client.output  # the command never ran
    assert "= deny" in client.output


async def test_auto_approve_answers_without_asking(api: Api, llm: FakeLLM, live: str) -> None:
    session = await api.session()
    _command_then_done(llm)
    async with example(
        live, session, "--task-text", "run it", "--auto-approve", token=api.user.token
    ) as client:
        code = await client.finish()
    assert code == 0, client.output
    assert "-> approve (--auto-approve)" in client.output
    assert PROMPT not in client.output
    assert "one\ntwo\n" in client.output
    assert (await api.task(session, client.started_task()))["state"] == "completed"
    assert (await _resolved(api, session))[0]["action"] == "approve"


async def test_a_task_cancelled_while_it_asks_exits_1(api: Api, llm: FakeLLM, live: str) -> None:
    session = await api.session()
    _command_then_done(llm)
    async with example(live, session, "--task-text", "run it", token=api.user.token) as client:
        await client.expect(PROMPT)
        task_id = client.started_task()
        response = await api.request("DELETE", f"/api/v1/sessions/{session}/tasks/{task_id}")
        assert response.status_code == 200, response.text
        code = await client.finish()  # the question unanswered: it does not wait for a line
    assert code == 1, client.output
    assert f"task {task_id} cancelled" in client.output


async def test_a_question_answered_by_the_number_of_a_suggestion(
    api: Api, llm: FakeLLM, live: str
) -> None:
    session = await api.session()
    llm.script(
        Reply(
            tool_calls=[
                ToolCall(
                    "ask_followup_question",
                    {
                        "question": "Which file?",
                        "follow_up": [{"text": "a.txt"}, {"text": "b.txt"}],
                    },
                )
            ]
        ),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Done."})]),
    )
    async with example(live, session, "--task-text", "ask me", token=api.user.token) as client:
        await client.expect("  1. a.txt\n  2. b.txt\n? Which file?\n  your answer (n to refuse): ")
        await client.type("2")
        code = await client.finish()
    assert code == 0, client.output
    (resolved,) = await _resolved(api, session)
    assert (resolved["action"], resolved["text"]) == ("answer", "b.txt")
    assert "b.txt" in str(llm.requests[-1].body["messages"])


async def test_following_a_session_until_ctrl_c(api: Api, llm: FakeLLM, live: str) -> None:
    session = await api.session(approvalPolicy=RUN_ANYTHING)
    _command_then_done(llm)
    async with example(live, session, token=api.user.token) as client:
        await client.expect("following session")
        task = await api.start(session, "run it")  # started elsewhere: it is shown all the same
        await client.expect("task completed: Done.")
        client.process.send_signal(signal.SIGINT)
        code = await client.finish()
    assert code == 130, client.output
    assert "one\ntwo\n" in client.output
    assert client.output.endswith("stopped\n")
    assert (await api.task(session, task["id"]))["state"] == "completed"


async def test_a_question_pending_before_it_connects_is_asked_after_the_replay(
    api: Api, llm: FakeLLM, live: str
) -> None:
    session = await api.session()
    _command_then_done(llm)
    task = await api.start(session, "run it")
    await api.wait(session, task["id"], "awaiting_approval")
    async with example(live, session, token=api.user.token) as client:
        await client.expect(PROMPT)
        await client.type("a")
        await client.expect("task completed: Done.")
        client.process.send_signal(signal.SIGINT)
        assert await client.finish() == 130, client.output
    out = client.output
    # the log first (the text before the question), then the question from the hello, once
    assert (
        out.index("Let me run it.")
        < out.index("? command: echo one; echo two")
        < out.index("= approve_always")
    )
    assert out.count(PROMPT) == 1
    assert (await api.task(session, task["id"]))["state"] == "completed"
    policy = (await api.request("GET", f"/api/v1/sessions/{session}")).json()["config"]
    assert "echo" in " ".join(policy["approvalPolicy"]["allowedCommands"])


# -- refusals --------------------------------------------------------------------------------------


async def test_refusals_exit_2_with_the_reason(api: Api, make_api: MakeApi, live: str) -> None:
    session = await api.session()
    async with example(live, session, token="roo_not-a-key") as client:
        assert await client.finish() == 2, client.output
    assert "refused: 4401" in client.output
    stranger = await make_api()
    async with example(live, session, token=stranger.user.token) as client:
        assert await client.finish() == 2, client.output
    assert "refused: 4404" in client.output


# -- reconnecting ----------------------------------------------------------------------------


def _bind(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    return sock


async def test_it_reconnects_after_a_restart_from_its_last_seq(
    api: Api, llm: FakeLLM, app: FastAPI
) -> None:
    session = await api.session()
    _command_then_done(llm)
    first = _bind()
    port = first.getsockname()[1]
    stopped = asyncio.Event()
    stopping = asyncio.Event()

    async def serve(sock: socket.socket) -> None:
        async with serving(app, sock):
            await stopping.wait()  # uvicorn then closes the open socket with 1012
        stopped.set()

    server = asyncio.create_task(serve(first))
    base = f"http://{HOST}:{port}"
    try:
        async with example(base, session, "--task-text", "run it", token=api.user.token) as client:
            await client.expect(PROMPT)
            stopping.set()
            await asyncio.wait_for(stopped.wait(), 15)
            await client.expect("connection lost (1012")
            await client.type("y")  # answered while it is away: sent once it is back
            stopping.clear()
            server = asyncio.create_task(serve(_bind(port)))
            await client.expect("reconnected after seq ")
            code = await client.finish()
    finally:
        stopping.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server, 15)
    out = client.output
    assert code == 0, out
    events = await api.events(session)
    asked = next(e for e in events if e["event"] == "approval.required")
    # it resumed right after the last event it had: the approval, nothing before it again
    assert f"reconnected after seq {asked['seq']}" in out
    for once in ("Let me run it.", "> execute_command(", "= approve", "one\ntwo\n", "All good."):
        assert out.count(once) == 1, (once, out)
    assert out.count(PROMPT) == 1  # the pending approval in the new hello is not asked again
    assert (await api.task(session, client.started_task()))["state"] == "completed"
