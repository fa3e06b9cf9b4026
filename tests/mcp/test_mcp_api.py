"""The MCP endpoints, the tools API's MCP calls, secrets, .roo/mcp.json and the egress rules
for remote server URLs."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from roo.sandbox.procs import processes_with
from roo.testing.fake_llm import FakeLLM
from tests.mcp.conftest import MCP_SETTINGS, HttpServer, stdio_server
from tests.support.waiting import eventually
from tests.tasks.conftest import Api

LOOPBACK = {**MCP_SETTINGS, "provider_allowed_hosts": ["127.0.0.1"]}


async def write(api: Api, sid: str, path: str, text: str) -> None:
    response = await api.request(
        "PUT", f"/api/v1/sessions/{sid}/files/{path}", params={"parents": "true"}, content=text
    )
    assert response.status_code in (200, 201), response.text


async def call(api: Api, sid: str, tool: str, params: dict[str, object]) -> dict[str, object]:
    response = await api.request("POST", f"/api/v1/sessions/{sid}/tools/{tool}", json=params)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.mark.task_settings(**MCP_SETTINGS)
async def test_tools_api_calls_stdio_server_tools_and_resources(api: Api, llm: FakeLLM) -> None:
    sid = await api.session(mcpServers={"local": stdio_server()})
    status = (await api.request("GET", f"/api/v1/sessions/{sid}/mcp")).json()
    assert [(s["name"], s["status"], s["source"]) for s in status["servers"]] == [
        ("local", "stopped", "session")
    ]
    echoed = await call(api, sid, "mcp--local--echo", {"text": "direct"})
    assert echoed["isError"] is False
    assert echoed["content"] == [
        {"type": "text", "text": "echo: direct", "mediaType": None, "data": None}
    ]
    via = await call(
        api,
        sid,
        "use_mcp_tool",
        {"server_name": "local", "tool_name": "add", "arguments": '{"a": 4, "b": 5}'},
    )
    assert via["content"][0]["text"] == "9"  # type: ignore[index]
    resource = await call(
        api, sid, "access_mcp_resource", {"server_name": "local", "uri": "note://readme"}
    )
    assert resource["content"][0]["text"] == "the readme resource"  # type: ignore[index]
    unknown = await call(api, sid, "use_mcp_tool", {"server_name": "nope", "tool_name": "x"})
    assert unknown["isError"] is True
    assert json.loads(unknown["content"][0]["text"])["available_servers"] == ["local"]  # type: ignore[index]
    bad = await call(
        api, sid, "use_mcp_tool", {"server_name": "local", "tool_name": "add", "arguments": "{nope"}
    )
    assert json.loads(bad["content"][0]["text"])["type"] == "invalid_argument"  # type: ignore[index]
    missing = await api.request(
        "POST", f"/api/v1/sessions/{sid}/tools/mcp--local--nothing", json={}
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    status = (await api.request("GET", f"/api/v1/sessions/{sid}/mcp")).json()
    (server,) = status["servers"]
    assert server["status"] == "connected"
    assert {t["name"] for t in server["tools"]} >= {"echo", "add", "hang", "crash"}
    assert server["resources"][0]["uri"] == "note://readme"
    # restarted: a new process, still connected
    restarted = await api.request("POST", f"/api/v1/sessions/{sid}/mcp/local/restart")
    assert restarted.status_code == 200, restarted.text
    assert restarted.json()["status"] == "connected"
    again = await call(api, sid, "mcp--local--echo", {"text": "again"})
    assert again["content"][0]["text"] == "echo: again"  # type: ignore[index]
    nothing = await api.request("POST", f"/api/v1/sessions/{sid}/mcp/other/restart")
    assert nothing.status_code == 404
    assert nothing.json()["type"].endswith("mcp-server-not-found")


@pytest.mark.task_settings(**MCP_SETTINGS)
async def test_workspace_mcp_json_replaces_a_session_server(api: Api, llm: FakeLLM) -> None:
    sid = await api.session(mcpServers={"local": stdio_server(disabled=True)})
    config = {"mcpServers": {"local": stdio_server(), "broken": {"command": "/nonexistent/server"}}}
    await write(api, sid, ".roo/mcp.json", json.dumps(config))
    status = (await api.request("GET", f"/api/v1/sessions/{sid}/mcp")).json()
    assert status["workspaceError"] is None
    assert {s["name"]: s["source"] for s in status["servers"]} == {
        "broken": "workspace",
        "local": "workspace",
    }
    echoed = await call(
        api,
        sid,
        "use_mcp_tool",
        {"server_name": "local", "tool_name": "echo", "arguments": {"text": "ws"}},
    )
    assert echoed["content"][0]["text"] == "echo: ws"  # type: ignore[index]
    failed = await call(api, sid, "use_mcp_tool", {"server_name": "broken", "tool_name": "x"})
    assert failed["isError"] is True
    assert "No connection found for server: broken" in failed["content"][0]["text"]  # type: ignore[index]
    status = (await api.request("GET", f"/api/v1/sessions/{sid}/mcp")).json()
    broken = next(s for s in status["servers"] if s["name"] == "broken")
    assert broken["status"] == "failed"
    assert broken["error"]
    await write(api, sid, ".roo/mcp.json", "{not json")
    status = (await api.request("GET", f"/api/v1/sessions/{sid}/mcp")).json()
    assert "not valid JSON" in status["workspaceError"]
    assert [(s["name"], s["status"]) for s in status["servers"]] == [("local", "disabled")]


async def test_secrets_are_stored_encrypted_and_kept_by_null(api: Api, llm: FakeLLM) -> None:
    servers = {
        "s": {
            "type": "sse",
            "url": "https://mcp.example.com/sse",
            "headers": {"Authorization": "Bearer tok-123456"},
        }
    }
    created = await api.request(
        "POST", "/api/v1/sessions", json={"config": {"mcpServers": servers}}
    )
    assert (
        created.status_code == 422
    )  # the host cannot be resolved here: refused like a provider URL
    sid = await api.session(mcpServers={"s": stdio_server(env={"TOKEN": "first-secret"})})
    session = await api.request("GET", f"/api/v1/sessions/{sid}")
    assert "first-secret" not in session.text
    stored = session.json()["config"]["mcpServers"]["s"]
    assert stored["envKeys"] == ["TOKEN"]
    assert "env" not in stored
    assert "secrets" not in stored  # not even the ciphertext
    listed = await api.request("GET", "/api/v1/sessions")
    assert "first-secret" not in listed.text
    assert "secrets" not in json.dumps(listed.json()["items"][0]["config"]["mcpServers"])
    keep = {"mcpServers": {"s": stdio_server(env={"TOKEN": None, "OTHER": "x"})}}
    updated = await api.request("PUT", f"/api/v1/sessions/{sid}", json={"config": keep})
    assert updated.status_code == 200, updated.text
    assert updated.json()["config"]["mcpServers"]["s"]["envKeys"] == ["OTHER", "TOKEN"]
    assert "first-secret" not in updated.text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/mcp",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:80/mcp",
        "http://2130706433/mcp",
    ],
)
async def test_loopback_and_metadata_urls_are_refused(api: Api, llm: FakeLLM, url: str) -> None:
    response = await api.request(
        "POST",
        "/api/v1/sessions",
        json={"config": {"mcpServers": {"r": {"type": "streamable-http", "url": url}}}},
    )
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("mcp-url-refused")


@pytest.mark.task_settings(**MCP_SETTINGS)
async def test_workspace_server_with_a_loopback_url_is_refused_on_connect(
    api: Api, llm: FakeLLM, http_server: HttpServer
) -> None:
    """.roo/mcp.json is not checked when stored: the connection's guard refuses it."""
    sid = await api.session()
    config = {"mcpServers": {"r": {"type": "streamable-http", "url": http_server.url}}}
    await write(api, sid, ".roo/mcp.json", json.dumps(config))
    result = await call(api, sid, "use_mcp_tool", {"server_name": "r", "tool_name": "echo"})
    assert result["isError"] is True
    status = (await api.request("GET", f"/api/v1/sessions/{sid}/mcp")).json()
    assert status["servers"][0]["status"] == "failed"
    assert "ROO_PROVIDER_ALLOWED_HOSTS" in status["servers"][0]["error"]


