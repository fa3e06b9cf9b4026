"""MCP servers through a task against the fake LLM: a real server written with the SDK, over
stdio inside the session's sandbox and over Streamable HTTP on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest

from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.mcp.conftest import MCP_SETTINGS, HttpServer, stdio_server
from tests.tasks.conftest import Api, tool_results_of

MCP_AUTO = {"autoApproveMcp": True, "mcpAlwaysAllow": {"local": ["*"], "remote": ["*"]}}
LOOPBACK = {**MCP_SETTINGS, "provider_allowed_hosts": ["127.0.0.1"]}


def done(text: str = "done") -> Reply:
    return Reply(tool_calls=[ToolCall("attempt_completion", {"result": text})])


def result_text(llm: FakeLLM, request: int) -> list[str]:
    return [str(msg["content"]) for msg in tool_results_of(llm, request)]


def tool_names(llm: FakeLLM, request: int = 0) -> list[str]:
    return [t["function"]["name"] for t in llm.requests[request].tools]


def tool_spec(llm: FakeLLM, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = next(
        t["function"] for t in llm.requests[0].tools if t["function"]["name"] == name
    )
    return spec


@pytest.mark.task_settings(**MCP_SETTINGS)
async def test_stdio_server_tools_and_resource_in_a_task(api: Api, llm: FakeLLM) -> None:
    """The server starts in the sandbox (cwd /workspace, the sandbox's uid); its tools are
    offered as mcp--local--<tool> with their schemas; a native call, use_mcp_tool and
    access_mcp_resource each reach it; each call is a tool.execution event."""
    sid = await api.session(
        mcpServers={
            "local": stdio_server(env={"PYTHONPATH": "/opt/roo-mcp-site", "TOKEN": "s3cr3t-value"})
        },
        approvalPolicy=MCP_AUTO,
    )
    llm.script(
        Reply(
            tool_calls=[
                ToolCall("mcp--local--echo", {"text": "hi"}, id="c1"),
                ToolCall("mcp--local--where", {}, id="c2"),
                ToolCall(
                    "use_mcp_tool",
                    {"server_name": "local", "tool_name": "add", "arguments": {"a": 2, "b": 3}},
                    id="c3",
                ),
                ToolCall(
                    "access_mcp_resource", {"server_name": "local", "uri": "note://readme"}, id="c4"
                ),
                ToolCall("mcp--local--secret_length", {"name": "TOKEN"}, id="c5"),
            ]
        ),
        done(),
    )
    task = await api.start(sid)
    ended = await api.wait(sid, task["id"], "completed", "failed", within=60)
    assert ended["state"] == "completed", ended
    names = tool_names(llm)
    assert {"mcp--local--echo", "mcp--local--add", "access_mcp_resource"} <= set(names)
    assert "use_mcp_tool" not in names  # kept for models that use it, not offered
    assert tool_spec(llm, "mcp--local--add")["parameters"]["properties"].keys() == {"a", "b"}
    results = result_text(llm, 1)
    assert "echo: hi" in results[0]
    assert "cwd=/workspace uid=65534" in results[1]  # inside the sandbox
    assert results[2] == "5"
    assert "the readme resource" in results[3]
    assert results[4] == str(len("s3cr3t-value"))
    events = await api.events(sid)
    ends = [
        e["data"] for e in events if e["event"] == "tool.execution" and e["data"]["phase"] == "end"
    ]
    assert [e["tool"] for e in ends] == [
        "mcp--local--echo",
        "mcp--local--where",
        "use_mcp_tool",
        "access_mcp_resource",
        "mcp--local--secret_length",
    ]
    assert not any(e["isError"] for e in ends)
    dumped = json.dumps(events)
    assert "s3cr3t-value" not in dumped
    session = await api.request("GET", f"/api/v1/sessions/{sid}")
    assert "s3cr3t-value" not in session.text
    assert session.json()["config"]["mcpServers"]["local"]["envKeys"] == ["PYTHONPATH", "TOKEN"]


@pytest.mark.task_settings(**LOOPBACK)
async def test_http_server_in_a_task(api: Api, llm: FakeLLM, http_server: HttpServer) -> None:
    sid = await api.session(
        mcpServers={
            "remote": {
                "type": "streamable-http",
                "url": http_server.url,
                "headers": {"X-Api-Key": "header-secret-1"},
            }
        },
        approvalPolicy=MCP_AUTO,
    )
    llm.script(
        Reply(
            tool_calls=[
                ToolCall("mcp--remote--echo", {"text": "over http"}, id="c1"),
                ToolCall(
                    "access_mcp_resource",
                    {"server_name": "remote", "uri": "note://readme"},
                    id="c2",
                ),
            ]
        ),
        done(),
    )
    task = await api.start(sid)
    ended = await api.wait(sid, task["id"], "completed", "failed", within=60)
    assert ended["state"] == "completed", ended
    results = result_text(llm, 1)
    assert "echo: over http" in results[0]
    assert "the readme resource" in results[1]
    status = await api.request("GET", f"/api/v1/sessions/{sid}/mcp")
    assert status.status_code == 200, status.text
    body = status.json()
    assert "header-secret-1" not in status.text
    (server,) = body["servers"]
    assert server["status"] == "connected"
    assert server["type"] == "streamable-http"
    assert {t["functionName"] for t in server["tools"]} >= {"mcp--remote--echo"}
    assert "header-secret-1" not in json.dumps(await api.events(sid))


@pytest.mark.task_settings(**MCP_SETTINGS)
async def test_crashing_and_hanging_servers_give_tool_errors_and_the_task_goes_on(
    api: Api, llm: FakeLLM
) -> None:
    sid = await api.session(
        mcpServers={"local": stdio_server(), "slow": stdio_server(timeout=1)},
        approvalPolicy={"autoApproveMcp": True, "mcpAlwaysAllow": {"local": ["*"], "slow": ["*"]}},
    )
    llm.script(
        Reply(tool_calls=[ToolCall("mcp--slow--hang", {}, id="c1")]),
        Reply(tool_calls=[ToolCall("mcp--local--crash", {}, id="c2")]),
        Reply(tool_calls=[ToolCall("mcp--local--echo", {"text": "after"}, id="c3")]),
        done(),
    )
    task = await api.start(sid)
    ended = await api.wait(sid, task["id"], "completed", "failed", within=60)
    assert ended["state"] == "completed", ended
    hang, crash, after = (result_text(llm, i)[-1] for i in (1, 2, 3))
    assert "Error executing MCP tool" in hang
    assert "Request timed out" in hang
    assert "Error executing MCP tool" in crash
    assert "Connection closed" in crash
    assert "about to crash" in crash or "exited with code 3" in crash
    # crashed, then failed for the retry period: Roo's "no connection" answer
    assert "No connection found for server: local" in after
    ends = [
        e["data"]
        for e in await api.events(sid)
        if e["event"] == "tool.execution" and e["data"]["phase"] == "end"
    ]
    assert [e["isError"] for e in ends] == [True, True, True]


@pytest.mark.task_settings(**MCP_SETTINGS)
async def test_mcp_calls_ask_unless_always_allowed(api: Api, llm: FakeLLM) -> None:
    """Roo's rule: MCP auto-approval on AND the tool always allowed (by the server's own
    alwaysAllow or the policy); otherwise the call waits for approval."""
    sid = await api.session(
        mcpServers={"local": stdio_server(alwaysAllow=["echo"])},
        approvalPolicy={"autoApproveMcp": True},
    )
    llm.script(
        Reply(tool_calls=[ToolCall("mcp--local--echo", {"text": "free"}, id="c1")]),
        Reply(tool_calls=[ToolCall("mcp--local--add", {"a": 1, "b": 1}, id="c2")]),
        done(),
    )
    task = await api.start(sid)
    waiting = await api.wait(sid, task["id"], "awaiting_approval", within=60)
    pending = waiting["pending"]
    assert pending["tool"] == "mcp--local--add"
    assert pending["params"] == {
        "type": "use_mcp_tool",
        "serverName": "local",
        "toolName": "add",
        "arguments": {"a": 1, "b": 1},
    }
    answer = await api.act(sid, task["id"], action="approve_always", approvalId=pending["id"])
    assert answer.status_code in (200, 202), answer.text
    ended = await api.wait(sid, task["id"], "completed", "failed", within=30)
    assert ended["state"] == "completed", ended
    assert result_text(llm, 2)[-1] == "2"
    session = (await api.request("GET", f"/api/v1/sessions/{sid}")).json()
    assert session["config"]["approvalPolicy"]["mcpAlwaysAllow"] == {"local": ["add"]}


@pytest.mark.task_settings(**MCP_SETTINGS)
async def test_a_server_that_cannot_start_is_an_event_and_a_tool_error(
    api: Api, llm: FakeLLM
) -> None:
    sid = await api.session(
        mcpServers={"broken": {"command": "/nonexistent/server"}, "local": stdio_server()},
        approvalPolicy=MCP_AUTO | {"mcpAlwaysAllow": {"broken": ["*"], "local": ["*"]}},
    )
    llm.script(
        Reply(
            tool_calls=[
                ToolCall("use_mcp_tool", {"server_name": "broken", "tool_name": "x"}, id="c1"),
                ToolCall("mcp--local--echo", {"text": "still here"}, id="c2"),
            ]
        ),
        done(),
    )
    task = await api.start(sid)
    ended = await api.wait(sid, task["id"], "completed", "failed", within=60)
    assert ended["state"] == "completed", ended
    assert "mcp--local--echo" in tool_names(llm)
    assert not any(name.startswith("mcp--broken--") for name in tool_names(llm))
    broken, echoed = result_text(llm, 1)
    assert "No connection found for server: broken" in broken
    assert "echo: still here" in echoed
    (event,) = [e for e in await api.events(sid) if e["event"] == "mcp.server"]
    assert event["data"]["server"] == "broken"
    assert event["data"]["status"] == "failed"
    assert event["data"]["error"]


@pytest.mark.task_settings(**MCP_SETTINGS)
async def test_a_long_answer_is_cut_like_command_output_and_kept_whole_for_the_model(
    api: Api, llm: FakeLLM
) -> None:
    """Past the session's maxOutputBytes the model gets the head and the tail, the cut marked,
    and the whole answer as an artifact it reads with read_command_output."""
    sid = await api.session(
        mcpServers={"local": stdio_server()},
        approvalPolicy=MCP_AUTO,
        limits={"maxOutputBytes": 4096},
    )
    llm.script(
        Reply(tool_calls=[ToolCall("mcp--local--big", {"size": 100_000}, id="c1")]),
        Reply(
            tool_calls=[
                ToolCall("read_command_output", {"artifact_id": "cmd-1.txt", "offset": 99_000})
            ]
        ),
        done(),
    )
    task = await api.start(sid)
    ended = await api.wait(sid, task["id"], "completed", "failed", within=60)
    assert ended["state"] == "completed", ended
    cut = result_text(llm, 1)[-1]
    assert cut.startswith("HEAD")
    assert "TAIL" in cut
    assert "output truncated" in cut
    assert "Artifact ID: cmd-1.txt" in cut
    assert len(cut) < 4096 + 1024
    rest = result_text(llm, 2)[-1]
    assert "-TAIL" in rest
    (end,) = [
        e["data"]
        for e in await api.events(sid)
        if e["event"] == "tool.execution"
        and e["data"]["phase"] == "end"
        and e["data"]["callId"] == "c1"
    ]
    assert len(json.dumps(end)) < 4096 + 2048  # the event keeps what the model got
