"""The texts the engine sends back to the model, word for word from Roo's current (native tool
calling) era: `src/core/prompts/responses.ts` and the strings of `presentAssistantMessage.ts`
and `Task.ts` (reference 1.1, 5.1, 5.4). Models are trained on these; do not reword them.

JSON results are serialised like JavaScript's `JSON.stringify`: compact, non-ASCII kept, keys
whose value is undefined (None) left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

TOOL_USE_REMINDER = (
    "# Reminder: Instructions for Tool Use\n\n"
    "Tools are invoked using the platform's native tool calling mechanism. Each tool requires "
    "specific parameters as defined in the tool descriptions. Refer to the tool definitions "
    "provided in your system instructions for the correct parameter structure and usage "
    "examples.\n\n"
    "Always ensure you provide all required parameters for the tool you wish to use."
)
EMPTY_RESULT = "(tool did not return anything)"
TODO_UPDATED = "Todo list updated successfully."
# UI text of the mistake_limit_reached ask.
MISTAKE_LIMIT_GUIDANCE = (
    "This may indicate a failure in the model's thought process or inability to use a tool "
    'properly, which can be mitigated with some user guidance (e.g. "Try breaking down the '
    'task into smaller steps").'
)


def _json(**fields: Any) -> str:
    return json.dumps(
        {k: v for k, v in fields.items() if v is not None},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def tool_denied() -> str:
    return _json(status="denied", message="The user denied this operation.")


def tool_denied_with_feedback(feedback: str | None) -> str:
    return _json(status="denied", feedback=feedback)


def tool_approved_with_feedback(feedback: str | None) -> str:
    """Put in front of the tool's result, separated by a blank line."""
    return _json(status="approved", feedback=feedback)


def tool_error(error: str | None) -> str:
    return _json(status="error", message="The tool execution failed", error=error)


def tool_denied_by_policy() -> str:
    """A call the deny list refused without asking: Roo answers it like a user's "no"."""
    return tool_denied()


def rooignore_error(path: str) -> str:
    return _json(
        status="error",
        type="access_denied",
        message="Access blocked by .rooignore",
        path=path,
        suggestion="Try to continue without this file, or ask the user to update the .rooignore "
        "file",
    )


def no_tools_used() -> str:
    return (
        "[ERROR] You did not use a tool in your previous response! Please retry with a tool "
        f"use.\n\n{TOOL_USE_REMINDER}\n\n"
        "# Next Steps\n\n"
        "If you have completed the user's task, use the attempt_completion tool.\n"
        "If you require additional information from the user, use the ask_followup_question "
        "tool.\n"
        "Otherwise, if you have not completed the task and do not need additional information, "
        "then proceed with the next step of the task.\n"
        "(This is an automated message, so do not respond to it conversationally.)"
    )


def too_many_mistakes(feedback: str | None) -> str:
    """The user's answer to the mistake_limit_reached ask."""
    return _json(status="guidance", feedback=feedback)


def missing_param(tool: str, param: str) -> str:
    """Tool result for a call without a required parameter. (Roo's template escapes its
    newlines by mistake; we send real ones.) `tool` is for `missing_param_notice`."""
    return (
        f"Missing value for required parameter '{param}'. Please retry with complete response."
        f"\n\n{TOOL_USE_REMINDER}"
    )


def missing_param_notice(tool: str, param: str) -> str:
    """What the user sees (say "error") for the same mistake."""
    return f"Roo tried to use {tool} without value for required parameter '{param}'. Retrying..."


def tool_repetition_limit(tool: str) -> str:
    return f"Tool call repetition limit reached for {tool}. Please try a different approach."


def repetition_guidance(tool: str) -> str:
    """Text of the mistake_limit_reached ask raised by the repetition detector."""
    return (
        f"Roo appears to be stuck in a loop, attempting the same action ({tool}) repeatedly. "
        "This might indicate a problem with its current strategy. Consider rephrasing the task, "
        "providing more specific instructions, or guiding it towards a different approach."
    )


def repetition_feedback(feedback: str) -> str:
    return f"Tool repetition limit reached. User feedback: {feedback}"


def interrupted_tool_result() -> str:
    return "Task was interrupted before this tool call could be completed."


