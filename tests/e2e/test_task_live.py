"""A task through the real `roo serve` process: HTTP over sockets to the service, the official
SDK over sockets to the fake LLM server (in a thread), a command in the sandbox, an approval
given over REST, and the event log read back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.e2e.server import LiveServer, fake_llm_env, running_server

KEY = "sk-live-test-key"
EMAIL, PASSWORD = "live@example.com", "correct horse battery staple"


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM(api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def server(
    llm: FakeLLM, database_url: str, redis_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    work = tmp_path_factory.mktemp("task-live")
    env = {
        **fake_llm_env(llm, KEY),
        "ROO_ALLOW_REGISTRATION": "true",
    }
    with running_server(
        work,
        data_dir=work / "data",
        database_url=database_url,
        redis_url=redis_url,
        extra_env=env,
    ) as live:
        yield live


def wait_for(client: httpx.Client, url: str, *states: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        task: dict[str, Any] = client.get(url).json()
        if task["state"] in states:
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.05)


def test_task_with_an_approval_over_real_sockets(
    server: LiveServer, llm: FakeLLM, tmp_path: Path
) -> None:
    llm.script(
        Reply(tool_calls=[ToolCall("write_to_file", {"path": "hi.sh", "content": "echo hi\n"})]),
        Reply(tool_calls=[ToolCall("execute_command", {"command": "sh hi.sh"}, id="run")]),
        Reply(text="Done.", tool_calls=[ToolCall("attempt_completion", {"result": "Said hi."})]),
    )
    with httpx.Client(base_url=server.base_url, timeout=10.0, trust_env=False) as client:
        response = client.post("/api/v1/auth/register", json={"email": EMAIL, "password": PASSWORD})
        assert response.status_code == 202, response.text
        token = client.post(
            "/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}
        ).json()["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        session = client.post(
            "/api/v1/sessions",
            json={"name": "live", "config": {"approvalPolicy": {"autoApproveWrite": True}}},
        ).json()["id"]
        created = client.post(f"/api/v1/sessions/{session}/tasks", json={"input": "Say hi"})
        assert created.status_code == 202, created.text
        url = f"/api/v1/sessions/{session}/tasks/{created.json()['id']}"

        waiting = wait_for(client, url, "awaiting_approval")
        assert waiting["pending"]["text"] == "sh hi.sh"
        response = client.put(
            url, json={"action": "approve", "approvalId": waiting["pending"]["id"]}
        )
        assert response.status_code == 200, response.text
        done = wait_for(client, url, "completed")
        assert done["result"] == "Said hi."

        assert client.get(f"/api/v1/sessions/{session}/files/hi.sh").text == "echo hi\n"
        events = client.get(f"/api/v1/sessions/{session}/events", params={"limit": 1000}).json()
        seqs = [e["seq"] for e in events["items"]]
        assert seqs == list(range(1, len(seqs) + 1))
        output = "".join(
            e["data"].get("output", "")
            for e in events["items"]
            if e["event"] == "tool.execution" and e["data"]["phase"] == "output"
        )
        assert "hi" in output
    # the service's key went to the model server and never into the service's log
    assert llm.requests[0].auth_header is not None
    assert KEY not in server.log_text()
