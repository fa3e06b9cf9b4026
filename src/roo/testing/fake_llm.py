"""A fake LLM server: a real HTTP/1.1 server on loopback that answers from a script.

It speaks the two wire protocols the providers use, closely enough for the official SDKs:

* Anthropic Messages: `POST /v1/messages`. With `"stream": true` it sends the SSE events Anthropic
  sends (`message_start` with input and cache usage, `content_block_start`/`_delta`/`_stop` for
  `thinking` (thinking_delta, signature_delta), `text` (text_delta) and `tool_use`
  (input_json_delta in several fragments), `ping`, `message_delta` with the stop reason and the
  output tokens, `message_stop`); otherwise one Message JSON. Errors have Anthropic's shape
  `{"type": "error", "error": {"type": ..., "message": ...}}`; mid-stream errors are an SSE
  `event: error`.
* OpenAI Chat Completions: `POST /v1/chat/completions` (or `/chat/completions`). Streams
  `chat.completion.chunk` lines (`content`, `reasoning_content`, `tool_calls` fragments, the
  finish reason, a usage chunk when `stream_options.include_usage` is set, `[DONE]`); otherwise
  one `chat.completion`. Errors have OpenAI's shape `{"error": {"message", "type", "code"}}`.

The script is a queue shared by both protocols; each API request consumes the next item:

* `Reply(text, reasoning, tool_calls=[ToolCall(name, arguments)], usage=Usage(...), ...)`: a
  normal answer. Text, reasoning and tool arguments are sent in `chunk_size`-character deltas,
  `delay_per_chunk` seconds apart, after `first_byte_delay`. `disconnect_after=N` drops the
  connection after N content deltas; `error_after=N` sends a protocol error event after N;
  `hold_after=N` pauses the stream after N until `FakeLLM.release()` (a model that stops
  mid-reply for as long as a test needs; `FakeLLM.held` counts the streams waiting).
* `Failure(status, message, retry_after)`: an error response (`retry-after` header when given).
* `Hang(seconds)`: reads the request and answers nothing (for client timeouts).
* `Disconnect()`: closes the connection without answering.

`Usage` counts are in Anthropic's terms (`input_tokens` excludes the cache); on the OpenAI wire
`prompt_tokens` = input + cache_read + cache_write and `cached_tokens` = cache_read. Without a
`usage`, rough counts (characters / 4) are made up.

When the script is empty the server answers the `default_reply` if one was given, else a 400
`invalid_request_error` whose message starts with "fake llm: script exhausted" (a client fails
fast instead of retrying); `FakeLLM.exhausted` counts those requests.

Extended thinking (Anthropic): a reply's `reasoning` is a thinking block signed with
`thinking_signature(text)`. Requests are checked as Anthropic checks them, before any scripted
reply is taken (400 `invalid_request_error`, recorded as `bad_request`): a thinking budget of
at least 1,024 below `max_tokens`, no temperature but 1 with thinking on, every thinking block
sent back with its own signature, and with thinking on, the last assistant turn that used
tools starting with a thinking block.

The model listing: `GET /v1/models` (or `/models`) lists `FakeLLM.models` (id -> extra fields,
e.g. `{"my-model": {"context_length": 32768}}`), in OpenAI's list shape, or Anthropic's
(`type: model`, `display_name`, paged fields) when the request carries `x-api-key`. It is not
recorded and consumes nothing from the script. A request's `temperature` is in its recorded
body (`RecordedRequest.temperature`).

Every API request is recorded (`FakeLLM.requests`: path, headers with the credential replaced by
"<redacted>", which auth header was present, the parsed JSON body). With `api_key` set, a request
whose credential (`x-api-key` or `Authorization: Bearer` for Anthropic, Bearer for OpenAI) differs
gets a 401 in the protocol's shape and consumes nothing.

Use:

    async with FakeLLM() as llm:            # on the running event loop
        llm.script(Reply(text="hi"), Failure(429, retry_after=2))
        AsyncAnthropic(base_url=llm.anthropic_base_url, ...)
        AsyncOpenAI(base_url=llm.openai_base_url, ...)
        llm.requests[0].body

    with FakeLLM() as llm: ...              # on a loop in a thread (start_in_thread/stop_thread)

Out of process: `python -m roo.testing.fake_llm --port 8099 --script replies.json` (a JSON list
of items, `{"type": "reply" | "failure" | "hang" | "disconnect", ...fields}`), and the control
endpoints `POST /_fake/script` (append items), `GET /_fake/requests`, `POST /_fake/reset`,
`POST /_fake/release` (let one held stream go on), `GET /_fake/state`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import itertools
import json
import logging
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Self

log = logging.getLogger(__name__)

# ---- the script ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call in a reply. `arguments` as a dict is sent as JSON; a str is sent as it is (so a
    test can send invalid JSON). Without an `id` one is made up (`toolu_…` / `call_…`)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0  # uncached input (Anthropic's meaning)
    output_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0


@dataclass(frozen=True, slots=True)
class Reply:
    text: str = ""
    reasoning: str | None = None
    # Anthropic: a redacted_thinking block with this `data`, before the thinking block
    redacted_thinking: str | None = None
    tool_calls: Sequence[ToolCall] = ()
    usage: Usage | None = None
    # Anthropic stop reason (end_turn, tool_use, max_tokens); default from the tool calls.
    stop_reason: str | None = None
    chunk_size: int = 8
    delay_per_chunk: float = 0.0
    first_byte_delay: float = 0.0
    disconnect_after: int | None = None  # stream only: drop the connection after N deltas
    error_after: int | None = None  # stream only: send an error event after N deltas
    hold_after: int | None = None  # stream only: pause after N deltas until release()
    error_message: str = "Overloaded"


@dataclass(frozen=True, slots=True)
class Failure:
    status: int = 500
    message: str = ""
    retry_after: float | None = None
    error_type: str | None = None  # the protocol's error type; by default from the status
    code: str | None = None  # OpenAI's error code (e.g. "context_length_exceeded")


@dataclass(frozen=True, slots=True)
class Hang:
    seconds: float = 3600.0


@dataclass(frozen=True, slots=True)
class Disconnect:
    pass


ScriptItem = Reply | Failure | Hang | Disconnect
_KINDS: dict[str, type[ScriptItem]] = {
    "reply": Reply,
    "failure": Failure,
    "hang": Hang,
    "disconnect": Disconnect,
}


def item_from_json(data: Mapping[str, Any]) -> ScriptItem:
    """A script item from its JSON form: `{"type": "reply", "text": ...}` (type: reply if none)."""
    fields = dict(data)
    kind = fields.pop("type", "reply")
    cls = _KINDS.get(kind)
    if cls is None:
        raise ValueError(f"unknown script item type {kind!r}")
    if cls is Reply:
        fields["tool_calls"] = tuple(ToolCall(**call) for call in fields.get("tool_calls") or ())
        if fields.get("usage") is not None:
            fields["usage"] = Usage(**fields["usage"])
    try:
        return cls(**fields)
    except TypeError as exc:
        raise ValueError(f"bad {kind} item: {exc}") from None


def item_to_json(item: ScriptItem) -> dict[str, Any]:
    kind = next(name for name, cls in _KINDS.items() if isinstance(item, cls))
    return {"type": kind, **dataclasses.asdict(item)}


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    protocol: Literal["anthropic", "openai"]
    headers: dict[str, str]  # lower-cased names; credential values replaced by "<redacted>"
    auth_header: str | None  # "x-api-key", "authorization" or None
    body: Any  # the parsed JSON body
    outcome: str  # reply, failure, hang, disconnect, exhausted, unauthorized, bad_request

    @property
    def model(self) -> str | None:
        model = self._field("model")
        return model if isinstance(model, str) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self._field("messages") or []

    @property
    def temperature(self) -> Any:
        """The `temperature` sent, None when the request had none."""
        return self._field("temperature")

    @property
    def tools(self) -> list[dict[str, Any]]:
        return self._field("tools") or []

    @property
    def system(self) -> Any:
        """Anthropic: the `system` field; OpenAI: the content of the system message."""
        if self.protocol == "anthropic":
            return self._field("system")
        return next((m.get("content") for m in self.messages if m.get("role") == "system"), None)

    def _field(self, name: str) -> Any:
        return self.body.get(name) if isinstance(self.body, dict) else None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---- HTTP plumbing ------------------------------------------------------------------------------

_REASONS = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    529: "Overloaded",
}
_AUTH_HEADERS = ("authorization", "x-api-key")


class _BadHttp(Exception):
    pass


@dataclass(slots=True)
class _HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


async def _read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> _HttpRequest | None:
    line = await reader.readline()
    if not line.strip():
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3:
        raise _BadHttp(f"bad request line {line!r}")
    method, target, version = parts
    headers: dict[str, str] = {}
    while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, sep, value = header.decode("latin-1").partition(":")
        if not sep:
            raise _BadHttp(f"bad header line {header!r}")
        headers[name.strip().lower()] = value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while size := int((await reader.readline()).split(b";")[0].strip() or b"0", 16):
            body += await reader.readexactly(size)
            await reader.readline()
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
    return _HttpRequest(method.upper(), target.split("?", 1)[0], headers, body, keep_alive)


def _head(status: int, headers: Iterable[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _send_json(
    writer: asyncio.StreamWriter,
    status: int,
    payload: Any,
    headers: Iterable[tuple[str, str]] = (),
    *,
    keep_alive: bool = True,
) -> None:
    body = json.dumps(payload).encode()
    all_headers = [
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
        ("connection", "keep-alive" if keep_alive else "close"),
        *headers,
    ]
    writer.write(_head(status, all_headers) + body)
    await writer.drain()


def _pieces(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)]


_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_OPENAI_ERROR_TYPES = {429: "requests", 401: "invalid_request_error"}
_OPENAI_ERROR_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}
_DEFAULT_MESSAGES = {
    400: "Bad request",
    401: "invalid x-api-key",
    403: "Permission denied",
    404: "Not found",
    429: "Rate limited. Please try again later.",
    529: "Overloaded",
}
_FINISH_REASONS = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length"}


def _error_body(protocol: str, failure: Failure) -> dict[str, Any]:
    status = failure.status
    message = failure.message or _DEFAULT_MESSAGES.get(status, "Internal server error")
    if protocol == "anthropic":
        default_type = "api_error" if status >= 500 else "invalid_request_error"
        kind = failure.error_type or _ANTHROPIC_ERROR_TYPES.get(status, default_type)
        return {"type": "error", "error": {"type": kind, "message": message}}
    default_type = "server_error" if status >= 500 else "invalid_request_error"
    kind = failure.error_type or _OPENAI_ERROR_TYPES.get(status, default_type)
    code = failure.code or _OPENAI_ERROR_CODES.get(status)
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


# ---- the server ---------------------------------------------------------------------------------


def thinking_signature(thinking: str) -> str:
    """The signature the fake gives a thinking block: bound to its text, so a block sent back
    changed (or with another block's signature) is refused as Anthropic refuses it."""
    return "sig_fake_" + hashlib.sha256(thinking.encode()).hexdigest()[:32]


def _thinking_problem(body: dict[str, Any]) -> str | None:
    """Anthropic's checks of extended thinking, with its messages: the budget (at least
    1,024, below `max_tokens`), the temperature (1 only), every thinking block's signature,
    and, with thinking on, the final assistant turn that used tools starting with a thinking
    block (the API requires the signed blocks back during tool use). None: acceptable."""
    thinking = body.get("thinking")
    enabled = isinstance(thinking, dict) and thinking.get("type") == "enabled"
    if isinstance(thinking, dict) and enabled:
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if budget >= int(body.get("max_tokens") or 0):
            return "`max_tokens` must be greater than `thinking.budget_tokens`."
        temperature = body.get("temperature")
        if temperature is not None and temperature != 1:
            return (
                "`temperature` may only be set to 1 when thinking is enabled or in adaptive mode."
            )
    messages = body.get("messages") or []
    last_assistant: int | None = None
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        if message.get("role") == "assistant":
            last_assistant = i
        for j, block in enumerate(content):
            if not isinstance(block, dict) or block.get("type") != "thinking":
                continue
            if block.get("signature") != thinking_signature(str(block.get("thinking"))):
                return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
    if enabled and last_assistant is not None:
        content = messages[last_assistant].get("content")
        if isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") == "tool_use" for b in content
        ):
            first = content[0].get("type") if content and isinstance(content[0], dict) else None
            if first not in ("thinking", "redacted_thinking"):
                return (
                    f"messages.{last_assistant}.content.0.type: Expected `thinking` or "
                    f"`redacted_thinking`, but found `{first}`. When `thinking` is enabled, a "
                    "final `assistant` message must start with a thinking block (preceeding the "
                    "lastmost set of `tool_use` and `tool_result` blocks). We recommend you "
                    "include thinking blocks from previous turns. To avoid this requirement, "
                    "disable `thinking`."
                )
    return None


