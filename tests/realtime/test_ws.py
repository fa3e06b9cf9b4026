"""`GET /api/v1/sessions/{id}/ws` over real sockets: the app served by uvicorn on loopback, a
task run by the fake LLM, the `websockets` client library."""

from __future__ import annotations

import asyncio
import random
import socket
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from roo.api.state import Resources
from roo.db.types import utcnow
from roo.realtime import ws as ws_module
from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.auth.test_api_keys import create_key
from tests.realtime.conftest import (
    WS,
    run_a_command_then_finish,
    serving,
    sse,
    ticket,
    ws_connect,
    ws_url,
)
from tests.tasks.conftest import RUN_ANYTHING, Api, MakeApi

Json = dict[str, Any]


async def _hello(socket: WS) -> Json:
    hello = await socket.recv()
    assert hello["type"] == "hello", hello
    return hello


async def _open_streams(resources: Resources, count: int) -> None:
    """Wait (a few seconds at most) until the service holds `count` open streams."""
    for _ in range(200):
        if resources.connections.total == count:
            return
        await asyncio.sleep(0.02)
    assert resources.connections.total == count


# -- a whole task -----------------------------------------------------------------------------


async def test_a_whole_task_watched_and_approved_over_the_socket(
    api: Api, llm: FakeLLM, live: str, http: httpx.AsyncClient, resources: Resources
) -> None:
    resources.bus.resync_seconds = 60  # live events come from the publish, not the log
    session = await api.session()  # commands ask for approval
    run_a_command_then_finish(llm)
    async with ws_connect(
        live, session, ticket=await ticket(http, live, api.user.headers, session)
    ) as socket:
        hello = await _hello(socket)
        assert hello["sessionId"] == session
        assert hello["lastSeq"] == 0
        assert hello["state"]["session"]["id"] == session
        assert hello["state"]["tasks"] == []
        assert hello["state"]["seq"] == 0
        task = await api.start(session, "run it")
        received: list[Json] = []
        while not received or received[-1]["event"] != "approval.required":
            received.append(await socket.recv())
        approval = received[-1]["data"]
        reply, before = await socket.request(
            type="approval.response",
            taskId=task["id"],
            approvalId=approval["approvalId"],
            decision="approve",
        )
        received += before
        assert reply["type"] == "ack", reply
        assert reply["task"]["state"] == "running"
        await api.wait(session, task["id"], "completed")
        stored = await api.events(session)
        received += await socket.until(stored[-1]["seq"])
    assert received == stored  # every event, in order, exactly as REST returns it
    resolved = [e for e in stored if e["event"] == "approval.resolved"]
    assert resolved[0]["data"]["action"] == "approve"


async def test_hello_carries_the_unfinished_tasks_and_their_pending_question(
    api: Api, llm: FakeLLM, live: str
) -> None:
    session = await api.session()
    run_a_command_then_finish(llm)
    task = await api.start(session, "run it")
    waiting = await api.wait(session, task["id"], "awaiting_approval")
    stored = await api.events(session)
    async with ws_connect(live, session, token=api.user.token, lastSeq=len(stored)) as socket:
        hello = await _hello(socket)
        assert hello["lastSeq"] == len(stored)
        assert hello["state"]["seq"] == len(stored)
        (shown,) = hello["state"]["tasks"]
        assert shown["id"] == task["id"]
        assert shown["pending"] == waiting["pending"]
        # answered over the socket by the message a user types (approves, as Roo does)
        reply, rest = await socket.request(type="task.message", taskId=task["id"], text="go on")
        assert reply["type"] == "ack", reply
        await api.wait(session, task["id"], "completed")
        rest += await socket.until((await api.events(session))[-1]["seq"])
    assert [e["seq"] for e in rest] == list(range(len(stored) + 1, rest[-1]["seq"] + 1))


