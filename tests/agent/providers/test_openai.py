"""OpenAIProvider through the official SDK, over real sockets, against the fake LLM."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from roo.agent import messages as m
from roo.agent.providers.base import (
    Chunk,
    ModelRequest,
    ProviderError,
    ReasoningChunk,
    TextChunk,
    ToolCallChunk,
    UsageChunk,
)
from roo.agent.providers.factory import build_provider
from roo.agent.providers.openai import OpenAIProvider, ThinkSplitter
from roo.testing import Disconnect, Failure, FakeLLM, Hang, Reply, ToolCall, Usage
from tests.agent.providers.support import (
    MODEL,
    READ_FILE,
    collect,
    collect_into,
    failure,
    request,
    texts,
)

KEY = "sk-proj-test-0123456789"


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with FakeLLM(api_key=KEY) as server:
        yield server


@pytest.fixture
async def provider(llm: FakeLLM) -> AsyncIterator[OpenAIProvider]:
    provider = OpenAIProvider(KEY, llm.openai_base_url, timeout=5)
    yield provider
    await provider.aclose()


async def test_streams_text_and_usage(llm: FakeLLM, provider: OpenAIProvider) -> None:
    usage = Usage(input_tokens=100, output_tokens=20, cache_read=300)
    llm.script(Reply(text="Hello from the fake model", chunk_size=5, usage=usage))
    chunks = await collect(provider)
    assert "".join(texts(chunks, TextChunk)) == "Hello from the fake model"
    assert len(texts(chunks, TextChunk)) == 5
    # OpenAI protocol: input includes the cached tokens
    assert [c for c in chunks if isinstance(c, UsageChunk)] == [
        UsageChunk(input_tokens=400, output_tokens=20, cache_read_tokens=300)
    ]
    assert provider.protocol == "openai"
    assert provider.name == "openai"


async def test_reasoning_content_deltas(llm: FakeLLM, provider: OpenAIProvider) -> None:
    llm.script(Reply(reasoning="Weighing options", text="Done", chunk_size=4))
    chunks = await collect(provider)
    assert "".join(texts(chunks, ReasoningChunk)) == "Weighing options"
    assert texts(chunks, TextChunk) == ["Done"]


async def test_think_tags_are_split_out_across_deltas(
    llm: FakeLLM, provider: OpenAIProvider
) -> None:
    llm.script(Reply(text="<think>plan: read a < b</think>The answer", chunk_size=3))
    chunks = await collect(provider)
    assert "".join(texts(chunks, ReasoningChunk)) == "plan: read a < b"
    assert "".join(texts(chunks, TextChunk)) == "The answer"
    assert not any("<" in t and "think" in t for t in texts(chunks, TextChunk))


@pytest.mark.parametrize(
    ("deltas", "expected"),
    [
        (["<thi", "nk>deep</th", "ink>out"], [("reasoning", "deep"), ("text", "out")]),
        (["a <", "b> c"], [("text", "a "), ("text", "<b> c")]),
        (["x<", "/think>"], [("text", "x"), ("text", "</think>")]),
        (["<think>", "never closed"], [("reasoning", "never closed")]),
        (["tail <thin"], [("text", "tail "), ("text", "<thin")]),
    ],
)
def test_think_splitter(deltas: list[str], expected: list[tuple[str, str]]) -> None:
    splitter = ThinkSplitter()
    out = [chunk for delta in deltas for chunk in splitter.feed(delta)] + splitter.flush()
    assert [(c.type, c.text) for c in out] == expected


async def test_several_tool_calls_are_assembled_by_index(
    llm: FakeLLM, provider: OpenAIProvider
) -> None:
    llm.script(
        Reply(
            text="Reading.",
            tool_calls=[
                ToolCall("read_file", {"path": "src/some/long/path.py"}, id="call_a"),
                ToolCall("list_files", {}, id="call_b"),
                ToolCall("read_file", '{"path": ', id="call_c"),
            ],
            chunk_size=4,
        )
    )
    chunks = await collect(provider)
    calls = [c for c in chunks if isinstance(c, ToolCallChunk)]
    assert calls == [
        ToolCallChunk("call_a", "read_file", '{"path": "src/some/long/path.py"}'),
        ToolCallChunk("call_b", "list_files", "{}"),
        ToolCallChunk("call_c", "read_file", '{"path": '),
    ]
    assert isinstance(chunks[-1], UsageChunk)


async def test_history_translation(llm: FakeLLM, provider: OpenAIProvider) -> None:
    llm.script(Reply(text="done"))
    history = (
        m.user(m.text_block("Fix the bug"), m.image_block("image/jpeg", "AAAA")),
        m.assistant(
            {"type": "reasoning", "text": "private"},
            m.text_block("Reading."),
            m.tool_use_block("call_1", "read_file", {"path": "a.py"}),
            m.tool_use_block("call_2", "screenshot", {}),
        ),
        m.user(
            m.tool_result_block("call_1", [m.text_block("line 1"), m.text_block("line 2")]),
            m.tool_result_block("call_2", [m.image_block("image/png", "iVBOR")]),
            m.text_block("<environment_details/>"),
        ),
        m.assistant({"type": "reasoning", "text": "reasoning only"}),
        m.assistant(m.tool_use_block("call_3", "list_files", {"path": "."})),
        m.user(m.tool_result_block("call_3", [m.text_block("a.py")], is_error=True)),
    )
    req = ModelRequest(
        model=MODEL,
        system="SYSTEM PROMPT",
        messages=history,
        tools=(READ_FILE,),
        max_tokens=777,
        temperature=0.5,
    )
    await collect(provider, req)
    sent = llm.last_request.body
    assert llm.last_request.path == "/v1/chat/completions"
    assert sent["model"] == MODEL
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["max_completion_tokens"] == 777
    assert sent["temperature"] == 0.5
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "read_file",
                "description": "Read a file",
                "parameters": READ_FILE.parameters,
            },
        }
    ]
    assert sent["tool_choice"] == "auto"
    assert sent["parallel_tool_calls"] is True
    assert sent["messages"] == [
        {"role": "system", "content": "SYSTEM PROMPT"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Fix the bug"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Reading.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": '{"path": "a.py"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "screenshot", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "line 1\nline 2"},
        {
            "role": "tool",
            "tool_call_id": "call_2",
            "content": "(see following user message for image)",
        },
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
                {"type": "text", "text": "<environment_details/>"},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_3",
                    "type": "function",
                    "function": {"name": "list_files", "arguments": '{"path": "."}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_3", "content": "a.py"},
    ]
    assert llm.last_request.auth_header == "authorization"


async def test_no_tools_sends_no_tool_options(llm: FakeLLM, provider: OpenAIProvider) -> None:
    llm.script(Reply(text="ok"))
    await collect(provider)
    sent = llm.last_request.body
    assert not {"tools", "tool_choice", "parallel_tool_calls", "temperature"} & set(sent)


async def test_base_url_without_v1(llm: FakeLLM) -> None:
    llm.script(Reply(text="ok"))
    provider = OpenAIProvider(KEY, llm.url)
    try:
        assert texts(await collect(provider), TextChunk) == ["ok"]
    finally:
        await provider.aclose()
    assert llm.last_request.path == "/chat/completions"


async def test_no_key_sends_a_placeholder(llm: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-service-environment")
    llm.api_key = "not-needed"
    llm.script(Reply(text="local"))
    provider = build_provider("openai", api_key=None, base_url=llm.openai_base_url)
    try:
        assert texts([c async for c in provider.stream(request())], TextChunk) == ["local"]
    finally:
        await provider.aclose()


async def test_rate_limit_carries_retry_after(llm: FakeLLM, provider: OpenAIProvider) -> None:
    llm.script(Failure(429, "Rate limit reached for requests", retry_after=1.5))
    error = await failure(provider)
    assert (error.kind, error.status, error.retry_after, error.retryable) == (
        "rate_limit",
        429,
        1.5,
        True,
    )
    # a status line, then the provider's own type and message from its JSON error body
    assert error.message == "HTTP 429 from provider: requests: Rate limit reached for requests"


@pytest.mark.parametrize(
    ("item", "kind"),
    [
        (Failure(500, "The server had an error"), "server"),
        (Failure(502), "server"),
        (Failure(400, "bad", code="context_length_exceeded"), "context_window"),
        (
            Failure(400, "This model's maximum context length is 8192 tokens."),
            "context_window",
        ),
        (Failure(400, "Invalid 'messages[1].content'"), "bad_request"),
        (Failure(422, "Unprocessable"), "bad_request"),
        (Failure(404, "The model `gpt-nope` does not exist"), "not_found"),
        (Failure(403, "Project does not have access"), "auth"),
    ],
)
async def test_status_errors(
    llm: FakeLLM, provider: OpenAIProvider, item: Failure, kind: str
) -> None:
    llm.script(item)
    error = await failure(provider)
    assert (error.kind, error.status) == (kind, item.status)


async def test_wrong_key_is_auth_and_never_leaks(llm: FakeLLM) -> None:
    wrong = "sk-proj-wrong-key-987654"
    provider = OpenAIProvider(wrong, llm.openai_base_url)
    try:
        error = await failure(provider)
        assert (error.kind, error.status, error.retryable) == ("auth", 401, False)
        llm.api_key = None
        llm.script(Failure(401, f"Incorrect API key provided: {wrong}."))
        error = await failure(provider)
        assert wrong not in str(error)
        assert "[redacted]" in error.message
    finally:
        await provider.aclose()


async def test_connection_refused_is_connection() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = OpenAIProvider(KEY, f"http://127.0.0.1:{port}/v1")
    try:
        error = await failure(provider)
    finally:
        await provider.aclose()
    assert (error.kind, error.retryable) == ("connection", True)


async def test_hang_is_a_timeout(llm: FakeLLM) -> None:
    llm.script(Hang(10))
    provider = OpenAIProvider(KEY, llm.openai_base_url, timeout=0.2)
    try:
        error = await failure(provider)
    finally:
        await provider.aclose()
    assert (error.kind, error.retryable) == ("timeout", True)


async def test_disconnect_mid_stream_is_a_stream_error(
    llm: FakeLLM, provider: OpenAIProvider
) -> None:
    llm.script(Reply(text="partial answer", chunk_size=7, disconnect_after=1))
    received: list[Chunk] = []
    with pytest.raises(ProviderError) as caught:
        await collect_into(provider, received)
    assert (caught.value.kind, caught.value.retryable) == ("stream", True)
    assert texts(received, TextChunk) == ["partial"]


async def test_error_object_mid_stream_is_a_stream_error(
    llm: FakeLLM, provider: OpenAIProvider
) -> None:
    llm.script(Reply(text="partial answer", chunk_size=2, error_after=2, error_message="exploded"))
    error = await failure(provider)
    assert error.kind == "stream"
    assert "exploded" in error.message


async def test_disconnect_before_answering_is_connection(
    llm: FakeLLM, provider: OpenAIProvider
) -> None:
    llm.script(Disconnect())
    assert (await failure(provider)).kind == "connection"


async def test_exhausted_script_fails_fast(llm: FakeLLM, provider: OpenAIProvider) -> None:
    error = await failure(provider)
    assert (error.kind, error.status) == ("bad_request", 400)
    assert "script exhausted" in error.message
