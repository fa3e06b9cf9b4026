"""Context management's pure parts: the sliding window (`truncate`), what the model is sent
(`effective_history`), the output reserve, the summary request, and the token estimate."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest

from roo.agent import context as ctx
from roo.agent import messages as m
from roo.agent.context import (
    CHARS_PER_TOKEN,
    IMAGE_TOKENS,
    effective_history,
    estimate_tokens,
    truncation_marker,
)
from roo.agent.messages import Message
from roo.agent.pricing import model_info
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


def truncate_conversation(history: list[Message], fraction: float) -> tuple[list[Message], int]:
    """Truncate a copy of `history`: (what the model is sent afterwards, messages hidden)."""
    marked = copy.deepcopy(history)
    removed, _ = ctx.truncate(marked, fraction, "t1")
    return effective_history(marked), removed


def unmarked(message: Message) -> Message:
    return {"role": message["role"], "content": message["content"]}


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


def test_hidden_messages_are_marked_not_removed() -> None:
    history = conversation(4)
    before = copy.deepcopy(history)

    removed, changed = ctx.truncate(history, 0.5, "t1")

    assert removed == 4
    assert len(history) == len(before)  # nothing deleted
    assert changed == [0, 1, 2, 3, 4]  # the first (its marker) and the hidden ones
    assert [msg.get("truncationParent") for msg in history] == [
        None,
        *["t1"] * 4,
        None,
        None,
        None,
        None,
    ]
    assert [unmarked(msg) for msg in history[1:]] == before[1:]  # their content as it was
    assert effective_history(history) == [history[0], *history[5:]]


def test_a_second_truncation_counts_only_what_is_still_visible() -> None:
    history = conversation(6)
    ctx.truncate(history, 0.5, "t1")

    removed, changed = ctx.truncate(history, 0.5, "t2")

    assert removed == 2  # 6 messages were still visible after the task
    assert changed == [0, 7, 8]
    assert [msg.get("truncationParent") for msg in history[7:9]] == ["t2", "t2"]


# ---- condensing ---------------------------------------------------------------------------------


def summarised(history: list[Message], condense_id: str = "c1") -> list[Message]:
    """`history` condensed as the engine does it, with a summary message appended."""
    ctx.mark_condensed(history, condense_id)
    summary: Message = {
        "role": "user",
        "content": [m.text_block("## Conversation Summary\nwhat happened")],
        "isSummary": True,
        "condenseId": condense_id,
    }
    history.append(summary)
    return history


def test_after_a_summary_the_model_gets_it_and_what_follows() -> None:
    history = summarised(conversation(3))
    history.append(m.assistant(m.tool_use_block("call_9", "list_files", {"path": "."})))
    history.append(m.user(m.tool_result_block("call_9", [m.text_block("a.txt")])))

    sent = effective_history(history)

    assert sent == history[-3:]  # the summary (a user message) first: a fresh start
    assert all(msg.get("condenseParent") == "c1" for msg in history[:7])


def test_a_tool_result_whose_call_was_condensed_is_not_sent() -> None:
    history = summarised(conversation(2))
    history.append(
        m.user(m.tool_result_block("call_1", [m.text_block("late")]), m.text_block("<env/>"))
    )

    sent = effective_history(history)

    assert sent[-1] == m.user(m.text_block("<env/>"))


def test_a_second_condense_marks_only_what_the_first_did_not() -> None:
    history = summarised(conversation(2), "c1")
    history.append(m.assistant(m.text_block("more")))

    changed = ctx.mark_condensed(history, "c2")

    assert changed == [5, 6]  # the first summary and the message after it
    assert [msg["condenseParent"] for msg in history] == ["c1"] * 5 + ["c2", "c2"]


def test_the_summary_request_turns_tool_blocks_into_text() -> None:
    history = conversation(1)
    history[1]["content"].insert(0, {"type": "reasoning", "text": "thinking"})
    history[2]["content"][0]["is_error"] = True

    sent = ctx.summary_request_messages(history, "SUMMARISE", supports_images=True)

    assert [msg["role"] for msg in sent] == ["user", "assistant", "user", "user"]
    assert all(b["type"] == "text" for msg in sent for b in msg["content"])
    assert [b["text"] for b in sent[1]["content"]] == ["step 0", "[Tool Use: read_file]\npath: a"]
    assert sent[2]["content"][0]["text"] == "[Tool Result (Error)]\nresult 0"
    assert sent[-1]["content"] == [m.text_block("SUMMARISE")]
    assert history[1]["content"][2]["type"] == "tool_use"  # the history itself is untouched


def test_an_unanswered_call_gets_roo_s_stand_in_result() -> None:
    history = conversation(1)
    history.append(
        m.assistant(m.tool_use_block("call_7", "write_to_file", {"path": "x", "content": "y"}))
    )

    sent = ctx.summary_request_messages(history, "SUMMARISE", supports_images=False)

    assert sent[-2]["content"] == [
        m.text_block("[Tool Result]\nContext condensation triggered. Tool execution deferred.")
    ]


def test_tool_arguments_are_written_as_roo_writes_them() -> None:
    block = m.tool_use_block(
        "c", "new_task", {"mode": "code", "todos": None, "n": 3, "ok": True, "o": {"a": [1]}}
    )

    assert ctx.tool_use_to_text(block) == (
        "[Tool Use: new_task]\nmode: code\ntodos: null\nn: 3\nok: true\n"
        'o: {\n  "a": [\n    1\n  ]\n}'
    )


def test_images_are_left_out_for_a_model_without_vision() -> None:
    history = [m.user(m.text_block("look"), m.image_block("image/png", "AAAA"))]
    history.append(m.assistant(m.text_block("ok")))

    without = ctx.summary_request_messages(history, "S", supports_images=False)
    with_images = ctx.summary_request_messages(history, "S", supports_images=True)

    assert without[0]["content"] == [m.text_block("look")]
    assert with_images[0]["content"][1]["type"] == "image"


def test_refusals_as_roo_s() -> None:
    assert ctx.condense_refusal([TASK], 1) == ctx.NOT_ENOUGH_MESSAGES
    history = summarised(conversation(2))
    assert ctx.condense_refusal(effective_history(history), len(history)) == (
        ctx.CONDENSED_RECENTLY
    )
    history.append(m.assistant(m.text_block("one reply")))
    assert ctx.condense_refusal(effective_history(history), len(history)) == (
        ctx.CONDENSED_RECENTLY
    )
    history.append(m.user(m.text_block("and a turn")))
    assert ctx.condense_refusal(effective_history(history), len(history)) is None
    assert ctx.condense_refusal(conversation(1), 3) is None


def test_the_summary_carries_workflows_todos_and_environment() -> None:
    first = m.user(
        m.text_block('<user_message>do</user_message>\n<command name="x">keep</command>')
    )

    content = ctx.summary_content(
        "S",
        commands=ctx.command_blocks(first),
        todos="- [ ] write tests",
        environment="<environment_details>now</environment_details>",
    )

    texts = [b["text"] for b in content]
    assert texts[0] == "## Conversation Summary\nS"
    assert '<command name="x">keep</command>' in texts[1]
    assert "- [ ] write tests" in texts[2]
    assert texts[3] == "<environment_details>now</environment_details>"
    assert len(ctx.summary_content("S", commands="", todos=None, environment=None)) == 1


# ---- the output reserve (Roo's getModelMaxOutputTokens) -----------------------------------------


@pytest.mark.parametrize(
    ("provider", "model", "reserve"),
    [
        ("anthropic", "claude-sonnet-4-5", 8_192),  # 64k max output: 8,192 without thinking
        ("anthropic", "claude-3-haiku", 4_096),  # a lower maximum stays
        ("openai", "gpt-4o", 16_384),  # under 20 % of 128k
        ("openai", "gpt-5", None),  # GPT-5: its own maximum
    ],
)
def test_output_reserve(provider: str, model: str, reserve: int | None) -> None:
    info = model_info(provider, model)
    assert info is not None
    expected = info.max_tokens if reserve is None else reserve

    assert ctx.output_reserve(model, info) == expected


def test_the_reserve_is_capped_at_a_fifth_of_the_window() -> None:
    info = model_info("openai", "gpt-4o")
    assert info is not None
    small = replace(info, context_window=32_000, max_tokens=16_384)

    assert ctx.output_reserve("gpt-4o", small) == 6_400
    assert ctx.output_reserve("some-model", small, "anthropic") == 8_192


def test_the_thresholds() -> None:
    info = model_info("anthropic", "claude-sonnet-4-5")
    assert info is not None
    allowed = ctx.allowed_tokens(info, 8_192)
    assert allowed == info.context_window * 0.9 - 8_192
    assert not ctx.should_condense(int(allowed), info.context_window, allowed, 100)
    assert ctx.should_condense(int(allowed) + 1, info.context_window, allowed, 100)
    assert ctx.should_condense(info.context_window // 2, info.context_window, allowed, 50)
    assert not ctx.should_condense(info.context_window // 2 - 1, info.context_window, allowed, 50)


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
