"""The system prompt and the `<environment_details>` block (Roo's `src/core/prompts/system.ts`
and `getEnvironmentDetails`, reference 3 and 5.1).

The prompt's text lives in the Markdown templates of this package (read once, cached); this
module only picks the sections that apply and fills `{{placeholders}}`. Tools are sent to the
model natively, so the prompt does not describe them one by one. Everything in the prompt is
stable for a task (pass the task's start time as `now`), so providers can cache it; what changes
between requests (time, cost, files) goes into `environment_details`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources

from roo.agent.modes import CUSTOM_TOOLS, TOOL_GROUPS, Mode
from roo.agent.rules import Rules
from roo.agent.tools.base import Tool
from roo.agent.tools.list_files import TRUNCATED_NOTICE, format_listing

WORKSPACE_ROOT = "/workspace"
OPERATING_SYSTEM = "Linux (sandboxed)"
DEFAULT_SHELL = "bash"
MAX_WORKSPACE_FILES = 200
FILE_LIST_TRUNCATED = TRUNCATED_NOTICE
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True, slots=True)
class WorkspaceFacts:
    """What the engine knows of the workspace when a task starts. `file_listing`: the first
    entries of a recursive listing (`format_file_listing`); `git_status`: `git status` output,
    None when the workspace is not a git repository."""

    file_listing: str = ""
    git_status: str | None = None


@cache
def _template(name: str) -> str:
    return resources.files(__name__).joinpath(f"{name}.md").read_text(encoding="utf-8").strip("\n")


def condense_system_prompt() -> str:
    """Roo's system prompt of the summary request (`SUMMARY_PROMPT`, src/core/condense)."""
    return _template("condense_system")


def condense_instructions() -> str:
    """Roo's `CONDENSE` support prompt (src/shared/support-prompt.ts), word for word: the last
    user turn of the summary request."""
    return _template("condense")


