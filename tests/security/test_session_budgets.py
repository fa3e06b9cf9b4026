"""Budgets of a session's tool calls and commands (roo.security.session_limits, issue #16): the
tools API answers 429 problem+json with the budget's RateLimit headers past them, a task's agent
reads a tool error and goes on; commands are audited with their text, secrets redacted."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.auth.conftest import SignedIn, SignIn
from tests.security.test_rate_limits import within_one_window
from tests.sessions.test_commands import new_session
from tests.tasks.conftest import RUN_ANYTHING, Api, api, llm, make_api, settings, tool_results_of

__all__ = ["api", "llm", "make_api", "settings"]

DAY = 86400
SECRET = "sk-plantedsecret0123456789abcdef"


async def run_tool(
    client: httpx.AsyncClient, user: SignedIn, sid: str, tool: str, params: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        f"/api/v1/sessions/{sid}/tools/{tool}", headers=user.headers, json=params
    )


async def own_audit(client: httpx.AsyncClient, user: SignedIn, action: str) -> list[dict[str, Any]]:
    response = await client.get(
        "/api/v1/auth/audit", params={"action": action, "limit": 200}, headers=user.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def policies(response: httpx.Response) -> list[str]:
    """Every `RateLimit-Policy` field of an answer (several header lines or one list)."""
    return [
        item.strip()
        for line in response.headers.get_list("ratelimit-policy")
        for item in line.split(",")
    ]


def remaining(response: httpx.Response, policy: str) -> int:
    for line in response.headers.get_list("ratelimit"):
        for item in line.split(","):
            match = re.fullmatch(rf'\s*"{policy}";r=(\d+);t=(\d+)\s*', item)
            if match:
                return int(match.group(1))
    raise AssertionError(f"no RateLimit for {policy}: {response.headers}")


@pytest.mark.task_settings(rate_limit_session_tools="3/day")
async def test_the_tools_api_has_a_tool_budget_per_session(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await within_one_window(DAY, 120)
    user, stranger = await sign_in(), await sign_in()
    sid, other_sid = await new_session(client, user), await new_session(client, user)
    params = {"path": ".", "recursive": False}
    seen = []
    for _ in range(2):
        ok = await run_tool(client, user, sid, "list_files", params)
        assert ok.status_code == 200, ok.text
        assert f'"session-tools";q=3;w={DAY}' in policies(ok)
        assert any(p.startswith('"user";') for p in policies(ok))  # the request's own budget too
        seen.append(remaining(ok, "session-tools"))
    assert seen == [2, 1]
    # another user's calls on this session are 404 and spend nothing of its budget
    for _ in range(3):
        assert (await run_tool(client, stranger, sid, "list_files", params)).status_code == 404
    assert (await run_tool(client, user, sid, "list_files", params)).status_code == 200
    refused = await run_tool(client, user, sid, "list_files", params)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["type"] == "urn:roo:problem:session-rate-limited"
    assert body["policy"] == "session-tools"
    assert 1 <= int(refused.headers["retry-after"]) <= DAY
    assert f'"session-tools";q=3;w={DAY}' in policies(refused)
    assert remaining(refused, "session-tools") == 0
    # the user's other session has a budget of its own
    assert (await run_tool(client, user, other_sid, "list_files", params)).status_code == 200


@pytest.mark.task_settings(rate_limit_session_commands="1/day")
async def test_the_tools_api_has_a_command_budget_and_audits_the_command_text(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    await within_one_window(DAY, 120)
    user = await sign_in()
    sid = await new_session(client, user)
    command = f"OPENAI_API_KEY={SECRET} echo started-$((40 + 2))"
    first = await run_tool(
        client, user, sid, "execute_command", {"command": command, "cwd": None, "timeout": None}
    )
    assert first.status_code == 200, first.text
    assert first.json()["isError"] is False
    assert "started-42" in first.json()["content"][0]["text"]
    # a second command is refused before it starts, as a 429 of the session-commands budget
    again = await run_tool(
        client,
        user,
        sid,
        "execute_command",
        {"command": "touch made-it", "cwd": None, "timeout": None},
    )
    assert again.status_code == 429, again.text
    assert again.json()["type"] == "urn:roo:problem:session-rate-limited"
    assert again.json()["policy"] == "session-commands"
    assert f'"session-commands";q=1;w={DAY}' in policies(again)
    assert int(again.headers["retry-after"]) >= 1
    listing = await run_tool(client, user, sid, "list_files", {"path": ".", "recursive": False})
    assert "made-it" not in listing.text  # nothing ran
    rows = await own_audit(client, user, "tools.execute")
    commands = [
        row["detail"].get("command") for row in rows if row["detail"]["tool"] == ("execute_command")
    ]
    assert commands == ["OPENAI_API_KEY=[REDACTED] echo started-$((40 + 2))"]
    assert SECRET not in str(rows)


def calls(*pairs: tuple[str, dict[str, Any]]) -> Reply:
    return Reply(tool_calls=[ToolCall(name, params) for name, params in pairs])


DONE = Reply(text="Done.", tool_calls=[ToolCall("attempt_completion", {"result": "ok"})])


@pytest.mark.task_settings(rate_limit_session_tools="2/day")
async def test_an_agent_past_the_tool_budget_reads_a_tool_error_and_goes_on(
    api: Api, llm: FakeLLM
) -> None:
    await within_one_window(DAY, 120)
    session = await api.session()
    listing = ("list_files", {"path": ".", "recursive": False})
    llm.script(calls(listing, ("read_file", {"path": "missing.txt"}), listing), DONE)
    task = await api.start(session)
    done = await api.wait(session, task["id"], "completed")
    assert done["state"] == "completed"
    results = tool_results_of(llm, 1)
    assert len(results) == 3
    refused = results[2]["content"]
    assert "The tool was not run" in refused
    assert "tool calls" in refused
    assert "The tool was not run" not in results[0]["content"] + results[1]["content"]
    events = await api.events(session)
    ends = [
        e["data"] for e in events if e["event"] == "tool.execution" and e["data"]["phase"] == "end"
    ]
    assert [e["isError"] for e in ends][-1] is True
    assert ends[-1]["data"] == {"rate_limited": True}


@pytest.mark.task_settings(rate_limit_session_commands="2/day")
async def test_an_agent_past_the_command_budget_reads_a_tool_error_and_commands_are_audited(
    api: Api, llm: FakeLLM, client: httpx.AsyncClient
) -> None:
    await within_one_window(DAY, 120)
    session = await api.session(approvalPolicy=RUN_ANYTHING)

    def run(command: str) -> tuple[str, dict[str, Any]]:
        return ("execute_command", {"command": command})

    llm.script(
        calls(run("echo one"), run(f"curl -s -H 'Authorization: Bearer {SECRET}' x || true")),
        calls(run("touch never-made")),
        DONE,
    )
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    third = tool_results_of(llm, 2)[-1]["content"]
    assert "could not be started" in third
    assert "2 commands" in third
    listing = await api.request(
        "POST",
        f"/api/v1/sessions/{session}/tools/list_files",
        json={"path": ".", "recursive": False},
    )
    assert "never-made" not in listing.text
    rows = await own_audit(client, api.user, "commands.execute")
    by_outcome = sorted((row["outcome"], row["detail"]["command"]) for row in rows)
    assert by_outcome == [
        ("denied", "touch never-made"),
        ("success", "curl -s -H 'Authorization: [REDACTED]' x || true"),
        ("success", "echo one"),
    ]
    assert all(row["detail"]["task_id"] == task["id"] for row in rows)
    assert all(row["sessionId"] == session for row in rows)
    assert SECRET not in str(rows)
