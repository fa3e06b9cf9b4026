"""Checkpoints against what else happens to the session at the same time: saves from two
processes, task starts and file writes during a restore, work in progress during one, and the
janitor deleting an archived session's workspace (issue 18)."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from roo.api.state import Resources
from roo.checkpoints.lock import LOCK_NAME, LockTimeout, session_lock
from roo.checkpoints.service import CheckpointService
from roo.checkpoints.shadow import ShadowRepo
from roo.config import Settings
from roo.db.engine import unit_of_work
from roo.db.models import Session, TaskCheckpoint
from roo.tasks.events import EventStore
from roo.testing.fake_llm import Reply
from tests.checkpoints.test_checkpoints import POLICY, Checkpoints, done, files, workspace, write
from tests.support.waiting import eventually
from tests.tasks.conftest import Api, FakeLLM

Json = dict[str, Any]


def checkpoint_service(resources: Resources) -> CheckpointService:
    service = resources.tasks.checkpoints
    assert service is not None
    return service


async def finished_task(api: Api, llm: FakeLLM, session: str) -> str:
    llm.script(done())
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    return str(task["id"])


async def test_two_processes_saving_for_one_session_both_save(
    api: Api, llm: FakeLLM, settings: Settings, resources: Resources
) -> None:
    """Two services with nothing shared in memory, as two processes (queue workers) are,
    save for two tasks of one session at once: both snapshots are taken, neither skipped."""
    session = await api.session(approvalPolicy=POLICY)
    first, second = [await finished_task(api, llm, session) for _ in range(2)]
    async with unit_of_work(resources.db_sessions) as db:
        row = await db.get(Session, uuid.UUID(session))
    assert row is not None
    one = checkpoint_service(resources)
    # another process's service: its own in-process locks, the same checkpoints directory
    other = CheckpointService(
        one.settings, resources.db_sessions, one.manager, EventStore(resources.db_sessions)
    )
    told: list[tuple[str, Json]] = []

    async def sink(event: str, data: Json) -> None:
        told.append((event, data))

    ws = workspace(settings, session)
    # enough files that each save takes a while (every one of them staged and committed)
    for d in range(20):
        (ws / f"d{d}").mkdir()
        for i in range(150):
            (ws / f"d{d}" / f"{i}.txt").write_text(f"{d} {i}\n")
    recorders = [
        service.recorder(row, uuid.UUID(task), sink)
        for service, task in ((one, first), (other, second), (other, first), (one, second))
    ]
    await asyncio.gather(
        recorders[0].before_write(0, 0),  # type: ignore[union-attr]
        recorders[1].before_write(0, 0),  # type: ignore[union-attr]
    )
    (ws / "late.txt").write_text("late\n")
    await asyncio.gather(
        recorders[2].before_write(1, 0),  # type: ignore[union-attr]
        recorders[3].before_write(1, 0),  # type: ignore[union-attr]
    )
    assert [event for event, _ in told] == ["checkpoint.saved"] * 4, told
    async with unit_of_work(resources.db_sessions) as db:
        saved = (
            await db.scalars(
                select(TaskCheckpoint).where(TaskCheckpoint.session_id == uuid.UUID(session))
            )
        ).all()
    assert len(saved) == 4
    assert len({c.commit for c in saved}) == 4
    # each is a whole snapshot: restoring the first of the second round brings back late.txt,
    # and one of the first round removes it
    for task in (first, second):
        listed = await Checkpoints(api, session, task).list()
        assert [c["step"] for c in listed] == [0, 1]
    restore = await Checkpoints(api, session, first).restore(
        (await Checkpoints(api, session, first).list())[0]["id"]
    )
    assert restore.status_code == 200, restore.text
    assert not (ws / "late.txt").exists()
    assert (ws / "d19" / "149.txt").read_text() == "19 149\n"


async def test_nothing_starts_or_writes_while_a_restore_runs(
    api: Api,
    llm: FakeLLM,
    settings: Settings,
    resources: Resources,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = await api.session(approvalPolicy=POLICY)
    ws = workspace(settings, session)
    await api.write(session, "a.txt", "one\n")
    llm.script(
        Reply(tool_calls=[write("a.txt", "two\n")]),
        Reply(tool_calls=[write("b.txt", "bee\n")]),
        done(),
    )
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    checkpoints = Checkpoints(api, session, task["id"])
    first, _ = await checkpoints.list()

    # the restore stops once it holds what it holds, before git runs
    inside, go_on = asyncio.Event(), asyncio.Event()
    original = ShadowRepo.restore

    async def slowed(repo: ShadowRepo, commit: str) -> None:
        inside.set()
        await go_on.wait()
        await original(repo, commit)

    monkeypatch.setattr(ShadowRepo, "restore", slowed)
    restoring = asyncio.create_task(checkpoints.restore(first["id"]))
    await asyncio.wait_for(inside.wait(), 20)
    base = f"/api/v1/sessions/{session}"
    attempts = {
        "new task": lambda: api.create(session),
        "message": lambda: api.act(session, task["id"], action="message", text="again"),
        "put": lambda: api.request("PUT", f"{base}/files/c.txt", content=b"c"),
        "post": lambda: api.request("POST", f"{base}/files/c.txt", content=b"c"),
        "mkdir": lambda: api.request("POST", f"{base}/files/dir", params={"type": "directory"}),
        "delete": lambda: api.request("DELETE", f"{base}/files/a.txt"),
        "tool": lambda: api.request(
            "POST", f"{base}/tools/write_to_file", json={"path": "c.txt", "content": "c"}
        ),
    }
    tried: dict[str, httpx.Response] = {}
    try:
        for what, attempt in attempts.items():
            # (a write that waited for the restore would wait here for ever: it is cut short)
            tried[what] = await asyncio.wait_for(attempt(), 30)
    finally:
        go_on.set()
    restored = await restoring
    assert restored.status_code == 200, restored.text
    for what, response in tried.items():
        assert response.status_code == 409, (what, response.text)
        assert response.json()["type"].endswith("workspace-busy"), (what, response.text)
    assert files(ws) == {"a.txt": b"one\n"}  # exactly the checkpoint's files
    listed = await api.request("GET", f"{base}/tasks")
    assert listed.json()["total"] == 1
    assert (await api.task(session, task["id"]))["state"] == "completed"
    # and once it is done, everything works again
    await api.write(session, "c.txt", "c")
    llm.script(done())
    again = await api.start(session)
    await api.wait(session, again["id"], "completed")


async def test_a_restore_during_work_in_the_workspace_is_409_workspace_busy(
    api: Api, llm: FakeLLM, settings: Settings, resources: Resources
) -> None:
    """A command (or a write through the API) holding the workspace makes a restore 409
    `workspace-busy`, not a failure (503), and changes nothing."""
    session = await api.session(approvalPolicy=POLICY)
    llm.script(Reply(tool_calls=[write("a.txt", "one\n")]), done())
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    (first,) = await Checkpoints(api, session, task["id"]).list()
    name = uuid.UUID(session).hex
    async with resources.sessions_manager.workspaces.held(name, exclusive=False):
        response = await Checkpoints(api, session, task["id"]).restore(first["id"])
    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("workspace-busy")
    assert files(workspace(settings, session)) == {"a.txt": b"one\n"}


@pytest.mark.task_settings(workspace_retention_seconds=0, cleanup_interval_seconds=0.1)
async def test_the_janitor_deletes_the_checkpoints_with_the_workspace(
    api: Api, llm: FakeLLM, settings: Settings, resources: Resources
) -> None:
    session = await api.session(approvalPolicy=POLICY)
    llm.script(Reply(tool_calls=[write("a.txt", "one\n")]), done())
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    checkpoints = Checkpoints(api, session, task["id"])
    (first,) = await checkpoints.list()
    shadow = checkpoint_service(resources).directory(uuid.UUID(session))
    assert (shadow / "git" / "HEAD").is_file()
    archived = await api.request("PUT", f"/api/v1/sessions/{session}", json={"state": "archived"})
    assert archived.status_code == 200, archived.text

    async def deleted() -> bool:
        got = await api.request("GET", f"/api/v1/sessions/{session}")
        return got.json()["workspaceAvailable"] is False

    await eventually(deleted, within=20, what="the janitor deleting the workspace")
    assert not workspace(settings, session).exists()
    assert not shadow.exists()
    # the records stay (the task's history); what needs the snapshots says they are gone
    assert [c["id"] for c in await checkpoints.list()] == [first["id"]]
    for response in (await checkpoints.diff(first["id"]), await checkpoints.restore(first["id"])):
        assert response.status_code == 409, response.text
        assert response.json()["type"].endswith("workspace-deleted")


HOLDER = """
import asyncio, sys
from pathlib import Path
from roo.checkpoints.lock import session_lock

