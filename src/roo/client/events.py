"""Following a session's events live: WebSocket first, SSE when the WebSocket is refused.

`follow(client, session_id, after=0)` is an async iterator of the session's events after
`after` (docs/realtime.md): what the log already holds, then each event as it is committed. It
keeps the `seq` of the last event it yielded and, when the connection ends (the service
restarting closes it with 1012, a proxy drops it, 4408 for a reader too slow), reconnects from
there with a new one-use ticket, so each event is yielded once, in order, with no gap (an event
at or before the last `seq` is skipped should a stream repeat it).

- WebSocket: `POST .../ws-ticket`, then `.../ws?ticket=...&lastSeq=N` (the `websockets`
  library). The ticket request goes through the client, so an expired access token is refreshed
  there; a 4401 close (the credential was rechecked and refused) is retried once with a new
  ticket. 4400, 4403 and 4404 end the iteration with `StreamRefused`.
- SSE: when the WebSocket handshake is refused (an HTTP answer other than 101: a proxy without
  WebSockets), or with `transport="sse"`, `GET .../events?after=N` with
  `Accept: text/event-stream` and a ticket, read with httpx.

A connection that cannot be made is retried with backoff (0.5 s doubling to 10 s, with jitter);
after `retries` failures in a row the last error is raised.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from roo.client._core import API
from roo.client.errors import RooApiError, StreamRefused, error_for
from roo.client.models import EventOut

if TYPE_CHECKING:
    from roo.client.client import AsyncRooClient, Id

# Close codes after which reconnecting cannot help (docs/realtime.md, "Close codes")
REFUSED = {4400: "bad lastSeq", 4403: "forbidden", 4404: "no such session"}
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 10.0


class _WebSocketRefused(Exception):
    """The handshake got an HTTP answer: this path does not do WebSockets."""


async def follow(
    client: AsyncRooClient, session_id: Id, *, after: int = 0,
    transport: Literal["auto", "ws", "sse"] = "auto", retries: int = 10,
) -> AsyncIterator[EventOut]:  # fmt: skip
    last = after
    use_ws = transport != "sse"
    failures = 0
    refused_credential = 0
    while True:
        try:
            stream = _ws(client, session_id, last) if use_ws else _sse(client, session_id, last)
            async for event in stream:
                failures = refused_credential = 0
                if event.seq <= last:
                    continue
                last = event.seq
                yield event
            # the stream ended cleanly (a service stopping, a deleted session's SSE): again
        except _WebSocketRefused:
            if transport == "ws":
                raise StreamRefused(0, "the WebSocket handshake was refused") from None
            use_ws = False
            continue
        except StreamRefused as refused:
            if refused.code != 4401 or refused_credential:
                raise
            refused_credential += 1  # once more with a new ticket (and refreshed token)
        except RooApiError as error:
            if error.status not in (502, 503, 504):
                raise
            failures += 1
            if failures > retries:
                raise
        except (OSError, ConnectionClosed, InvalidHandshake, httpx.TransportError, TimeoutError):
            failures += 1
            if failures > retries:
                raise
        if failures:
            delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (failures - 1))
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter


async def _ws(client: AsyncRooClient, session_id: Id, last: int) -> AsyncIterator[EventOut]:
    ticket = await client.ws_ticket(session_id)
    base = client.base_url.replace("http", "ws", 1)
    query = urlencode({"ticket": ticket.ticket, "lastSeq": last})
    url = f"{base}{API}/sessions/{session_id}/ws?{query}"
    try:
        conn = await connect(url, open_timeout=10, max_size=2**22, compression=None)
    except (InvalidStatus, InvalidURI):
        # an HTTP answer instead of the upgrade: not the service's refusal (that is a close
        # code after the handshake) but something in between without WebSockets; SSE then,
        # which reports the service's own answer as a typed error
        raise _WebSocketRefused from None
    async with conn:
        try:
            async for raw in conn:
                message: dict[str, Any] = json.loads(raw)
                if "seq" in message and "event" in message:
                    yield EventOut.model_validate(message)
        except ConnectionClosed as closed:
            _raise_if_refused(closed)
            raise
        _raise_if_refused_code(conn.close_code, conn.close_reason or "")


def _raise_if_refused(closed: ConnectionClosed) -> None:
    if closed.rcvd is not None:
        _raise_if_refused_code(closed.rcvd.code, closed.rcvd.reason)


def _raise_if_refused_code(code: int | None, reason: str) -> None:
    if code in REFUSED or code == 4401:
        raise StreamRefused(code, reason or REFUSED.get(code, "credential refused"))


async def _sse(client: AsyncRooClient, session_id: Id, last: int) -> AsyncIterator[EventOut]:
    ticket = await client.ws_ticket(session_id)
    params: dict[str, str | int] = {"after": last, "ticket": ticket.ticket}
    async with client.http.stream(
        "GET", f"{API}/sessions/{session_id}/events", params=params,
        headers={"Accept": "text/event-stream"}, timeout=httpx.Timeout(30.0, read=None),
    ) as response:  # fmt: skip
        if response.status_code >= 400:
            await response.aread()
            raise error_for(response)
        data: list[str] = []
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif not line and data:
                yield EventOut.model_validate_json("\n".join(data))
                data = []