@pytest.mark.task_settings(**LOOPBACK)
async def test_tools_api_over_http_with_loopback_allowed(
    api: Api, llm: FakeLLM, http_server: HttpServer
) -> None:
    sid = await api.session(
        mcpServers={
            "r": {
                "type": "streamable-http",
                "url": http_server.url,
                "headers": {"X-Key": "hdr-secret"},
            }
        }
    )
    echoed = await call(api, sid, "mcp--r--echo", {"text": "http"})
    assert echoed["content"][0]["text"] == "echo: http"  # type: ignore[index]
    status = await api.request("GET", f"/api/v1/sessions/{sid}/mcp")
    assert "hdr-secret" not in status.text
    session = await api.request("GET", f"/api/v1/sessions/{sid}")
    assert "hdr-secret" not in session.text
    assert session.json()["config"]["mcpServers"]["r"]["headerKeys"] == ["X-Key"]


@pytest.mark.task_settings(**MCP_SETTINGS, mcp_idle_seconds=0.5)
async def test_servers_stop_when_the_session_is_idle_and_start_again(
    api: Api, llm: FakeLLM
) -> None:
    sid = await api.session(mcpServers={"local": stdio_server()})
    first = await call(api, sid, "mcp--local--echo", {"text": "one"})
    assert first["isError"] is False
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        status = (await api.request("GET", f"/api/v1/sessions/{sid}/mcp")).json()
        if status["servers"][0]["status"] == "stopped":
            break
        assert asyncio.get_running_loop().time() < deadline, status
        await asyncio.sleep(0.1)
    again = await call(api, sid, "mcp--local--echo", {"text": "two"})
    assert again["content"][0]["text"] == "echo: two"  # type: ignore[index]


