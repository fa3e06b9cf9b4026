"""Issue 12, item 6: a workspace's file count (inodes) is limited.

The attack: 200,000 empty files cost 4.5 MB of the disk quota, so one default session could use
up every inode of the host's filesystem (16.7 M). Now each session has `maxFiles` (default
`ROO_SESSION_MAX_FILES`, 100,000; a session may ask for more within its owner's role quota),
enforced by the disk watch (the command is stopped), the files API (507) and archive imports.
"""

from __future__ import annotations

import httpx
import pytest

from roo.api.state import Resources
from roo.config import Settings
from tests.auth.conftest import SignIn
from tests.files.conftest import MakeWorkspace
from tests.sessions.test_import import file_info, tar_bytes, upload
from tests.support.workspaces import session_row


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The operator's default file limit (ROO_SESSION_MAX_FILES) at 2,000: the attack on a
    session that sets no limit of its own is then quick to run."""
    return settings.model_copy(update={"session_max_files": 2000})


# 20,000 empty files, then a wait long enough to be stopped by the watch.
FILE_SPRAYER = """
import os, time
os.mkdir("many")
for i in range(20000):
    open(f"many/f{i:05d}", "w").close()
print("made", flush=True)
time.sleep(6)
"""


async def test_a_command_creating_too_many_files_is_stopped(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace, resources: Resources
) -> None:
    ws = await make_workspace()  # no limits of its own: the operator's default applies
    session = await session_row(resources, ws.id)
    manager = resources.sessions_manager
    result = await manager.run_command(session, ["python3", "-c", FILE_SPRAYER], timeout=15)
    assert result.killed_reason == "disk", result.text()

    url = f"/api/v1/sessions/{ws.id}"
    disk = (await client.get(f"{url}/resources", headers=ws.owner.headers)).json()["disk"]
    assert disk["limitFiles"] == 2000
    assert disk["usedFiles"] > 2000

    octets = {**ws.owner.headers, "Content-Type": "application/octet-stream"}
    created = await client.put(f"{url}/files/new.txt", headers=octets, content=b"x")
    assert created.status_code == 507, created.text
    assert "maxFiles" in created.json()["detail"]
    directory = await client.post(f"{url}/files/newdir?type=directory", headers=ws.owner.headers)
    assert directory.status_code == 507, directory.text
    replaced = await client.put(f"{url}/files/many/f00000", headers=octets, content=b"new")
    assert replaced.status_code == 200, replaced.text  # no new file: allowed

    # Over the limit already, a command may still run, e.g. to clean up.
    cleanup = await manager.run_command(session, "rm -rf many && touch kept", timeout=15)
    assert cleanup.ok, cleanup.text()
    assert (ws.path / "kept").exists()
    disk = (await client.get(f"{url}/resources", headers=ws.owner.headers)).json()["disk"]
    assert disk["usedFiles"] == 1


async def test_an_archive_may_not_create_more_files_than_the_limit(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace
) -> None:
    ws = await make_workspace(limits={"maxFiles": 10})
    # 8 files in 3 directories that no member names: 11 inodes.
    names = [f"{d}/f{i}.txt" for d in ("a", "b", "c") for i in range(3)][:8]
    too_many = await upload(client, ws.owner, ws.id, tar_bytes([file_info(n, b"x") for n in names]))
    assert too_many.status_code == 400, too_many.text
    assert "maxFiles" in too_many.json()["detail"]
    assert list(ws.path.iterdir()) == []
    fits = await upload(client, ws.owner, ws.id, tar_bytes([file_info(n, b"x") for n in names[:7]]))
    assert fits.status_code == 200, fits.text


async def test_max_files_defaults_to_the_setting_and_is_bounded_by_the_role(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    member = await sign_in()
    made = await client.post("/api/v1/sessions", headers=member.headers, json={})
    assert made.status_code == 201
    assert made.json()["config"]["limits"]["maxFiles"] == resources.settings.session_max_files
    too_many = await client.post(
        "/api/v1/sessions",
        headers=member.headers,
        json={"config": {"limits": {"maxFiles": 1_000_001}}},
    )
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "body.config.limits.maxFiles"
    admin = await sign_in("admin")
    allowed = await client.post(
        "/api/v1/sessions",
        headers=admin.headers,
        json={"config": {"limits": {"maxFiles": 1_000_001}}},
    )
    assert allowed.status_code == 201, allowed.text
