"""`examples/api_client.py` as written, against a live `roo serve` whose model is the fake LLM:
it registers, signs in, uploads a file, runs a task answering approvals by its policy (reads
and writes approved, commands denied) and downloads what the task wrote."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.e2e.server import fake_llm_env, running_server
from tests.support.databases import is_postgres
from tests.tasks.conftest import LLM_KEY

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "api_client.py"
SUMMARY = "# Summary\n\nThe notes say hello.\n"


async def test_the_example_runs_a_task_to_completion(database_url: str, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello from the notes\n")
    async with FakeLLM(api_key=LLM_KEY) as llm:
        llm.script(
            Reply(text="Reading.", tool_calls=[ToolCall("read_file", {"path": "notes.txt"})]),
            Reply(
                tool_calls=[ToolCall("write_to_file", {"path": "summary.md", "content": SUMMARY})]
            ),
            Reply(tool_calls=[ToolCall("execute_command", {"command": "rm -rf ."})]),
            Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Summarised."})]),
        )
        env = {
            "ROO_ALLOW_REGISTRATION": "true",
            **fake_llm_env(llm, LLM_KEY),
        }
        with running_server(
            tmp_path / "server", data_dir=tmp_path / "server" / "data",
            database_url=database_url if is_postgres(database_url) else None, extra_env=env,
        ) as server:  # fmt: skip
            process = await asyncio.create_subprocess_exec(
                sys.executable, str(EXAMPLE), "--url", server.base_url, "--register",
                "--email", f"example-{uuid.uuid4().hex[:8]}@example.com",
                "--password", "correct horse battery staple", "--upload", str(notes),
                "--task", "Summarise notes.txt into summary.md", "--result", "summary.md",
                "--output", str(tmp_path / "out.md"),
                cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                env={k: v for k, v in os.environ.items() if not k.startswith("ROO_")},
            )  # fmt: skip
            out, _ = await asyncio.wait_for(process.communicate(), 60)
        output = out.decode()
        assert process.returncode == 0, output
        assert (tmp_path / "out.md").read_text() == SUMMARY
        # the read was approved: the model got the uploaded file's text
        assert "hello from the notes" in json.dumps(llm.requests[2].messages)
        # the command was denied by the policy, with its reason given to the model
        assert "-> deny: The policy of this client does not allow execute_command." in output
        assert "does not allow execute_command" in json.dumps(llm.requests[3].messages)
        assert output.count("-> approve") == 2, output
        assert "completed: Summarised." in output
