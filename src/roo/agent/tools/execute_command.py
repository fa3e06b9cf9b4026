"""`execute_command`: a shell command in the session's sandbox, output streamed as it comes.

Roo's wording (`ExecuteCommandTool.ts`): "Command executed in terminal within working directory
'<cwd>'. [Command execution was not successful, inspect the cause and adjust as needed.\\n]Exit
code: N\\nOutput:\\n...", "Process terminated by signal X", "Working directory '<d>' does not
exist." The command has no terminal and reads EOF on stdin (the sandbox does that).

The model's `timeout` (Roo's agent timeout): inside a task (`ToolContext.background` set), when
it passes the command is left running and the model gets Roo's "Command is still running in
terminal from '<cwd>'. Here's the output so far: ..." text; the command stays bounded by the
session's limits, its end is told at the model's next turn (`BackgroundCommands.take_notes`),
and the run's end kills it (`BackgroundCommands.aclose`). Without a background (the tools API)
the timeout kills the command's process group, with Roo's text for its user-configured timeout
("The command was terminated after exceeding a user-configured Ns timeout. Do not try to re-run
the command.").

An output longer than the model's copy (the session's `maxOutputBytes`, cut in the middle) is
kept whole as an artifact for `read_command_output` when the context has a `CommandOutputs`.
"""

from __future__ import annotations

import asyncio
import codecs
import errno
import posixpath
import stat as stat_module
from collections.abc import Callable

from pydantic import Field

from roo.agent.tools.base import (
    ApprovalCategory,
    Tool,
    ToolContext,
    ToolParams,
    ToolResult,
    busy_error,
)
from roo.agent.tools.read_command_output import ArtifactWriter
from roo.pathguard import PathRejected, relative
from roo.pathguard import stat as guarded_stat
from roo.sandbox import ProcessResult, SandboxBusy, SandboxError, SandboxPathError

SANDBOX_ROOT = "/workspace"  # where the workspace appears to the command
_LIMIT_TEXT = {
    "memory": "the session's memory limit was reached (all its running commands share it)",
    "disk": "the workspace exceeded its disk quota",
    "output": "it produced more output than allowed",
    "processes": "it started more processes than allowed",
    "cpu": "it exceeded the CPU time limit",
    "cancelled": "it was cancelled",
}


class ExecuteCommandParams(ToolParams):
    command: str = Field(description="Shell command to execute (bash syntax).")
    cwd: str | None = Field(
        default=None,
        description="Working directory, relative to the workspace; null for the workspace root.",
    )
    timeout: float | None = Field(
        default=None,
        gt=0,
        description="Seconds to wait for the command; when they pass, it keeps running in the "
        "background and you get the output so far (you are told when it finishes). Null: "
        "wait until it ends (within the session's limit).",
    )


def _display_dir(rel: str) -> str:
    return SANDBOX_ROOT if rel == "." else posixpath.join(SANDBOX_ROOT, rel)


def _seconds(value: float) -> str:
    return f"{value:g}"


def format_result(result: ProcessResult, cwd_display: str, timeout: float | None) -> str:
    """The text the model gets for a finished (or killed) command."""
    output = result.stdout.decode("utf-8", errors="replace") + result.stderr.decode(
        "utf-8", errors="replace"
    )
    if result.timed_out or result.killed_reason == "timeout":
        limit = timeout if timeout is not None else round(result.duration)
        return (
            f"The command was terminated after exceeding a user-configured {_seconds(limit)}s "
            "timeout. Do not try to re-run the command."
        )
    if result.killed_reason is not None:
        status = (
            "Command execution was not successful, inspect the cause and adjust as needed.\n"
            f"The sandbox stopped the command because {_LIMIT_TEXT[result.killed_reason]}.\n"
        )
        status += (
            f"Process terminated by signal {result.signal}"
            if result.signal
            else f"Exit code: {result.exit_code}"
        )
    elif result.signal:
        status = f"Process terminated by signal {result.signal}"
    else:
        status = ""
        if result.exit_code != 0:
            status = (
                "Command execution was not successful, inspect the cause and adjust as needed.\n"
            )
        status += f"Exit code: {result.exit_code}"
    text = (
        f"Command executed in terminal within working directory '{cwd_display}'. {status}\n"
        f"Output:\n{output}"
    )
    omitted = result.stdout_omitted + result.stderr_omitted
    if omitted:
        text += (
            f"\n(Output truncated: {omitted} bytes were omitted from the middle. Redirect the "
            "output to a file and search it if you need the rest.)"
        )
    return text


