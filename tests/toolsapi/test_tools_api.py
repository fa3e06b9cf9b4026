"""The tools API end to end: listing, running tools in a session's workspace, refusals."""

from __future__ import annotations

import httpx
import pytest

from roo.api.state import Resources
from roo.security.egress import AllowedHosts
from tests.auth.conftest import SignedIn, SignIn
from tests.sessions.test_commands import new_session, workspace


async def run(
    client: httpx.AsyncClient, user: SignedIn, sid: str, tool: str, params: object
) -> httpx.Response:
    return await client.post(
        f"/api/v1/sessions/{sid}/tools/{tool}", headers=user.headers, json=params
    )


async def test_list_and_describe_tools(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    user = await sign_in("viewer")
    listing = await client.get("/api/v1/tools", headers=user.headers)
    assert listing.status_code == 200
    tools = {t["name"]: t for t in listing.json()}
    expected = {
        "read_file", "write_to_file", "apply_diff", "edit", "insert_content", "list_files",
        "search_files", "list_code_definition_names", "execute_command", "ask_followup_question",
        "attempt_completion", "switch_mode", "new_task", "update_todo_list",
    }  # fmt: skip
    assert expected <= set(tools)
    assert tools["read_file"]["category"] == "read"
    assert tools["execute_command"]["permissions"] == ["tools:execute", "commands:execute"]
    assert tools["attempt_completion"]["directlyExecutable"] is False
    assert tools["read_file"]["parameters"]["properties"]["path"]["type"] == "string"
    alias = await client.get("/api/v1/tools/search_and_replace", headers=user.headers)
    assert alias.json()["name"] == "edit"
    missing = await client.get("/api/v1/tools/rm_rf", headers=user.headers)
    assert missing.status_code == 404


async def test_tools_work_in_the_workspace(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    sid = await new_session(client, user)
    wrote = await run(
        client, user, sid, "write_to_file", {"path": "src/hello.py", "content": "print('hi')\n"}
    )
    assert wrote.status_code == 200, wrote.text
    assert wrote.json()["isError"] is False
    assert (workspace(resources, sid) / "src" / "hello.py").read_text() == "print('hi')\n"
    read = await run(client, user, sid, "read_file", {"path": "src/hello.py"})
    assert read.json()["isError"] is False
    assert "1 | print('hi')" in read.json()["content"][0]["text"]
    ran = await run(
        client,
        user,
        sid,
        "execute_command",
        {"command": "python3 src/hello.py", "cwd": None, "timeout": None},
    )
    body = ran.json()
    assert body["isError"] is False, body
    assert body["data"]["exitCode"] == 0
    assert "hi" in body["content"][0]["text"]
    change = {"file_path": "src/hello.py", "old_string": "hi", "new_string": "bye"}
    edited = await run(client, user, sid, "edit", {**change, "replace_all": False})
    assert edited.json()["isError"] is False, edited.json()
    assert "bye" in (workspace(resources, sid) / "src" / "hello.py").read_text()


async def test_tool_failures_are_results_not_errors(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    sid = await new_session(client, user)
    escape = await run(client, user, sid, "read_file", {"path": "../../etc/passwd"})
    assert escape.status_code == 200
    assert escape.json()["isError"] is True
    (workspace(resources, sid) / ".rooignore").write_text("secrets/\n")
    (workspace(resources, sid) / "secrets").mkdir()
    (workspace(resources, sid) / "secrets" / "key.txt").write_text("hidden")
    ignored = await run(client, user, sid, "read_file", {"path": "secrets/key.txt"})
    assert ignored.json()["isError"] is True
    assert "hidden" not in ignored.text


@pytest.mark.parametrize(
    ("tool", "params", "field"),
    [
        ("read_file", {}, "body.path"),
        ("read_file", {"path": "a", "bogus": 1}, "body.bogus"),
        ("execute_command", {"command": 5, "cwd": None, "timeout": None}, "body.command"),
    ],
)
async def test_bad_parameters_are_422(
    client: httpx.AsyncClient, sign_in: SignIn, tool: str, params: dict[str, object], field: str
) -> None:
    user = await sign_in()
    sid = await new_session(client, user)
    response = await run(client, user, sid, tool, params)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_interaction_tools_are_not_directly_executable(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in()
    sid = await new_session(client, user)
    response = await run(client, user, sid, "attempt_completion", {"result": "done"})
    assert response.status_code == 400
    assert "engine" in response.json()["detail"]


async def test_permissions_and_ownership(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    alice = await sign_in()
    viewer = await sign_in("viewer")
    sid = await new_session(client, alice)
    denied = await run(client, viewer, sid, "read_file", {"path": "x"})
    assert denied.status_code == 403
    bob = await sign_in()
    other = await run(client, bob, sid, "list_files", {"path": ".", "recursive": False})
    assert other.status_code == 404


async def test_commands_without_isolation_are_refused_when_required(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    resources: Resources,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from roo.sandbox import Sandbox, bwrap

    monkeypatch.setattr(bwrap, "bwrap_problem", lambda: "bwrap is not installed")
    resources.sessions_manager.sandbox = Sandbox(require_isolation=True)
    user = await sign_in()
    sid = await new_session(client, user)
    params = {"command": "true", "cwd": None, "timeout": None}
    # For the agent it is a tool failure it can read...
    response = await run(client, user, sid, "execute_command", params)
    assert response.status_code == 200
    assert response.json()["isError"] is True
    assert "bwrap is not installed" in response.json()["content"][0]["text"]
    # ...and any other command the service would start answers 503, never 500.
    resources.settings = resources.settings.model_copy(update={"allow_git_clone": True})
    resources.credentials.egress.allowed = AllowedHosts.parse(["127.0.0.1"])
    clone = await client.post(
        f"/api/v1/sessions/{sid}/workspace/clone",
        headers=user.headers,
        json={"url": "git://127.0.0.1:9/none.git"},
    )
    assert clone.status_code == 503
    assert clone.json()["type"] == "urn:roo:problem:sandbox-unavailable"
