"""Short units of work around the slow operations of sessions and tools: a sandbox command, an
archive upload and its extraction, a git clone, a walk of the workspace. Each loads and
authorises in a unit of work of its own, does the slow work with no database connection held,
and records its result in a new short unit of work (docs/architecture.md, "Units of work").

The command, upload and pool-of-one tests guard what `release_connection` already gave these
paths; the failed clone's audit row and the resources view's walk are what this layout fixed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select

from roo.api.state import Resources
from roo.app import create_app
from roo.config import Settings
from roo.db.engine import unit_of_work
from roo.db.models import AuditEvent
from roo.kit.request_context import current_request_id
from tests.auth.conftest import PASSWORD, SignIn
from tests.sessions.test_commands import clone_allowed, git_server
from tests.sessions.test_import import file_info, tar_bytes
from tests.support.lifespan import app_lifespan

__all__ = ["clone_allowed", "git_server"]  # fixtures


def checked_out(resources: Resources) -> int:
    return int(resources.engine.pool.checkedout())  # type: ignore[attr-defined]


class RequestHolds:
    """The pooled connections checked out by requests (their request id is set), as opposed
    to the service's background loops (the audit sealer, the janitor, the runner's sweep),
    which may take one for a moment whenever they are due."""

    def __init__(self, resources: Resources) -> None:
        self._held: dict[int, str] = {}
        self.taken = 0  # checkouts by requests so far
        self._pool = resources.engine.sync_engine.pool
        event.listen(self._pool, "checkout", self._checkout)
        event.listen(self._pool, "checkin", self._checkin)

    def _checkout(self, _dbapi: Any, record: Any, _proxy: Any) -> None:
        request_id = current_request_id()
        if request_id is not None:
            self._held[id(record)] = request_id
            self.taken += 1

    def _checkin(self, _dbapi: Any, record: Any) -> None:
        self._held.pop(id(record), None)

    def count(self) -> int:
        return len(self._held)

    def close(self) -> None:
        event.remove(self._pool, "checkout", self._checkout)
        event.remove(self._pool, "checkin", self._checkin)


@pytest.fixture
def request_holds(resources: Resources) -> Iterator[RequestHolds]:
    holds = RequestHolds(resources)
    yield holds
    holds.close()


def watch(
    resources: Resources, slow: Callable[..., Awaitable[Any]], seen: list[int]
) -> Callable[..., Awaitable[Any]]:
    """`slow`, noting the connections checked out as it starts and as it ends."""

    async def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(checked_out(resources))
        try:
            return await slow(*args, **kwargs)
        finally:
            seen.append(checked_out(resources))

    return watched


async def audit_rows(resources: Resources, action: str, target: str) -> list[AuditEvent]:
    async with unit_of_work(resources.db_sessions) as db:
        query = select(AuditEvent).where(AuditEvent.action == action, AuditEvent.target == target)
        return list((await db.execute(query)).scalars())


async def new_session(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post("/api/v1/sessions", headers=headers, json={})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# -- no connection held during the slow step -------------------------------------------------


async def test_a_tool_command_runs_with_no_connection_held(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    resources: Resources,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = await sign_in()
    sid = await new_session(client, user.headers)
    sandbox = resources.sessions_manager.sandbox
    seen: list[int] = []
    monkeypatch.setattr(sandbox, "run", watch(resources, sandbox.run, seen))
    response = await client.post(
        f"/api/v1/sessions/{sid}/tools/execute_command",
        headers=user.headers,
        json={"command": "sleep 0.2", "cwd": None, "timeout": None},
    )
    assert response.status_code == 200, response.text
    assert response.json()["isError"] is False
    assert seen == [0, 0]
    assert len(await audit_rows(resources, "tools.execute", f"session:{sid}")) == 1


async def test_an_upload_streams_and_extracts_with_no_connection_held(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    resources: Resources,
    request_holds: RequestHolds,
) -> None:
    user = await sign_in()
    sid = await new_session(client, user.headers)
    body = tar_bytes([file_info(f"f{i}.txt", bytes(2000)) for i in range(20)], compress=False)
    seen: list[int] = []

    async def slowly() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            await asyncio.sleep(0.01)
            seen.append(request_holds.count())
            yield body[start : start + 4096]

    response = await client.post(
        f"/api/v1/sessions/{sid}/workspace/import",
        headers={**user.headers, "Content-Type": "application/x-tar"},
        content=slowly(),
    )
    assert response.status_code == 200, response.text
    assert len(seen) > 5
    assert set(seen) == {0}
    assert request_holds.taken >= 2  # the watch sees the request's own units of work
    assert len(await audit_rows(resources, "sessions.import", f"session:{sid}")) == 1


@pytest.mark.usefixtures("clone_allowed")
async def test_a_failed_clone_is_audited_and_cleaned_up_with_no_connection_held(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    resources: Resources,
    git_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before: the clone's audit row was written in the request's transaction, which the 400
    then rolled back: a failed clone left no trace."""
    user = await sign_in()
    sid = await new_session(client, user.headers)
    manager = resources.sessions_manager
    cloning: list[int] = []
    emptying: list[int] = []
    monkeypatch.setattr(manager.sandbox, "run", watch(resources, manager.sandbox.run, cloning))
    monkeypatch.setattr(
        manager.workspaces, "empty", watch(resources, manager.workspaces.empty, emptying)
    )
    missing = git_server.replace("repo.git", "nothing-here.git")
    response = await client.post(
        f"/api/v1/sessions/{sid}/workspace/clone", headers=user.headers, json={"url": missing}
    )
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "urn:roo:problem:clone-failed"
    assert cloning == [0, 0]
    assert emptying == [0, 0]
    [row] = await audit_rows(resources, "sessions.clone", f"session:{sid}")
    assert row.outcome == "failure"
    assert row.detail["exit_code"] != 0


