"""The fake LLM server: wire formats (raw HTTP and the official SDKs), script, records, auth,
control endpoints, the threaded mode and the command line."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from roo.testing import (
    Disconnect,
    Failure,
    FakeLLM,
    Hang,
    Reply,
    ScriptItem,
    ToolCall,
    Usage,
    item_from_json,
    item_to_json,
)
from roo.testing.fake_llm import thinking_signature

KEY = "sk-test-fake-key-0123"
MESSAGE = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with FakeLLM(api_key=KEY) as server:
        yield server


@pytest.fixture
async def http(llm: FakeLLM) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=llm.url, timeout=5) as client:
        yield client


def sse_events(text: str) -> list[tuple[str | None, Any]]:
    """(event name, parsed data) per SSE event; `[DONE]` stays a string."""
    events: list[tuple[str | None, Any]] = []
    for raw in text.strip().split("\n\n"):
        name = None
        data = ""
        for line in raw.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
        events.append((name, data if data == "[DONE]" else json.loads(data)))
    return events


ANTHROPIC_HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
OPENAI_HEADERS = {"authorization": f"Bearer {KEY}"}


async def test_anthropic_stream_is_anthropic_sse(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.script(
        Reply(
            text="Hello world",
            reasoning="think",
            tool_calls=[ToolCall("read_file", {"path": "src/app.py"}, id="toolu_1")],
            usage=Usage(input_tokens=11, output_tokens=7, cache_read=5, cache_write=3),
            chunk_size=4,
        )
    )
    body = {"model": "claude-x", "max_tokens": 10, "messages": MESSAGE, "stream": True}
    response = await http.post("/v1/messages", json=body, headers=ANTHROPIC_HEADERS)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    assert all(name == data["type"] for name, data in events)
    start = events[0][1]["message"]
    assert start["usage"] == {
        "input_tokens": 11,
        "cache_creation_input_tokens": 3,
        "cache_read_input_tokens": 5,
        "output_tokens": 1,
    }
    assert start["model"] == "claude-x"
    blocks = [d["content_block"]["type"] for n, d in events if n == "content_block_start"]
    assert blocks == ["thinking", "text", "tool_use"]
    deltas = [d["delta"] for n, d in events if n == "content_block_delta"]
    assert "".join(d.get("thinking", "") for d in deltas) == "think"
    assert any(d["type"] == "signature_delta" for d in deltas)
    assert [d["text"] for d in deltas if d["type"] == "text_delta"] == ["Hell", "o wo", "rld"]
    fragments = [d["partial_json"] for d in deltas if d["type"] == "input_json_delta"]
    assert len(fragments) > 2
    assert json.loads("".join(fragments)) == {"path": "src/app.py"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert events[-2][1]["usage"] == {"output_tokens": 7}


async def test_openai_stream_is_chunk_lines(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.script(
        Reply(text="Hi there", reasoning="hmm", tool_calls=[ToolCall("ls", {"p": "."})]),
        Reply(text="again"),
    )
    body = {"model": "gpt-x", "messages": MESSAGE, "stream": True}
    options = {"stream_options": {"include_usage": True}}
    response = await http.post("/v1/chat/completions", json=body | options, headers=OPENAI_HEADERS)
    events = [data for _, data in sse_events(response.text)]
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] > 0
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    deltas = [c["choices"][0]["delta"] for c in chunks[:-1]]
    assert "".join(d.get("content") or "" for d in deltas) == "Hi there"
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "hmm"
    calls = [call for d in deltas for call in d.get("tool_calls", [])]
    assert calls[0]["function"]["name"] == "ls"
    assert calls[0]["type"] == "function"
    assert calls[0]["id"].startswith("call_")
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"p": "."}

    # without include_usage: no usage chunk; /chat/completions without /v1 also answers
    response = await http.post("/chat/completions", json=body, headers=OPENAI_HEADERS)
    chunks = [data for _, data in sse_events(response.text)][:-1]
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_non_stream_replies_through_the_sdks(llm: FakeLLM) -> None:
    llm.script(
        Reply(text="plain", reasoning="r", tool_calls=[ToolCall("f", {"a": 1}, id="t1")]),
        Reply(text="done", usage=Usage(10, 2, cache_read=4)),
    )
    claude = anthropic.AsyncAnthropic(api_key=KEY, base_url=llm.anthropic_base_url, max_retries=0)
    gpt = openai.AsyncOpenAI(api_key=KEY, base_url=llm.openai_base_url, max_retries=0)
    try:
        message = await claude.messages.create(model="m", max_tokens=5, messages=MESSAGE)  # type: ignore[arg-type]
        assert [block.type for block in message.content] == ["thinking", "text", "tool_use"]
        assert message.stop_reason == "tool_use"
        tool_use = message.content[2]
        assert isinstance(tool_use, anthropic.types.ToolUseBlock)
        assert tool_use.input == {"a": 1}
        assert tool_use.id == "t1"
        completion = await gpt.chat.completions.create(model="m", messages=MESSAGE)  # type: ignore[arg-type]
        assert completion.choices[0].message.content == "done"
        assert completion.choices[0].finish_reason == "stop"
        assert completion.usage is not None
        assert completion.usage.prompt_tokens == 14  # input + cache reads: OpenAI's count
        assert completion.usage.prompt_tokens_details is not None
        assert completion.usage.prompt_tokens_details.cached_tokens == 4
    finally:
        await claude.close()
        await gpt.close()


async def test_records_requests_without_the_credential(
    llm: FakeLLM, http: httpx.AsyncClient
) -> None:
    llm.script(Reply(text="a"), Reply(text="b"))
    body = {"model": "m1", "max_tokens": 5, "system": "SYS", "messages": MESSAGE}
    await http.post("/v1/messages", json=body, headers=ANTHROPIC_HEADERS)
    await http.post(
        "/v1/chat/completions",
        json={"model": "m2", "messages": [{"role": "system", "content": "S2"}, *MESSAGE]},
        headers=OPENAI_HEADERS,
    )
    first, second = llm.requests
    assert (first.protocol, first.path, first.model, first.system) == (
        "anthropic",
        "/v1/messages",
        "m1",
        "SYS",
    )
    assert first.auth_header == "x-api-key"
    assert first.headers["x-api-key"] == "<redacted>"
    assert first.messages == MESSAGE
    assert (second.protocol, second.model, second.system) == ("openai", "m2", "S2")
    assert second.auth_header == "authorization"
    assert KEY not in json.dumps([r.to_json() for r in llm.requests])
    assert llm.last_request == second
    assert llm.pending == 0


async def test_wrong_key_gets_401_in_each_shape_and_consumes_nothing(
    llm: FakeLLM, http: httpx.AsyncClient
) -> None:
    llm.script(Reply(text="kept"))
    wrong = await http.post("/v1/messages", json={"messages": []}, headers={"x-api-key": "nope"})
    assert wrong.status_code == 401
    assert wrong.json()["type"] == "error"
    assert wrong.json()["error"]["type"] == "authentication_error"
    missing = await http.post("/v1/chat/completions", json={"messages": []})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "invalid_api_key"
    assert llm.pending == 1
    assert [r.outcome for r in llm.requests] == ["unauthorized", "unauthorized"]


async def test_failures_in_each_protocol_shape(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.script(
        Failure(429, retry_after=2),
        Failure(529),
        Failure(400, "too long", code="context_length_exceeded"),
        Failure(500, "boom"),
    )
    rate = await http.post("/v1/messages", json={}, headers=ANTHROPIC_HEADERS)
    assert rate.status_code == 429
    assert rate.headers["retry-after"] == "2"
    assert rate.json()["error"]["type"] == "rate_limit_error"
    overloaded = await http.post("/v1/messages", json={}, headers=ANTHROPIC_HEADERS)
    assert overloaded.status_code == 529
    assert overloaded.json()["error"]["type"] == "overloaded_error"
    context = await http.post("/v1/chat/completions", json={}, headers=OPENAI_HEADERS)
    assert context.json() == {
        "error": {
            "message": "too long",
            "type": "invalid_request_error",
            "param": None,
            "code": "context_length_exceeded",
        }
    }
    server = await http.post("/v1/chat/completions", json={}, headers=OPENAI_HEADERS)
    assert server.status_code == 500
    assert server.json()["error"]["type"] == "server_error"


async def test_exhausted_script_is_a_400_unless_a_default_reply_is_set(
    llm: FakeLLM, http: httpx.AsyncClient
) -> None:
    response = await http.post("/v1/messages", json={}, headers=ANTHROPIC_HEADERS)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("fake llm: script exhausted")
    assert llm.exhausted == 1
    assert llm.requests[0].outcome == "exhausted"

    llm.default_reply = Reply(text="(default)")
    response = await http.post("/v1/chat/completions", json={}, headers=OPENAI_HEADERS)
    assert response.json()["choices"][0]["message"]["content"] == "(default)"
    assert llm.exhausted == 1


async def test_mid_stream_error_and_disconnect(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.script(
        Reply(text="abcdefgh", chunk_size=2, error_after=2),
        Reply(text="abcdefgh", chunk_size=2, error_after=1),
        Reply(text="abcdefgh", chunk_size=2, disconnect_after=2),
    )
    body = {"stream": True}
    response = await http.post("/v1/messages", json=body, headers=ANTHROPIC_HEADERS)
    events = sse_events(response.text)
    assert events[-1] == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    assert [d["delta"]["text"] for n, d in events if n == "content_block_delta"] == ["ab", "cd"]
    response = await http.post("/v1/chat/completions", json=body, headers=OPENAI_HEADERS)
    last = sse_events(response.text)[-1][1]
    assert last["error"]["type"] == "server_error"

    with pytest.raises(httpx.RemoteProtocolError):
        await http.post("/v1/messages", json=body, headers=ANTHROPIC_HEADERS)


async def test_a_held_stream_pauses_mid_reply_until_released(
    llm: FakeLLM, http: httpx.AsyncClient
) -> None:
    llm.script(Reply(text="abcdefgh", chunk_size=2, hold_after=1))
    body = {"stream": True}
    received: list[str] = []
    async with http.stream(
        "POST", "/v1/messages", json=body, headers=ANTHROPIC_HEADERS
    ) as response:
        lines = response.aiter_lines()
        async for line in lines:
            if '"text_delta"' in line:
                received.append(json.loads(line[6:])["delta"]["text"])
                break
        for _ in range(2000):  # the first delta came, the second waits
            if llm.held:
                break
            await asyncio.sleep(0.005)
        assert received == ["ab"]
        assert (await http.post("/_fake/release")).json() == {"held": 1}
        async for line in lines:
            if '"text_delta"' in line:
                received.append(json.loads(line[6:])["delta"]["text"])
    assert received == ["ab", "cd", "ef", "gh"]
    assert llm.held == 0


async def test_hang_and_disconnect(llm: FakeLLM) -> None:
    llm.script(Hang(5), Disconnect())
    async with httpx.AsyncClient(base_url=llm.url, timeout=0.2) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/v1/messages", json={}, headers=ANTHROPIC_HEADERS)
        assert time.monotonic() - started < 1
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/v1/messages", json={}, headers=ANTHROPIC_HEADERS)
    assert [r.outcome for r in llm.requests] == ["hang", "disconnect"]


async def test_stop_ends_hanging_requests_quickly() -> None:
    llm = await FakeLLM([Hang(30)]).start()
    async with httpx.AsyncClient(base_url=llm.url, timeout=5) as client:
        pending = asyncio.create_task(client.post("/v1/messages", json={}))
        for _ in range(200):  # until the server has read the request
            if llm.requests:
                break
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await llm.stop()
        with pytest.raises(httpx.RemoteProtocolError):
            await pending
        assert time.monotonic() - started < 0.5
    await llm.stop()  # idempotent


async def test_control_endpoints(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    script = [
        {"type": "reply", "text": "from control", "tool_calls": [{"name": "f", "arguments": "{}"}]},
        {"type": "failure", "status": 429, "retry_after": 1},
    ]
    response = await http.post("/_fake/script", json=script)
    assert response.json() == {"pending": 2}
    client = openai.AsyncOpenAI(api_key=KEY, base_url=llm.openai_base_url, max_retries=0)
    try:
        completion = await client.chat.completions.create(model="m", messages=MESSAGE)  # type: ignore[arg-type]
        assert completion.choices[0].message.content == "from control"
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(model="m", messages=MESSAGE)  # type: ignore[arg-type]
    finally:
        await client.close()
    recorded = (await http.get("/_fake/requests")).json()
    assert [r["outcome"] for r in recorded] == ["reply", "failure"]
    assert recorded[0]["body"]["messages"] == MESSAGE
    assert (await http.get("/_fake/state")).json() == {
        "pending": 0,
        "requests": 2,
        "held": 0,
        "exhausted": 0,
    }
    bad = await http.post("/_fake/script", json=[{"type": "nonsense"}])
    assert bad.status_code == 400
    await http.post("/_fake/script", json={"script": [{"text": "x"}]})
    assert llm.pending == 1
    assert (await http.post("/_fake/reset")).status_code == 200
    assert (llm.pending, llm.requests) == (0, [])


async def test_chunked_request_body_and_unknown_route(
    llm: FakeLLM, http: httpx.AsyncClient
) -> None:
    llm.script(Reply(text="ok"))

    async def body() -> AsyncIterator[bytes]:
        yield b'{"model": "m", '
        yield b'"messages": []}'

    response = await http.post("/v1/chat/completions", content=body(), headers=OPENAI_HEADERS)
    assert response.json()["choices"][0]["message"]["content"] == "ok"
    assert llm.last_request.model == "m"
    missing = await http.get("/v1/nowhere")
    assert missing.status_code == 404


def test_script_items_round_trip_through_json() -> None:
    items: list[ScriptItem] = [
        Reply(text="t", tool_calls=(ToolCall("f", {"a": 1}, id="x"),), usage=Usage(1, 2, 3, 4)),
        Failure(429, "slow down", retry_after=1.5),
        Hang(2),
        Disconnect(),
    ]
    assert [item_from_json(json.loads(json.dumps(item_to_json(i)))) for i in items] == items
    assert item_from_json({"text": "default type"}) == Reply(text="default type")
    with pytest.raises(ValueError, match="bad reply"):
        item_from_json({"txt": "typo"})


def test_threaded_mode_serves_sync_clients_and_stops_cleanly() -> None:
    before = threading.active_count()
    with FakeLLM([Reply(text="from a thread")]) as llm:
        client = anthropic.Anthropic(api_key="k", base_url=llm.anthropic_base_url, max_retries=0)
        with client:
            message = client.messages.create(model="m", max_tokens=5, messages=MESSAGE)  # type: ignore[arg-type]
        block = message.content[0]
        assert isinstance(block, anthropic.types.TextBlock)
        assert block.text == "from a thread"
        llm.script(Reply(text="second"))
        assert llm.pending == 1
    assert threading.active_count() == before


def test_command_line_serves_a_script_file(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"text": "scripted on disk"}]))
    process = subprocess.Popen(
        [sys.executable, "-m", "roo.testing.fake_llm", "--script", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("fake llm listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()
        client = openai.OpenAI(api_key="k", base_url=f"{url}/v1", max_retries=0)
        with client:
            first = client.chat.completions.create(model="m", messages=MESSAGE)  # type: ignore[arg-type]
            assert first.choices[0].message.content == "scripted on disk"
            httpx.post(f"{url}/_fake/script", json=[{"text": "posted"}], timeout=5)
            second = client.chat.completions.create(model="m", messages=MESSAGE)  # type: ignore[arg-type]
            assert second.choices[0].message.content == "posted"
        recorded = httpx.get(f"{url}/_fake/requests", timeout=5).json()
        assert len(recorded) == 2
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=5)
    assert process.returncode == 0
    assert "Warning" not in stderr


THINKING = {"type": "enabled", "budget_tokens": 2048}


def _tool_loop(first_block: dict[str, object] | None) -> list[dict[str, object]]:
    assistant: list[dict[str, object]] = [
        {"type": "tool_use", "id": "t1", "name": "f", "input": {}}
    ]
    if first_block is not None:
        assistant.insert(0, first_block)
    return [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": assistant},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x"}]},
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 500}}, "greater than or equal to 1024"),
        ({"thinking": {"type": "enabled", "budget_tokens": 8000}}, "must be greater than"),
        ({"thinking": THINKING, "temperature": 0}, "`temperature` may only be set to 1"),
        ({"thinking": THINKING, "messages": _tool_loop(None)}, "Expected `thinking` or"),
        (
            {
                "messages": _tool_loop(
                    {"type": "thinking", "thinking": "plan", "signature": "forged"}
                )
            },
            "Invalid `signature` in `thinking` block",
        ),
    ],
)
async def test_anthropic_thinking_rules_are_checked(
    llm: FakeLLM, http: httpx.AsyncClient, body: dict[str, object], message: str
) -> None:
    """The requests Anthropic refuses with extended thinking are refused here too, before any
    scripted reply is taken; the same requests done right are answered."""
    llm.script(Reply(text="ok"))
    request = {"model": "m", "max_tokens": 4096, "messages": MESSAGE, **body}
    response = await http.post("/v1/messages", json=request, headers=ANTHROPIC_HEADERS)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert message in response.json()["error"]["message"]
    assert llm.requests[-1].outcome == "bad_request"
    signed = {"type": "thinking", "thinking": "plan", "signature": thinking_signature("plan")}
    good = {
        "model": "m",
        "max_tokens": 4096,
        "thinking": THINKING,
        "temperature": 1,
        "messages": _tool_loop(signed),
    }
    response = await http.post("/v1/messages", json=good, headers=ANTHROPIC_HEADERS)
    assert response.status_code == 200, response.text


async def test_anthropic_thinking_blocks_are_signed_by_their_text(llm: FakeLLM) -> None:
    llm.script(Reply(text="t", reasoning="first thought"))
    claude = anthropic.AsyncAnthropic(api_key=KEY, base_url=llm.anthropic_base_url, max_retries=0)
    try:
        async with claude.messages.stream(
            model="m",
            max_tokens=4096,
            thinking={"type": "enabled", "budget_tokens": 2048},
            messages=[{"role": "user", "content": "hi"}],
        ) as stream:
            message = await stream.get_final_message()
    finally:
        await claude.close()
    thinking = message.content[0]
    assert isinstance(thinking, anthropic.types.ThinkingBlock)
    assert thinking.thinking == "first thought"
    assert thinking.signature == thinking_signature("first thought")