@pytest.mark.task_settings(**(MCP_SETTINGS | {"mcp_start_timeout_seconds": 2.0}))
async def test_a_server_that_never_answers_its_start_is_a_clear_error(
    api: Api, llm: FakeLLM
) -> None:
    sid = await api.session(mcpServers={"mute": {"command": "/bin/sleep", "args": ["3600"]}})
    result = await call(api, sid, "use_mcp_tool", {"server_name": "mute", "tool_name": "x"})
    assert result["isError"] is True
    text = result["content"][0]["text"]  # type: ignore[index]
    assert "No connection found for server: mute" in text
    assert "did not answer within 2 s" in text
    status = (await api.request("GET", f"/api/v1/sessions/{sid}/mcp")).json()
    assert status["servers"][0]["status"] == "failed"


@pytest.mark.task_settings(**MCP_SETTINGS)
async def test_deleting_the_session_stops_its_servers(api: Api, llm: FakeLLM) -> None:
    mark = f"roo-mcp-test-{uuid.uuid4().hex}"
    server = stdio_server()
    server["args"] = [*server["args"], mark]  # findable in the process list
    sid = await api.session(mcpServers={"local": server})
    echoed = await call(api, sid, "mcp--local--echo", {"text": "x"})
    assert echoed["isError"] is False
    assert processes_with(mark)
    deleted = await api.request("DELETE", f"/api/v1/sessions/{sid}")
    assert deleted.status_code == 204
    await eventually(lambda: not processes_with(mark), within=15)


@pytest.mark.task_settings(**LOOPBACK)
async def test_an_sse_server(api: Api, llm: FakeLLM, sse_server: HttpServer) -> None:
    sid = await api.session(mcpServers={"old": {"url": sse_server.url}})  # a bare url is SSE
    echoed = await call(api, sid, "mcp--old--echo", {"text": "sse"})
    assert echoed["content"][0]["text"] == "echo: sse"  # type: ignore[index]
    resource = await call(
        api, sid, "access_mcp_resource", {"server_name": "old", "uri": "note://readme"}
    )
    assert resource["content"][0]["text"] == "the readme resource"  # type: ignore[index]
    status = (await api.request("GET", f"/api/v1/sessions/{sid}/mcp")).json()
    assert (status["servers"][0]["type"], status["servers"][0]["status"]) == ("sse", "connected")


@pytest.mark.task_settings(**MCP_SETTINGS)
async def test_tools_api_cuts_a_long_answer_at_the_sessions_output_cap(
    api: Api, llm: FakeLLM
) -> None:
    sid = await api.session(mcpServers={"local": stdio_server()}, limits={"maxOutputBytes": 2048})
    body = await call(api, sid, "mcp--local--big", {"size": 50_000})
    text = str(body["content"][0]["text"])  # type: ignore[index]
    assert text.startswith("HEAD")
    assert "TAIL" in text
    assert "47960 bytes omitted" in text  # 50,008 bytes, 2,048 kept
    assert "bytes were omitted from the middle" in text  # no artifact outside a task
    assert body["data"] == {"truncated": True, "omittedBytes": 47_960}
    short = await call(api, sid, "mcp--local--big", {"size": 10})
    assert short["content"][0]["text"] == "HEAD----------TAIL"  # type: ignore[index]
    assert short["data"] == {}
