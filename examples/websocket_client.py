#!/usr/bin/env python3
"""Follow a roo session live over its WebSocket (docs/realtime.md, "WebSocket").

Prints the assistant's text as it streams, the tool calls with their parameters, command output
as it arrives and each task's end; asks at the keyboard when a task waits for an approval or an
answer; reconnects after a dropped connection or a service restart from the last `seq` it saw,
so nothing is missed and nothing is shown twice.

    export ROO_TOKEN=roo_...            # an API key (or an access token from /auth/login)
    python examples/websocket_client.py --url http://127.0.0.1:3000 --session $SESSION
    python examples/websocket_client.py --session $SESSION --task-text "run the tests"

With `--task-text` it starts a task (REST, httpx) once the socket is open and exits when that
task ends: 0 if it completed, 1 if it failed, was cancelled or interrupted. Without it, it
follows the session until Ctrl-C (130). The service refusing the connection for good (bad
credential 4401, missing permission or origin 4403, not your session 4404) exits with 2, and
giving up after `--retries` failed reconnects in a row with 3.

Answers, one line each: `y` approve, `a` approve always (adds the rule to the session's
policy), `n` deny (`n because ...` sends the reason to the model); a question takes the answer
text (or the number of a suggestion). `--auto-approve` and `--deny` answer without asking.
Needs `websockets` (its asyncio client, 13 or later) and `httpx`, both installed with roo.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import sys
import threading
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

Json = dict[str, Any]

EXIT_COMPLETED, EXIT_TASK_FAILED, EXIT_REFUSED, EXIT_GAVE_UP, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
REFUSED = {
    4400: "bad lastSeq",
    4401: "credential refused",
    4403: "forbidden",
    4404: "no such session",
}
# The event that ends a run (after its `task.state`), and the state it ended in
ENDS = {
    "task.complete": "completed",
    "error.occurred": "failed",
    "task.cancelled": "cancelled",
    "task.interrupted": "interrupted",
}
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 10.0


class Refused(Exception):
    """The service will not let this client in: retrying would not help."""


class Keyboard:
    """Lines typed on stdin, read by a daemon thread (so a pending `input()` never holds up
    the exit) with `os.read` (no lock on `sys.stdin` at interpreter shutdown)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._loop = loop
        threading.Thread(target=self._read, name="keyboard", daemon=True).start()

    def _read(self) -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(0, 4096)
            except OSError:  # no stdin at all: as its end
                chunk = b""
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._put(line.decode(errors="replace").strip())
        if pending:  # a last line without a newline
            self._put(pending.decode(errors="replace").strip())
        self._put(None)

    def _put(self, line: str | None) -> None:
        self._loop.call_soon_threadsafe(self.lines.put_nowait, line)

    async def ask(self, prompt: str) -> str | None:
        """The next line (None at end of input)."""
        show(prompt, end="")
        return await self.lines.get()


_mid_line = False  # the last thing printed was a text delta or output without a newline


def show(text: str, end: str = "\n") -> None:
    """Print a line of our own, on a line of its own."""
    global _mid_line
    if _mid_line:
        sys.stdout.write("\n")
    sys.stdout.write(text + end)
    sys.stdout.flush()
    _mid_line = end == "" and not text.endswith("\n")


def stream(text: str) -> None:
    """Print streamed text (a delta, an output chunk) as it is."""
    global _mid_line
    sys.stdout.write(text)
    sys.stdout.flush()
    _mid_line = not text.endswith("\n")


