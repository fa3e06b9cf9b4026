"""AnthropicProvider through the official SDK, over real sockets, against the fake LLM."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from roo.agent import messages as m
from roo.agent.providers.anthropic import AnthropicProvider, anthropic_messages
from roo.agent.providers.base import (
    Chunk,
    ModelRequest,
    ProviderError,
    ReasoningChunk,
    TextChunk,
    ThinkingBlockChunk,
    ToolCallChunk,
    UsageChunk,
)
from roo.agent.providers.errors import retry_after_seconds
from roo.agent.providers.factory import PROVIDERS, build_provider
from roo.testing import Disconnect, Failure, FakeLLM, Hang, Reply, ToolCall, Usage
from roo.testing.fake_llm import thinking_signature
from tests.agent.providers.support import (
    MODEL,
    READ_FILE,
    collect,
    collect_into,
    failure,
    request,
    texts,
)

KEY = "sk-ant-test-0123456789"


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with FakeLLM(api_key=KEY) as server:
        yield server


@pytest.fixture
async def provider(llm: FakeLLM) -> AsyncIterator[AnthropicProvider]:
    provider = AnthropicProvider(KEY, llm.anthropic_base_url, timeout=5)
    yield provider
    await provider.aclose()


async def test_streams_text_in_deltas(llm: FakeLLM, provider: AnthropicProvider) -> None:
    llm.script(Reply(text="Hello from the fake model", chunk_size=5))
    chunks = await collect(provider)
    pieces = texts(chunks, TextChunk)
    assert len(pieces) == 5
    assert "".join(pieces) == "Hello from the fake model"
    assert provider.protocol == "anthropic"
    assert provider.name == "anthropic"


async def test_reasoning_comes_before_text(llm: FakeLLM, provider: AnthropicProvider) -> None:
    llm.script(Reply(reasoning="Let me think about it", text="Answer", chunk_size=6))
    chunks = await collect(provider)
    kinds = [c.type for c in chunks if c.type in ("reasoning", "text")]
    assert kinds == ["reasoning"] * 4 + ["text"]
    assert "".join(texts(chunks, ReasoningChunk)) == "Let me think about it"


async def test_several_tool_calls_are_assembled_from_fragments(
    llm: FakeLLM, provider: AnthropicProvider
) -> None:
    llm.script(
        Reply(
            text="Reading both.",
            tool_calls=[
                ToolCall("read_file", {"path": "src/a very long path/main.py"}, id="toolu_a"),
                ToolCall("list_files", {}, id="toolu_b"),
                ToolCall("read_file", '{"path": "unterminated', id="toolu_c"),
            ],
            chunk_size=3,
        )
    )
    chunks = await collect(provider)
    calls = [c for c in chunks if isinstance(c, ToolCallChunk)]
    assert calls == [
        ToolCallChunk("toolu_a", "read_file", '{"path": "src/a very long path/main.py"}'),
        ToolCallChunk("toolu_b", "list_files", "{}"),
        ToolCallChunk("toolu_c", "read_file", '{"path": "unterminated'),
    ]
    assert chunks.index(calls[0]) > max(i for i, c in enumerate(chunks) if c.type == "text")


async def test_usage_from_message_start_and_message_delta(
    llm: FakeLLM, provider: AnthropicProvider
) -> None:
    usage = Usage(input_tokens=120, output_tokens=33, cache_read=400, cache_write=50)
    llm.script(Reply(text="ok", usage=usage))
    chunks = [c for c in await collect(provider) if isinstance(c, UsageChunk)]
    assert chunks == [
        UsageChunk(input_tokens=120, cache_write_tokens=50, cache_read_tokens=400),
        UsageChunk(output_tokens=33),
    ]


async def test_history_translation(llm: FakeLLM, provider: AnthropicProvider) -> None:
    llm.script(Reply(text="done"))
    history = (
        m.user(m.text_block("Fix the bug"), m.text_block("")),
        m.assistant(
            {"type": "reasoning", "text": "private thoughts"},
            m.text_block("Let me read it."),
            m.tool_use_block("toolu_1", "read_file", {"path": "a.py"}),
        ),
        m.user(
            m.tool_result_block(
                "toolu_1", [m.text_block("print(1)"), m.image_block("image/png", "iVBOR")]
            ),
            m.text_block("<environment_details>...</environment_details>"),
        ),
        m.assistant({"type": "reasoning", "text": "only thinking"}),
        m.user(m.tool_result_block("toolu_2", [m.text_block("boom")], is_error=True)),
    )
    req = ModelRequest(
        model=MODEL,
        system="SYSTEM PROMPT",
        messages=history,
        tools=(READ_FILE,),
        max_tokens=1234,
        temperature=0.2,
    )
    await collect(provider, req)
    sent = llm.last_request.body
    assert sent["model"] == MODEL
    assert sent["max_tokens"] == 1234
    assert sent["temperature"] == 0.2
    assert sent["stream"] is True
    assert sent["system"] == [
        {"type": "text", "text": "SYSTEM PROMPT", "cache_control": {"type": "ephemeral"}}
    ]
    assert sent["tools"] == [
        {"name": "read_file", "description": "Read a file", "input_schema": READ_FILE.parameters}
    ]
    assert sent["tool_choice"] == {"type": "auto"}
    ephemeral = {"type": "ephemeral"}
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Fix the bug"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me read it."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "read_file",
                    "input": {"path": "a.py"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [
                        {"type": "text", "text": "print(1)"},
                        {
                            "type": "image",
                            "source": {
                                "type": "base64",
                                "media_type": "image/png",
                                "data": "iVBOR",
                            },
                        },
                    ],
                },
                {
                    "type": "text",
                    "text": "<environment_details>...</environment_details>",
                    "cache_control": ephemeral,
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": [{"type": "text", "text": "boom"}],
                    "is_error": True,
                    "cache_control": ephemeral,
                }
            ],
        },
    ]
    assert llm.last_request.auth_header in ("x-api-key", "authorization")


async def test_no_tools_means_no_tool_choice(llm: FakeLLM, provider: AnthropicProvider) -> None:
    llm.script(Reply(text="ok"))
    await collect(provider)
    sent = llm.last_request.body
    assert "tools" not in sent
    assert "tool_choice" not in sent
    assert "temperature" not in sent


async def test_rate_limit_carries_retry_after(llm: FakeLLM, provider: AnthropicProvider) -> None:
    llm.script(Failure(429, "Number of request tokens has exceeded your rate limit", 7))
    error = await failure(provider)
    assert (error.kind, error.status, error.retry_after, error.retryable) == (
        "rate_limit",
        429,
        7.0,
        True,
    )
    assert "rate limit" in error.message


@pytest.mark.parametrize(
    ("item", "kind", "retryable"),
    [
        (Failure(500, "Internal server error"), "server", True),
        (Failure(529), "server", True),
        (Failure(503), "server", True),
        (
            Failure(400, "prompt is too long: 210000 tokens > 200000 maximum"),
            "context_window",
            False,
        ),
        (Failure(400, "messages: roles must alternate"), "bad_request", False),
        (Failure(404, "model: claude-nope"), "not_found", False),
        (Failure(403), "auth", False),
    ],
)
async def test_status_errors(
    llm: FakeLLM, provider: AnthropicProvider, item: Failure, kind: str, retryable: bool
) -> None:
    llm.script(item)
    error = await failure(provider)
    assert (error.kind, error.status, error.retryable) == (kind, item.status, retryable)


async def test_overloaded_message_names_the_type(llm: FakeLLM, provider: AnthropicProvider) -> None:
    llm.script(Failure(529))
    error = await failure(provider)
    assert "overloaded_error" in error.message


async def test_wrong_key_is_auth_and_never_leaks(llm: FakeLLM) -> None:
    wrong = "sk-ant-wrong-key-987654"
    provider = AnthropicProvider(wrong, llm.anthropic_base_url)
    try:
        error = await failure(provider)
        assert (error.kind, error.status, error.retryable) == ("auth", 401, False)
        llm.api_key = None
        llm.script(Failure(401, f"invalid x-api-key {wrong}"))
        error = await failure(provider)
        assert wrong not in str(error)
        assert "[redacted]" in error.message
    finally:
        await provider.aclose()


async def test_connection_refused_is_connection() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = AnthropicProvider(KEY, f"http://127.0.0.1:{port}")
    try:
        error = await failure(provider)
    finally:
        await provider.aclose()
    assert (error.kind, error.status, error.retryable) == ("connection", None, True)


async def test_hang_is_a_timeout(llm: FakeLLM) -> None:
    llm.script(Hang(10))
    provider = AnthropicProvider(KEY, llm.anthropic_base_url, timeout=0.2)
    try:
        error = await failure(provider)
    finally:
        await provider.aclose()
    assert (error.kind, error.retryable) == ("timeout", True)


async def test_stall_mid_stream_is_a_timeout(llm: FakeLLM) -> None:
    llm.script(Reply(text="slow text", chunk_size=1, delay_per_chunk=0.5))
    provider = AnthropicProvider(KEY, llm.anthropic_base_url, timeout=0.2)
    try:
        error = await failure(provider)
    finally:
        await provider.aclose()
    assert error.kind == "timeout"


async def test_disconnect_mid_stream_is_a_stream_error(
    llm: FakeLLM, provider: AnthropicProvider
) -> None:
    llm.script(Reply(text="partial answer", chunk_size=7, disconnect_after=1))
    received: list[Chunk] = []
    with pytest.raises(ProviderError) as caught:
        await collect_into(provider, received)
    assert (caught.value.kind, caught.value.retryable) == ("stream", True)
    assert "".join(texts(received, TextChunk)) == "partial"


async def test_error_event_mid_stream_is_a_stream_error(
    llm: FakeLLM, provider: AnthropicProvider
) -> None:
    llm.script(Reply(text="partial answer", chunk_size=2, error_after=2))
    error = await failure(provider)
    assert error.kind == "stream"
    assert "overloaded_error" in error.message


async def test_disconnect_before_answering_is_connection(
    llm: FakeLLM, provider: AnthropicProvider
) -> None:
    llm.script(Disconnect())
    assert (await failure(provider)).kind == "connection"


async def test_exhausted_script_fails_fast(llm: FakeLLM, provider: AnthropicProvider) -> None:
    error = await failure(provider)
    assert (error.kind, error.status) == ("bad_request", 400)
    assert "script exhausted" in error.message
    assert llm.exhausted == 1


async def test_base_url_with_v1_suffix(llm: FakeLLM) -> None:
    llm.script(Reply(text="ok"))
    provider = AnthropicProvider(KEY, f"{llm.url}/v1/")
    try:
        assert texts(await collect(provider), TextChunk) == ["ok"]
    finally:
        await provider.aclose()
    assert llm.last_request.path == "/v1/messages"


async def test_factory(llm: FakeLLM) -> None:
    assert PROVIDERS == ("anthropic", "openai")
    llm.script(Reply(text="built"))
    provider = build_provider("anthropic", api_key=KEY, base_url=llm.anthropic_base_url)
    try:
        assert isinstance(provider, AnthropicProvider)
        assert texts([c async for c in provider.stream(request())], TextChunk) == ["built"]
    finally:
        await provider.aclose()
    with pytest.raises(ValueError, match="unknown provider"):
        build_provider("gemini", api_key=None, base_url=None)


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


async def test_thinking_blocks_come_signed_and_go_back_only_with_thinking(
    llm: FakeLLM, provider: AnthropicProvider
) -> None:
    llm.script(Reply(redacted_thinking="opaque==", reasoning="Plan it", text="Hi", chunk_size=3))
    chunks = await collect(provider)
    blocks = [c.block for c in chunks if isinstance(c, ThinkingBlockChunk)]
    assert blocks == [
        {"type": "redacted_thinking", "data": "opaque=="},
        {"type": "thinking", "thinking": "Plan it", "signature": thinking_signature("Plan it")},
    ]
    assert "".join(texts(chunks, ReasoningChunk)) == "Plan it"

    history = [
        m.user(m.text_block("hi")),
        m.assistant(*blocks, m.tool_use_block("t1", "read_file", {"path": "a"})),
        m.user(m.tool_result_block("t1", [m.text_block("x")])),
    ]
    sent = anthropic_messages(history, thinking=True)
    assert [b["type"] for b in sent[1]["content"]] == [
        "redacted_thinking",
        "thinking",
        "tool_use",
    ]
    assert [b["type"] for b in anthropic_messages(history)[1]["content"]] == ["tool_use"]
