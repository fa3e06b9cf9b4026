"""Checkpoints of a real task (the fake LLM drives it; git runs in the real sandbox): saved
before each step that writes, listed, diffed, and restored to each point exactly, with or
without the conversation, never touching the user's `.git` nor anything outside the workspace."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from roo.api.state import Resources
from roo.config import Settings
from roo.db.engine import unit_of_work
from roo.db.models import AuditEvent
from roo.testing.fake_llm import Reply, ToolCall
from tests.tasks.conftest import Api, FakeLLM, MakeApi, question

POLICY = {"autoApproveWrite": True, "autoApproveExecute": True, "allowedCommands": ["*"]}
Files = dict[str, bytes]


def write(path: str, content: str, id: str | None = None) -> ToolCall:
    return ToolCall("write_to_file", {"path": path, "content": content}, id=id)


def run(command: str) -> ToolCall:
    return ToolCall("execute_command", {"command": command})


def done(result: str = "done") -> Reply:
    return Reply(tool_calls=[ToolCall("attempt_completion", {"result": result})])


def workspace(settings: Settings, session_id: str) -> Path:
    return settings.workspaces_dir / uuid.UUID(session_id).hex


def files(root: Path) -> Files:
    """Every file of the workspace but the user's `.git`, with its bytes."""
    found: Files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root and ".git" in dirnames:
            dirnames.remove(".git")
        for name in filenames:
            path = Path(dirpath) / name
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def tree_digest(root: Path) -> str:
    """Names, kinds and bytes of everything under `root` (the user's `.git`)."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def user_repository(ws: Path) -> str:
    """A real repository of the user's in the workspace, with one commit; its digest."""
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(ws.parent)}
    for args in (
        ["init", "-q"],
        [
            "-c",
            "user.name=u",
            "-c",
            "user.email=u@example.com",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "mine",
        ],
    ):
        subprocess.run(["git", "-C", str(ws), *args], check=True, env=env)
    return tree_digest(ws / ".git")


async def put(api: Api, session: str, path: str, content: str) -> None:
    response = await api.request(
        "PUT",
        f"/api/v1/sessions/{session}/files/{path}",
        params={"parents": "true"},
        content=content.encode(),
    )
    assert response.status_code in (200, 201), response.text


class Checkpoints:
    def __init__(self, api: Api, session: str, task: str) -> None:
        self.api, self.base = api, f"/api/v1/sessions/{session}/tasks/{task}/checkpoints"

    async def list(self) -> list[dict[str, Any]]:
        response = await self.api.request("GET", self.base)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def restore(self, cid: str, conversation: bool = False) -> Any:
        return await self.api.request(
            "POST", f"{self.base}/{cid}/restore", json={"conversation": conversation}
        )

    async def diff(self, cid: str, against: str = "current") -> Any:
        return await self.api.request("GET", f"{self.base}/{cid}/diff", params={"against": against})