def short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Follower:
    def __init__(self, args: argparse.Namespace, token: str) -> None:
        self.args = args
        self.token = token
        self.base = args.url.rstrip("/")
        self.ws_url = self.base.replace("http", "ws", 1) + f"/api/v1/sessions/{args.session}/ws"
        self.last_seq: int = args.after  # the last event received: the resume point
        self.show_after = args.after  # events up to this are history not shown
        self.caught_up_at = 0  # the hello's `state.seq`: events past it are live
        self.task_id: str | None = None  # the task we started, if any
        self.outcome: int | None = None
        self.done = asyncio.Event()
        self.asked: set[str] = set()  # approvals or questions already asked (or answered)
        self.pending: list[tuple[str, Json]] = []  # (task id, pending) asked once caught up
        self.questions: asyncio.Queue[tuple[str, Json]] = asyncio.Queue()
        self.conn: ClientConnection | None = None
        self.connected = asyncio.Event()  # `conn` is open and past its hello
        self.ids = itertools.count(1)
        self.keyboard: Keyboard | None = None
        self.failures = 0  # connections lost or refused since the last hello
        self.hellos = 0

    # -- the connection, again and again ----------------------------------------------------

    async def run(self) -> int:
        if not (self.args.auto_approve or self.args.deny):
            self.keyboard = Keyboard(asyncio.get_running_loop())
        with contextlib.suppress(NotImplementedError):  # (Windows: Ctrl-C raises instead)
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._interrupted)
        answering = asyncio.create_task(self._answer_questions())
        try:
            while not self.done.is_set():
                try:
                    await self._connect_once()
                except Refused as refused:
                    show(f"refused: {refused}")
                    return EXIT_REFUSED
                except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError) as exc:
                    if isinstance(exc, InvalidStatus) and exc.response.status_code in (401, 403):
                        show(f"refused: HTTP {exc.response.status_code}")
                        return EXIT_REFUSED
                    why = _closed_why(exc) if isinstance(exc, ConnectionClosed) else repr(exc)
                    if self.done.is_set():
                        break
                    self.failures += 1
                    if self.failures > self.args.retries:
                        show(f"gave up after {self.args.retries} reconnects: {why}")
                        return EXIT_GAVE_UP
                    delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self.failures - 1))
                    delay *= random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret
                    show(f"connection lost ({why}); reconnecting in {delay:.1f} s")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.done.wait(), delay)
        finally:
            answering.cancel()
        return EXIT_COMPLETED if self.outcome is None else self.outcome

    def _interrupted(self) -> None:
        show("stopped")
        self.outcome = EXIT_INTERRUPTED
        self.done.set()

    async def _connect_once(self) -> None:
        """One connection: auth, hello, then messages until the task ends or it closes."""
        async with connect(self.ws_url, open_timeout=10, max_size=2**22) as conn:
            auth: Json = {"type": "auth", "token": self.token, "lastSeq": self.last_seq}
            await conn.send(json.dumps(auth))
            try:
                hello = json.loads(await conn.recv())
            except ConnectionClosed as closed:
                _raise_if_refused(closed)
                raise
            self.conn = conn
            try:
                await self._hello(hello)
                self.connected.set()
                receiving = asyncio.create_task(self._receive(conn))
                ending = asyncio.create_task(self.done.wait())
                await asyncio.wait({receiving, ending}, return_when=asyncio.FIRST_COMPLETED)
                for job in (receiving, ending):
                    job.cancel()
                if receiving.done() and not receiving.cancelled():
                    receiving.result()  # ConnectionClosed: raised here
                    raise ConnectionError("closed by the service")  # (1000, 1001)
            except ConnectionClosed as closed:
                _raise_if_refused(closed)
                raise
            finally:
                self.connected.clear()
                self.conn = None

    async def _hello(self, hello: Json) -> None:
        state = hello["state"]
        self.caught_up_at = state["seq"]
        self.failures, self.hellos = 0, self.hellos + 1
        if self.hellos > 1:
            show(f"reconnected after seq {hello['lastSeq']}")
        else:
            show(f"following session {hello['sessionId']} (seq {state['seq']})")
        if self.args.task_text is not None and self.task_id is None:
            self.show_after = max(self.show_after, state["seq"])  # our task's events only
            self.task_id = await self._start_task()
            show(f"started task {self.task_id}")
        # questions that were pending before: asked once the replay has caught up with them
        self.pending = [(t["id"], t["pending"]) for t in state["tasks"] if t.get("pending")]
        if self.last_seq >= self.caught_up_at:
            self._caught_up()

    async def _start_task(self) -> str:
        try:
            async with httpx.AsyncClient(base_url=self.base, timeout=30.0) as http:
                response = await http.post(
                    f"/api/v1/sessions/{self.args.session}/tasks",
                    json={"input": self.args.task_text},
                    headers={"Authorization": f"Bearer {self.token}"},
                )
        except httpx.HTTPError as exc:
            raise Refused(f"the task was not created: {exc!r}") from None
        if response.status_code != 202:
            problem = response.json() if "json" in response.headers.get("content-type", "") else {}
            raise Refused(
                f"the task was not created: {response.status_code} {problem.get('detail', '')}"
            )
        return str(response.json()["id"])

    def _caught_up(self) -> None:
        for task_id, pending in self.pending:
            self._ask(task_id, pending)
        self.pending = []

    # -- what the service sends ---------------------------------------------------------------

    async def _receive(self, conn: ClientConnection) -> None:
        async for raw in conn:
            message = json.loads(raw)
            if "seq" not in message:
                self._control(message)
                continue
            self.last_seq = message["seq"]
            if message["seq"] > self.show_after:
                self._event(message)
            if message["seq"] >= self.caught_up_at:  # (an event of a deleted task never comes)
                self._caught_up()

    def _control(self, message: Json) -> None:
        if message.get("type") == "error":
            problem = message.get("problem", {})
            detail = problem.get("detail") or problem.get("title")
            show(f"! refused ({problem.get('status')}): {detail}")

    def _event(self, event: Json) -> None:
        name, data = event["event"], event["data"]
        if name == "message" and data.get("kind") == "text":
            stream(data["delta"])
        elif name == "tool.execution":
            if data["phase"] == "start":
                params = ", ".join(f"{k}={short(v)}" for k, v in data.get("params", {}).items())
                show(f"> {data['tool']}({params})")
            elif data["phase"] == "output":
                stream(data["output"])
            elif data["phase"] == "end":
                code = data.get("data", {}).get("exitCode")
                status = "error" if data.get("isError") else "ok"
                detail = f"exit {code}" if code is not None else status
                show(f"< {data['tool']}: {detail} ({data.get('durationMs', 0)} ms)")
        elif name == "approval.required":
            if event["seq"] > self.caught_up_at:
                self._ask(event["taskId"], {"id": data["approvalId"], **data})
        elif name == "approval.resolved":
            show(f"= {data['action']}" + (f": {data['text']}" if data.get("text") else ""))
        elif name == "task.complete":
            show(f"task completed: {short(data.get('result') or '', 2000)}")
        elif name == "error.occurred":
            show(f"! {data.get('reason')}: {data.get('message')}")
        elif name in ("task.cancelled", "task.interrupted"):
            show(f"task {name.split('.')[1]}: {data.get('reason')}")
        if name in ENDS and event["taskId"] == self.task_id:  # the last event of its run
            show(f"task {self.task_id} {ENDS[name]}")
            self.outcome = EXIT_COMPLETED if name == "task.complete" else EXIT_TASK_FAILED
            self.done.set()

    # -- answering ------------------------------------------------------------------------------

    def _ask(self, task_id: str, pending: Json) -> None:
        if pending["id"] in self.asked:
            return
        self.asked.add(pending["id"])
        self.questions.put_nowait((task_id, pending))

    async def _answer_questions(self) -> None:
        """One question at a time, in the order they came."""
        while True:
            task_id, pending = await self.questions.get()
            message = await self._decide(pending)
            if message is None:
                continue
            message.update(id=next(self.ids), taskId=task_id)
            await self.connected.wait()  # (while the connection is being re-established)
            assert self.conn is not None  # noqa: S101 - set with `connected`
            try:
                await self.conn.send(json.dumps(message))
            except ConnectionClosed:  # still pending: the next hello asks again
                self.asked.discard(pending["id"])

    async def _decide(self, pending: Json) -> Json | None:
        """The message answering `pending`: from the options, or typed."""
        kind, text = pending["kind"], pending.get("text") or ""
        suggestions = [s.get("text", "") for s in pending.get("suggestions") or []]
        question = kind in ("followup", "mistake_limit")
        approval: Json = {"type": "approval.response", "approvalId": pending["id"]}
        if self.args.deny:
            show(f"? {kind}: {short(text)} -> deny (--deny)")
            return {**approval, "decision": "deny"}
        if self.args.auto_approve:
            show(f"? {kind}: {short(text)} -> approve (--auto-approve)")
            if question:
                answer = suggestions[0] if suggestions else "Go on."
                return {"type": "task.message", "text": answer}
            return {**approval, "decision": "approve"}
        assert self.keyboard is not None  # noqa: S101 - interactive unless told otherwise
        if question:
            for number, suggestion in enumerate(suggestions, 1):
                show(f"  {number}. {suggestion}")
            line = await self.keyboard.ask(f"? {short(text, 2000)}\n  your answer (n to refuse): ")
        else:
            target = text or f"{pending.get('tool')} {short(pending.get('params'))}"
            line = await self.keyboard.ask(
                f"? {kind}: {target}\n  [y]es, [a]lways, [n]o (reason): "
            )
        if line is None:
            show("(no more input: the question stays pending)")
            return None
        word, _, rest = line.partition(" ")
        if word.lower() in ("n", "no", "deny"):
            return {**approval, "decision": "deny", **({"feedback": rest} if rest else {})}
        if question:
            if line.isdigit() and 1 <= int(line) <= len(suggestions):
                line = suggestions[int(line) - 1]
            return {"type": "task.message", "text": line or "Go on."}
        decision = "approve_always" if word.lower() in ("a", "always") else "approve"
        return {**approval, "decision": decision, **({"feedback": rest} if rest else {})}


