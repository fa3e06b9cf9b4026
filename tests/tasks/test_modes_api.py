"""Custom modes and rules files through the API: a session config's `modes` (refused with 422
naming the field when invalid), the workspace's `.roomodes` (overriding by slug; an invalid one
reported by GET .../modes and refusing new tasks), tasks in custom modes, and the rules files
listed in `task.started` and sent in the system prompt."""

from __future__ import annotations

from typing import Any

from roo.agent.custom_modes import ModesError, mode_table
from roo.agent.rules import load_rules
from roo.sessions.modes import SessionModes
from roo.tasks.modes import WorkspaceSetup
from roo.testing.fake_llm import Reply, ToolCall
from tests.tasks.conftest import Api, FakeLLM

REVIEWER = {
    "slug": "reviewer",
    "name": "Reviewer",
    "roleDefinition": "You review code and never change it.",
    "whenToUse": "Reviews",
    "groups": ["read", ["edit", {"fileRegex": "^reviews/", "description": "Reviews only"}]],
}
ROOMODES = """\
customModes:
  - slug: reviewer
    name: Workspace Reviewer
    roleDefinition: You review code the workspace's way.
    groups: [read]
  - slug: docs-writer
    name: Docs Writer
    roleDefinition: You write documentation.
    groups:
      - read
      - [edit, {fileRegex: "\\\\.md$", description: Markdown files only}]
"""


def done() -> Reply:
    return Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})])


def system_prompt(llm: FakeLLM, index: int = 0) -> str:
    system = llm.requests[index].system
    assert isinstance(system, str)
    return system


async def modes_of(api: Api, session: str) -> dict[str, Any]:
    response = await api.request("GET", f"/api/v1/sessions/{session}/modes")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_session_config_modes(api: Api, llm: FakeLLM) -> None:
    session = await api.session(mode="reviewer", modes=[REVIEWER])
    listed = await modes_of(api, session)
    assert listed["defaultMode"] == "reviewer"
    assert listed["workspaceError"] is None
    by_slug = {m["slug"]: m for m in listed["modes"]}
    assert list(by_slug)[:5] == ["architect", "code", "ask", "debug", "orchestrator"]
    assert by_slug["code"]["source"] == "builtin"
    assert by_slug["reviewer"] == {
        "slug": "reviewer",
        "name": "Reviewer",
        "source": "session",
        "groups": [
            {"name": "read", "fileRegex": None, "description": None},
            {"name": "edit", "fileRegex": "^reviews/", "description": "Reviews only"},
        ],
        "whenToUse": "Reviews",
        "description": None,
    }
    assert by_slug["architect"]["groups"][1]["fileRegex"] == "\\.md$"

    llm.script(
        Reply(
            tool_calls=[
                ToolCall("write_to_file", {"path": "src/x.py", "content": "x"}, id="w1"),
            ]
        ),
        done(),
    )
    task = await api.start(session)  # the session's default mode
    assert task["mode"] == "reviewer"
    final = await api.wait(session, task["id"], "completed")
    assert final["mode"] == "reviewer"
    assert system_prompt(llm).startswith("You review code and never change it.")
    refused = llm.requests[1].body["messages"]
    assert any(
        "can only edit files matching pattern: ^reviews/ (Reviews only). Got: src/x.py"
        in str(m.get("content"))
        for m in refused
    )


