"""`roo task run` in a terminal: a task's events shown as they come (rich), its approvals asked
at the keyboard, Ctrl-C cancelling it (docs/client.md, "The `roo` client commands").

`watch` follows a session's events (`AsyncRooClient.follow`) from a `seq`, shows those of the
task (and of the subtasks it delegates to), answers each `approval.required` by the
auto-approval set or by asking, and returns when the task's run ends, with the exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any
from uuid import UUID

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from roo.client.client import AsyncRooClient
from roo.client.errors import Conflict
from roo.client.models import EventOut

# Exit codes of `roo task run` / `roo task resume` (the others are in roo.client.commands)
COMPLETED, NOT_COMPLETED, CANCELLED_HERE = 0, 1, 130

# The auto-approval groups (`--auto-approve read,write,commands`) and the tools of each
READS = frozenset({"read_file", "list_files", "search_files", "list_code_definition_names"})
WRITES = frozenset(
    {"write_to_file", "apply_diff", "insert_content", "search_and_replace", "edit_file"}
)
COMMANDS = frozenset({"execute_command"})
GROUPS = frozenset({"read", "write", "commands"})
# The events that end a run, and the task's state after each
ENDS = {
    "task.complete": "completed",
    "error.occurred": "failed",
    "task.cancelled": "cancelled",
    "task.interrupted": "interrupted",
}
# Parameter values longer than this many lines are cut in the display (the call runs whole)
PARAM_LINES = 12


def parse_groups(value: str | None) -> frozenset[str]:
    """`read,write,commands` (or `all`, `none`) as a set; ValueError naming what is unknown."""
    if value is None:
        return frozenset()
    parts = {part.strip().lower() for part in value.split(",") if part.strip()}
    if parts == {"all"}:
        return GROUPS
    if parts <= {"none"}:
        return frozenset()
    unknown = parts - GROUPS
    if unknown:
        raise ValueError(
            f"unknown auto-approval group {', '.join(sorted(unknown))}: use read, write, "
            "commands, all or none"
        )
    return frozenset(parts)


def group_of(tool: str | None, kind: str) -> str | None:
    if kind == "command" or tool in COMMANDS:
        return "commands"
    if tool in READS:
        return "read"
    if tool in WRITES:
        return "write"
    return None


class Keyboard:
    """Lines typed at the terminal, read without blocking the event loop (the event stream
    goes on being read, and Ctrl-C still cancels). Falls back to a thread for a standard input
    that cannot be watched (a regular file)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdin
        self.buffer = b""
        self.eof = False

    async def readline(self) -> str | None:
        """The next line without its end, or None at end of input."""
        while b"\n" not in self.buffer and not self.eof:
            chunk = await self._read()
            if not chunk:
                self.eof = True
            self.buffer += chunk
        if not self.buffer and self.eof:
            return None
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode(errors="replace").rstrip("\r")

    async def _read(self) -> bytes:
        loop = asyncio.get_running_loop()
        fd = self.stream.fileno()
        ready: asyncio.Future[None] = loop.create_future()
        try:
            loop.add_reader(fd, _wake, ready)
        except (PermissionError, ValueError, OSError):  # a regular file: epoll refuses it
            return await asyncio.to_thread(os.read, fd, 4096)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        try:
            return os.read(fd, 4096)
        except BlockingIOError:
            return await self._read()  # woken with nothing to read: wait again