def _closed_why(closed: ConnectionClosed) -> str:
    if closed.rcvd is None:
        return "no close frame"
    return f"{closed.rcvd.code} {closed.rcvd.reason}".strip()


def _raise_if_refused(closed: ConnectionClosed) -> None:
    if closed.rcvd is not None and closed.rcvd.code in REFUSED:
        code = closed.rcvd.code
        raise Refused(f"{code} {REFUSED[code]}: {closed.rcvd.reason}") from None


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--url", default=os.environ.get("ROO_URL", "http://127.0.0.1:3000"))
    parser.add_argument("--session", required=True, help="the session's id")
    parser.add_argument(
        "--token",
        default=os.environ.get("ROO_TOKEN") or os.environ.get("ROO_API_KEY"),
        help="an API key or access token (default: $ROO_TOKEN, else $ROO_API_KEY)",
    )
    parser.add_argument("--task-text", help="start a task with this input; exit when it ends")
    parser.add_argument("--after", type=int, default=0, help="show events after this seq (0)")
    parser.add_argument("--retries", type=int, default=10, help="reconnects in a row (10)")
    answers = parser.add_mutually_exclusive_group()
    answers.add_argument("--auto-approve", action="store_true", help="approve everything")
    answers.add_argument("--deny", action="store_true", help="deny everything")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("no credential: --token, $ROO_TOKEN or $ROO_API_KEY")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        return asyncio.run(Follower(args, args.token).run())
    except KeyboardInterrupt:
        show("stopped")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