class FakeLLM:
    """The fake server. See the module docstring."""

    def __init__(
        self,
        script: Iterable[ScriptItem] = (),
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        default_reply: Reply | None = None,
        models: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.api_key = api_key
        # GET /v1/models: model id -> the extra fields of its entry
        self.models: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (models or {}).items()}
        self.host = host
        self.port = port
        self.default_reply = default_reply
        self.exhausted = 0
        self._lock = threading.Lock()
        self._script: deque[ScriptItem] = deque(script)
        self._requests: list[RecordedRequest] = []
        self._numbers = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self._thread_stop: asyncio.Event | None = None
        self._held = 0
        self._releases = 0

    # -- script and records (thread-safe) --

    def script(self, *items: ScriptItem) -> None:
        """Append replies to the script."""
        with self._lock:
            self._script.extend(items)

    def reset(self) -> None:
        """Forget the script, the recorded requests and the exhausted count."""
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self.exhausted = 0
            self._releases = 0

    @property
    def held(self) -> int:
        """Streams paused by `hold_after`, waiting for `release()`."""
        with self._lock:
            return self._held

    def release(self) -> None:
        """Let one held stream (or the next one to be held) go on."""
        with self._lock:
            self._releases += 1

    async def _hold(self) -> None:
        with self._lock:
            self._held += 1
        try:
            while True:
                with self._lock:
                    if self._releases:
                        self._releases -= 1
                        return
                await asyncio.sleep(0.005)
        finally:
            with self._lock:
                self._held -= 1

    @property
    def pending(self) -> int:
        """Script items not consumed yet."""
        with self._lock:
            return len(self._script)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            return self._requests[-1]

    def _next_item(self) -> ScriptItem | None:
        with self._lock:
            if self._script:
                return self._script.popleft()
            if self.default_reply is None:
                self.exhausted += 1
            return self.default_reply

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    # -- addresses --

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    # -- lifecycle --

    async def start(self) -> Self:
        """Listen on the running event loop (port 0: an ephemeral port, then in `self.port`)."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and drop every connection (hanging requests included)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self, timeout: float = 5.0) -> Self:
        """Serve on an event loop of its own in a daemon thread; `stop_thread()` ends it."""
        ready = threading.Event()
        failure: list[BaseException] = []

        async def run() -> None:
            self._thread_loop = asyncio.get_running_loop()
            self._thread_stop = asyncio.Event()
            try:
                await self.start()
            except BaseException as exc:
                failure.append(exc)
                raise
            finally:
                ready.set()
            try:
                await self._thread_stop.wait()
            finally:
                await self.stop()

        def main() -> None:
            with contextlib.suppress(BaseException):
                asyncio.run(run())

        self._thread = threading.Thread(target=main, name="fake-llm", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("fake llm did not start")
        if failure:
            raise failure[0]
        return self

    def stop_thread(self, timeout: float = 5.0) -> None:
        thread, loop, stop = self._thread, self._thread_loop, self._thread_stop
        if thread is None or loop is None or stop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already ended
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout)
        self._thread = self._thread_loop = self._thread_stop = None

    def __enter__(self) -> Self:
        return self.start_in_thread()

    def __exit__(self, *exc: object) -> None:
        self.stop_thread()

    # -- connections --

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            while (request := await _read_request(reader, writer)) is not None:
                if not await self._dispatch(request, writer) or not request.keep_alive:
                    break
        except (_BadHttp, ValueError) as exc:
            with contextlib.suppress(ConnectionError):
                await _send_json(writer, 400, {"error": {"message": str(exc)}}, keep_alive=False)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # `stop()` cancels the connections; ending normally keeps asyncio 3.11 from logging it
            if self._server is not None:
                raise
        except Exception:
            log.exception("fake llm: request failed")
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()

    async def _dispatch(self, request: _HttpRequest, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection must be closed."""
        path = request.path.rstrip("/")
        if path.startswith("/_fake/"):
            await self._control(request, path, writer)
            return True
        if request.method == "GET" and path in ("/v1/models", "/models"):
            await self._list_models(request, writer)
            return True
        protocol: Literal["anthropic", "openai"]
        if request.method == "POST" and path in ("/v1/messages", "/messages"):
            protocol = "anthropic"
        elif request.method == "POST" and path in ("/v1/chat/completions", "/chat/completions"):
            protocol = "openai"
        else:
            failure = Failure(404, f"no route for {request.method} {request.path}")
            await _send_json(writer, 404, _error_body("anthropic", failure))
            return True

        auth_header = next((h for h in _AUTH_HEADERS if request.headers.get(h)), None)
        headers = {
            name: "<redacted>" if name in _AUTH_HEADERS else value
            for name, value in request.headers.items()
        }
        try:
            body: Any = json.loads(request.body or b"null")
        except ValueError:
            body = None

        def record(outcome: str) -> None:
            self._record(
                RecordedRequest(
                    request.method, request.path, protocol, headers, auth_header, body, outcome
                )
            )

        if not isinstance(body, dict):
            record("bad_request")
            failure = Failure(400, "the body is not a JSON object")
            await _send_json(writer, 400, _error_body(protocol, failure))
            return True
        if self.api_key is not None and self._credential(request, protocol) != self.api_key:
            record("unauthorized")
            message = (
                "invalid x-api-key" if protocol == "anthropic" else "Incorrect API key provided."
            )
            await _send_json(writer, 401, _error_body(protocol, Failure(401, message)))
            return True

        problem = _thinking_problem(body) if protocol == "anthropic" else None
        if problem is not None:  # refused as Anthropic does, before any scripted reply
            record("bad_request")
            await _send_json(writer, 400, _error_body(protocol, Failure(400, problem)))
            return True

        number = next(self._numbers)
        item = self._next_item()
        if item is None:
            record("exhausted")
            message = f"fake llm: script exhausted (no scripted reply left for request #{number})"
            await _send_json(writer, 400, _error_body(protocol, Failure(400, message)))
            return True
        record(next(name for name, cls in _KINDS.items() if isinstance(item, cls)))
        if isinstance(item, Failure):
            extra = [("request-id" if protocol == "anthropic" else "x-request-id", f"req_{number}")]
            if item.retry_after is not None:
                value = item.retry_after
                extra.append(
                    ("retry-after", str(int(value)) if value == int(value) else str(value))
                )
            await _send_json(writer, item.status, _error_body(protocol, item), extra)
            return True
        if isinstance(item, Hang):
            await asyncio.sleep(item.seconds)
            return False
        if isinstance(item, Disconnect):
            return False
        responder = _Responder(protocol, item, body, number, len(request.body), writer)
        return await responder.send(self._hold)

    async def _list_models(self, request: _HttpRequest, writer: asyncio.StreamWriter) -> None:
        anthropic = "x-api-key" in request.headers
        protocol = "anthropic" if anthropic else "openai"
        if self.api_key is not None and self._credential(request, protocol) != self.api_key:
            await _send_json(writer, 401, _error_body(protocol, Failure(401, "invalid key")))
            return
        models = dict(self.models)
        if anthropic:
            data = [
                {
                    "type": "model",
                    "id": model_id,
                    "display_name": model_id,
                    "created_at": "2025-01-01T00:00:00Z",
                    **extra,
                }
                for model_id, extra in models.items()
            ]
            first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
            body: dict[str, Any] = {
                "data": data,
                "has_more": False,
                "first_id": first,
                "last_id": last,
            }
        else:
            body = {
                "object": "list",
                "data": [
                    {"id": model_id, "object": "model", "created": 0, "owned_by": "fake", **extra}
                    for model_id, extra in models.items()
                ],
            }
        await _send_json(writer, 200, body)

    @staticmethod
    def _credential(request: _HttpRequest, protocol: str) -> str | None:
        bearer = request.headers.get("authorization", "")
        token = bearer[7:].strip() if bearer.lower().startswith("bearer ") else None
        if protocol == "anthropic" and "x-api-key" in request.headers:
            return request.headers["x-api-key"]
        return token

    async def _control(
        self, request: _HttpRequest, path: str, writer: asyncio.StreamWriter
    ) -> None:
        if request.method == "POST" and path == "/_fake/script":
            try:
                data = json.loads(request.body or b"[]")
                items = data.get("script", []) if isinstance(data, dict) else data
                self.script(*(item_from_json(item) for item in items))
            except (ValueError, TypeError, AttributeError) as exc:
                await _send_json(writer, 400, {"error": {"message": str(exc)}})
                return
            await _send_json(writer, 200, {"pending": self.pending})
        elif request.method == "GET" and path == "/_fake/requests":
            await _send_json(writer, 200, [r.to_json() for r in self.requests])
        elif request.method == "POST" and path == "/_fake/release":
            self.release()
            await _send_json(writer, 200, {"held": self.held})
        elif request.method == "POST" and path == "/_fake/reset":
            self.reset()
            await _send_json(writer, 200, {"pending": 0})
        elif request.method == "GET" and path == "/_fake/state":
            state = {"pending": self.pending, "requests": len(self.requests), "held": self.held}
            await _send_json(writer, 200, {**state, "exhausted": self.exhausted})
        else:
            await _send_json(writer, 404, {"error": {"message": f"no control route {path}"}})