class ExecuteCommandTool(Tool):
    name = "execute_command"
    description = (
        "Request to execute a CLI command on the system. Use this when you need to perform "
        "system operations or run specific commands to accomplish any step in the user's task. "
        "Tailor the command to the sandbox (Linux, bash), explain what it does, and prefer "
        "complex CLI commands over creating executable scripts. Commands run in the workspace "
        "by default; use `cwd` for a different directory rather than `cd`. The command has no "
        "terminal and reads end-of-file on stdin: interactive programs must be given their "
        "input up front (flags such as --yes, or a pipe). Network access may be unavailable."
    )
    Params = ExecuteCommandParams
    category = ApprovalCategory.EXECUTE

    async def execute(self, params: ExecuteCommandParams, ctx: ToolContext) -> ToolResult:
        if not params.command.strip():
            return ToolResult.error(
                "Missing value for required parameter 'command'. Please retry with complete "
                "response."
            )
        raw_cwd = params.cwd or "."
        try:
            rel = relative(raw_cwd) or "."
        except PathRejected as exc:
            return ToolResult.error(
                f"Working directory '{raw_cwd}' is not allowed: {exc}. Commands run inside the "
                "workspace; give a path relative to it."
            )
        problem = await asyncio.to_thread(_check_dir, ctx, rel, raw_cwd)
        if problem is not None:
            return ToolResult.error(problem)
        display = _display_dir(rel)

        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # the whole output, for read_command_output when the model's copy is cut
        artifact = ctx.command_outputs.writer() if ctx.command_outputs is not None else None
        so_far = _Recent()
        detached = False  # the model has its answer: the output goes on to no event

        async def forward(stream: str, chunk: bytes) -> None:
            if artifact is not None:
                artifact.write(chunk)
            so_far.add(chunk)
            if ctx.on_output is None or detached:
                return
            text = decoder.decode(chunk)
            if text:
                await ctx.on_output(text)

        background = ctx.background if params.timeout is not None else None
        running = asyncio.ensure_future(
            ctx.run_command(
                params.command,
                cwd=rel,
                # Roo's model-given timeout does not kill (the session's limits still do)
                timeout=params.timeout if background is None else None,
                on_output=forward,
                merge_stderr=True,
            )
        )
        try:
            if background is not None:
                await asyncio.wait({running}, timeout=params.timeout)
                if not running.done():
                    detached = True
                    background.adopt(
                        running,
                        lambda result: _finished_note(params.command, result, display, artifact),
                    )
                    return ToolResult(
                        ToolResult.text(still_running(display, so_far.text())).content,
                        data={"running": True, "cwd": display, "artifactId": None},
                    )
            result = await running
        except SandboxPathError as exc:
            _drop(artifact)
            return ToolResult.error(f"Working directory '{raw_cwd}' is not allowed: {exc}")
        except SandboxBusy as exc:
            _drop(artifact)
            return busy_error(exc)
        except (SandboxError, ValueError) as exc:
            _drop(artifact)
            return ToolResult.error(f"The command could not be started: {exc}")
        except BaseException:
            if not detached:
                running.cancel()  # kills the command
                _drop(artifact)
            raise
        tail = decoder.decode(b"", final=True)
        if tail and ctx.on_output is not None:
            await ctx.on_output(tail)

        timed_out = result.timed_out or result.killed_reason == "timeout"
        failed = timed_out or not result.ok
        text, artifact_id = _with_artifact(
            format_result(result, display, params.timeout), result, artifact
        )
        return ToolResult(
            ToolResult.text(text).content,
            is_error=timed_out,
            data={
                "exitCode": result.exit_code,
                "signal": result.signal,
                "timedOut": timed_out,
                "killedReason": result.killed_reason,
                "truncated": result.truncated,
                "cwd": display,
                "failed": failed,
                "durationMs": round(result.duration * 1000),
                "artifactId": artifact_id,
            },
        )