async def test_a_reconnect_with_last_seq_yields_exactly_the_rest(
    api: Api, llm: FakeLLM, live: str
) -> None:
    session = await api.session(approvalPolicy=RUN_ANYTHING)
    llm.script(
        Reply(text="one", tool_calls=[ToolCall("execute_command", {"command": "echo a"})]),
        Reply(text="two", tool_calls=[ToolCall("execute_command", {"command": "echo b"})]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Done."})]),
    )
    task = await api.start(session, "run it")
    await api.wait(session, task["id"], "completed")
    stored = await api.events(session)
    cut = random.randrange(1, len(stored) - 1)  # noqa: S311 - a random point, not a secret
    first: list[Json] = []
    async with ws_connect(live, session, token=api.user.token) as socket:
        await _hello(socket)
        while len(first) < cut:
            first.append(await socket.recv())
    async with ws_connect(live, session, token=api.user.token, lastSeq=first[-1]["seq"]) as socket:
        assert (await _hello(socket))["lastSeq"] == cut
        rest = await socket.until(stored[-1]["seq"])
    assert first + rest == stored, cut


async def test_the_socket_and_sse_yield_the_same_sequence(
    api: Api, llm: FakeLLM, live: str, http: httpx.AsyncClient
) -> None:
    session = await api.session(approvalPolicy=RUN_ANYTHING)
    run_a_command_then_finish(llm)
    async with (
        ws_connect(live, session, token=api.user.token) as socket,
        sse(http, live, api, session) as stream,
    ):
        await _hello(socket)
        task = await api.start(session, "run it")
        await api.wait(session, task["id"], "completed")
        last = (await api.events(session))[-1]["seq"]
        over_sse = await stream.until(last)
        over_ws = await socket.until(last)
    assert over_ws == over_sse
    assert [e["seq"] for e in over_ws] == list(range(1, last + 1))


async def test_a_cancel_over_the_socket_cancels_and_a_second_is_a_conflict(
    api: Api, llm: FakeLLM, live: str
) -> None:
    session = await api.session()
    run_a_command_then_finish(llm)
    task = await api.start(session, "run it")
    await api.wait(session, task["id"], "awaiting_approval")
    async with ws_connect(live, session, token=api.user.token) as socket:
        await _hello(socket)
        reply, _ = await socket.request(type="task.cancel", taskId=task["id"], id=7)
        assert reply == {"type": "ack", "id": 7, "task": reply["task"]}
        assert reply["task"]["state"] == "cancelled"
        again, _ = await socket.request(type="task.cancel", taskId=task["id"])
        assert again["type"] == "error"
        assert again["problem"]["status"] == 409
        assert "cancelled" in again["problem"]["detail"]
        # an unknown task is REST's 404
        missing, _ = await socket.request(type="task.cancel", taskId=str(uuid.uuid4()))
        assert missing["problem"]["status"] == 404


# -- client messages ----------------------------------------------------------------------------


async def test_bad_messages_get_errors_and_the_socket_stays_open(api: Api, live: str) -> None:
    session = await api.session()
    async with ws_connect(live, session, token=api.user.token) as socket:
        await _hello(socket)
        await socket.connection.send("{not json")
        broken = await socket.recv()
        assert broken["type"] == "error"
        assert broken["problem"]["status"] == 400
        unknown, _ = await socket.request(type="task.teleport", id="x1")
        assert unknown["problem"]["status"] == 422
        assert unknown["id"] == "x1"
        missing, _ = await socket.request(type="approval.response", decision="approve")
        assert missing["problem"]["status"] == 422
        assert {e["field"] for e in missing["problem"]["errors"]} >= {"approval.response.taskId"}
        wrong_state, _ = await socket.request(type="task.message", taskId=str(uuid.uuid4()))
        assert wrong_state["problem"]["status"] == 422  # text is required
        pong, _ = await socket.request(type="ping", id=42)
        assert pong == {"type": "pong", "id": 42}


@pytest.mark.task_settings(ws_messages_per_second=5.0)
async def test_a_flood_is_throttled_then_closed_with_1008(api: Api, live: str) -> None:
    session = await api.session()
    async with ws_connect(live, session, token=api.user.token) as socket:
        await _hello(socket)
        for i in range(40):
            await socket.send(type="ping", id=i)
        replies: list[Json] = []
        code, reason = None, ""
        try:
            while True:
                replies.append(await socket.recv())
        except Exception:
            code, reason = await socket.closed()
    pongs = [r for r in replies if r["type"] == "pong"]
    throttled = [r for r in replies if r["type"] == "error"]
    assert 8 <= len(pongs) <= 12  # the burst (twice the rate), give or take the refill
    assert throttled
    assert throttled[0]["problem"]["status"] == 429
    assert code == 1008, (code, reason)


async def test_a_viewer_watches_but_cannot_act(
    api: Api, make_api: MakeApi, llm: FakeLLM, live: str
) -> None:
    session = await api.session()
    # a viewer sees only its own sessions: another's is REST's 404
    viewer = await make_api("viewer")
    async with ws_connect(live, session, token=viewer.user.token) as socket:
        code, _ = await socket.closed()
    assert code == 4404
    # the owner's API key that may only read: watches; acting is REST's 403
    created = await create_key(api.client, api.user, scopes=["tasks:read", "sessions:read"])
    key = str(created["key"])
    run_a_command_then_finish(llm)
    task = await api.start(session, "run it")
    await api.wait(session, task["id"], "awaiting_approval")
    async with ws_connect(live, session, token=key) as socket:
        await _hello(socket)
        reply, _ = await socket.request(
            type="approval.response", taskId=task["id"], decision="approve"
        )
        assert reply["type"] == "error"
        assert reply["problem"]["status"] == 403
        pong, _ = await socket.request(type="ping")
        assert pong["type"] == "pong"  # still open
    assert (await api.task(session, task["id"]))["state"] == "awaiting_approval"


# -- refusals -----------------------------------------------------------------------------------


async def _refused(base: str, session: str, **params: Any) -> tuple[int | None, str]:
    async with ws_connect(base, session, **params) as socket:
        return await socket.closed()


async def test_tickets_are_one_use_bound_to_their_session_and_expire(
    api: Api, live: str, http: httpx.AsyncClient, resources: Resources
) -> None:
    session, elsewhere = await api.session(), await api.session()
    good = await ticket(http, live, api.user.headers, session)
    async with ws_connect(live, session, ticket=good) as socket:
        await _hello(socket)
    assert (await _refused(live, session, ticket=good))[0] == 4401  # used
    assert (await _refused(live, session, ticket="made-up"))[0] == 4401
    other_session = await ticket(http, live, api.user.headers, elsewhere)
    assert (await _refused(live, session, ticket=other_session))[0] == 4401
    resources.tickets.ttl_seconds = 0.2
    expiring = await ticket_with_ttl(http, live, api, session)
    await asyncio.sleep(0.4)
    assert (await _refused(live, session, ticket=expiring))[0] == 4401


async def ticket_with_ttl(http: httpx.AsyncClient, base: str, api: Api, session: str) -> str:
    response = await http.post(
        f"{base}/api/v1/sessions/{session}/ws-ticket", headers=api.user.headers
    )
    assert response.status_code == 200, response.text
    return str(response.json()["ticket"])


async def test_a_ticket_is_only_for_your_own_session_and_a_credential(
    api: Api, make_api: MakeApi, live: str, http: httpx.AsyncClient
) -> None:
    session = await api.session()
    stranger = await make_api()
    response = await http.post(
        f"{live}/api/v1/sessions/{session}/ws-ticket", headers=stranger.user.headers
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    response = await http.post(f"{live}/api/v1/sessions/{session}/ws-ticket")
    assert response.status_code == 401


async def test_refusals_get_their_close_codes(
    api: Api, make_api: MakeApi, live: str, settings: Any
) -> None:
    session = await api.session()
    stranger = await make_api()
    assert (await _refused(live, session, token="not-a-token"))[0] == 4401
    assert (await _refused(live, session, token=stranger.user.token))[0] == 4404
    assert (await _refused(live, str(uuid.uuid4()), token=api.user.token))[0] == 4404
    assert (await _refused(live, "not-a-uuid", token=api.user.token))[0] == 4404
    assert (await _refused(live, session, lastSeq="-1"))[0] == 4400
    foreign = {"origin": "https://evil.example"}
    code, reason = await _refused(
        live, session, token=api.user.token, options={"origin": foreign["origin"]}
    )
    assert (code, reason) == (4403, "origin not allowed")
    allowed = settings.allowed_origins[0]
    async with ws_connect(live, session, token=api.user.token, options={"origin": allowed}) as s:
        await _hello(s)
    # the service's own origin (the web console at `/`) is allowed without being listed...
    assert live not in settings.allowed_origins
    async with ws_connect(live, session, token=api.user.token, options={"origin": live}) as s:
        await _hello(s)
    # ...and the same host on another port is another origin
    other_port = live.rsplit(":", 1)[0] + ":1"
    code, reason = await _refused(
        live, session, token=api.user.token, options={"origin": other_port}
    )
    assert (code, reason) == (4403, "origin not allowed")
    # a first message that is not `auth`
    async with ws_connect(live, session) as socket:
        await socket.send(type="ping")
        assert (await socket.closed())[0] == 4401


@pytest.mark.task_settings(ws_auth_timeout_seconds=0.3)
async def test_no_credential_in_time_is_closed(api: Api, live: str) -> None:
    session = await api.session()
    async with ws_connect(live, session) as socket:
        code, _ = await socket.closed(within=5)
    assert code == 4401


@pytest.mark.task_settings(ws_recheck_seconds=0.2)
async def test_a_logout_closes_the_socket(api: Api, live: str, http: httpx.AsyncClient) -> None:
    session = await api.session()
    async with ws_connect(live, session, token=api.user.token) as socket:
        await _hello(socket)
        response = await http.post(f"{live}/api/v1/auth/logout", headers=api.user.headers)
        assert response.status_code in (200, 204), response.text
        code, _ = await socket.closed(within=5)
    assert code == 4401


@pytest.mark.task_settings(ws_max_connections_per_user=2)
async def test_the_per_user_stream_limit(
    api: Api, make_api: MakeApi, live: str, http: httpx.AsyncClient, resources: Resources
) -> None:
    session = await api.session()
    async with (
        ws_connect(live, session, token=api.user.token) as one,
        ws_connect(live, session, token=api.user.token) as two,
    ):
        await _hello(one)
        await _hello(two)
        code, reason = await _refused(live, session, token=api.user.token)
        assert code == 1008, reason
        response = await http.get(
            f"{live}/api/v1/sessions/{session}/events",
            headers={**api.user.headers, "Accept": "text/event-stream"},
        )
        assert response.status_code == 429
        assert response.headers["retry-after"]
        # another user is not counted against this one
        other = await make_api()
        other_session = await other.session()
        async with ws_connect(live, other_session, token=other.user.token) as theirs:
            await _hello(theirs)
    await _open_streams(resources, 0)


# -- liveness and bounds ------------------------------------------------------------------------


@pytest.mark.task_settings(ws_ping_seconds=0.3)
async def test_a_dead_client_is_closed_by_the_heartbeat(
    api: Api, live: str, http: httpx.AsyncClient, resources: Resources
) -> None:
    session = await api.session()
    url = ws_url(live, session, ticket=await ticket(http, live, api.user.headers, session))
    host_port, _, path = url.removeprefix("ws://").partition("/")
    host, _, port = host_port.partition(":")
    # a client that completes the handshake, then never answers anything (pings included)
    reader, writer = await asyncio.open_connection(host, int(port))
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    writer.write(
        (
            f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101")
    await _open_streams(resources, 1)
    # read (and ignore) whatever comes until the server gives up on us: EOF
    async with asyncio.timeout(10):
        while await reader.read(65536):
            pass
    writer.close()
    await _open_streams(resources, 0)


@pytest.mark.task_settings(ws_send_queue=8)
async def test_a_slow_client_is_cut_off_with_4408(
    api: Api, live: str, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ws_module, "SLOW_SECONDS", 0.5)
    session = await api.session()
    big = "x" * 8192
    # a client whose library reads one message ahead, then stops reading its socket (whose
    # buffer is small: no autotuning to megabytes): the server's sends block, its queue fills
    host, port = live.removeprefix("http://").split(":")
    small = socket.socket()
    small.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    small.connect((host, int(port)))
    small.setblocking(False)
    # (without compression: 8 KiB of one letter would travel as a few bytes)
    options = {"max_queue": 1, "max_size": 2**20, "sock": small, "compression": None}
    async with ws_connect(live, session, token=api.user.token, options=options) as client:
        await _hello(client)
        for _ in range(40):  # 40 x 50 events x 8 KiB: far beyond what the sockets buffer
            await resources.tasks.events.append_many(
                uuid.UUID(session), None, [("message", {"delta": big}, utcnow())] * 50
            )
        await asyncio.sleep(4 * ws_module.SLOW_SECONDS)  # still not reading
        code, _ = await client.closed(within=20)
        assert code == 4408
    await _open_streams(resources, 0)


async def test_a_deleted_session_closes_its_sockets_and_streams_at_once(
    api: Api, live: str, http: httpx.AsyncClient, resources: Resources
) -> None:
    resources.bus.resync_seconds = 60  # the deletion's notice, not the idle check, ends them
    session = await api.session()
    async with (
        ws_connect(live, session, token=api.user.token) as socket,
        sse(http, live, api, session) as stream,
    ):
        await _hello(socket)
        response = await api.request("DELETE", f"/api/v1/sessions/{session}")
        assert response.status_code == 204
        code, _ = await socket.closed(within=3)
        assert [m async for m in stream.events(within=3)] == []  # the stream ended
    assert code == 4404


async def test_stopping_the_service_closes_every_socket_with_1012(api: Api, app: FastAPI) -> None:
    session = await api.session()
    urls: asyncio.Queue[str] = asyncio.Queue()
    stop = asyncio.Event()

    async def serve() -> None:
        async with serving(app) as url:
            urls.put_nowait(url)
            await stop.wait()  # then uvicorn shuts down with the socket open

    server = asyncio.create_task(serve())
    url = await asyncio.wait_for(urls.get(), 10)
    async with ws_connect(url, session, token=api.user.token) as one:
        await _hello(one)
        stop.set()
        code, _ = await one.closed()
    await asyncio.wait_for(server, 10)
    assert code == 1012  # "service restart": reconnect (with lastSeq)


async def test_sse_takes_a_one_use_ticket_in_the_url(
    api: Api, live: str, http: httpx.AsyncClient
) -> None:
    session = await api.session()
    one_use = await ticket(http, live, api.user.headers, session)
    url = f"{live}/api/v1/sessions/{session}/events"
    headers = {"Accept": "text/event-stream"}  # no credential: as EventSource
    async with http.stream("GET", url, params={"ticket": one_use}, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
    again = await http.get(url, params={"ticket": one_use}, headers=headers)
    assert again.status_code == 401
    assert again.headers["content-type"] == "application/problem+json"
    # a ticket for another session is refused (and spent)
    elsewhere = await api.session()
    other = await ticket(http, live, api.user.headers, elsewhere)
    refused = await http.get(url, params={"ticket": other}, headers=headers)
    assert refused.status_code == 401


async def test_a_failure_on_the_server_closes_with_1011_and_a_reconnect_resumes(
    api: Api, live: str, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await api.session()
    real_read = resources.bus.read

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("database away")

    monkeypatch.setattr(resources.bus, "read", broken)
    async with ws_connect(live, session, token=api.user.token) as socket:
        await _hello(socket)  # the replay reads the log: it fails
        code, _ = await socket.closed()
    assert code == 1011
    monkeypatch.setattr(resources.bus, "read", real_read)
    async with ws_connect(live, session, token=api.user.token) as socket:
        await _hello(socket)
        pong, _ = await socket.request(type="ping")
        assert pong["type"] == "pong"
    await _open_streams(resources, 0)


@pytest.mark.task_settings(allowed_origins=["*"])
async def test_any_origin_when_allowed_origins_is_a_wildcard(api: Api, live: str) -> None:
    session = await api.session()
    options = {"origin": "https://anywhere.example"}
    async with ws_connect(live, session, token=api.user.token, options=options) as socket:
        await _hello(socket)