# ---- answering one request ----------------------------------------------------------------------


Event = tuple[str | None, dict[str, Any], bool]  # SSE event name, data, is a content delta


class _Responder:
    def __init__(
        self,
        protocol: Literal["anthropic", "openai"],
        reply: Reply,
        body: dict[str, Any],
        number: int,
        body_size: int,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.protocol = protocol
        self.reply = reply
        self.body = body
        self.number = number
        self.writer = writer
        self.model = str(body.get("model") or "fake-model")
        self.stream = bool(body.get("stream"))
        self.calls = [
            (call.id or f"{'toolu' if protocol == 'anthropic' else 'call'}_fake_{number}_{i}", call)
            for i, call in enumerate(reply.tool_calls)
        ]
        generated = len(reply.text) + len(reply.reasoning or "")
        generated += sum(len(call.arguments_json()) for call in reply.tool_calls)
        self.usage = reply.usage or Usage(max(1, body_size // 4), max(1, generated // 4))
        self.stop_reason = reply.stop_reason or ("tool_use" if reply.tool_calls else "end_turn")

    async def send(self, hold: Callable[[], Awaitable[None]]) -> bool:
        if self.reply.first_byte_delay:
            await asyncio.sleep(self.reply.first_byte_delay)
        if not self.stream:
            message = (
                self._anthropic_message() if self.protocol == "anthropic" else self._completion()
            )
            await _send_json(self.writer, 200, message)
            return True
        headers = [
            ("content-type", "text/event-stream; charset=utf-8"),
            ("cache-control", "no-cache"),
            ("transfer-encoding", "chunked"),
            ("connection", "keep-alive"),
        ]
        self.writer.write(_head(200, headers))
        events = self._anthropic_events() if self.protocol == "anthropic" else self._openai_events()
        deltas = 0
        for name, data, is_delta in events:
            if is_delta:
                if deltas == self.reply.disconnect_after:
                    await self.writer.drain()
                    self.writer.transport.abort()
                    return False
                if deltas == self.reply.error_after:
                    await self._event(*self._error_event())
                    await self._chunk(b"")
                    return True
                if deltas == self.reply.hold_after:
                    await hold()
                deltas += 1
                if self.reply.delay_per_chunk:
                    await asyncio.sleep(self.reply.delay_per_chunk)
            await self._event(name, data)
        if self.protocol == "openai":
            await self._chunk(b"data: [DONE]\n\n")
        await self._chunk(b"")
        return True

    async def _event(self, name: str | None, data: dict[str, Any]) -> None:
        prefix = f"event: {name}\n" if name else ""
        await self._chunk(f"{prefix}data: {json.dumps(data)}\n\n".encode())

    async def _chunk(self, data: bytes) -> None:
        self.writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        await self.writer.drain()

    def _error_event(self) -> tuple[str | None, dict[str, Any]]:
        failure = Failure(529 if self.protocol == "anthropic" else 500, self.reply.error_message)
        body = _error_body(self.protocol, failure)
        return ("error", body) if self.protocol == "anthropic" else (None, body)

    # -- Anthropic --

    def _anthropic_usage(self, output_tokens: int) -> dict[str, int]:
        return {
            "input_tokens": self.usage.input_tokens,
            "cache_creation_input_tokens": self.usage.cache_write,
            "cache_read_input_tokens": self.usage.cache_read,
            "output_tokens": output_tokens,
        }

    def _anthropic_message(self) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if self.reply.redacted_thinking:
            content.append({"type": "redacted_thinking", "data": self.reply.redacted_thinking})
        if self.reply.reasoning:
            signature = thinking_signature(self.reply.reasoning)
            content.append(
                {"type": "thinking", "thinking": self.reply.reasoning, "signature": signature}
            )
        if self.reply.text or not self.calls:
            content.append({"type": "text", "text": self.reply.text})
        for call_id, call in self.calls:
            try:
                arguments = json.loads(call.arguments_json() or "{}")
            except ValueError:
                arguments = {}
            content.append(
                {"type": "tool_use", "id": call_id, "name": call.name, "input": arguments}
            )
        return {
            "id": f"msg_fake_{self.number}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": self.stop_reason,
            "stop_sequence": None,
            "usage": self._anthropic_usage(self.usage.output_tokens),
        }

    def _anthropic_events(self) -> Iterator[Event]:
        message = {**self._anthropic_message(), "content": [], "stop_reason": None}
        message["usage"] = self._anthropic_usage(min(1, self.usage.output_tokens))
        yield "message_start", {"type": "message_start", "message": message}, False
        size = self.reply.chunk_size
        blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        if self.reply.redacted_thinking:
            blocks.append(({"type": "redacted_thinking", "data": self.reply.redacted_thinking}, []))
        if self.reply.reasoning:
            deltas = [
                {"type": "thinking_delta", "thinking": p}
                for p in _pieces(self.reply.reasoning, size)
            ]
            signature = thinking_signature(self.reply.reasoning)
            deltas.append({"type": "signature_delta", "signature": signature})
            blocks.append(({"type": "thinking", "thinking": ""}, deltas))
        if self.reply.text or not self.calls:
            deltas = [{"type": "text_delta", "text": p} for p in _pieces(self.reply.text, size)]
            blocks.append(({"type": "text", "text": ""}, deltas))
        for call_id, call in self.calls:
            fragments = ["", *_pieces(call.arguments_json(), size)]
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in fragments]
            blocks.append(
                ({"type": "tool_use", "id": call_id, "name": call.name, "input": {}}, deltas)
            )
        for index, (block, deltas) in enumerate(blocks):
            yield (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": block},
                False,
            )
            if index == 0:
                yield "ping", {"type": "ping"}, False
            for delta in deltas:
                yield (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                    True,
                )
            yield "content_block_stop", {"type": "content_block_stop", "index": index}, False
        stop: dict[str, Any] = {"stop_reason": self.stop_reason, "stop_sequence": None}
        usage = {"output_tokens": self.usage.output_tokens}
        yield "message_delta", {"type": "message_delta", "delta": stop, "usage": usage}, False
        yield "message_stop", {"type": "message_stop"}, False

    # -- OpenAI --

    def _openai_usage(self) -> dict[str, Any]:
        u = self.usage
        prompt = u.input_tokens + u.cache_read + u.cache_write
        details: dict[str, int] = {"cached_tokens": u.cache_read}
        if u.cache_write:
            details["cache_write_tokens"] = u.cache_write
        return {
            "prompt_tokens": prompt,
            "completion_tokens": u.output_tokens,
            "total_tokens": prompt + u.output_tokens,
            "prompt_tokens_details": details,
        }

    def _finish_reason(self) -> str:
        return _FINISH_REASONS.get(self.stop_reason, self.stop_reason)

    def _completion_base(self, kind: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-fake-{self.number}",
            "object": kind,
            "created": int(time.time()),
            "model": self.model,
            "system_fingerprint": None,
        }

    def _completion(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.reply.text or None}
        if self.reply.reasoning:
            message["reasoning_content"] = self.reply.reasoning
        if self.calls:
            message["tool_calls"] = [
                {
                    "id": i,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments_json()},
                }
                for i, c in self.calls
            ]
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": self._finish_reason(),
        }
        return {
            **self._completion_base("chat.completion"),
            "choices": [choice],
            "usage": self._openai_usage(),
        }

    def _openai_events(self) -> Iterator[Event]:
        base = self._completion_base("chat.completion.chunk")
        options = self.body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        if include_usage:
            base["usage"] = None

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return {**base, "choices": [choice]}

        size = self.reply.chunk_size
        yield None, chunk({"role": "assistant", "content": ""}), False
        for piece in _pieces(self.reply.reasoning or "", size):
            yield None, chunk({"reasoning_content": piece}), True
        for piece in _pieces(self.reply.text, size):
            yield None, chunk({"content": piece}), True
        for index, (call_id, call) in enumerate(self.calls):
            function = {"name": call.name, "arguments": ""}
            start = {"index": index, "id": call_id, "type": "function", "function": function}
            yield None, chunk({"tool_calls": [start]}), False
            for piece in _pieces(call.arguments_json(), size):
                yield (
                    None,
                    chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
                    True,
                )
        yield None, chunk({}, self._finish_reason()), False
        if include_usage:
            yield None, {**base, "choices": [], "usage": self._openai_usage()}, False


# ---- command line -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m roo.testing.fake_llm", description="Serve a scripted fake LLM."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: an ephemeral port (printed)")
    parser.add_argument("--script", help="a JSON file: a list of script items")
    parser.add_argument("--api-key", help="the credential requests must carry")
    parser.add_argument("--default-text", help="answer this text when the script is empty")
    parser.add_argument(
        "--default-reply",
        help="answer this script item (JSON, e.g. a tool call) when the script is empty",
    )
    args = parser.parse_args(argv)
    script: list[ScriptItem] = []
    if args.script:
        with open(args.script, encoding="utf-8") as file:
            script = [item_from_json(item) for item in json.load(file)]
    default: Reply | None = None
    if args.default_reply is not None:
        item = item_from_json(json.loads(args.default_reply))
        if not isinstance(item, Reply):
            parser.error("--default-reply must be a reply")
        default = item
    elif args.default_text is not None:
        default = Reply(text=args.default_text)
    llm = FakeLLM(
        script, api_key=args.api_key, host=args.host, port=args.port, default_reply=default
    )

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with llm:
            sys.stdout.write(f"fake llm listening on {llm.url}\n")
            sys.stdout.flush()
            await stop.wait()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
