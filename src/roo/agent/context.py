"""Context-window management as Roo does it (`src/core/context-management/index.ts`,
`src/core/condense/index.ts`, `getModelMaxOutputTokens` in `src/shared/api.ts`): the output
reserve, the thresholds, condensing (a model-written summary) and the sliding window.

Nothing is deleted. The engine's history is the whole conversation; context management marks
messages (`roo.agent.messages`: `condenseParent`, `truncationParent`, `isSummary`) and
`effective_history` computes what the model is sent: the messages from the last summary on
(Roo's "fresh start"), without those the sliding window hid, without tool results whose call
is no longer there. The host stores every message, marks included, and the API returns them.

Where we differ from Roo, and why (also in docs/tasks.md):
- The sliding window's marker text joins the first visible message (the task, or the latest
  summary) instead of being a message of its own inserted before the kept ones: messages are
  stored by position and only ever appended, so inserting one would renumber every later row.
- The summary request gets the messages the model sees now (not those the sliding window hid
  since the last summary, which Roo also sends): they were hidden because they did not fit,
  and the summary request has to fit in the same window.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from roo.agent.messages import Block, Message, text_block
from roo.agent.pricing import ApiProtocol, ModelInfo

IMAGE_TOKENS = 1_000  # a rough cost of one image in the context
CHARS_PER_TOKEN = 4

# Roo's numbers
ANTHROPIC_DEFAULT_MAX_TOKENS = 8_192  # the reply's reserve for Claude without extended thinking
TOKEN_BUFFER_PERCENTAGE = 0.1  # condense or truncate before the last 10 % of the window
FORCED_CONTEXT_REDUCTION_PERCENT = 75  # the condense threshold after a context-window error
MIN_CONDENSE_PERCENT, MAX_CONDENSE_PERCENT = 5, 100

# Roo's texts (src/core/condense/index.ts, src/i18n/locales/en/common.json)
DEFERRED_TOOL_RESULT = "Context condensation triggered. Tool execution deferred."
NOT_ENOUGH_MESSAGES = "Not enough messages to condense context"
CONDENSED_RECENTLY = "Context was condensed recently; skipping this attempt"
CONDENSE_FAILED = "Failed to condense context"


def condense_api_failed(message: str) -> str:
    return f"Condensing API call failed: {message}"


@dataclass(frozen=True, slots=True)
class ContextSettings:
    """Roo's `autoCondenseContext` (default on) and `autoCondenseContextPercent` (default 100:
    condensing then starts only where the sliding window would: at the window x 0.9 minus the
    reserve)."""

    auto_condense: bool = True
    condense_percent: int = MAX_CONDENSE_PERCENT


def output_reserve(model_id: str, info: ModelInfo, protocol: ApiProtocol | None = None) -> int:
    """Roo's `getModelMaxOutputTokens`: the tokens kept free for the reply, which is also the
    request's `max_tokens`. Claude without extended thinking (with it: the engine's
    THINKING_MAX_TOKENS, Roo's 16,384) gets 8,192 (a model whose own maximum is lower keeps its
    own: Roo's 20 % rule gives the same for every Claude model); GPT-5 models get their
    maximum; every other model its maximum capped at 20 % of the context window."""
    anthropic = "claude" in model_id.lower() or protocol == "anthropic"
    if anthropic:
        return min(info.max_tokens, ANTHROPIC_DEFAULT_MAX_TOKENS) or ANTHROPIC_DEFAULT_MAX_TOKENS
    if "gpt-5" in model_id.lower():
        return info.max_tokens
    return min(info.max_tokens, math.ceil(info.context_window * 0.2))


def allowed_tokens(info: ModelInfo, reserve: int) -> float:
    """What the prompt may take before the sliding window must act (Roo's `allowedTokens`)."""
    return info.context_window * (1 - TOKEN_BUFFER_PERCENTAGE) - reserve


def should_condense(prev: int, context_window: int, allowed: float, percent: int) -> bool:
    """Roo's trigger: the context at `percent` % of the window, or past what is allowed."""
    return 100 * prev / context_window >= percent or prev > allowed


# reasoning kept for the record, and Anthropic's signed thinking: never in a summary request
_THOUGHTS = ("reasoning", "thinking", "redacted_thinking")


def estimate_tokens(messages: Sequence[Message]) -> int:
    """A cheap estimate (4 characters a token) for deciding when to truncate; providers report
    the real counts, which the engine prefers when it has them."""
    chars = images = 0
    for message in messages:
        for block in message["content"]:
            kind = block.get("type")
            if kind == "text":
                chars += len(block["text"])
            elif kind == "image":
                images += 1
            elif kind == "tool_use":
                chars += len(block["name"]) + len(json.dumps(block["input"]))
            elif kind == "tool_result":
                chars += sum(
                    len(b.get("text", "")) if b.get("type") == "text" else 0
                    for b in block["content"]
                )
                images += sum(1 for b in block["content"] if b.get("type") == "image")
    return chars // CHARS_PER_TOKEN + images * IMAGE_TOKENS


def estimate_text_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN


# -- what the model is sent ---------------------------------------------------------------------


def last_summary(history: Sequence[Message]) -> int | None:
    """The index of the latest summary, if any."""
    for index in range(len(history) - 1, -1, -1):
        if history[index].get("isSummary"):
            return index
    return None


def visible_indices(history: Sequence[Message]) -> list[int]:
    """The indices of the messages the model is sent: from the last summary on (the whole
    history without one), less those condensed or hidden by the sliding window."""
    start = last_summary(history) or 0
    return [
        i
        for i in range(start, len(history))
        if not history[i].get("truncationParent")
        and (i == start or not history[i].get("condenseParent"))
    ]


def effective_history(history: Sequence[Message]) -> list[Message]:
    """What the model is sent (Roo's `getEffectiveApiHistory`): the visible messages, with the
    tool results whose call is not among them dropped (and a message left empty by that)."""
    visible = [history[i] for i in visible_indices(history)]
    calls = {
        b["id"]
        for message in visible
        if message["role"] == "assistant"
        for b in message["content"]
        if b.get("type") == "tool_use"
    }
    out: list[Message] = []
    for message in visible:
        if message["role"] == "user" and any(
            b.get("type") == "tool_result" and b["tool_use_id"] not in calls
            for b in message["content"]
        ):
            content = [
                b
                for b in message["content"]
                if b.get("type") != "tool_result" or b["tool_use_id"] in calls
            ]
            if not content:
                continue
            message = {"role": "user", "content": content}
        out.append(message)
    return out


# -- the sliding window -------------------------------------------------------------------------


def truncation_marker(removed: int) -> str:
    return f"[Sliding window truncation: {removed} messages hidden to reduce context]"


def is_marker(block: Block) -> bool:
    text = block.get("text")
    return (
        block.get("type") == "text"
        and isinstance(text, str)
        and text.startswith("[Sliding window truncation:")
    )


def truncate(history: list[Message], fraction: float, truncation_id: str) -> tuple[int, list[int]]:
    """Roo's `truncateConversation`: hide `fraction` of the visible messages after the first
    visible one, rounded down to an even number (whole assistant/user pairs, so every tool
    call keeps its result and the roles keep alternating), by marking them `truncationParent`.
    The first visible message gets the marker text (replacing an older one). Changes `history`
    in place; returns how many were hidden and the indices of the messages changed."""
    visible = visible_indices(history)
    removed = int((len(visible) - 1) * fraction)
    removed -= removed % 2
    if removed <= 0:
        return 0, []
    changed = visible[1 : 1 + removed]
    for index in changed:
        history[index]["truncationParent"] = truncation_id
    first = history[visible[0]]
    first["content"] = [
        *(b for b in first["content"] if not is_marker(b)),
        text_block(truncation_marker(removed)),
    ]
    return removed, [visible[0], *changed]


# -- condensing ---------------------------------------------------------------------------------


def tool_use_to_text(block: Block) -> str:
    """Roo's `toolUseToText`: `[Tool Use: name]` and one `key: value` line per argument."""
    arguments = block.get("input")
    if isinstance(arguments, dict):
        body = "\n".join(f"{key}: {_str(value)}" for key, value in arguments.items())
    else:
        body = _str(arguments)
    return f"[Tool Use: {block['name']}]\n{body}"


def _str(value: Any) -> str:
    """How Roo writes an argument: objects as indented JSON, the rest as JavaScript's
    String(value)."""
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def tool_result_to_text(block: Block) -> str:
    """Roo's `toolResultToText`: `[Tool Result]` (or `[Tool Result (Error)]`) and its text,
    images as `[Image]`."""
    suffix = " (Error)" if block.get("is_error") else ""
    content = block.get("content")
    if isinstance(content, str):
        return f"[Tool Result{suffix}]\n{content}"
    if isinstance(content, list):
        parts = [
            b.get("text", "")
            if b.get("type") == "text"
            else "[Image]"
            if b.get("type") == "image"
            else f"[{b.get('type')}]"
            for b in content
        ]
        return f"[Tool Result{suffix}]\n" + "\n".join(parts)
    return f"[Tool Result{suffix}]"


def with_deferred_results(messages: Sequence[Message]) -> list[Message]:
    """Roo's `injectSyntheticToolResults`: a stand-in result for every tool call that has none
    (a call waiting for its approval when the user condenses), in a user message at the end."""
    calls = [
        b["id"]
        for message in messages
        if message["role"] == "assistant"
        for b in message["content"]
        if b.get("type") == "tool_use"
    ]
    answered = {
        b["tool_use_id"]
        for message in messages
        if message["role"] == "user"
        for b in message["content"]
        if b.get("type") == "tool_result"
    }
    orphans = [call for call in calls if call not in answered]
    if not orphans:
        return list(messages)
    stand_ins: list[Block] = [
        {"type": "tool_result", "tool_use_id": call, "content": DEFERRED_TOOL_RESULT}
        for call in orphans
    ]
    return [*messages, {"role": "user", "content": stand_ins}]


def summary_request_messages(
    messages: Sequence[Message], instructions: str, *, supports_images: bool
) -> list[Message]:
    """The messages of the summary request (Roo's `summarizeConversation`): the conversation
    with stand-in results for unanswered calls, then the condense instructions as the last user
    turn; tool blocks become text (so the request needs no tools), reasoning is left out, and
    images too when the model cannot take them."""
    out: list[Message] = []
    for message in with_deferred_results(messages):
        content: list[Block] = []
        for block in message["content"]:
            kind = block.get("type")
            if kind == "tool_use":
                content.append(text_block(tool_use_to_text(block)))
            elif kind == "tool_result":
                content.append(text_block(tool_result_to_text(block)))
            elif kind in _THOUGHTS or (kind == "image" and not supports_images):
                continue
            else:
                content.append(block)
        if content:
            out.append({"role": message["role"], "content": content})
    out.append({"role": "user", "content": [text_block(instructions)]})
    return out


_COMMAND = re.compile(r"<command[^>]*>[\s\S]*?</command>")


def command_blocks(message: Message) -> str:
    """Roo's `extractCommandBlocks`: the `<command>` blocks of a message's text."""
    text = "\n".join(b["text"] for b in message["content"] if b.get("type") == "text")
    return "\n".join(_COMMAND.findall(text))


def summary_content(
    summary: str, *, commands: str, todos: str | None, environment: str | None
) -> list[Block]:
    """The summary message's blocks: Roo's `## Conversation Summary`, the active workflows of
    the first message in a `<system-reminder>`, the todo list, the environment details."""
    content = [text_block(f"## Conversation Summary\n{summary}")]
    if commands:
        content.append(
            text_block(
                "<system-reminder>\n## Active Workflows\nThe following directives must be "
                f"maintained across all future condensings:\n{commands}\n</system-reminder>"
            )
        )
    if todos and todos.strip():
        content.append(
            text_block(
                "<system-reminder>\n## Todo List\nThe task's todo list when the conversation "
                "was condensed (keep it current with `update_todo_list`):\n"
                f"{todos.strip()}\n</system-reminder>"
            )
        )
    if environment and environment.strip():
        content.append(text_block(environment))
    return content


def condense_refusal(to_summarize: Sequence[Message], history_length: int) -> str | None:
    """Roo's reasons not to condense: nothing to summarise, or a summary just written."""
    if len(to_summarize) <= 1:
        return NOT_ENOUGH_MESSAGES if history_length <= 1 else CONDENSED_RECENTLY
    if any(m.get("isSummary") for m in to_summarize) and len(to_summarize) <= 2:
        return CONDENSED_RECENTLY
    return None


def mark_condensed(history: list[Message], condense_id: str) -> list[int]:
    """Mark every message not yet condensed as replaced by summary `condense_id`; returns the
    indices changed."""
    changed = []
    for index, message in enumerate(history):
        if not message.get("condenseParent"):
            message["condenseParent"] = condense_id
            changed.append(index)
    return changed