async def test_invalid_session_modes_are_refused_naming_the_field(api: Api) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"modes": [{**REVIEWER, "slug": "bad slug"}]}, "slug"),
        ({"modes": [{**REVIEWER, "groups": ["read", "read"]}]}, "Duplicate groups"),
        ({"modes": [{**REVIEWER, "groups": ["reed"]}]}, "unknown group 'reed'"),
        ({"modes": [{**REVIEWER, "groups": [["edit", {"fileRegex": "("}]]}]}, "fileRegex"),
        ({"modes": [{**REVIEWER, "roleDefinition": " "}]}, "roleDefinition"),
        ({"modes": [{**REVIEWER, "colour": "red"}]}, "colour"),
        ({"modes": [REVIEWER, REVIEWER]}, "duplicate slug(s): reviewer"),
        ({"mode": "nobody"}, "unknown mode 'nobody'"),
    ]
    for config, named in cases:
        response = await api.request(
            "POST", "/api/v1/sessions", json={"name": "bad", "config": config}
        )
        assert response.status_code == 422, (config, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert named in response.text, (named, response.text)

    session = await api.session(modes=[REVIEWER])
    response = await api.request(
        "PUT",
        f"/api/v1/sessions/{session}",
        json={"config": {"modes": [{**REVIEWER, "name": ""}]}},
    )
    assert response.status_code == 422
    assert "name" in response.text
    listed = await modes_of(api, session)  # nothing changed
    assert "reviewer" in [m["slug"] for m in listed["modes"]]


async def test_workspace_roomodes_override_and_rules(api: Api, llm: FakeLLM) -> None:
    session = await api.session(modes=[REVIEWER])
    await api.write(session, ".roomodes", ROOMODES)
    await api.write(session, "AGENTS.md", "Use tabs.")
    response = await api.request(
        "PUT",
        f"/api/v1/sessions/{session}/files/.roo/rules-docs-writer/style.md",
        params={"parents": "true"},
        content=b"Short sentences.",
    )
    assert response.status_code == 201, response.text
    listed = await modes_of(api, session)
    by_slug = {m["slug"]: m for m in listed["modes"]}
    assert by_slug["reviewer"]["source"] == "workspace"
    assert by_slug["reviewer"]["name"] == "Workspace Reviewer"
    assert by_slug["docs-writer"]["groups"][1]["fileRegex"] == "\\.md$"

    llm.script(done())
    task = await api.start(session, config={"mode": "docs-writer"})
    await api.wait(session, task["id"], "completed")
    system = system_prompt(llm)
    assert system.startswith("You write documentation.")
    rules = system[system.index("Rules:\n\n") :]
    assert rules.index("# Rules from .roo/rules-docs-writer/style.md:\nShort sentences.") < (
        rules.index("# Agent Rules Standard (AGENTS.md):\nUse tabs.")
    )
    started = await api.wait_event(
        session, lambda e: e["event"] == "task.started" and e["taskId"] == task["id"]
    )
    assert started["data"]["rules"] == [
        {
            "path": ".roo/rules-docs-writer/style.md",
            "bytes": 16,
            "includedBytes": 16,
            "truncated": False,
        },
        {"path": "AGENTS.md", "bytes": 9, "includedBytes": 9, "truncated": False},
    ]
    assert started["data"]["rulesTruncated"] is False

    unknown = await api.create(session, config={"mode": "nobody"})
    assert unknown.status_code == 422
    assert "docs-writer" in unknown.json()["detail"]


async def test_invalid_roomodes_reported_and_refusing_tasks(api: Api) -> None:
    session = await api.session()
    await api.write(
        session,
        ".roomodes",
        "customModes:\n  - slug: x\n    name: X\n    roleDefinition: r\n    groups: [read, read]\n",
    )
    listed = await modes_of(api, session)
    assert listed["workspaceErrors"] == [
        {"field": "customModes[0].groups", "message": "Duplicate groups are not allowed"}
    ]
    assert "customModes[0].groups" in listed["workspaceError"]
    assert [m["source"] for m in listed["modes"]] == ["builtin"] * 5

    response = await api.create(session)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("invalid-modes")
    assert problem["errors"] == listed["workspaceErrors"]

    await api.write(session, ".roomodes", "customModes: [")
    listed = await modes_of(api, session)
    assert "not valid YAML or JSON" in listed["workspaceError"]


def test_a_task_whose_modes_went_bad_fails_at_start(tmp_path: Any) -> None:
    """What the runner does at start (roo.tasks.modes): the .roomodes error, or a mode that
    no longer exists, becomes the task's failure."""
    loader = lambda mode: load_rules(tmp_path, mode)  # noqa: E731
    broken = WorkspaceSetup(
        SessionModes(mode_table(), ModesError("customModes[0].slug: bad")), loader, {}
    )
    end = broken.problem("code")
    assert end is not None
    assert (end.to, end.reason) == ("failed", "invalid_modes")
    assert end.message == "The workspace's .roomodes is invalid: customModes[0].slug: bad"
    gone = WorkspaceSetup(SessionModes(mode_table()), loader, {}).problem("docs-writer")
    assert gone is not None
    assert gone.reason == "unknown_mode"
    assert WorkspaceSetup(SessionModes(mode_table()), loader, {}).problem("code") is None