def _wake(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


@dataclass
class Outcome:
    code: int
    state: str
    result: str | None = None
    message: str | None = None


@dataclass
class TaskView:
    """Prints a task's events: on `console` for a person, or one JSON object a line on `out`
    (`--json`), the prompts then going to standard error."""

    console: Console
    as_json: bool = False
    started: float = field(default_factory=time.monotonic)
    at_line_start: bool = True
    out: IO[str] = field(default_factory=lambda: sys.stdout)

    def line(self, renderable: Any = "", **kwargs: Any) -> None:
        if self.as_json:
            return
        if not self.at_line_start:
            self.console.print()
        self.console.print(renderable, **kwargs)
        self.at_line_start = True

    def stream(self, text: str, style: str | None = None) -> None:
        if self.as_json or not text:
            return
        self.console.print(Text(text, style=style or ""), end="", soft_wrap=True)
        self.at_line_start = text.endswith("\n")

    def show(self, event: EventOut) -> None:
        if self.as_json:
            self.out.write(json.dumps(event.model_dump(mode="json", by_alias=True)) + "\n")
            self.out.flush()
            return
        data = event.data
        name = event.event
        if name == "message":
            style = "dim italic" if data.get("kind") == "reasoning" else None
            self.stream(str(data.get("delta", "")), style)
        elif name == "tool.execution":
            self._tool(data)
        elif name == "task.progress":
            self.line(self.progress(data), style="dim")
        elif name in ("api.retry", "task.warning"):
            detail = data.get("message") or data.get("error") or ""
            self.line(f"[yellow]! {escape(name)}[/] {escape(str(detail))}")
        elif name == "task.mode":
            self.line(f"[magenta]mode[/] {escape(str(data.get('mode') or data.get('to')))}")
        elif name == "context.condensed":
            self.line("[dim]context condensed[/]")
        elif name == "task.delegated":
            self.line(f"[magenta]subtask[/] {escape(str(data.get('childId', '')))}")
        elif name == "task.complete":
            self.line(
                Panel(
                    Text(str(data.get("result") or "")),
                    title="[green]completed[/]",
                    subtitle=self.progress({"usage": data.get("usage") or {}}),
                    border_style="green",
                )
            )
        elif name == "error.occurred":
            self.line(
                f"[red]failed[/] ({escape(str(data.get('reason')))}): "
                f"{escape(str(data.get('message') or ''))}"
            )
        elif name in ("task.cancelled", "task.interrupted"):
            self.line(f"[red]{escape(name.split('.')[1])}[/] {escape(str(data.get('reason')))}")

    def _tool(self, data: Mapping[str, Any]) -> None:
        phase = data.get("phase")
        tool = str(data.get("tool", ""))
        if phase == "start":
            params = data.get("params") or {}
            inline, blocks = [], []
            for key, value in params.items():
                text = value if isinstance(value, str) else json.dumps(value)
                if "\n" in text or len(text) > 80:
                    blocks.append((key, text))
                else:
                    inline.append(f"{key}={text}")
            self.line(f"[bold cyan]> {escape(tool)}[/] {escape(' '.join(inline))}")
            for key, text in blocks:
                lines = text.splitlines() or [""]
                shown = "\n".join(f"    {ln}" for ln in lines[:PARAM_LINES])
                more = len(lines) - PARAM_LINES
                self.line(f"  [cyan]{escape(key)}[/]:")
                self.line(Text(shown, style="dim"))
                if more > 0:
                    self.line(f"    [dim]... {more} more lines[/]")
        elif phase == "output":
            self.stream(str(data.get("output", "")), "dim")
        elif phase == "end":
            took = data.get("durationMs")
            if data.get("isError"):
                first = str(data.get("output") or "").strip().splitlines()[:1]
                self.line(f"[red]x {escape(tool)}[/] {escape(first[0] if first else '')}")
            else:
                self.line(f"[green]ok[/] {escape(tool)} [dim]{took} ms[/]")

    def progress(self, data: Mapping[str, Any]) -> str:
        usage = data.get("usage") or {}
        tokens_in = int(usage.get("input_tokens") or 0) + int(usage.get("cache_read_tokens") or 0)
        tokens_in += int(usage.get("cache_write_tokens") or 0)
        tokens_out = int(usage.get("output_tokens") or 0)
        cost = usage.get("cost")
        price = "cost unknown" if cost is None else f"${float(cost):.4f}"
        step = f"step {data['step']} | " if "step" in data else ""
        elapsed = time.monotonic() - self.started
        return f"{step}tokens {tokens_in:,} in / {tokens_out:,} out | {price} | {elapsed:.1f}s"


@dataclass
class Asker:
    """Answers a task's approvals: the auto-approval set first, then the keyboard."""

    roo: AsyncRooClient
    session_id: UUID
    view: TaskView
    keyboard: Keyboard
    auto: frozenset[str] = frozenset()
    prompt_console: Console | None = None

    def say(self, markup: str | Text, end: str = "\n") -> None:
        console = self.prompt_console or self.view.console
        if not self.view.at_line_start and not self.view.as_json:
            console.print()
        console.print(markup, end=end)
        self.view.at_line_start = end.endswith("\n")

    async def ask(self, question: str) -> str | None:
        self.say(Text(question, style="bold"), end="")
        console = self.prompt_console or self.view.console
        console.file.flush()
        answer = await self.keyboard.readline()
        self.view.at_line_start = True
        return answer

    async def handle(self, task_id: UUID, data: Mapping[str, Any]) -> None:
        approval = data.get("approvalId")
        kind = str(data.get("kind"))
        tool = data.get("tool")
        try:
            if kind in ("tool", "command"):
                await self._tool(task_id, approval, kind, tool, data)
            elif kind in ("api_retry", "auto_approval_limit"):
                what = "the model's API failed" if kind == "api_retry" else "paused"
                self.say(f"[yellow]? {what}:[/] {escape(str(data.get('text')))}")
                answer = await self.ask("Retry? [y/n] " if kind == "api_retry" else "Go on? [y/n] ")
                if (answer or "").strip().lower() in ("y", "yes"):
                    await self.roo.approve(self.session_id, task_id, approval)
                else:
                    await self.roo.deny(self.session_id, task_id, approval)
            else:  # followup, mistake_limit: a question to answer in words
                await self._question(task_id, approval, data)
        except Conflict as refused:  # answered meanwhile (elsewhere), or the task ended
            self.say(f"[dim]not answered here: {escape(refused.detail or refused.title)}[/]")

    async def _tool(
        self, task_id: UUID, approval: Any, kind: str, tool: Any, data: Mapping[str, Any]
    ) -> None:
        group = group_of(tool, kind)
        params = data.get("params") or {}
        what = params.get("command") if group == "commands" else params.get("path")
        subject = f"{tool}" + (f" {what}" if what else "")
        if group in self.auto:
            self.say(f"[green]auto-approved[/] {escape(subject)}")
            await self.roo.approve(self.session_id, task_id, approval)
            return
        self.say(f"[bold yellow]? approve {escape(subject)}[/]")
        while True:
            answer = await self.ask("[y]es, [n]o, [a]lways, or a reason to refuse: ")
            if answer is None:
                self.say("[red]no answer (end of input): denied[/]")
                await self.roo.deny(
                    self.session_id, task_id, approval, feedback="No one answered the approval."
                )
                return
            choice = answer.strip()
            if choice.lower() in ("y", "yes"):
                await self.roo.approve(self.session_id, task_id, approval)
                self.say("[green]approved[/]")
                return
            if choice.lower() in ("a", "always"):
                await self.roo.approve(self.session_id, task_id, approval, always=True)
                self.say("[green]approved (always, for this task)[/]")
                return
            if choice.lower() in ("n", "no"):
                await self.roo.deny(self.session_id, task_id, approval)
                self.say("[red]denied[/]")
                return
            if choice:
                await self.roo.deny(self.session_id, task_id, approval, feedback=choice)
                self.say("[red]denied, with your reason[/]")
                return

    async def _question(self, task_id: UUID, approval: Any, data: Mapping[str, Any]) -> None:
        self.say(f"[bold yellow]? {escape(str(data.get('text') or 'The agent asks'))}[/]")
        suggestions = [str(s.get("text", "")) for s in data.get("suggestions") or []]
        for number, text in enumerate(suggestions, 1):
            self.say(f"  [cyan]{number}[/] {escape(text)}")
        while True:
            answer = await self.ask("Your answer (a number or words): ")
            if answer is None:
                answer = suggestions[0] if suggestions else "Go on as you think best."
            answer = answer.strip()
            if answer.isdigit() and 1 <= int(answer) <= len(suggestions):
                answer = suggestions[int(answer) - 1]
            if answer:
                await self.roo.answer(self.session_id, task_id, answer, approval)
                return


async def last_seq(roo: AsyncRooClient, session_id: UUID) -> int:
    """The `seq` of the session's newest event (0: none): where to follow a new run from."""
    after = 0
    while True:
        page = await roo.events(session_id, after=after, limit=1000)
        after = page.next_after
        if not page.has_more:
            return after


async def watch(
    roo: AsyncRooClient,
    session_id: UUID,
    task_id: UUID,
    *,
    after: int,
    view: TaskView,
    asker: Asker,
) -> Outcome:
    """Show the task's events after `after` and answer its approvals until its run ends."""
    tasks = {task_id}
    events = roo.follow(session_id, after=after)
    try:
        async for event in events:
            if event.event == "task.created" and event.data.get("parentId") in {
                str(t) for t in tasks
            }:
                if event.task_id is not None:
                    tasks.add(event.task_id)
            if event.task_id not in tasks:
                continue
            view.show(event)
            if event.event == "approval.required":
                await asker.handle(event.task_id, event.data)
            if event.task_id == task_id and event.event in ENDS:
                data = event.data
                if event.event == "task.complete":
                    return Outcome(COMPLETED, "completed", result=data.get("result"))
                return Outcome(
                    NOT_COMPLETED,
                    ENDS[event.event],
                    message=str(data.get("message") or data.get("reason") or ""),
                )
    finally:  # leaving early closes the stream's connection at once
        await events.aclose()  # type: ignore[attr-defined]
    return Outcome(NOT_COMPLETED, "unknown", message="the event stream ended")


async def interruptible(
    work: Callable[[], Awaitable[Outcome]], on_interrupt: Callable[[], Awaitable[object]]
) -> Outcome:
    """Run `work()` (a coroutine function returning an Outcome); Ctrl-C (SIGINT) stops it and
    awaits `on_interrupt()` (cancelling the task) instead."""
    loop = asyncio.get_running_loop()
    job: asyncio.Task[Outcome] = asyncio.ensure_future(work())
    interrupted = False

    def stop() -> None:
        nonlocal interrupted
        interrupted = True
        job.cancel()

    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGINT, stop)
    try:
        return await job
    except asyncio.CancelledError:
        if not interrupted:
            raise
        await on_interrupt()
        return Outcome(CANCELLED_HERE, "cancelled", message="cancelled at the keyboard")
    finally:
        with contextlib.suppress(NotImplementedError):
            loop.remove_signal_handler(signal.SIGINT)
