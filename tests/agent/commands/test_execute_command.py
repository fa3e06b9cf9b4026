"""execute_command in a real sandbox: Roo's wording, streaming, timeouts, working directories."""

from __future__ import annotations

import time
from pathlib import Path

from roo.agent.tools.base import ToolContext
from roo.agent.tools.execute_command import ExecuteCommandTool
from tests.agent.commands.conftest import make_context

NOT_OK = "Command execution was not successful, inspect the cause and adjust as needed.\n"


async def test_success(ctx: ToolContext) -> None:
    result = await ExecuteCommandTool().run({"command": "echo hello"}, ctx)
    assert not result.is_error
    assert result.text_content == (
        "Command executed in terminal within working directory '/workspace'. Exit code: 0\n"
        "Output:\nhello\n"
    )
    assert result.data["exitCode"] == 0
    assert result.data["timedOut"] is False
    assert result.data["truncated"] is False


async def test_failure_exit_code_and_stderr_merged(ctx: ToolContext) -> None:
    result = await ExecuteCommandTool().run(
        {"command": "echo out; echo err >&2; exit 3", "cwd": None, "timeout": None}, ctx
    )
    assert not result.is_error
    text = result.text_content
    assert text.startswith(
        "Command executed in terminal within working directory '/workspace'. "
        f"{NOT_OK}Exit code: 3\nOutput:\n"
    )
    assert "out\n" in text
    assert "err\n" in text
    assert result.data["exitCode"] == 3


async def test_timeout_kills_with_roo_text(ctx: ToolContext) -> None:
    started = time.monotonic()
    result = await ExecuteCommandTool().run({"command": "sleep 30", "timeout": 1}, ctx)
    assert time.monotonic() - started < 8
    assert result.text_content == (
        "The command was terminated after exceeding a user-configured 1s timeout. "
        "Do not try to re-run the command."
    )
    assert result.data["timedOut"] is True
    assert result.data["killedReason"] == "timeout"


async def test_signal(ctx: ToolContext) -> None:
    result = await ExecuteCommandTool().run({"command": "kill -TERM $$"}, ctx)
    assert "Process terminated by signal SIGTERM" in result.text_content
    assert result.data["signal"] == "SIGTERM"


async def test_output_chunks_are_streamed(tmp_path: Path) -> None:
    chunks: list[str] = []

    async def on_output(text: str) -> None:
        chunks.append(text)

    ctx = make_context(tmp_path, on_output=on_output)
    result = await ExecuteCommandTool().run({"command": "echo first; sleep 0.3; echo second"}, ctx)
    assert result.data["exitCode"] == 0
    assert "".join(chunks) == "first\nsecond\n"
    assert len(chunks) >= 2


async def test_stdin_is_eof(ctx: ToolContext) -> None:
    started = time.monotonic()
    result = await ExecuteCommandTool().run({"command": "cat; read x; echo done:$?"}, ctx)
    assert time.monotonic() - started < 5
    assert result.data["exitCode"] == 0
    assert "done:1" in result.text_content


async def test_cwd_relative_to_workspace(tmp_path: Path, ctx: ToolContext) -> None:
    (tmp_path / "sub" / "dir").mkdir(parents=True)
    result = await ExecuteCommandTool().run({"command": "pwd", "cwd": "sub/dir"}, ctx)
    assert "working directory '/workspace/sub/dir'" in result.text_content
    assert "/workspace/sub/dir\n" in result.text_content


async def test_missing_cwd(ctx: ToolContext) -> None:
    result = await ExecuteCommandTool().run({"command": "ls", "cwd": "nope"}, ctx)
    assert result.is_error
    assert result.text_content == "Working directory 'nope' does not exist."


async def test_cwd_that_is_a_file(tmp_path: Path, ctx: ToolContext) -> None:
    (tmp_path / "f").write_text("x")
    result = await ExecuteCommandTool().run({"command": "ls", "cwd": "f"}, ctx)
    assert result.is_error
    assert "is not a directory" in result.text_content


async def test_cwd_escaping_the_workspace_is_refused(tmp_path: Path, ctx: ToolContext) -> None:
    for cwd in ("..", "/etc", "a/../.."):
        result = await ExecuteCommandTool().run({"command": "ls", "cwd": cwd}, ctx)
        assert result.is_error, cwd
        assert "is not allowed" in result.text_content


async def test_cwd_symlink_out_of_the_workspace_is_refused(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "out").symlink_to(tmp_path)
    ctx = make_context(workspace)
    result = await ExecuteCommandTool().run({"command": "ls", "cwd": "out"}, ctx)
    assert result.is_error
    assert "is not allowed" in result.text_content


async def test_output_truncation_is_reported(tmp_path: Path) -> None:
    ctx = make_context(tmp_path, max_output_bytes=4096)
    result = await ExecuteCommandTool().run({"command": "seq 1 20000"}, ctx)
    assert result.data["truncated"] is True
    assert "output truncated" in result.text_content
    assert "(Output truncated:" in result.text_content
    assert result.text_content.rstrip().endswith("the rest.)")


async def test_invalid_parameters(ctx: ToolContext) -> None:
    missing = await ExecuteCommandTool().run({}, ctx)
    assert missing.is_error
    assert "Missing value for required parameter 'command'" in missing.text_content
    empty = await ExecuteCommandTool().run({"command": "   "}, ctx)
    assert empty.is_error
    bad_timeout = await ExecuteCommandTool().run({"command": "true", "timeout": -1}, ctx)
    assert bad_timeout.is_error
    extra = await ExecuteCommandTool().run({"command": "true", "shell": "zsh"}, ctx)
    assert extra.is_error
