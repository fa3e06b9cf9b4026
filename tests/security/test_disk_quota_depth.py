"""Issue 12, item 3: files too deep for a path still count against the disk quota.

The attack: files under 20 nested directories of 250-character names (their paths are longer
than PATH_MAX). The walk built a path for every entry and skipped those that failed with
ENAMETOOLONG: the workspace held 107 MB against `maxDiskMB: 10`, `/resources` reported 5 MB,
no command was stopped and the files API accepted more. Now the walk goes through directory fds
and no depth is too deep to count.
"""

from __future__ import annotations

import httpx

from roo.api.state import Resources
from tests.files.conftest import MakeWorkspace
from tests.security.conftest import DeepTree
from tests.support.workspaces import Output, session_row

MIB = 1024 * 1024

# 20 levels of 250-character names, then 4 files of 3 MiB at the bottom (12 MiB), then a wait
# long enough to be stopped by the disk watch.
DEEP_WRITER = """
import os, time
name = "d" * 250
for _ in range(20):
    os.mkdir(name)
    os.chdir(name)
for i in range(4):
    with open(f"blob-{i}", "wb") as f:
        f.write(os.urandom(3 * 1024 * 1024))
print("written", flush=True)
time.sleep(6)
"""


async def test_a_command_filling_a_deep_tree_is_stopped_at_the_quota(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace, resources: Resources
) -> None:
    ws = await make_workspace(limits={"maxDiskMB": 10})
    session = await session_row(resources, ws.id)
    result = await resources.sessions_manager.run_command(
        session, ["python3", "-c", DEEP_WRITER], on_output=Output(), timeout=15
    )
    assert result.killed_reason == "disk", result.text()

    response = await client.get(f"/api/v1/sessions/{ws.id}/resources", headers=ws.owner.headers)
    assert response.status_code == 200
    disk = response.json()["disk"]
    assert disk["limitBytes"] == 10 * MIB
    assert disk["usedBytes"] > 10 * MIB

    more = await client.put(
        f"/api/v1/sessions/{ws.id}/files/more.bin",
        headers={**ws.owner.headers, "Content-Type": "application/octet-stream"},
        content=b"x" * 4096,
    )
    assert more.status_code == 507, more.text
    assert more.json()["type"] == "urn:roo:problem:insufficient-storage"


async def test_usage_counts_every_level_of_a_very_deep_tree(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace, deep_tree: DeepTree
) -> None:
    """2,500 levels (a path of 5,000 bytes to the bottom): the 32 MiB file at the bottom and
    every directory count (the old walk stopped at PATH_MAX, about 2,000 levels down)."""
    ws = await make_workspace()
    deep_tree(ws.path, 2500, leaf_bytes=32 * MIB)
    response = await client.get(f"/api/v1/sessions/{ws.id}/resources", headers=ws.owner.headers)
    assert response.status_code == 200
    disk = response.json()["disk"]
    assert disk["usedBytes"] >= 32 * MIB
    assert disk["usedFiles"] == 2501
