"""`execute_command`: a shell command in the session's sandbox, output streamed as it comes.

Roo's wording (`ExecuteCommandTool.ts`): "Command executed in terminal within working directory
'<cwd>'. [Command execution was not successful, inspect the cause and adjust as needed.\\n]Exit
code: N\\nOutput:\\n...", "Process terminated by signal X", the kill on a timeout ("The command
was terminated after exceeding a user-configured Ns timeout. Do not try to re-run the
command.") and "Working directory '<d>' does not exist." The command has no terminal and reads
EOF on stdin (the sandbox does that); a timeout kills its whole process group.
"""

from __future__ import annotations

import asyncio
import codecs
import errno
import posixpath
import stat as stat_module

from pydantic import Field

from roo.agent.tools.base import (
    ApprovalCategory,
    Tool,
    ToolContext,
    ToolParams,
    ToolResult,
    busy_error,
)
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
        description="Seconds after which the command is killed; null for the session's limit.",
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

        async def forward(stream: str, chunk: bytes) -> None:
            if ctx.on_output is None:
                return
            text = decoder.decode(chunk)
            if text:
                await ctx.on_output(text)

        try:
            result = await ctx.run_command(
                params.command,
                cwd=rel,
                timeout=params.timeout,
                on_output=forward,
                merge_stderr=True,
            )
        except SandboxPathError as exc:
            return ToolResult.error(f"Working directory '{raw_cwd}' is not allowed: {exc}")
        except SandboxBusy as exc:
            return busy_error(exc)
        except (SandboxError, ValueError) as exc:
            return ToolResult.error(f"The command could not be started: {exc}")
        tail = decoder.decode(b"", final=True)
        if tail and ctx.on_output is not None:
            await ctx.on_output(tail)

        timed_out = result.timed_out or result.killed_reason == "timeout"
        failed = timed_out or not result.ok
        return ToolResult(
            ToolResult.text(format_result(result, display, params.timeout)).content,
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
            },
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
