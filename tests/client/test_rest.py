"""The async client against the service in process (httpx's ASGI transport): each route group,
token refresh, API keys, pagination and the typed errors built from problem+json bodies."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid

import httpx
import pytest
from fastapi import FastAPI

from roo.api.state import Resources
from roo.client import (
    AsyncRooClient,
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    RateLimited,
    Unauthorized,
    ValidationError,
    _core,
)
from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.auth.conftest import PASSWORD, SignedIn


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _expired_copy(resources: Resources, token: str) -> str:
    """The same sign-in's access token, issued two hours ago (expired past the leeway)."""
    claims = _claims(token)
    issued = resources.auth.resolver.tokens.issue(
        uuid.UUID(str(claims["sub"])), list(claims["roles"]),  # type: ignore[call-overload]
        int(claims["sv"]), uuid.UUID(str(claims["sid"])), now=int(time.time()) - 7200,  # type: ignore[call-overload]
    )  # fmt: skip
    return issued.token


class Counting(httpx.AsyncBaseTransport):
    """The ASGI transport, counting the refresh requests that go through it."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.refreshes = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/refresh"):
            self.refreshes += 1
        return await self.inner.handle_async_request(request)


async def test_profile_sessions_and_files(roo: AsyncRooClient, user: SignedIn) -> None:
    me = await roo.get_profile()
    assert me.email == user.email
    assert str(me.id) in (await roo.whoami()).model_dump_json()
    session = await roo.create_session("sdk", config={"mode": "code"})
    assert (await roo.get_session(session.id)).name == "sdk"
    renamed = await roo.update_session(session.id, name="renamed")
    assert renamed.name == "renamed"

    info = await roo.upload_file(session.id, "src/hello world.py", b"print(1)\n", parents=True)
    assert info.created
    assert info.etag
    got = await roo.download_file(session.id, "src/hello world.py")
    assert got.content == b"print(1)\n"
    assert got.etag == info.etag
    assert (await roo.read_file(session.id, "src/hello world.py")).text == "print(1)\n"
    names = [e.name for e in (await roo.list_directory(session.id, "src")).entries]
    assert names == ["hello world.py"]
    assert [e.name for e in (await roo.list_files(session.id)).entries] == ["src"]

    # a write against an ETag that is no longer current is refused, and changes nothing
    await roo.upload_file(session.id, "src/hello world.py", b"print(2)\n", if_match=info.etag)
    with pytest.raises(PreconditionFailed) as stale:
        await roo.upload_file(session.id, "src/hello world.py", b"lost\n", if_match=info.etag)
    assert stale.value.status == 412
    assert (await roo.download_file(session.id, "src/hello world.py")).content == b"print(2)\n"
    await roo.delete_file(session.id, "src/hello world.py")
    with pytest.raises(NotFound):
        await roo.download_file(session.id, "src/hello world.py")

    await roo.delete_session(session.id)
    with pytest.raises(NotFound) as gone:
        await roo.get_session(session.id)
    assert gone.value.type.startswith("urn:roo:problem:")
    assert gone.value.type.endswith("not-found")
    assert gone.value.title
    assert gone.value.detail


async def test_api_keys_and_x_api_key_auth(app: FastAPI, roo: AsyncRooClient) -> None:
    created = await roo.create_api_key("reader", ["sessions:read"])
    assert created.key.startswith("roo_")
    assert [k.name for k in await roo.list_api_keys()] == ["reader"]
    transport = httpx.ASGITransport(app=app)
    async with AsyncRooClient("http://testserver", api_key=created.key, transport=transport) as key:
        assert (await key.list_sessions()).total == 0
        with pytest.raises(Forbidden) as refused:  # the key's scopes do not include writing
            await key.create_session("no")
        assert refused.value.status == 403
        await roo.revoke_api_key(created.id)
        with pytest.raises(Unauthorized):
            await key.list_sessions()


async def test_tools_and_credentials(roo: AsyncRooClient) -> None:
    tools = await roo.list_tools()
    assert "read_file" in {t.name for t in tools}
    assert (await roo.get_tool("read_file")).name == "read_file"
    session = await roo.create_session("tools")
    await roo.upload_file(session.id, "a.txt", b"alpha\n")
    result = await roo.run_tool(session.id, "read_file", {"path": "a.txt"})
    assert "alpha" in json.dumps(result.model_dump(mode="json"))
    assert await roo.list_credentials() == []
    with pytest.raises(NotFound):
        await roo.get_tool("no_such_tool")


async def test_a_task_run_and_its_events(roo: AsyncRooClient, llm: FakeLLM) -> None:
    llm.script(
        Reply(text="Running.", tool_calls=[ToolCall("execute_command", {"command": "echo hi"})]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Done."})]),
    )
    session = await roo.create_session("task", config={"approvalPolicy": {
        "autoApproveExecute": False}})  # fmt: skip
    task = await roo.create_task(session.id, "say hi")
    approval = await _wait_for(roo, session.id, "approval.required")
    with pytest.raises(Conflict):  # not waiting for an answer to a question
        await roo.answer(session.id, task.id, "yes", approval_id=uuid.uuid4())
    await roo.approve(session.id, task.id, approval.data["approvalId"])
    await _wait_for(roo, session.id, "task.complete")
    detail = await roo.get_task(session.id, task.id)
    assert detail.state == "completed"
    assert [t.id for t in (await roo.list_tasks(session.id)).items] == [task.id]
    seqs = [e.seq async for e in roo.iter_events(session.id, page_size=3)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) > 6
    assert await roo.cancel(session.id, task.id) is None  # a finished task is deleted
    with pytest.raises(NotFound):
        await roo.get_task(session.id, task.id)


async def test_checkpoints_listed_diffed_and_restored(roo: AsyncRooClient, llm: FakeLLM) -> None:
    llm.script(
        Reply(tool_calls=[ToolCall("write_to_file", {"path": "f.txt", "content": "v1\n"})]),
        Reply(tool_calls=[ToolCall("write_to_file", {"path": "f.txt", "content": "v2\n"})]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Done."})]),
    )
    session = await roo.create_session("cp", config={"approvalPolicy": {
        "autoApproveWrite": True}})  # fmt: skip
    task = await roo.create_task(session.id, "write")
    await _wait_for(roo, session.id, "task.complete")
    listed = (await roo.checkpoints(session.id, task.id)).items
    assert [c.step for c in listed] == [0, 1]
    diff = await roo.checkpoint_diff(session.id, task.id, listed[1].id)
    assert "-v1\n+v2\n" in diff.diff
    between = await roo.checkpoint_diff(session.id, task.id, listed[0].id, listed[1].id)
    assert "+v1\n" in between.diff
    restored = await roo.restore_checkpoint(session.id, task.id, listed[1].id, conversation=True)
    assert restored.checkpoint.id == listed[1].id
    assert restored.conversation is True
    assert (await roo.download_file(session.id, "f.txt")).content == b"v1\n"
    with pytest.raises(NotFound):
        await roo.restore_checkpoint(session.id, task.id, uuid.uuid4())


async def _wait_for(roo: AsyncRooClient, session_id: uuid.UUID, name: str):  # type: ignore[no-untyped-def]
    for _ in range(400):
        async for event in roo.iter_events(session_id):
            if event.event == name:
                return event
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {name}")


async def test_pagination_yields_every_item_once(roo: AsyncRooClient) -> None:
    made = [(await roo.create_session(f"s{i}")).id for i in range(5)]
    seen = [s.id async for s in roo.iter_sessions(page_size=2)]
    assert sorted(seen) == sorted(made)
    assert len(seen) == 5
    assert (await roo.list_sessions(limit=2)).total == 5


async def test_an_expired_access_token_is_refreshed_once_for_concurrent_callers(
    app: FastAPI, resources: Resources, user: SignedIn
) -> None:
    counting = Counting(app)
    async with AsyncRooClient("http://testserver", transport=counting) as roo:
        await roo.login(user.email, PASSWORD)
        roo.credentials.access_token = _expired_copy(resources, roo.credentials.access_token or "")
        profiles = await asyncio.gather(*(roo.get_profile() for _ in range(5)))
        assert {p.email for p in profiles} == {user.email}
        assert counting.refreshes == 1


async def test_a_401_for_an_expired_token_refreshes_and_retries(
    app: FastAPI, resources: Resources, user: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client whose clock is behind sends the expired token; the 401 makes it refresh once
    and send the request again."""
    counting = Counting(app)
    async with AsyncRooClient("http://testserver", transport=counting) as roo:
        await roo.login(user.email, PASSWORD)
        old_refresh = roo.credentials.refresh_token
        roo.credentials.access_token = _expired_copy(resources, roo.credentials.access_token or "")
        monkeypatch.setattr(_core, "token_expired", lambda token, now=None: False)
        assert (await roo.get_profile()).email == user.email
        assert counting.refreshes == 1
        assert roo.credentials.refresh_token != old_refresh
        # a refresh that is refused (the sign-in was ended) leaves the 401 to the caller
        await roo.logout()
        roo.credentials.access_token = _expired_copy(resources, user.token)
        roo.credentials.refresh_token = old_refresh
        with pytest.raises(Unauthorized):
            await roo.get_profile()
        assert counting.refreshes == 2


async def test_problem_details_become_typed_errors(roo: AsyncRooClient, app: FastAPI) -> None:
    with pytest.raises(ValidationError) as invalid:
        await roo.list_sessions(limit=100000)
    assert invalid.value.status == 422
    assert invalid.value.errors
    assert invalid.value.type.startswith("urn:roo:problem:")
    async with AsyncRooClient("http://testserver", transport=httpx.ASGITransport(app=app)) as anon:
        with pytest.raises(Unauthorized) as unauthorized:
            await anon.get_profile()
    assert unauthorized.value.status == 401


@pytest.mark.task_settings(task_create_limit="1/minute")
async def test_429_carries_retry_after(roo: AsyncRooClient, llm: FakeLLM) -> None:
    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Done."})]))
    first, second = await roo.create_session("one"), await roo.create_session("two")
    await roo.create_task(first.id, "one")
    with pytest.raises(RateLimited) as limited:
        await roo.create_task(second.id, "two")
    assert limited.value.status == 429
    assert limited.value.retry_after is not None
    assert limited.value.retry_after > 0