def _render(name: str, **values: str) -> str:
    def value(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return _PLACEHOLDER.sub(value, _template(name))


def _join_words(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def _iso_utc(now: datetime, *, millis: bool) -> str:
    moment = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds" if millis else "seconds").replace("+00:00", "Z")


def format_file_listing(paths: Sequence[str], limit: int = MAX_WORKSPACE_FILES) -> str:
    """Roo's file list for environment_details: one path a line (directories end with `/`), at
    most `limit` entries, then the truncation notice; "No files found." when empty."""
    return format_listing(list(paths[:limit]), len(paths) > limit)


# every edit tool a model may be offered: the group's own and its opt-in ones
_EDIT_TOOLS = frozenset((*TOOL_GROUPS["edit"], *CUSTOM_TOOLS["edit"]))


def _capabilities(names: set[str]) -> str:
    has_read = bool(names & set(TOOL_GROUPS["read"]))
    abilities = []
    if has_read:
        abilities.append("list, search and read the files of the workspace")
    if names & _EDIT_TOOLS:
        abilities.append("create and edit files")
    if "execute_command" in names:
        abilities.append("run shell commands in a sandbox")
    if "new_task" in names:
        abilities.append("delegate subtasks to other modes")
    if "ask_followup_question" in names:
        abilities.append("ask the user follow-up questions")
    details = ""
    if names & {"list_files", "search_files"}:
        details += "\n" + _template("capabilities_read")
    if "execute_command" in names:
        details += "\n" + _template("capabilities_command")
    return _render(
        "capabilities",
        abilities=_join_words(abilities) or "use the tools offered to you",
        details=details,
    )


def _custom_instructions(
    mode: Mode, custom_instructions: str | None, rules: Rules | None
) -> str | None:
    """Roo's `addCustomInstructions`: the session's instructions ("Global Instructions"), the
    mode's ("Mode-specific Instructions"), then the rules files under "Rules:" (the mode's
    rules, AGENTS.md, the generic rules: `roo.agent.rules`)."""
    parts = []
    if custom_instructions and custom_instructions.strip():
        parts.append(f"Global Instructions:\n{custom_instructions.strip()}")
    if mode.custom_instructions and mode.custom_instructions.strip():
        parts.append(f"Mode-specific Instructions:\n{mode.custom_instructions.strip()}")
    rule_parts = [p.strip() for p in rules.parts()] if rules is not None else []
    if rule_parts:
        parts.append("Rules:\n\n" + "\n\n".join(rule_parts))
    if not parts:
        return None
    return _render("custom_instructions", instructions="\n".join(parts).strip())


def build_system_prompt(
    mode: Mode,
    tools: Sequence[Tool],
    workspace: WorkspaceFacts,
    custom_instructions: str | None,
    modes: Mapping[str, Mode],
    *,
    now: datetime | None = None,
    rules: Rules | None = None,
) -> str:
    """The system prompt for `mode` offering `tools` (as `modes.tools_for_mode` picks them).

    Sections in Roo's order: role, Markdown rules, tool use, tool-use guidelines, capabilities,
    modes, rules, system information, objective, then the user's custom instructions (the
    session's as "Global Instructions", the mode's as "Mode-specific Instructions", the
    workspace's rules files under "Rules:") when any.
    `now` (default: the current time) should be the task's start time, so the prompt stays the
    same for the whole task and provider prompt caching works."""
    names = {t.name for t in tools}
    has_edit = bool(names & _EDIT_TOOLS)
    modes_list = "\n".join(
        f'  * "{m.name}" mode ({m.slug}) - {m.when_to_use or m.role_definition.split(".")[0]}'
        for m in modes.values()
    )
    sections = [
        mode.role_definition.strip(),
        _template("markdown_formatting"),
        _template("tool_use"),
        _template("tool_use_guidelines"),
        _capabilities(names),
        _render("modes", modes=modes_list),
        _render(
            "rules",
            workspace=WORKSPACE_ROOT,
            command_rules=("\n" + _template("rules_command") if "execute_command" in names else ""),
            edit_rules="\n" + _template("rules_edit") if has_edit else "",
        ),
        _render(
            "system_info",
            os=OPERATING_SYSTEM,
            shell=DEFAULT_SHELL,
            workspace=WORKSPACE_ROOT,
            time=_iso_utc(now or datetime.now(UTC), millis=False),
            git="\nGit Repository: yes" if workspace.git_status is not None else "",
        ),
        _template("objective"),
    ]
    instructions = _custom_instructions(mode, custom_instructions, rules)
    if instructions:
        sections.append(instructions)
    return "\n\n".join(sections)


_TODO_LINE = re.compile(r"^(?:[-*]\s*)?\[\s*([ xX\-~])\s*\]\s+(.+)$")


def parse_todos(checklist: str | None) -> list[tuple[str, str]]:
    """The todo list as (content, status) pairs from its markdown checklist (Roo's
    `parseMarkdownChecklist`: `[x]` completed, `[-]`/`[~]` in progress, `[ ]` pending; other
    lines are not items)."""
    items: list[tuple[str, str]] = []
    for line in (checklist or "").splitlines():
        match = _TODO_LINE.match(line.strip())
        if match is None:
            continue
        mark = match.group(1)
        status = "completed" if mark in "xX" else "in_progress" if mark in "-~" else "pending"
        items.append((match.group(2).strip(), status))
    return items


_TODO_STATUS = {"pending": "Pending", "in_progress": "In Progress", "completed": "Completed"}


def _reminders(todos: Sequence[tuple[str, str]]) -> str:
    """Roo's REMINDERS section: the todo list as a table (`formatReminderSection`)."""
    if not todos:
        return (
            "You have not created a todo list yet. Create one with `update_todo_list` if your "
            "task is complicated or involves multiple steps."
        )
    lines = [
        "====",
        "",
        "REMINDERS",
        "",
        "Below is your current list of reminders for this task. Keep them updated as you progress.",
        "",
        "| # | Content | Status |",
        "|---|---------|--------|",
    ]
    for index, (content, status) in enumerate(todos, start=1):
        escaped = content.replace("\\", "\\\\").replace("|", "\\|")
        lines.append(f"| {index} | {escaped} | {_TODO_STATUS.get(status, status)} |")
    lines += [
        "",
        "",
        "IMPORTANT: When task status changes, remember to call the `update_todo_list` tool to "
        "update your progress.",
        "",
    ]
    return "\n".join(lines)


def _time_zone(now: datetime) -> str:
    offset = now.utcoffset() if now.tzinfo is not None else None
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    name = (now.tzname() if now.tzinfo is not None else None) or "UTC"
    return f"{name}, UTC{sign}{hours}:{mins:02d}"


def environment_details(
    now: datetime,
    mode: Mode,
    model: str,
    cost: float | None,
    file_listing: str | None = None,
    *,
    git_status: str | None = None,
    todos: Sequence[tuple[str, str]] | None = None,
) -> str:
    """Roo's `<environment_details>` block, appended to every user message: current time,
    git status (when given), current cost (None: not available), current mode, and on the
    first request the workspace file listing. `todos` ((content, status) pairs; status
    pending / in_progress / completed) adds Roo's REMINDERS section; None leaves it out."""
    details = [
        "# Current Time\n"
        f"Current time in ISO 8601 UTC format: {_iso_utc(now, millis=True)}\n"
        f"User time zone: {_time_zone(now)}"
    ]
    if git_status:
        details.append(f"# Git Status\n{git_status}")
    details.append(f"# Current Cost\n{'(Not available)' if cost is None else f'${cost:.2f}'}")
    details.append(
        "# Current Mode\n"
        f"<slug>{mode.slug}</slug>\n"
        f"<name>{mode.name}</name>\n"
        f"<model>{model}</model>\n"
        "<tool_format>native</tool_format>"
    )
    if file_listing is not None:
        details.append(
            f"# Current Workspace Directory ({WORKSPACE_ROOT}) Files\n"
            f"{file_listing or 'No files found.'}"
        )
    body = "\n\n".join(details)
    if todos is not None:
        body += "\n" + _reminders(todos)
    return f"<environment_details>\n{body}\n</environment_details>"
