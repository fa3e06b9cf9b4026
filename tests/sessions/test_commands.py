"""Commands of a session: the sandbox through the session layer, git clone, service health."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from roo.api.state import Resources
from roo.db.models import Session
from roo.security.egress import AllowedHosts
from tests.auth.conftest import SignedIn, SignIn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real git daemon on loopback serving one repository with one commit."""
    base = tmp_path_factory.mktemp("git")
    work = base / "work"
    work.mkdir()
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(base)}

    def git(*args: str, cwd: Path = work) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    git("init", "-b", "main")
    (work / "README.md").write_text("# cloned\n")
    (work / "src").mkdir()
    (work / "src" / "app.py").write_text("print('hi')\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-m", "first")
    git("clone", "--bare", str(work), str(base / "repo.git"), cwd=base)
    port = free_port()
    daemon = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={base}",
         "--listen=127.0.0.1", f"--port={port}", str(base)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    try:
        yield f"git://127.0.0.1:{port}/repo.git"
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


@pytest.fixture
def clone_allowed(resources: Resources) -> None:
    """Cloning on, and the loopback git daemon of these tests an allowed host (a clone URL
    must otherwise lead to a public address: tests/security/test_owasp_api7_ssrf.py)."""
    resources.settings = resources.settings.model_copy(
        update={"allow_git_clone": True, "provider_allowed_hosts": ["127.0.0.1"]}
    )
    resources.credentials.egress.allowed = AllowedHosts.parse(["127.0.0.1"])


async def new_session(client: httpx.AsyncClient, user: SignedIn) -> str:
    r = await client.post("/api/v1/sessions", headers=user.headers, json={})
    assert r.status_code == 201
    return str(r.json()["id"])


def workspace(resources: Resources, sid: str) -> Path:
    return resources.sessions_manager.workspaces.path(uuid.UUID(sid).hex)


async def clone(
    client: httpx.AsyncClient, user: SignedIn, sid: str, **body: object
) -> httpx.Response:
    return await client.post(
        f"/api/v1/sessions/{sid}/workspace/clone", headers=user.headers, json=body
    )


@pytest.mark.usefixtures("clone_allowed")
async def test_clone_fills_the_workspace(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources, git_server: str
) -> None:
    user = await sign_in()
    sid = await new_session(client, user)
    response = await clone(client, user, sid, url=git_server, ref="main")
    assert response.status_code == 200, response.text
    root = workspace(resources, sid)
    assert (root / "README.md").read_text() == "# cloned\n"
    assert (root / "src" / "app.py").is_file()
    again = await clone(client, user, sid, url=git_server)
    assert again.status_code == 400
    assert "not empty" in again.json()["detail"]


@pytest.mark.usefixtures("clone_allowed")
async def test_failed_clone_leaves_the_workspace_empty(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources, git_server: str
) -> None:
    user = await sign_in()
    sid = await new_session(client, user)
    missing = git_server.replace("repo.git", "nothing-here.git")
    response = await clone(client, user, sid, url=missing)
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "urn:roo:problem:clone-failed"
    assert "exit" in body["detail"]
    assert list(workspace(resources, sid).iterdir()) == []


@pytest.mark.usefixtures("clone_allowed")
@pytest.mark.parametrize(
    "body",
    [
        {"url": "file:///etc"},
        {"url": "ext::sh -c touch% /tmp/pwned"},
        {"url": "--upload-pack=touch /tmp/pwned"},
        {"url": "/var/lib/repo"},
        {"url": "git://127.0.0.1/x.git", "ref": "--orphan"},
        {"url": "git://127.0.0.1/x.git", "ref": "../../x"},
        {"url": "https://example.com/x.git\n--foo"},
    ],
)
async def test_hostile_clone_requests_are_422(
    client: httpx.AsyncClient, sign_in: SignIn, body: dict[str, str]
) -> None:
    user = await sign_in()
    sid = await new_session(client, user)
    response = await clone(client, user, sid, **body)
    assert response.status_code == 422
    assert not Path("/tmp/pwned").exists()  # noqa: ASYNC240


async def test_clone_is_off_by_default(
    client: httpx.AsyncClient, sign_in: SignIn, git_server: str
) -> None:
    user = await sign_in()
    sid = await new_session(client, user)
    response = await clone(client, user, sid, url=git_server)
    assert response.status_code == 403
    assert response.json()["type"] == "urn:roo:problem:clone-disabled"


async def test_running_commands_are_reported(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    sid = await new_session(client, user)
    manager = resources.sessions_manager
    async with resources.db_sessions() as db:
        session = await db.get(Session, uuid.UUID(sid))
    assert session is not None
    url = f"/api/v1/sessions/{sid}/resources"
    idle = (await client.get(url, headers=user.headers)).json()
    assert idle["commands"] == {
        "memoryBytes": 0,
        "memoryLimitBytes": 512 * 1024 * 1024,
        "cpuSeconds": 0.0,
        "processes": 0,
    }
    # Holds ~20 MB, burns a little CPU, then waits: long enough to be seen on a busy machine.
    hold = "python3 -c 'import time; b = bytearray(20_000_000); sum(range(10**6)); time.sleep(4)'"
    cgroups = await resources.sandbox.cgroups()
    accounts_cpu = cgroups is not None and (
        "cpuacct" in cgroups.describe() or "v2" in cgroups.describe()
    )

    def settled(usage: dict[str, Any]) -> bool:
        """The command's cgroup is live and shows its 20 MB (and CPU time where accounted)."""
        if cgroups is None:
            return True
        memory_ok = (usage["memoryBytes"] or 0) > 20_000_000
        return memory_ok and (not accounts_cpu or (usage["cpuSeconds"] or 0) > 0)

    running = asyncio.create_task(manager.run_command(session, hold))
    try:
        for _ in range(150):
            body = (await client.get(url, headers=user.headers)).json()
            if body["runningCommands"] == 1 and settled(body["commands"]):
                break
            await asyncio.sleep(0.02)
        assert body["runningCommands"] == 1
        assert settled(body["commands"]), body["commands"]
        if cgroups is not None:
            assert body["commands"]["processes"] >= 1
    finally:
        result = await running
    assert result.exit_code == 0, result.text()
    after = (await client.get(url, headers=user.headers)).json()
    assert after["runningCommands"] == 0
    assert after["commands"]["processes"] == 0


async def test_service_stays_healthy_during_a_fork_bomb(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    sid = await new_session(client, user)
    async with resources.db_sessions() as db:
        session = await db.get(Session, uuid.UUID(sid))
    assert session is not None
    bomb = asyncio.create_task(
        resources.sessions_manager.run_command(
            session, "bomb() { bomb | bomb & }; bomb; sleep 30", timeout=4
        )
    )
    answers: list[tuple[int, float]] = []
    while not bomb.done():
        started = time.perf_counter()
        response = await client.get("/healthz")
        answers.append((response.status_code, time.perf_counter() - started))
        await asyncio.sleep(0.05)
    result = await bomb
    assert result.killed_reason is not None or result.timed_out
    assert len(answers) >= 10
    assert all(status == 200 for status, _ in answers)
    # Liveness, not a benchmark: every probe answered well inside a probe's usual 1 s timeout.
    assert max(elapsed for _, elapsed in answers) < 1.0