async def test_restoring_each_checkpoint_gives_back_that_points_files(
    api: Api, llm: FakeLLM, settings: Settings, resources: Resources
) -> None:
    session = await api.session(approvalPolicy=POLICY)
    ws = workspace(settings, session)
    await api.write(session, "a.txt", "one\n")
    await put(api, session, "keep/k.txt", "kept\n")
    # attributes that would change bytes if the shadow repository honoured them
    await api.write(session, ".gitattributes", "* text eol=crlf ident\n")
    await api.write(session, "id.txt", "$Id$\nline\n")
    mine = user_repository(ws)
    llm.script(
        Reply(tool_calls=[write("b.txt", "bee\n")]),  # step 0
        Reply(tool_calls=[write("a.txt", "two\n"), run("rm keep/k.txt")]),  # step 1
        Reply(tool_calls=[run("rm b.txt"), write("d/new.txt", "x\ty")]),  # step 2
        Reply(tool_calls=[write("trace.log", "noise"), write("d/late.txt", "z")]),  # step 3
        done(),
    )
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    at_start: Files = {"a.txt": b"one\n", "keep/k.txt": b"kept\n"}
    fixed = {".gitattributes": b"* text eol=crlf ident\n", "id.txt": b"$Id$\nline\n"}
    expected = [
        at_start,
        {**at_start, "b.txt": b"bee\n"},
        {"a.txt": b"two\n", "b.txt": b"bee\n"},
        {"a.txt": b"two\n", "d/new.txt": b"x\ty"},
    ]
    checkpoints = Checkpoints(api, session, task["id"])
    listed = await checkpoints.list()
    assert [c["step"] for c in listed] == [0, 1, 2, 3]
    assert {f["path"] for f in listed[0]["files"]} == {"a.txt", "keep/k.txt", *fixed}
    # what changed since the previous checkpoint: what the step before did
    assert [(f["path"], f["status"]) for f in listed[1]["files"]] == [("b.txt", "added")]
    assert listed[2]["filesChanged"] == 2
    assert {(f["path"], f["status"]) for f in listed[2]["files"]} == {
        ("a.txt", "modified"),
        ("keep/k.txt", "deleted"),
    }
    saved = [e for e in await api.events(session) if e["event"] == "checkpoint.saved"]
    assert [e["data"]["checkpointId"] for e in saved] == [c["id"] for c in listed]

    # every point, in an order that goes back and forth
    for index in (2, 0, 3, 1, 0, 3):
        response = await checkpoints.restore(listed[index]["id"])
        assert response.status_code == 200, response.text
        now = files(ws)
        assert now.pop("trace.log", None) == b"noise"  # left out (*.log): never touched
        assert now == {**expected[index], **fixed}, index
        assert tree_digest(ws / ".git") == mine  # the user's repository is untouched
    restored = [e for e in await api.events(session) if e["event"] == "checkpoint.restored"]
    assert len(restored) == 6
    assert restored[0]["data"]["conversation"] is False
    async with unit_of_work(resources.db_sessions) as db:
        audited = (
            await db.scalars(
                select(AuditEvent).where(AuditEvent.action == "tasks.checkpoint_restore")
            )
        ).all()
    assert len(audited) == 6
    assert audited[0].target == f"task:{task['id']}"
    # the shadow repository lives outside the workspace, and goes with the session
    shadow = resources.tasks.checkpoints.directory(uuid.UUID(session))  # type: ignore[union-attr]
    assert (shadow / "git" / "HEAD").is_file()
    assert not shadow.is_relative_to(ws)
    assert (await api.request("DELETE", f"/api/v1/sessions/{session}")).status_code == 204
    assert not shadow.exists()