async def main() -> None:
    async with session_lock(Path(sys.argv[1]), sys.argv[2], 5.0):
        print("held", flush=True)
        await asyncio.to_thread(sys.stdin.read)  # until the test closes our stdin

asyncio.run(main())
"""


async def test_the_session_lock_holds_across_processes(tmp_path: Path) -> None:
    """Another process holding a session's checkpoint lock keeps this one waiting (here: past
    a short wait, LockTimeout) until it lets go; another session's lock is free meanwhile."""
    key = uuid.uuid4().hex
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLDER,
        str(tmp_path),
        key,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert holder.stdin is not None
    assert holder.stdout is not None
    try:
        assert await asyncio.wait_for(holder.stdout.readline(), 30) == b"held\n"
        with pytest.raises(LockTimeout):
            async with session_lock(tmp_path, key, 0.3):
                pass
        async with session_lock(tmp_path, uuid.uuid4().hex, 0.3):
            pass
    finally:
        holder.stdin.close()
        assert await asyncio.wait_for(holder.wait(), 30) == 0
    async with session_lock(tmp_path, key, 5.0):
        pass


async def test_a_planted_link_is_never_the_lock_file(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    key = uuid.uuid4().hex
    (tmp_path / "root" / key).mkdir(parents=True)
    (tmp_path / "root" / key / LOCK_NAME).symlink_to(outside)
    with pytest.raises(OSError):  # noqa: PT011 - ELOOP, whatever its subclass
        async with session_lock(tmp_path / "root", key, 0.3):
            pass
    assert outside.read_text() == "precious\n"
    assert (tmp_path / "root" / key / LOCK_NAME).is_symlink()