# What "output so far" keeps of a command left running: its last bytes.
SO_FAR_BYTES = 50_000


class _Recent:
    """The last SO_FAR_BYTES of a command's output."""

    def __init__(self) -> None:
        self._data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self._data += chunk
        extra = len(self._data) - SO_FAR_BYTES
        if extra > 0:
            del self._data[:extra]
            self.dropped += extra

    def text(self) -> str:
        text = self._data.decode("utf-8", errors="replace")
        if self.dropped:
            text = f"[... {self.dropped} earlier bytes not shown]\n" + text
        return text


def still_running(cwd_display: str, output: str) -> str:
    """Roo's result for a command still running when the model's timeout passed."""
    return (
        f"Command is still running in terminal from '{cwd_display}'. Here's the output so "
        f"far:\n{output}\n\nYou will be updated on the terminal status and new output in "
        "the future."
    )


def _with_artifact(
    text: str, result: ProcessResult, artifact: ArtifactWriter | None
) -> tuple[str, str | None]:
    """The result text, with the note of the kept full output when the model's copy was cut."""
    if artifact is None:
        return text, None
    if result.stdout_omitted + result.stderr_omitted and artifact.size:
        artifact.keep()
        return text + artifact_note(artifact.artifact_id, artifact.size, artifact.cut), (
            artifact.artifact_id
        )
    artifact.discard()
    return text, None


def _finished_note(
    command: str,
    result: ProcessResult | BaseException,
    cwd_display: str,
    artifact: ArtifactWriter | None,
) -> str:
    """What the model is told, at its next turn, of a command it left running."""
    if isinstance(result, BaseException):
        _drop(artifact)
        return f"The command '{command}' left running in the background failed: {result}"
    text, _ = _with_artifact(format_result(result, cwd_display, None), result, artifact)
    return f"The command '{command}' that was left running in the background has finished.\n{text}"


class BackgroundCommands:
    """The commands of one run left running after the model's timeout (Roo's background
    terminal). They stay bounded by the session's limits (`run_command`: its wall-time limit,
    memory, CPU, processes, output); when one ends, a note waits for the model's next turn
    (`take_notes`); `aclose` (the run ended, was cancelled, or its session is being deleted
    with it) cancels those still running, which kills their process groups."""

    def __init__(self) -> None:
        self._running: set[asyncio.Future[ProcessResult]] = set()
        self._notes: list[str] = []

    def adopt(
        self,
        running: asyncio.Future[ProcessResult],
        note: Callable[[ProcessResult | BaseException], str],
    ) -> None:
        self._running.add(running)

        def done(future: asyncio.Future[ProcessResult]) -> None:
            self._running.discard(future)
            if future.cancelled():
                return
            error = future.exception()
            self._notes.append(note(error if error is not None else future.result()))

        running.add_done_callback(done)

    @property
    def running(self) -> int:
        return len(self._running)

    def take_notes(self) -> list[str]:
        """The notes of the commands that finished since the last call."""
        notes, self._notes = self._notes, []
        return notes

    async def aclose(self) -> None:
        running = list(self._running)
        for future in running:
            future.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        self._running.clear()


def _drop(artifact: ArtifactWriter | None) -> None:
    if artifact is not None:
        artifact.discard()


def artifact_note(artifact_id: str, size: int, cut: bool) -> str:
    """What the model reads about the full output kept for read_command_output."""
    kept = f"the first {size} bytes of it" if cut else f"all {size} bytes of it"
    return (
        f"\nThe full output was persisted ({kept}). Artifact ID: {artifact_id}\n"
        "Use the read_command_output tool with this artifact_id to read it in pages (offset, "
        "limit) or to search it."
    )


def _check_dir(ctx: ToolContext, rel: str, shown: str) -> str | None:
    """None when `rel` is a directory of the workspace, else the message for the model."""
    if rel == ".":
        return None
    try:
        info = guarded_stat(ctx.workspace, rel)
    except PathRejected as exc:
        return f"Working directory '{shown}' is not allowed: {exc}"
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return f"Working directory '{shown}' does not exist."
        return f"Working directory '{shown}' cannot be used: {exc.strerror}"
    if not stat_module.S_ISDIR(info.st_mode):
        return f"Working directory '{shown}' is not a directory."
    return None
