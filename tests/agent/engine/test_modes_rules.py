"""Custom modes, rules files and the todo reminder, against the fake LLM.

A `.roomodes` mode limits edits by file regex (Roo's FileRestrictionError text); switch_mode
and new_task take custom slugs; the rules files reach the system prompt in Roo's order under
Roo's headings, capped; the todo list (or Roo's "no todo list yet" text) is in every request.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest

from roo.agent.approval import ApprovalPolicy
from roo.agent.custom_modes import ModesError, mode_table, parse_definitions, read_roomodes
from roo.agent.rules import load_rules
from roo.agent.state import EngineState
from roo.testing import ToolCall

from .conftest import Harness, calls, complete, tool_names, tool_results, user_texts

ROOMODES = """\
customModes:
  - slug: docs-writer
    name: 📝 Docs Writer
    roleDefinition: You are a technical writer who keeps the documentation current.
    whenToUse: Use this mode to write documentation.
    customInstructions: Write in plain English.
    groups:
      - read
      - - edit
        - fileRegex: \\.md$
          description: Markdown files only
"""
NO_TODOS = (
    "You have not created a todo list yet. Create one with `update_todo_list` if your task is "
    "complicated or involves multiple steps."
)


async def test_roomodes_mode_limits_edits_by_file_regex(harness: Harness) -> None:
    (harness.workspace / ".roomodes").write_text(ROOMODES)
    modes = mode_table(workspace=read_roomodes(harness.workspace))
    assert modes["docs-writer"].source == "workspace"
    harness.policy = ApprovalPolicy(auto_approve_write=True)
    harness.llm.script(
        calls(
            ToolCall("write_to_file", {"path": "src/app.py", "content": "x = 1\n"}, id="c1"),
            ToolCall("write_to_file", {"path": "docs/guide.md", "content": "# Guide\n"}, id="c2"),
        ),
        complete(),
    )
    outcome = await harness.run(state=EngineState(mode="docs-writer"), modes=modes)

    assert outcome.status == "completed"
    first = harness.llm.requests[0]
    # the custom mode's role and instructions, and the tools of its groups only
    assert first.system.startswith("You are a technical writer")
    assert "Mode-specific Instructions:\nWrite in plain English." in first.system
    assert '"📝 Docs Writer" mode (docs-writer) - Use this mode to write documentation.' in (
        first.system
    )
    assert "execute_command" not in tool_names(first)
    assert "write_to_file" in tool_names(first)
    results = dict(tool_results(harness.llm.requests[1]))
    assert json.loads(results["c1"])["error"] == (
        "Tool 'write_to_file' in mode '📝 Docs Writer' can only edit files matching pattern: "
        "\\.md$ (Markdown files only). Got: src/app.py"
    )
    assert not (harness.workspace / "src" / "app.py").exists()
    assert (harness.workspace / "docs" / "guide.md").read_text() == "# Guide\n"
    assert "error" not in results["c2"].lower()


async def test_switch_mode_and_new_task_take_custom_slugs(harness: Harness) -> None:
    modes = mode_table(
        parse_definitions(
            [
                {
                    "slug": "reviewer",
                    "name": "Reviewer",
                    "roleDefinition": "You review code.",
                    "groups": ["read"],
                }
            ],
            "modes",
        )
    )
    harness.policy = ApprovalPolicy(auto_approve_mode_switch=True, auto_approve_subtasks=True)
    harness.llm.script(
        calls(ToolCall("switch_mode", {"mode_slug": "reviewer", "reason": "review"}, id="s1")),
        calls(ToolCall("new_task", {"mode": "reviewer", "message": "Review it."}, id="n1")),
        calls(ToolCall("switch_mode", {"mode_slug": "nope", "reason": "x"}, id="s2")),
        complete(),
    )
    outcome = await harness.run(modes=modes)
    assert outcome.status == "completed"
    assert harness.state.mode == "reviewer"
    assert "Successfully switched" in dict(tool_results(harness.llm.requests[1]))["s1"]
    # the reviewer's role, and no edit tools, from the switch on
    assert harness.llm.requests[1].system.startswith("You review code.")
    assert harness.subtasks == [("reviewer", "Review it.", None)]
    assert "Invalid mode" in dict(tool_results(harness.llm.requests[3]))["s2"]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def test_rules_files_in_roos_order(harness: Harness) -> None:
    ws = harness.workspace
    _write(ws / ".roo/rules-code/b-style.md", "Mode rule B.")
    _write(ws / ".roo/rules-code/A-first.md", "Mode rule A.")
    _write(ws / ".roo/rules-code/cache.log", "not a rule")
    _write(ws / ".roorules-code", "shadowed by the directory")
    _write(ws / "AGENTS.md", "Agents rule.")
    _write(ws / "AGENT.md", "shadowed by AGENTS.md")
    _write(ws / "AGENTS.local.md", "Local agents rule.")
    _write(ws / ".roo/rules/generic.md", "Generic rule.")
    _write(ws / ".roorules", "shadowed by .roo/rules/")
    _write(ws / ".roorules-ask", "Ask-only rule.")
    harness.policy = ApprovalPolicy(auto_approve_mode_switch=True)
    harness.llm.script(
        calls(ToolCall("switch_mode", {"mode_slug": "ask", "reason": "questions"}, id="s1")),
        complete(),
    )
    outcome = await harness.run(
        rules_loader=functools.partial(load_rules, ws),
        custom_instructions="Session instruction.",
    )
    assert outcome.status == "completed"
    system = harness.llm.requests[0].system
    section = system[system.index("USER'S CUSTOM INSTRUCTIONS") :]
    expected = [
        "Global Instructions:\nSession instruction.",
        "Rules:\n\n# Rules from .roo/rules-code/A-first.md:\nMode rule A.",
        "# Rules from .roo/rules-code/b-style.md:\nMode rule B.",
        "# Agent Rules Standard (AGENTS.md):\nAgents rule.",
        "# Agent Rules Standard (AGENTS.local.md):\nLocal agents rule.",
        "# Rules from .roo/rules/generic.md:\nGeneric rule.",
    ]
    positions = [section.index(part) for part in expected]
    assert positions == sorted(positions)
    for shadowed in ("shadowed", "not a rule", "Ask-only"):
        assert shadowed not in system
    # after switch_mode the ask mode's rules: .roorules-ask replaces the code directory
    ask_system = harness.llm.requests[1].system
    assert "# Rules from .roorules-ask:\nAsk-only rule." in ask_system
    assert "Mode rule A." not in ask_system
    assert "Generic rule." in ask_system
    listed = harness.events.of("task.rules")
    assert [e["mode"] for e in listed] == ["code", "ask"]
    assert [f["path"] for f in listed[0]["files"]] == [
        ".roo/rules-code/A-first.md",
        ".roo/rules-code/b-style.md",
        "AGENTS.md",
        "AGENTS.local.md",
        ".roo/rules/generic.md",
    ]
    assert listed[0]["files"][2] == {
        "path": "AGENTS.md",
        "bytes": len("Agents rule."),
        "includedBytes": len("Agents rule."),
        "truncated": False,
    }


def test_rules_size_cap_cuts_with_a_note(tmp_path: Path) -> None:
    _write(tmp_path / ".roo/rules-code/1.md", "a" * 60)
    _write(tmp_path / "AGENTS.md", "b" * 100)
    _write(tmp_path / ".roorules", "c" * 10)
    rules = load_rules(tmp_path, "code", max_bytes=100)
    assert rules.truncated
    assert [(f.path, f.bytes, f.included) for f in rules.files] == [
        (".roo/rules-code/1.md", 60, 60),
        ("AGENTS.md", 100, 40),
        (".roorules", 10, 0),
    ]
    assert "a" * 60 in rules.mode
    assert rules.agents.startswith("# Agent Rules Standard (AGENTS.md):\n" + "b" * 40 + "\n[...")
    assert "b" * 41 not in rules.agents
    assert "exceed the limit of 100 bytes; 60 more bytes not included" in rules.agents
    assert rules.generic == ""


def test_rules_links_out_of_the_workspace_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("host secret")
    ws = tmp_path / "ws"
    ws.mkdir()
    os.symlink(outside / "secret.md", ws / "AGENTS.md")
    (ws / ".roo").mkdir()
    os.symlink(outside, ws / ".roo" / "rules")
    _write(ws / "inside.md", "Inside rule.")
    os.symlink("../inside.md", ws / ".roo" / "rules-code")  # a link to a file, not a dir
    os.symlink("inside.md", ws / ".roorules")  # inside the workspace: followed
    rules = load_rules(ws, "code")
    assert "host secret" not in rules.agents + rules.generic + rules.mode
    assert rules.generic == "# Rules from .roorules:\nInside rule."
    os.symlink(outside / "secret.md", ws / ".roomodes")
    with pytest.raises(ModesError, match=r"\.roomodes: cannot be read"):
        read_roomodes(ws)


async def test_todo_reminder_in_every_request(harness: Harness) -> None:
    harness.llm.script(
        calls(ToolCall("read_file", {"path": "missing.txt"}, id="r1")),
        calls(
            ToolCall(
                "update_todo_list", {"todos": "[x] Read the code\n[-] Fix | it\n[ ] Test"}, id="t1"
            )
        ),
        calls(ToolCall("read_file", {"path": "missing.txt"}, id="r2")),
        complete(),
    )
    await harness.run()
    requests = harness.llm.requests
    assert len(requests) == 4
    for request in requests[:2]:
        details = user_texts(request)[-1]
        assert details.startswith("<environment_details>")
        assert details.endswith(f"\n{NO_TODOS}\n</environment_details>")
    table = (
        "REMINDERS\n\n"
        "Below is your current list of reminders for this task. Keep them updated as you "
        "progress.\n\n"
        "| # | Content | Status |\n|---|---------|--------|\n"
        "| 1 | Read the code | Completed |\n"
        "| 2 | Fix \\| it | In Progress |\n"
        "| 3 | Test | Pending |\n"
    )
    for request in requests[2:]:
        details = user_texts(request)[-1]
        assert table in details
        assert NO_TODOS not in details
