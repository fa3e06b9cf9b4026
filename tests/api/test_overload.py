"""Overload is answered, not absorbed: a request beyond the in-flight cap, a unit of work
that finds no connection within the pool timeout, and a sign-in that finds no hashing slot
within its wait are each answered 503 service-overloaded with Retry-After, at once or within
the configured wait; never a 500, never a 30 s stall."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from roo.api.middleware import InFlightLimitMiddleware
from roo.api.state import Resources
from roo.app import create_app
from roo.config import Settings
from roo.db.engine import unit_of_work
from tests.auth.conftest import PASSWORD
from tests.support.lifespan import app_lifespan

OVERLOADED = "urn:roo:problem:service-overloaded"


class Held:
    """An ASGI app whose requests wait until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = 0
        self._arrivals = asyncio.Condition()

    async def reached(self, count: int) -> None:
        async with self._arrivals:
            await self._arrivals.wait_for(lambda: self.entered >= count)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with self._arrivals:
            self.entered += 1
            self._arrivals.notify_all()
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(app: InFlightLimitMiddleware, path: str) -> tuple[int, dict[str, str], bytes]:
    scope: Scope = {"type": "http", "method": "GET", "path": path, "headers": []}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


async def test_requests_beyond_the_cap_are_refused_at_once_and_probes_never() -> None:
    inner = Held()
    app = InFlightLimitMiddleware(inner, limit=2)
    first = [asyncio.create_task(call(app, "/api/v1/sessions")) for _ in range(2)]
    await inner.reached(2)

    status, headers, body = await call(app, "/api/v1/sessions")
    assert status == 503
    assert headers["retry-after"] == "1"
    assert json.loads(body)["type"] == OVERLOADED
    probe = asyncio.create_task(call(app, "/healthz"))  # goes through to the app
    await inner.reached(3)

    inner.release.set()
    assert [(await t)[0] for t in first] == [200, 200]
    assert (await probe)[0] == 200
    assert (await call(app, "/api/v1/sessions"))[0] == 200  # room again


class Streams:
    """An ASGI app that answers an event stream and keeps it open until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0
        self._starts = asyncio.Condition()

    async def reached(self, count: int) -> None:
        async with self._starts:
            await self._starts.wait_for(lambda: self.started >= count)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] != "/events":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        async with self._starts:
            self.started += 1
            self._starts.notify_all()
        await send({"type": "http.response.body", "body": b": open\n\n", "more_body": True})
        await self.release.wait()
        await send({"type": "http.response.body", "body": b""})


async def test_open_event_streams_do_not_count_as_requests_in_flight() -> None:
    inner = Streams()
    app = InFlightLimitMiddleware(inner, limit=2)
    streams = [asyncio.create_task(call(app, "/events")) for _ in range(5)]
    await asyncio.wait_for(inner.reached(5), 5)  # none refused: a stream is not in flight
    assert app.in_flight == 0
    assert (await call(app, "/api/v1/sessions"))[0] == 200
    inner.release.set()
    assert [(await t)[0] for t in streams] == [200] * 5
    assert app.in_flight == 0


@contextlib.asynccontextmanager
async def running(settings: Settings, **changes: object) -> AsyncIterator[FastAPI]:
    """The app with `changes` to its settings, started and stopped."""
    application = create_app(settings.model_copy(update=changes))
    async with app_lifespan(application):
        yield application


@pytest.fixture
async def small_pool_app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running(settings, db_pool_max=1, db_pool_min=1, db_pool_timeout=0.3) as app:
        yield app


async def test_no_connection_within_the_pool_timeout_is_503_not_500(
    small_pool_app: FastAPI,
) -> None:
    resources: Resources = small_pool_app.state.resources
    transport = httpx.ASGITransport(app=small_pool_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        async with unit_of_work(resources.db_sessions) as db:
            await resources.auth.create_user(db, "busy@example.com", password=PASSWORD)
        async with unit_of_work(resources.db_sessions) as holder:
            await holder.connection()  # the only connection, held
            response = await client.post(
                "/api/v1/auth/login", json={"email": "busy@example.com", "password": PASSWORD}
            )
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        assert response.json()["type"] == OVERLOADED
        # and once the connection is back, the same request works
        response = await client.post(
            "/api/v1/auth/login", json={"email": "busy@example.com", "password": PASSWORD}
        )
        assert response.status_code == 200, response.text


@pytest.fixture
async def one_hash_app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running(
        settings, password_hash_concurrency=1, password_hash_wait_seconds=0.01
    ) as app:
        yield app


async def test_sign_ins_beyond_the_hashing_slots_wait_briefly_then_get_503(
    one_hash_app: FastAPI,
) -> None:
    resources: Resources = one_hash_app.state.resources
    transport = httpx.ASGITransport(app=one_hash_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        async with unit_of_work(resources.db_sessions) as db:
            await resources.auth.create_user(db, "many@example.com", password=PASSWORD)
        answers = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/auth/login", json={"email": "many@example.com", "password": PASSWORD}
                )
                for _ in range(4)
            )
        )
    statuses = sorted(a.status_code for a in answers)
    # one hash at a time, each far longer than the 10 ms wait: the first signs in, the rest
    # are told to come back
    assert statuses[0] == 200
    assert 503 in statuses, [a.text for a in answers]
    assert set(statuses) <= {200, 503}, [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 503:
            assert answer.headers["retry-after"] == "1"
            assert answer.json()["type"] == OVERLOADED
