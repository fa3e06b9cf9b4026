"""Issue 12, item 4: the service's walk of a workspace (the disk watch, `/resources`, the files
API's quota) never follows a link a command swaps in.

The attack: a command swaps a directory and a link to a host directory back and forth with
`renameat2(RENAME_EXCHANGE)`; the walk used to `lstat` an entry (a directory), then `scandir`
it by path (by then the link), and reported the size of the host directory. Now every directory
is opened relative to its parent's fd with `O_NOFOLLOW`, and a link is never entered.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from roo.api.state import Resources
from roo.sandbox import workspace_usage_bytes
from tests.files.conftest import MakeWorkspace
from tests.support.workspaces import Output, session_row

HOST_BYTES = 64 * 1024 * 1024

# Swaps 16 directories `real-N` with as many links `swap-N` to argv[1], round after round, until
# stopped. 2,000 empty files beside them keep a walk busy between its look at an entry and its
# descent into it, so that a swap lands in that window.
SWAPPER = """
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
os.chdir("/workspace")
for i in range(2000):
    open(f"pad-{i:04d}", "w").close()
pairs = []
for n in range(16):
    os.mkdir(f"real-{n}")
    with open(f"real-{n}/small.txt", "w") as f:
        f.write("x")
    os.symlink(sys.argv[1], f"swap-{n}")
    pairs.append((f"real-{n}".encode(), f"swap-{n}".encode()))
AT_FDCWD, RENAME_EXCHANGE = -100, 2
print("ready", flush=True)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    for real, swap in pairs:
        if libc.renameat2(AT_FDCWD, real, AT_FDCWD, swap, RENAME_EXCHANGE) != 0:
            sys.exit(f"renameat2: {os.strerror(ctypes.get_errno())}")
"""


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A host directory holding 64 MiB of allocated blocks: the walk must never count it."""
    path = tmp_path / "host-dir"
    path.mkdir()
    fd = os.open(path / "big.bin", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.posix_fallocate(fd, 0, HOST_BYTES)
    finally:
        os.close(fd)
    assert os.stat(path / "big.bin").st_blocks * 512 >= HOST_BYTES
    return path


async def test_resources_never_count_a_host_directory_swapped_in_by_a_command(
    client: httpx.AsyncClient, make_workspace: MakeWorkspace, resources: Resources, outside: Path
) -> None:
    """A real sandboxed command (the service's own command path) swaps all the time while
    `/resources` is read 40 times; the old walk counted the host directory in about 1 of 4."""
    ws = await make_workspace()
    session = await session_row(resources, ws.id)
    out = Output()
    stop = asyncio.Event()
    command = asyncio.create_task(
        resources.sessions_manager.run_command(
            session, ["python3", "-c", SWAPPER, str(outside)], on_output=out, cancel=stop
        )
    )
    samples: list[int] = []
    try:
        await out.wait_for("ready")
        for _ in range(40):
            response = await client.get(
                f"/api/v1/sessions/{ws.id}/resources", headers=ws.owner.headers
            )
            assert response.status_code == 200, response.text
            samples.append(response.json()["disk"]["usedBytes"])
    finally:
        stop.set()
        result = await command
    assert result.killed_reason == "cancelled", result.text()  # it swapped until the end
    assert max(samples) < HOST_BYTES // 2, samples
    assert os.listdir(outside) == ["big.bin"]


class _SwapAfterListing:
    """`os.scandir` whose first listing, once read, turns `real` into a link to the host
    directory: exactly between the walk's look at `real` and its descent into it."""

    def __init__(self, workspace: Path, outside: Path) -> None:
        self.workspace = workspace
        self.outside = outside
        self.real_scandir: Callable[..., Any] = os.scandir
        self.swapped = False

    def __call__(self, path: Any) -> _Listing:
        return _Listing(self.real_scandir(path), self._swap)

    def _swap(self) -> None:
        if not self.swapped:
            self.swapped = True
            os.rename(self.workspace / "real", self.workspace / "moved")
            os.symlink(self.outside, self.workspace / "real")


class _Listing:
    def __init__(self, inner: Any, at_end: Callable[[], None]) -> None:
        self.inner = inner
        self.at_end = at_end

    def __enter__(self) -> _Listing:
        return self

    def __exit__(self, *_: object) -> None:
        self.inner.close()

    def __iter__(self) -> Iterator[os.DirEntry[str]]:
        yield from self.inner
        self.at_end()


def test_a_directory_turned_into_a_link_after_it_was_listed_is_not_entered(
    tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worst case of the race, built directly."""
    workspace = tmp_path / "workspace"
    (workspace / "real").mkdir(parents=True)
    (workspace / "real" / "small.txt").write_text("x")
    swap = _SwapAfterListing(workspace, outside)
    monkeypatch.setattr(os, "scandir", swap)
    used = workspace_usage_bytes(workspace)
    monkeypatch.undo()
    assert swap.swapped
    assert used < HOST_BYTES // 2
    assert (workspace / "real").is_symlink()