async def test_the_resources_view_walks_the_workspace_with_no_connection_held(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    resources: Resources,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before: the disk walk (seconds on a large workspace) and the cgroup reads ran inside the
    request's read transaction, its connection held (idle in transaction on PostgreSQL)."""
    user = await sign_in()
    sid = await new_session(client, user.headers)
    manager = resources.sessions_manager
    walking: list[int] = []
    asking: list[int] = []
    walk = watch(resources, manager.workspaces.usage, walking)
    monkeypatch.setattr(manager.workspaces, "usage", walk)
    monkeypatch.setattr(manager.sandbox, "usage", watch(resources, manager.sandbox.usage, asking))
    response = await client.get(f"/api/v1/sessions/{sid}/resources", headers=user.headers)
    assert response.status_code == 200, response.text
    assert response.json()["runningTasks"] == 0
    assert walking == [0, 0]
    assert asking == [0, 0]


# -- with a pool of one connection, other requests go on meanwhile ------------------------


OneConnection = tuple[httpx.AsyncClient, Resources, dict[str, str]]


@pytest.fixture
async def one_connection_app(settings: Settings) -> AsyncIterator[FastAPI]:
    changed = settings.model_copy(
        update={
            "db_pool_max": 1,
            "db_pool_min": 1,
            "db_pool_timeout": 2.0,
            "allow_git_clone": True,
            "provider_allowed_hosts": ["127.0.0.1"],  # the tests' git daemon
        }
    )
    application = create_app(changed)
    async with app_lifespan(application):
        yield application


@pytest.fixture
async def one_connection(one_connection_app: FastAPI) -> AsyncIterator[OneConnection]:
    resources: Resources = one_connection_app.state.resources
    transport = httpx.ASGITransport(app=one_connection_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        email = f"one-{uuid.uuid4().hex[:8]}@example.com"
        async with unit_of_work(resources.db_sessions) as db:
            await resources.auth.create_user(db, email, password=PASSWORD)
        login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        yield client, resources, {"Authorization": f"Bearer {login.json()['token']}"}


async def while_running(
    slow: Awaitable[httpx.Response],
    started: asyncio.Event,
    client: httpx.AsyncClient,
    headers: dict[str, str],
) -> httpx.Response:
    """Start `slow`; once its slow step runs, create a session (a unit of work that writes)."""
    task = asyncio.ensure_future(slow)
    await asyncio.wait_for(started.wait(), 10)
    other = await client.post("/api/v1/sessions", headers=headers, json={})
    assert other.status_code == 201, other.text
    assert not task.done()  # the other request did not wait for the slow one
    return await task


async def test_with_one_connection_a_request_completes_while_a_command_runs(
    one_connection: OneConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, resources, headers = one_connection
    sid = await new_session(client, headers)
    started, release = asyncio.Event(), asyncio.Event()
    sandbox = resources.sessions_manager.sandbox
    real_run = sandbox.run

    async def held_run(*args: Any, **kwargs: Any) -> Any:
        started.set()
        await release.wait()
        return await real_run(*args, **kwargs)

    monkeypatch.setattr(sandbox, "run", held_run)
    slow = client.post(
        f"/api/v1/sessions/{sid}/tools/execute_command",
        headers=headers,
        json={"command": "true", "cwd": None, "timeout": None},
    )
    asyncio.get_running_loop().call_later(1.0, release.set)
    response = await while_running(slow, started, client, headers)
    assert response.status_code == 200, response.text


async def test_with_one_connection_a_request_completes_while_an_archive_uploads(
    one_connection: OneConnection,
) -> None:
    client, _, headers = one_connection
    sid = await new_session(client, headers)
    body = tar_bytes([file_info("a.txt", b"a")], compress=False)
    started, release = asyncio.Event(), asyncio.Event()

    async def slowly() -> AsyncIterator[bytes]:
        yield body[:512]
        started.set()
        await release.wait()
        yield body[512:]

    slow = client.post(
        f"/api/v1/sessions/{sid}/workspace/import",
        headers={**headers, "Content-Type": "application/x-tar"},
        content=slowly(),
    )
    asyncio.get_running_loop().call_later(1.0, release.set)
    response = await while_running(slow, started, client, headers)
    assert response.status_code == 200, response.text
