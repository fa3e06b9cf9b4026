"""The system prompt, environment_details and the texts returned to the model."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from roo.agent.modes import MODES, tools_for_mode
from roo.agent.prompts import (
    FILE_LIST_TRUNCATED,
    WorkspaceFacts,
    build_system_prompt,
    environment_details,
    format_file_listing,
)
from roo.agent.prompts import responses as r
from roo.agent.tools.registry import default_registry

NOW = datetime(2026, 4, 14, 9, 30, 5, 123000, tzinfo=UTC)


def prompt(slug: str, custom: str | None = None, git: str | None = None) -> str:
    mode = MODES[slug]
    tools = tools_for_mode(mode, default_registry())
    return build_system_prompt(mode, tools, WorkspaceFacts("a.py", git), custom, MODES, now=NOW)


@pytest.mark.parametrize("slug", list(MODES))
def test_prompt_sections_in_roos_order(slug: str) -> None:
    text = prompt(slug)
    assert text.startswith(MODES[slug].role_definition)
    headings = [
        "MARKDOWN RULES",
        "TOOL USE",
        "# Tool Use Guidelines",
        "CAPABILITIES",
        "MODES",
        "RULES",
        "SYSTEM INFORMATION",
        "OBJECTIVE",
    ]
    positions = [text.index(f"\n{h}\n") for h in headings]
    assert positions == sorted(positions)
    assert "{{" not in text
    assert "}}" not in text


def test_code_prompt_content_and_size() -> None:
    text = prompt("code")
    assert len(text.encode()) < 6000
    assert "at least one tool" in text
    assert "native tool calling" in text
    assert "Operating System: Linux (sandboxed)" in text
    assert "Default Shell: bash" in text
    assert "Current Workspace Directory: /workspace" in text
    assert "Current Time: 2026-04-14T09:30:05Z" in text
    assert "relative to it" in text
    assert "`cd`" in text
    assert "attempt_completion" in text
    assert "NEVER end it with a question" in text
    assert ".rooignore" in text
    assert r"`\.md$`" in text
    assert "execute_command" in text
    assert "write_to_file" in text  # editing guidance, since code mode edits
    assert "USER'S CUSTOM INSTRUCTIONS" not in text
    assert "Git Repository" not in text
    assert "a.py" not in text  # the listing goes into environment_details


def test_modes_list() -> None:
    text = prompt("ask")
    for mode in MODES.values():
        assert f'  * "{mode.name}" mode ({mode.slug}) - {mode.when_to_use}' in text


def test_prompt_adapts_to_the_tools() -> None:
    ask = prompt("ask")
    assert "Commands run from the workspace root" not in ask
    assert "write_to_file is for new files" not in ask
    orchestrator = prompt("orchestrator")
    assert "You can delegate subtasks to other modes and ask the user follow-up questions." in (
        orchestrator
    )
    assert "search_files runs" not in orchestrator


def test_custom_instructions() -> None:
    text = prompt("code", custom="  Always use tabs.  ")
    section = text[text.index("USER'S CUSTOM INSTRUCTIONS") :]
    # the native-protocol wording of Roo's header (the XML era's added "without interfering
    # with the TOOL USE guidelines")
    assert "should be followed to the best of your ability.\n" in section
    assert "Global Instructions:\nAlways use tabs." in section
    assert "Mode-specific" not in section
    assert text.endswith("Always use tabs.")

    debug = prompt("debug", custom="Be brief.")
    section = debug[debug.index("USER'S CUSTOM INSTRUCTIONS") :]
    assert section.index("Global Instructions:\nBe brief.") < section.index(
        "Mode-specific Instructions:\nReflect on 5-7"
    )
    assert "Mode-specific Instructions" in prompt("architect")
    assert "USER'S CUSTOM INSTRUCTIONS" not in prompt("code", custom="   ")


def test_git_repository_line() -> None:
    assert "Git Repository: yes" in prompt("code", git="")


@pytest.mark.parametrize("slug", list(MODES))
def test_prompt_size_bound(slug: str) -> None:
    assert len(prompt(slug, custom="x" * 100).encode()) < 7500


def test_prompt_is_stable_for_a_task() -> None:
    assert prompt("code") == prompt("code")


def test_environment_details_first_request() -> None:
    text = environment_details(NOW, MODES["code"], "claude-sonnet-4-5", 0.1234, "a.py\nsrc/")
    assert text == (
        "<environment_details>\n"
        "# Current Time\n"
        "Current time in ISO 8601 UTC format: 2026-04-14T09:30:05.123Z\n"
        "User time zone: UTC, UTC+0:00\n\n"
        "# Current Cost\n$0.12\n\n"
        "# Current Mode\n"
        "<slug>code</slug>\n"
        "<name>💻 Code</name>\n"
        "<model>claude-sonnet-4-5</model>\n"
        "<tool_format>native</tool_format>\n\n"
        "# Current Workspace Directory (/workspace) Files\n"
        "a.py\nsrc/\n"
        "</environment_details>"
    )


def test_environment_details_later_requests() -> None:
    tz = timezone(timedelta(hours=5, minutes=30), "IST")
    text = environment_details(
        datetime(2026, 4, 14, 15, 0, tzinfo=tz),
        MODES["architect"],
        "gpt-4o",
        None,
        git_status="## main\n M a.py",
        todos=[("Write the plan", "in_progress"), ("Review | ship", "pending")],
    )
    assert "Current time in ISO 8601 UTC format: 2026-04-14T09:30:00.000Z" in text
    assert "User time zone: IST, UTC+5:30" in text
    assert "# Git Status\n## main\n M a.py" in text
    assert "# Current Cost\n(Not available)" in text
    assert "<name>🏗️ Architect</name>" in text
    assert "Files" not in text
    assert "| 1 | Write the plan | In Progress |" in text
    assert "| 2 | Review \\| ship | Pending |" in text
    assert text.endswith("</environment_details>")
    empty = environment_details(NOW, MODES["code"], "m", 0, "", todos=[])
    assert "Files\nNo files found." in empty
    assert "You have not created a todo list yet." in empty


def test_format_file_listing() -> None:
    assert format_file_listing([]) == "No files found."
    assert format_file_listing(["a.py", "src/"]) == "a.py\nsrc/"
    many = [f"f{i}.py" for i in range(250)]
    listing = format_file_listing(many)
    assert listing.count("\n") == 199 + 2
    assert listing.endswith(FILE_LIST_TRUNCATED)


# --- responses, word for word -------------------------------------------------------------


def test_json_results() -> None:
    assert r.tool_denied() == '{"status":"denied","message":"The user denied this operation."}'
    assert r.tool_denied_with_feedback("no, use é") == '{"status":"denied","feedback":"no, use é"}'
    assert (
        r.tool_approved_with_feedback('ok "go"') == '{"status":"approved","feedback":"ok \\"go\\""}'
    )
    assert r.tool_error("boom") == (
        '{"status":"error","message":"The tool execution failed","error":"boom"}'
    )
    assert r.tool_error(None) == '{"status":"error","message":"The tool execution failed"}'
    assert r.too_many_mistakes("slow down") == '{"status":"guidance","feedback":"slow down"}'
    assert json.loads(r.rooignore_error("secret.env")) == {
        "status": "error",
        "type": "access_denied",
        "message": "Access blocked by .rooignore",
        "path": "secret.env",
        "suggestion": "Try to continue without this file, or ask the user to update the "
        ".rooignore file",
    }
    assert r.tool_denied_by_policy() == r.tool_denied()


def test_no_tools_used() -> None:
    text = r.no_tools_used()
    assert text.startswith(
        "[ERROR] You did not use a tool in your previous response! Please retry with a tool use."
        "\n\n# Reminder: Instructions for Tool Use\n\nTools are invoked using the platform's "
        "native tool calling mechanism."
    )
    assert "# Next Steps\n\nIf you have completed the user's task, use the attempt_completion" in (
        text
    )
    assert text.endswith(
        "(This is an automated message, so do not respond to it conversationally.)"
    )


def test_plain_texts() -> None:
    assert r.missing_param("read_file", "path").startswith(
        "Missing value for required parameter 'path'. Please retry with complete response.\n\n"
        "# Reminder: Instructions for Tool Use"
    )
    assert r.missing_param_notice("read_file", "path") == (
        "Roo tried to use read_file without value for required parameter 'path'. Retrying..."
    )
    assert r.tool_repetition_limit("read_file") == (
        "Tool call repetition limit reached for read_file. Please try a different approach."
    )
    assert r.repetition_guidance("read_file").startswith(
        "Roo appears to be stuck in a loop, attempting the same action (read_file) repeatedly."
    )
    assert r.repetition_feedback("stop") == "Tool repetition limit reached. User feedback: stop"
    assert r.interrupted_tool_result() == (
        "Task was interrupted before this tool call could be completed."
    )
    assert r.skipped_after_rejection("execute_command", {"command": "ls"}) == (
        "Skipping tool [execute_command for 'ls'] due to user rejecting a previous tool."
    )
    assert r.skipped_after_rejection("attempt_completion") == (
        "Skipping tool [attempt_completion] due to user rejecting a previous tool."
    )
    assert r.invalid_tool_call("read_file") == (
        "Invalid tool call for 'read_file': missing nativeArgs. This usually means the model "
        "streamed invalid or incomplete arguments and the call could not be finalized."
    )
    assert r.unknown_tool("edit_file", ["read_file", "list_files"]) == (
        'Unknown tool "edit_file". This tool does not exist. Please use one of the available '
        "tools: read_file, list_files."
    )
    assert r.unknown_tool("x", "a, b").endswith("tools: a, b.")
    assert r.truncation_marker(12) == (
        "[Sliding window truncation: 12 messages hidden to reduce context]"
    )
    assert r.task_resumption() == "[TASK RESUMPTION] Resuming task..."
    assert r.user_message("fix it") == "<user_message>\nfix it\n</user_message>"
    assert r.subtask_result("t-1", "Done.") == "Subtask t-1 completed.\n\nResult:\nDone."
    assert r.subtask_delegated("t-1") == "Delegated to child task t-1"
    assert r.not_executed_after("read_file", "new_task") == (
        "This tool was not executed because new_task was called in the same message turn. "
        "The new_task tool must be the last tool in a message."
    )
    assert r.EMPTY_RESULT == "(tool did not return anything)"
    assert r.TODO_UPDATED == "Todo list updated successfully."
    assert r.completion_feedback("more tests") == "<user_message>\nmore tests\n</user_message>"
    assert r.already_in_mode("💻 Code") == "Already in 💻 Code mode."
    assert r.mode_switched("🏗️ Architect", "💻 Code", "implement the plan") == (
        "Successfully switched from 🏗️ Architect mode to 💻 Code mode because: implement the plan."
    )
    assert json.loads(r.invalid_mode("nope"))["error"] == "Invalid mode: nope"
    # Roo's attempt_completion_tool_failed (English), through toolError
    assert r.completion_refused() == (
        '{"status":"error","message":"The tool execution failed","error":"Cannot execute '
        "attempt_completion because a previous tool call failed in this turn. Please address the "
        'tool failure before attempting completion."}'
    )
    assert r.followup_answer("yes") == r.user_message("yes")


@pytest.mark.parametrize(
    ("tool", "params", "label"),
    [
        ("read_file", {"path": "a.py"}, "[read_file for 'a.py']"),
        ("edit", {"file_path": "a.py"}, "[edit for 'a.py']"),
        (
            "search_files",
            {"regex": "foo", "file_pattern": "*.py"},
            "[search_files for 'foo' in '*.py']",
        ),
        ("search_files", {"regex": "foo"}, "[search_files for 'foo']"),
        ("switch_mode", {"mode_slug": "code", "reason": "r"}, "[switch_mode to 'code' because: r]"),
        ("new_task", {"mode": "debug", "message": "m"}, "[new_task in debug mode: 'm']"),
        ("update_todo_list", {"todos": "x"}, "[update_todo_list]"),
        ("read_file", None, "[read_file]"),
    ],
)
def test_tool_description(tool: str, params: dict[str, str] | None, label: str) -> None:
    assert r.tool_description(tool, params) == label


def test_new_task_label_names_the_mode_as_roo() -> None:
    names = {"debug": "🪲 Debug"}
    assert r.skipped_after_rejection("new_task", {"mode": "debug", "message": "m"}, names) == (
        "Skipping tool [new_task in 🪲 Debug mode: 'm'] due to user rejecting a previous tool."
    )
