"""`GET /sessions/{id}/events` as server-sent events, over real sockets: the app served by
uvicorn on loopback, a task run by the fake LLM, an httpx streaming client."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import httpx
import pytest

from roo.api.state import Resources
from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.auth.test_api_keys import create_key
from tests.realtime.conftest import run_a_command_then_finish, sse
from tests.tasks.conftest import RUN_ANYTHING, Api, MakeApi


async def test_a_whole_task_followed_over_sse_is_the_json_log(
    api: Api, llm: FakeLLM, live: str, http: httpx.AsyncClient, resources: Resources
) -> None:
    resources.bus.resync_seconds = 60  # live events come from the publish, not the log
    session = await api.session(approvalPolicy=RUN_ANYTHING)
    run_a_command_then_finish(llm)
    async with sse(http, live, api, session) as stream:
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        assert stream.response.headers["cache-control"] == "no-cache"
        assert stream.response.headers["x-accel-buffering"] == "no"
        task = await api.start(session, "run it")
        await api.wait(session, task["id"], "completed")
        stored = await api.events(session)
        received = await stream.until(stored[-1]["seq"], within=5)
    assert received == stored
    assert [e["seq"] for e in received] == list(range(1, len(stored) + 1))
    assert {"task.created", "tool.execution", "message", "task.complete"} <= {
        e["event"] for e in received
    }


async def test_an_event_stream_carries_the_hardening_headers_and_keeps_its_caching(
    api: Api, live: str, http: httpx.AsyncClient
) -> None:
    """roo.api.headers extends the stream's first message only: the stream keeps its own
    Cache-Control, and its events still arrive as they happen."""
    session = await api.session()
    async with sse(http, live, api, session) as stream:
        headers = stream.response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert headers["cache-control"] == "no-cache"  # the route's own, kept
        await api.start(session, "go")
        received = await stream.until(1, within=10)
    assert received[0]["event"] == "task.created", received


async def test_reconnecting_with_last_event_id_yields_exactly_the_rest(
    api: Api, llm: FakeLLM, live: str, http: httpx.AsyncClient
) -> None:
    session = await api.session()  # commands ask for approval
    run_a_command_then_finish(llm)
    task = await api.start(session, "run it")
    first: list[dict[str, object]] = []
    async with sse(http, live, api, session) as stream:
        async for message in stream.events():
            first.append(message.json())
            if message.event == "approval.required":
                break
    # gone in the middle of the run; the task goes on meanwhile
    pending = (await api.wait(session, task["id"], "awaiting_approval"))["pending"]
    response = await api.act(session, task["id"], action="approve", approvalId=pending["id"])
    assert response.status_code == 200, response.text
    last_seen = first[-1]["seq"]
    async with sse(http, live, api, session, headers={"Last-Event-ID": str(last_seen)}) as stream:
        await api.wait(session, task["id"], "completed")
        stored = await api.events(session)
        rest = await stream.until(stored[-1]["seq"])
    assert first + rest == stored
    assert rest[0]["seq"] == last_seen + 1
    # ?after= resumes too; Last-Event-ID wins over it (EventSource reconnects with both)
    async with sse(http, live, api, session, after=3) as stream:
        assert await stream.until(stored[-1]["seq"]) == stored[3:]
    async with sse(http, live, api, session, after=1, headers={"Last-Event-ID": "5"}) as stream:
        assert await stream.until(stored[-1]["seq"]) == stored[5:]


@pytest.mark.task_settings(sse_heartbeat_seconds=0.2)
async def test_an_idle_stream_sends_heartbeat_comments(
    api: Api, live: str, http: httpx.AsyncClient
) -> None:
    session = await api.session()
    async with sse(http, live, api, session) as stream:
        started = time.monotonic()
        for _ in range(3):
            message = await stream.next(within=2.0)
            assert message is not None
            assert message.comment == "heartbeat"
        assert time.monotonic() - started < 2.0


async def test_the_stream_ends_when_the_session_is_deleted(
    api: Api, live: str, http: httpx.AsyncClient, resources: Resources
) -> None:
    resources.bus.resync_seconds = 0.2  # how soon an idle subscription looks at the log
    session = await api.session()
    async with sse(http, live, api, session) as stream:
        response = await api.request("DELETE", f"/api/v1/sessions/{session}")
        assert response.status_code == 204
        assert await stream.next(within=5.0) is None  # ended, not merely quiet


async def test_refusals_are_the_json_routes(
    api: Api,
    make_api: MakeApi,
    client: httpx.AsyncClient,
    live: str,
    http: httpx.AsyncClient,
) -> None:
    session = await api.session()
    url = f"{live}/api/v1/sessions/{session}/events"
    accept = {"Accept": "text/event-stream"}
    other = await make_api()
    response = await http.get(url, headers={**other.user.headers, **accept})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    key = await create_key(client, api.user, ["sessions:read"])
    response = await http.get(url, headers={"Authorization": f"Bearer {key['key']}", **accept})
    assert response.status_code == 403
    response = await http.get(url, headers=accept)
    assert response.status_code == 401
    for bad in ("-1", "abc", str(2**53)):
        response = await http.get(url, headers={**api.user.headers, **accept, "Last-Event-ID": bad})
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == "application/problem+json"


async def test_the_json_route_ignores_last_event_id(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]))
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    everything = await api.events(session)
    response = await api.client.get(
        f"/api/v1/sessions/{session}/events", headers={**api.user.headers, "Last-Event-ID": "2"}
    )
    assert response.status_code == 200
    assert response.json()["items"] == everything


async def test_a_client_that_leaves_unsubscribes(
    api: Api, live: str, http: httpx.AsyncClient, resources: Resources
) -> None:
    session = await api.session()
    async with sse(http, live, api, session):
        await _until(lambda: resources.bus.subscribers(_uuid(session)) == 1)
    await _until(lambda: resources.bus.subscribers(_uuid(session)) == 0)


def _uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)


async def _until(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
