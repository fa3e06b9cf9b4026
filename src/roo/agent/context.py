"""Context-window management: token estimates and Roo's sliding-window truncation.

Roo hides (rather than deletes) the oldest turns, and so do we: the engine's history is what
the model sees next, `EngineState.hidden` counts the messages it no longer holds, and the host
keeps them stored (`roo.tasks.state_store`). The first message (the task) always stays, and
whole assistant/user pairs go together so every `tool_use` keeps its `tool_result` and the
roles keep alternating.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from roo.agent.messages import Message, text_block

IMAGE_TOKENS = 1_000  # a rough cost of one image in the context
CHARS_PER_TOKEN = 4


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


def truncation_marker(removed: int) -> str:
    return f"[Sliding window truncation: {removed} messages hidden to reduce context]"


def truncate_conversation(
    messages: Sequence[Message], fraction: float
) -> tuple[list[Message], int]:
    """Drop `fraction` of the messages after the first, rounded down to an even number (whole
    assistant/user pairs); the first message gets a marker saying how many went."""
    if len(messages) < 3:
        return list(messages), 0
    removed = int((len(messages) - 1) * fraction)
    removed -= removed % 2
    if removed <= 0:
        return list(messages), 0
    first = messages[0]
    marked: Message = {
        "role": first["role"],
        "content": [
            *(b for b in first["content"] if not _is_marker(b)),
            text_block(truncation_marker(removed)),
        ],
    }
    return [marked, *messages[1 + removed :]], removed


def _is_marker(block: dict[str, object]) -> bool:
    text = block.get("text")
    return (
        block.get("type") == "text"
        and isinstance(text, str)
        and text.startswith("[Sliding window truncation:")
    )
