"""Issue 12, item 1: an archive import cannot be led out of the workspace by a link.

The attack: a command of the session waits for the import's first member to appear, then plants
`/workspace/d -> <a host directory>`; the archive's last member is `d/x.txt`. The import runs as
root: it used to join paths and create parents with `mkdir(parents=True)`, following the link,
and `x.txt` appeared in the host directory, owned by root.

Now every directory and file is created relative to its parent's fd with `O_NOFOLLOW`, so no
link is ever followed (checked against a real sandboxed command racing the import, and against
links planted in advance right where the import will write), and the session's commands and an
import never run at once.
"""

from __future__ import annotations

import asyncio
import os
import tarfile
from pathlib import Path

import httpx
import pytest

from roo.api.state import Resources
from roo.sessions import importer
from tests.files.conftest import MakeWorkspace
from tests.sessions.test_import import file_info, tar_bytes, upload
from tests.support.workspaces import Output, session_row

# Waits for the import's first member, then plants the link (argv[1]: the host directory).
PLANTER = """
import os, sys, time
print("ready", flush=True)
deadline = time.monotonic() + 8
while time.monotonic() < deadline:
    if os.path.exists("/workspace/first.txt"):
        os.symlink(sys.argv[1], "/workspace/d")
        print("planted", flush=True)
        sys.exit(0)
    time.sleep(0.0005)
sys.exit(3)
"""


def race_archive(padding: int = 3000) -> bytes:
    """`first.txt`, `padding` small files (time for the command to act), then `d/x.txt`."""
    members = [file_info("first.txt", b"1")]
    members += [file_info(f"pad/{i:05d}.txt", b"p") for i in range(padding)]
    members.append(file_info("d/x.txt", b"written by the import"))
    return tar_bytes(members)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A host directory no workspace contains: the target of every planted link."""
    path = tmp_path / "host-dir"
    path.mkdir()
    return path


async def test_a_link_planted_by_a_command_during_the_import_is_never_followed(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace, resources: Resources, outside: Path
) -> None:
    """A real sandboxed command races the import. It runs through the sandbox runner directly,
    so the session's lock (commands vs imports, tested below) does not keep it out: this is
    the import alone against the link."""
    body = race_archive()
    planted_in_time = 0
    for attempt in range(3):
        ws = await make_workspace()
        session = await session_row(resources, ws.id)
        out = Output()
        command = asyncio.create_task(
            resources.sandbox.run(
                ["python3", "-c", PLANTER, str(outside)],
                workspace=ws.path,
                limits=resources.sessions_manager.sandbox_limits(session),
                on_output=out,
                timeout=10,
            )
        )
        try:
            await out.wait_for("ready")
            response = await upload(client, ws.owner, ws.id, body)
        finally:
            result = await command
        # The host directory is still there (cleaning up removed the link, not its target),
        # and empty.
        assert os.listdir(outside) == [], f"attempt {attempt}: the import wrote outside"
        if "planted" in result.text() and response.status_code == 400:
            planted_in_time += 1
            assert response.json()["type"] == "urn:roo:problem:archive-rejected"
            assert "changed during the import" in response.json()["detail"]
            assert os.listdir(ws.path) == []  # emptied again, the link with it (not its target)
        else:  # the command came too late: the import owned `d` already
            assert response.status_code == 200, response.text
    assert planted_in_time >= 1, "the command never planted its link in time: no race was run"


async def test_commands_and_an_import_never_run_at_once(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace, resources: Resources, outside: Path
) -> None:
    """Through the service's own command path: an import is refused while a command of the
    session runs, and a command is refused while an import runs (in any process)."""
    ws = await make_workspace()
    session = await session_row(resources, ws.id)
    manager = resources.sessions_manager
    out = Output()
    stop = asyncio.Event()
    command = asyncio.create_task(
        manager.run_command(
            session,
            ["python3", "-c", PLANTER, str(outside)],
            on_output=out,
            timeout=10,
            cancel=stop,
        )
    )
    try:
        await out.wait_for("ready")
        response = await upload(client, ws.owner, ws.id, race_archive(padding=10))
    finally:
        stop.set()
        await command
    assert response.status_code == 409, response.text
    assert response.json()["type"] == "urn:roo:problem:workspace-busy"
    assert os.listdir(ws.path) == []
    assert os.listdir(outside) == []

    held = manager.workspaces.lock(session.workspace_dir, exclusive=True)  # an import elsewhere
    assert held is not None
    try:
        ran = await client.post(
            f"/api/v1/sessions/{ws.id}/tools/execute_command",
            headers=ws.owner.headers,
            json={"command": "touch ran"},
        )
    finally:
        os.close(held)
    assert ran.status_code == 200, ran.text
    assert ran.json()["isError"] is True
    assert "being replaced (an archive import" in ran.json()["content"][0]["text"]
    assert not (ws.path / "ran").exists()
    again = await upload(client, ws.owner, ws.id, race_archive(padding=10))
    assert again.status_code == 200, again.text


def _dir_info(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info, None


# (links planted before the import writes: name -> target; "@" is the host directory), members
PLANTED = {
    "directory on the way": ({"d": "@"}, [file_info("d/x.txt", b"x")]),
    "the file itself": ({"x.txt": "@/x.txt"}, [file_info("x.txt", b"x", 0o755)]),
    "a directory member": ({"d": "@"}, [_dir_info("d"), file_info("d/x.txt", b"x")]),
    "deeper down": ({"a/b": "@"}, [file_info("a/b/c/x.txt", b"x")]),
    "relative target": ({"d": "rel:@"}, [file_info("d/x.txt", b"x")]),
}


@pytest.mark.parametrize("case", PLANTED)
def test_links_planted_where_the_import_writes_are_never_followed(
    tmp_path: Path, outside: Path, case: str
) -> None:
    """The worst case of the race, built directly: the link is already there when the import
    reaches the member that would follow it."""
    links, members = PLANTED[case]
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    for name, target in links.items():
        link = workspace / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if target.startswith("rel:"):
            target = os.path.relpath(target[4:].replace("@", str(outside)), link.parent)
        os.symlink(target.replace("@", str(outside)), link)
    archive = tmp_path / "archive.tar"
    archive.write_bytes(tar_bytes(members, compress=False))
    root_fd = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(importer.ArchiveRejected):
            importer.extract(archive, root_fd, 1 << 20, 1000)
    finally:
        os.close(root_fd)
    assert os.listdir(outside) == []
    assert all((workspace / name).is_symlink() for name in links)  # untouched, not written through
