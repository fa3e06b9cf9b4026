"""The sliding window (`truncate_conversation`) and the token estimate (`estimate_tokens`)."""

from __future__ import annotations

import copy
import json

import pytest

from roo.agent import messages as m
from roo.agent.context import (
    CHARS_PER_TOKEN,
    IMAGE_TOKENS,
    estimate_tokens,
    truncate_conversation,
    truncation_marker,
)
from roo.agent.messages import Message
from roo.agent.prompts import responses as r

TASK = m.user(m.text_block(r.user_message("Refactor the parser.")), m.text_block("<env/>"))


def conversation(steps: int) -> list[Message]:
    """The task, then `steps` (assistant tool call, user tool result) pairs."""
    history: list[Message] = [copy.deepcopy(TASK)]
    for i in range(steps):
        history.append(
            m.assistant(
                m.text_block(f"step {i}"), m.tool_use_block(f"call_{i}", "read_file", {"path": "a"})
            )
        )
        history.append(
            m.user(
                m.tool_result_block(f"call_{i}", [m.text_block(f"result {i}")]),
                m.text_block("<env/>"),
            )
        )
    return history


def markers(message: Message) -> list[str]:
    return [
        b["text"]
        for b in message["content"]
        if b.get("type") == "text" and b["text"].startswith("[Sliding window truncation:")
    ]


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.75, 1.0])
def test_keeps_the_first_message_and_removes_whole_pairs(steps: int, fraction: float) -> None:
    history = conversation(steps)

    kept, removed = truncate_conversation(history, fraction)

    assert removed % 2 == 0
    assert removed == len(history) - len(kept)
    assert removed <= (len(history) - 1) * fraction
    assert kept[1:] == history[1 + removed :]  # the newest messages stay, as they were
    first = kept[0]
    assert first["role"] == "user"
    assert first["content"][: len(TASK["content"])] == TASK["content"]
    assert markers(first) == ([truncation_marker(removed)] if removed else [])


def test_half_of_eight_messages_after_the_task() -> None:
    kept, removed = truncate_conversation(conversation(4), 0.5)

    assert removed == 4
    assert [msg["role"] for msg in kept] == ["user", "assistant", "user", "assistant", "user"]
    assert m.text_of(kept[1]) == "step 2"


@pytest.mark.parametrize("steps", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.75, 0.9])
def test_never_orphans_a_tool_result(steps: int, fraction: float) -> None:
    kept, _ = truncate_conversation(conversation(steps), fraction)

    calls: set[str] = set()
    for message in kept:
        for block in message["content"]:
            if block["type"] == "tool_use":
                calls.add(block["id"])
            elif block["type"] == "tool_result":
                assert block["tool_use_id"] in calls, f"orphan result {block['tool_use_id']}"
    roles = [msg["role"] for msg in kept]
    assert roles == ["user", "assistant"] * (len(roles) // 2) + ["user"] * (len(roles) % 2)


def test_too_short_a_conversation_is_left_alone() -> None:
    for history in ([TASK], conversation(1)[:2]):
        kept, removed = truncate_conversation(history, 0.75)
        assert (kept, removed) == (history, 0)
    kept, removed = truncate_conversation(conversation(1), 0.5)  # 1 message after the task
    assert removed == 0
    assert markers(kept[0]) == []


def test_a_new_marker_replaces_the_old_one() -> None:
    once, first = truncate_conversation(conversation(6), 0.5)
    twice, second = truncate_conversation(once, 0.5)

    assert (first, second) == (6, 2)
    assert markers(twice[0]) == [truncation_marker(2)]
    assert twice[0]["content"][: len(TASK["content"])] == TASK["content"]
    assert markers(once[0]) == [truncation_marker(6)]  # the earlier result is untouched


def test_the_input_is_not_modified() -> None:
    history = conversation(4)
    before = copy.deepcopy(history)

    truncate_conversation(history, 0.5)

    assert history == before


# ---- estimate_tokens ----------------------------------------------------------------------------


def test_estimates_text_at_four_characters_a_token() -> None:
    assert CHARS_PER_TOKEN == 4
    assert estimate_tokens([]) == 0
    assert estimate_tokens([m.user(m.text_block("x" * 400))]) == 100
    two = [m.user(m.text_block("x" * 200)), m.assistant(m.text_block("y" * 202))]
    assert estimate_tokens(two) == 100  # 402 characters in all


def test_estimates_tool_calls_results_and_images() -> None:
    call = m.tool_use_block("call_1", "read_file", {"path": "src/app.py"})
    result = m.tool_result_block(
        "call_1",
        [m.text_block("r" * 100), m.image_block("image/png", "AAAA"), m.text_block("s" * 20)],
    )
    image = m.image_block("image/jpeg", "B" * 10_000)  # the size of the data does not matter
    history = [
        m.user(m.text_block("t" * 40), image),
        m.assistant(m.text_block("a" * 8), call),
        m.user(result),
    ]

    characters = 40 + 8 + len("read_file") + len(json.dumps({"path": "src/app.py"})) + 100 + 20
    assert estimate_tokens(history) == characters // 4 + 2 * IMAGE_TOKENS


def test_reasoning_is_not_counted() -> None:
    """Reasoning blocks are kept for the record but never sent to the provider."""
    plain = [m.assistant(m.text_block("a" * 40))]
    with_reasoning = [
        m.assistant({"type": "reasoning", "text": "r" * 4000}, m.text_block("a" * 40))
    ]

    assert estimate_tokens(with_reasoning) == estimate_tokens(plain) == 10
