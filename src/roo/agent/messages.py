"""The conversation as the engine keeps it: Anthropic-shaped messages of content blocks.

Roo keeps its API history in the Anthropic Messages shape, whatever the provider; each provider
translates it on the way out. So do we. Messages are plain JSON-ready dicts (they are persisted as
they are after every step):

    {"role": "user" | "assistant", "content": [block, ...]}

Blocks:
    {"type": "text", "text": str}
    {"type": "image", "source": {"type": "base64", "media_type": str, "data": str}}
    {"type": "tool_use", "id": str, "name": str, "input": dict}              (assistant)
    {"type": "tool_result", "tool_use_id": str, "content": [text|image blocks],
     "is_error": bool}                                                       (user)
    {"type": "reasoning", "text": str}    (assistant; kept for the record, never sent back)
    {"type": "thinking", "thinking": str, "signature": str}, {"type": "redacted_thinking",
     "data": str}                         (assistant, first; Anthropic's extended thinking,
                                           sent back as they came while thinking is on)

Context management marks messages instead of deleting them (Roo's `ApiMessage` fields, under
Roo's names, so a client that knows Roo's history reads ours):
    "isSummary": true, "condenseId": str   a summary written by condensing (a user message)
    "condenseParent": str                  replaced by the summary whose condenseId it names
    "truncationParent": str                hidden by the sliding window (that truncation's id)
A marked message stays in the stored conversation and is never sent to the model again
(`roo.agent.context.effective_history`).
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

Role = Literal["user", "assistant"]
Block = dict[str, Any]


class Message(TypedDict):
    role: Role
    content: list[Block]
    isSummary: NotRequired[bool]
    condenseId: NotRequired[str]
    condenseParent: NotRequired[str]
    truncationParent: NotRequired[str]


def text_block(text: str) -> Block:
    return {"type": "text", "text": text}


def image_block(media_type: str, data: str) -> Block:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def tool_use_block(call_id: str, name: str, arguments: dict[str, Any]) -> Block:
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


def tool_result_block(call_id: str, content: list[Block], *, is_error: bool = False) -> Block:
    return {"type": "tool_result", "tool_use_id": call_id, "content": content, "is_error": is_error}


def user(*blocks: Block) -> Message:
    return {"role": "user", "content": list(blocks)}


def assistant(*blocks: Block) -> Message:
    return {"role": "assistant", "content": list(blocks)}


def text_of(message: Message) -> str:
    """The message's text blocks joined (tool blocks and images left out)."""
    return "".join(b["text"] for b in message["content"] if b.get("type") == "text")