def tool_description(
    tool: str,
    params: Mapping[str, Any] | None = None,
    mode_names: Mapping[str, str] | None = None,
) -> str:
    """Roo's `[tool for 'arg']` label of a tool call; `mode_names` (slug -> name) gives
    new_task's mode by name, as Roo's label does."""
    p = params or {}
    key = {
        "execute_command": "command",
        "read_file": "path",
        "write_to_file": "path",
        "apply_diff": "path",
        "insert_content": "path",
        "list_files": "path",
        "list_code_definition_names": "path",
        "edit": "file_path",
        "ask_followup_question": "question",
    }.get(tool)
    if tool == "search_files":
        pattern = f" in '{p['file_pattern']}'" if p.get("file_pattern") else ""
        return f"[{tool} for '{p.get('regex')}'{pattern}]"
    if tool == "switch_mode":
        reason = f" because: {p['reason']}" if p.get("reason") else ""
        return f"[{tool} to '{p.get('mode_slug')}'{reason}]"
    if tool == "new_task":
        slug = p.get("mode") or "code"
        mode = (mode_names or {}).get(slug, slug)
        return f"[{tool} in {mode} mode: '{p.get('message') or '(no message)'}']"
    if key is not None and p.get(key) is not None:
        return f"[{tool} for '{p[key]}']"
    return f"[{tool}]"


def skipped_after_rejection(
    tool: str,
    params: Mapping[str, Any] | None = None,
    mode_names: Mapping[str, str] | None = None,
) -> str:
    label = tool_description(tool, params, mode_names)
    return f"Skipping tool {label} due to user rejecting a previous tool."


def not_executed_after(tool: str, last_tool: str = "new_task") -> str:
    """A call that came after new_task in the same message (it must be the last one)."""
    return (
        f"This tool was not executed because {last_tool} was called in the same message turn. "
        f"The {last_tool} tool must be the last tool in a message."
    )


def invalid_tool_call(name: str) -> str:
    """A known tool whose arguments could not be parsed (send it through `tool_error`)."""
    return (
        f"Invalid tool call for '{name}': missing nativeArgs. This usually means the model "
        "streamed invalid or incomplete arguments and the call could not be finalized."
    )


def unknown_tool(name: str, available: str | Sequence[str]) -> str:
    """A tool name that does not exist (send it through `tool_error`). `available`: the tool
    names, or already joined with ", "."""
    names = available if isinstance(available, str) else ", ".join(available)
    return (
        f'Unknown tool "{name}". This tool does not exist. Please use one of the available '
        f"tools: {names}."
    )


def truncation_marker(hidden: int) -> str:
    return f"[Sliding window truncation: {hidden} messages hidden to reduce context]"


def task_resumption() -> str:
    return "[TASK RESUMPTION] Resuming task..."


def user_message(text: str) -> str:
    return f"<user_message>\n{text}\n</user_message>"


def subtask_delegated(task_id: str) -> str:
    return f"Delegated to child task {task_id}"


def subtask_result(task_id: str, summary: str) -> str:
    return f"Subtask {task_id} completed.\n\nResult:\n{summary}"


def completion_feedback(text: str) -> str:
    """attempt_completion's result when the user answered the completion with a message:
    Roo's `AttemptCompletionTool` sends the message itself in the `<user_message>` form (the
    user's images follow it in the same tool result)."""
    return user_message(text)


# The English text of Roo's `attempt_completion_tool_failed` (its webview locale). Roo's
# extension looks the key up in a catalogue that lacks it, so its model gets the bare key
# "errors.attempt_completion_tool_failed"; we send the text the key stands for.
COMPLETION_REFUSED = (
    "Cannot execute attempt_completion because a previous tool call failed in this turn. "
    "Please address the tool failure before attempting completion."
)


def completion_refused() -> str:
    """attempt_completion refused because a tool failed earlier in the same turn."""
    return tool_error(COMPLETION_REFUSED)


def followup_answer(text: str) -> str:
    return user_message(text)


def followup_declined() -> str:
    """The user dismissed a follow-up question without answering."""
    return tool_denied()


def invalid_mode(slug: str) -> str:
    return tool_error(f"Invalid mode: {slug}")


def already_in_mode(name: str) -> str:
    return f"Already in {name} mode."


def mode_switched(previous: str, target: str, reason: str | None) -> str:
    """`previous` and `target` are the modes' names (e.g. "🏗️ Architect")."""
    because = f" because: {reason}" if reason else ""
    return f"Successfully switched from {previous} mode to {target} mode{because}."


def auto_approval_request_limit(count: int) -> str:
    """Roo's auto_approval_max_req_reached ask for the request limit (its UI text)."""
    return (
        f"Roo has reached the auto-approved limit of {count} API request(s). Would you like to "
        "reset the count and proceed with the task?"
    )


def auto_approval_cost_limit(cost: float) -> str:
    """The same for the cost limit; the cost with two decimals as Roo's `toFixed(2)`."""
    return (
        f"Roo has reached the auto-approved cost limit of ${cost:.2f}. Would you like to reset "
        "the cost and proceed with the task?"
    )


# What the task fails with when the user does not let it go on (Roo's Error text)
AUTO_APPROVAL_LIMIT_DECLINED = "Auto-approval limit reached and user did not approve continuation"