async def test_diff_against_now_and_another_checkpoint(
    api: Api, llm: FakeLLM, settings: Settings
) -> None:
    session = await api.session(approvalPolicy=POLICY)
    await api.write(session, "a.txt", "one\n")
    llm.script(
        Reply(tool_calls=[write("a.txt", "two\n")]),
        Reply(tool_calls=[write("n.txt", "new\n")]),
        done(),
    )
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    checkpoints = Checkpoints(api, session, task["id"])
    first, second = await checkpoints.list()
    response = await checkpoints.diff(first["id"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["against"] == "current"
    assert body["truncated"] is False
    assert "-one\n+two\n" in body["diff"]
    assert "+new\n" in body["diff"]
    between = (await checkpoints.diff(first["id"], second["id"])).json()["diff"]
    assert "-one\n+two\n" in between
    assert "n.txt" not in between
    # diffing staged nothing the user sees and keeps restores exact
    assert (await checkpoints.restore(first["id"])).status_code == 200
    assert files(workspace(settings, session)) == {"a.txt": b"one\n"}


async def test_a_planted_link_does_not_let_a_restore_write_outside(
    api: Api, llm: FakeLLM, settings: Settings, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target.txt").write_text("precious\n")
    session = await api.session(approvalPolicy=POLICY)
    ws = workspace(settings, session)
    await put(api, session, "sub/file.txt", "inside\n")
    await api.write(session, "a.txt", "a\n")
    llm.script(
        Reply(tool_calls=[write("x.txt", "x\n")]),  # step 0: the checkpoint to restore
        # the agent replaces the directory and the file with links to the host's directory
        Reply(
            tool_calls=[
                run(
                    f"rm -r sub a.txt && ln -s {outside} sub && "
                    f"ln -s {outside / 'target.txt'} a.txt"
                )
            ]
        ),
        done(),
    )
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    assert (ws / "sub").is_symlink()
    assert (ws / "a.txt").is_symlink()
    checkpoints = Checkpoints(api, session, task["id"])
    first = (await checkpoints.list())[0]
    response = await checkpoints.restore(first["id"])
    assert response.status_code == 200, response.text
    assert sorted(p.name for p in outside.iterdir()) == ["target.txt"]
    assert (outside / "target.txt").read_text() == "precious\n"
    assert not (ws / "sub").is_symlink()
    assert not (ws / "a.txt").is_symlink()
    assert files(ws) == {"sub/file.txt": b"inside\n", "a.txt": b"a\n"}


async def test_conversation_restore_then_continue_from_that_step(
    api: Api, llm: FakeLLM, settings: Settings
) -> None:
    session = await api.session(approvalPolicy=POLICY)
    llm.script(
        Reply(tool_calls=[write("f.txt", "v1\n", id="w1")]),
        Reply(tool_calls=[write("f.txt", "v2\n", id="w2")]),
        done("first"),
    )
    task = await api.start(session, "write f")
    await api.wait(session, task["id"], "completed")
    before = await api.task(session, task["id"])
    checkpoints = Checkpoints(api, session, task["id"])
    _, second = await checkpoints.list()
    response = await checkpoints.restore(second["id"], conversation=True)
    assert response.status_code == 200, response.text
    assert files(workspace(settings, session)) == {"f.txt": b"v1\n"}
    after = await api.task(session, task["id"])
    assert after["result"] is None
    assert len(after["messages"]) == len(before["messages"]) - 3  # step 1 and 2's turns
    assert "w2" not in json.dumps(after["messages"])
    assert "w1" in json.dumps(after["messages"])
    # the step's checkpoint is gone with it: the continued run takes it again
    assert [c["step"] for c in await checkpoints.list()] == [0]
    event = await api.wait_event(session, lambda e: e["event"] == "checkpoint.restored")
    assert event["data"]["conversation"] is True
    assert event["data"]["messagesRemoved"] == 3

    llm.script(Reply(tool_calls=[write("f.txt", "v3\n", id="w3")]), done("second"))
    sent = len(llm.requests)
    response = await api.act(session, task["id"], action="message", text="once more")
    assert response.status_code == 200, response.text
    final = await api.wait(session, task["id"], "completed")
    assert final["result"] == "second"
    assert files(workspace(settings, session)) == {"f.txt": b"v3\n"}
    resumed = json.dumps(llm.requests[sent].body["messages"])
    assert "w1" in resumed
    assert "w2" not in resumed
    assert "v2" not in resumed
    assert "once more" in resumed
    assert [c["step"] for c in await checkpoints.list()] == [0, 1]


async def test_restore_is_refused_while_a_task_of_the_session_is_active(
    api: Api, llm: FakeLLM, settings: Settings
) -> None:
    session = await api.session(approvalPolicy=POLICY)
    llm.script(Reply(tool_calls=[write("f.txt", "v1\n")]), question("go on?"))
    task = await api.start(session)
    await api.wait(session, task["id"], "awaiting_input")
    checkpoints = Checkpoints(api, session, task["id"])
    (first,) = await checkpoints.list()
    for conversation in (False, True):
        response = await checkpoints.restore(first["id"], conversation)
        assert response.status_code == 409, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"].endswith("session-task-active")
    assert files(workspace(settings, session)) == {"f.txt": b"v1\n"}  # nothing restored


async def test_unknown_ids_are_404_and_a_bad_against_is_422(
    api: Api, make_api: MakeApi, llm: FakeLLM
) -> None:
    session = await api.session(approvalPolicy=POLICY)
    llm.script(Reply(tool_calls=[write("f.txt", "v1\n")]), done())
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    checkpoints = Checkpoints(api, session, task["id"])
    (first,) = await checkpoints.list()
    missing = str(uuid.uuid4())
    base = f"/api/v1/sessions/{session}/tasks"
    for method, url in (
        ("GET", f"{base}/{missing}/checkpoints"),
        ("GET", f"/api/v1/sessions/{missing}/tasks/{task['id']}/checkpoints"),
        ("GET", f"{base}/{task['id']}/checkpoints/{missing}/diff"),
        ("GET", f"{base}/{task['id']}/checkpoints/{first['id']}/diff?against={missing}"),
        ("POST", f"{base}/{task['id']}/checkpoints/{missing}/restore"),
        ("POST", f"{base}/{missing}/checkpoints/{first['id']}/restore"),
    ):
        response = await api.request(method, url, json={} if method == "POST" else None)
        assert response.status_code == 404, (url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    bad = await checkpoints.diff(first["id"], "yesterday")
    assert bad.status_code == 422, bad.text
    junk = await api.request(
        "POST", f"{checkpoints.base}/{first['id']}/restore", json={"conversation": "x", "y": 1}
    )
    assert junk.status_code == 422, junk.text
    # another user sees none of it
    stranger = await make_api()
    response = await stranger.request("GET", f"{base}/{task['id']}/checkpoints")
    assert response.status_code == 404
    response = await stranger.request(
        "POST", f"{base}/{task['id']}/checkpoints/{first['id']}/restore", json={}
    )
    assert response.status_code == 404


@pytest.mark.task_settings(checkpoint_file_max_bytes=1024)
async def test_large_files_and_nested_repositories_are_left_out(
    api: Api, llm: FakeLLM, settings: Settings
) -> None:
    session = await api.session(approvalPolicy=POLICY)
    ws = workspace(settings, session)
    await api.write(session, "small.txt", "s\n")
    llm.script(
        Reply(tool_calls=[write("x.txt", "x\n")]),
        Reply(
            tool_calls=[
                write("big.txt", "0" * 4096),
                run("git init -q lib"),
                write("lib/lib.txt", "v"),
            ]
        ),
        Reply(tool_calls=[write("y.txt", "y\n")]),
        done(),
    )
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    checkpoints = Checkpoints(api, session, task["id"])
    listed = await checkpoints.list()
    assert [c["step"] for c in listed] == [0, 1, 2]
    assert {f["path"] for f in listed[2]["files"]} == set()  # neither big.txt nor lib/
    response = await checkpoints.restore(listed[0]["id"])
    assert response.status_code == 200, response.text
    # left-out files stay as they are; the snapshotted ones are back
    assert (ws / "big.txt").stat().st_size == 4096
    assert (ws / "lib" / "lib.txt").read_text() == "v"
    assert (ws / "lib" / ".git").is_dir()
    assert not (ws / "x.txt").exists()
    assert not (ws / "y.txt").exists()


@pytest.mark.task_settings(checkpoint_max_bytes=1024 * 1024)
async def test_a_session_past_its_size_cap_takes_no_more_checkpoints(
    api: Api, llm: FakeLLM
) -> None:
    session = await api.session(approvalPolicy=POLICY)
    response = await api.request(
        "PUT",
        f"/api/v1/sessions/{session}/files/noise.txt",
        content=os.urandom(1536 * 1024),  # incompressible: the repository grows past 1 MiB
    )
    assert response.status_code == 201, response.text
    llm.script(
        Reply(tool_calls=[write("a.txt", "a\n")]),
        Reply(tool_calls=[write("b.txt", "b\n")]),
        done(),
    )
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    assert [c["step"] for c in await Checkpoints(api, session, task["id"]).list()] == [0]
    skipped = [e["data"] for e in await api.events(session) if e["event"] == "checkpoint.skipped"]
    assert skipped == [{"step": 1, "reason": "size_cap"}]


async def test_a_failed_snapshot_is_reported_and_the_task_goes_on(
    api: Api, llm: FakeLLM, resources: Resources
) -> None:
    session = await api.session(approvalPolicy=POLICY)
    # the session's checkpoint directory cannot be made: a file stands in its place
    shadow = resources.tasks.checkpoints.directory(uuid.UUID(session))  # type: ignore[union-attr]
    shadow.parent.mkdir(parents=True, exist_ok=True)
    shadow.write_text("in the way\n")
    llm.script(Reply(tool_calls=[write("a.txt", "a\n")]), done())
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    assert await api.read(session, "a.txt") == "a\n"  # the write ran
    assert await Checkpoints(api, session, task["id"]).list() == []
    skipped = [e["data"] for e in await api.events(session) if e["event"] == "checkpoint.skipped"]
    assert skipped == [{"step": 0, "reason": "error", "message": "the snapshot failed"}]
