"""The interaction tools: the model talks to the user or to the engine through them.

Their schemas and descriptions live here (the model sees them like any other tool); what they do
(ask the user, finish the task, switch mode, start a subtask, keep the todo list) is the
engine's job. `Tool.direct = False`: the tools API refuses to run them, and `execute` says so.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from roo.agent.tools.base import ApprovalCategory, Tool, ToolContext, ToolParams, ToolResult


class InteractionTool(Tool):
    category = ApprovalCategory.INTERACTION
    direct = False

    async def execute(self, params: Any, ctx: ToolContext) -> ToolResult:
        return ToolResult.error(
            f"The tool '{self.name}' is handled by the agent engine during a task and cannot be "
            "executed directly.",
            engine_handled=True,
        )


class FollowUpSuggestion(ToolParams):
    text: str = Field(min_length=1, description="A suggested answer the user can pick.")
    mode: str | None = Field(
        default=None,
        description="Mode slug to switch to when the user picks this answer (e.g. 'code'); "
        "null to stay in the current mode.",
    )


class AskFollowupQuestionParams(ToolParams):
    question: str = Field(min_length=1, description="A clear, specific question for the user.")
    follow_up: list[FollowUpSuggestion] = Field(
        min_length=1,
        max_length=4,
        description="1 to 4 suggested answers, each complete and actionable, ordered by "
        "priority or logical sequence.",
    )


class AskFollowupQuestionTool(InteractionTool):
    name = "ask_followup_question"
    description = (
        "Ask the user a question to gather additional information needed to complete the "
        "task. Use when you need clarification or more details to proceed effectively. Provide "
        "1-4 suggested answers the user can pick; a suggestion may switch to another mode. Use "
        "this tool sparingly: prefer finding the answer with the other tools."
    )
    Params = AskFollowupQuestionParams


class AttemptCompletionParams(ToolParams):
    result: str = Field(
        min_length=1,
        description="The final result of the task, formulated so that it needs no further "
        "input from the user. Do not end with a question or an offer of further help.",
    )


class AttemptCompletionTool(InteractionTool):
    name = "attempt_completion"
    description = (
        "Once you have confirmed that the previous tool uses succeeded, present the result of "
        "your work to the user. The user may respond with feedback you can use to make "
        "improvements and try again. Do not use this tool before confirming that every "
        "previous tool use succeeded: it is refused when a tool failed in the same turn."
    )
    Params = AttemptCompletionParams


class SwitchModeParams(ToolParams):
    mode_slug: str = Field(
        min_length=1, description="Slug of the mode to switch to (e.g. 'code', 'ask')."
    )
    reason: str = Field(description="Why the mode switch is needed.")


class SwitchModeTool(InteractionTool):
    name = "switch_mode"
    description = (
        "Request to switch to a different mode, for example to Code mode to make code changes. "
        "The user must approve the switch."
    )
    Params = SwitchModeParams


class NewTaskParams(ToolParams):
    mode: str = Field(min_length=1, description="Slug of the mode the new task starts in.")
    message: str = Field(
        min_length=1, description="The initial instructions of the new task (its whole context)."
    )
    todos: str | None = Field(
        default=None,
        description="Optional initial todo list of the subtask, as a markdown checklist.",
    )


class NewTaskTool(InteractionTool):
    name = "new_task"
    description = (
        "Create a new task (a subtask) in the chosen mode with your instructions and an "
        "optional initial todo list. The current task waits until the subtask completes and "
        "gets its result. It must be the last tool call of a message: any tool call after it "
        "is not executed."
    )
    Params = NewTaskParams


class UpdateTodoListParams(ToolParams):
    todos: str = Field(
        description="The full todo list as a markdown checklist, one item per line: "
        "'[ ]' pending, '[x]' completed, '[-]' in progress."
    )


class UpdateTodoListTool(InteractionTool):
    name = "update_todo_list"
    description = (
        "Replace the entire todo list with an updated checklist reflecting the current state. "
        "Always provide the full list; the system overwrites the previous one. Use it to track "
        "progress on multi-step tasks: mark completed items, the item in progress, and add new "
        "items as they are discovered."
    )
    Params = UpdateTodoListParams


INTERACTION_TOOLS: tuple[type[InteractionTool], ...] = (
    AskFollowupQuestionTool,
    AttemptCompletionTool,
    SwitchModeTool,
    NewTaskTool,
    UpdateTodoListTool,
)
