"""Sessions over HTTP: CRUD, quotas, isolation between users, restarts, life cycle."""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from roo.api.state import Resources
from roo.app import create_app
from roo.auth.permissions import Role
from roo.config import Settings
from roo.db.models import Session
from roo.db.types import utcnow
from roo.sessions.janitor import SessionJanitor
from roo.sessions.quotas import DEFAULTS, QUOTAS
from tests.auth.conftest import SignedIn, SignIn
from tests.support.lifespan import app_lifespan


async def create(client: httpx.AsyncClient, who: SignedIn, **body: object) -> dict[str, object]:
    response = await client.post("/api/v1/sessions", headers=who.headers, json=body)
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


def workspace_of(resources: Resources, session_id: object) -> Path:
    return resources.sessions_manager.workspaces.path(uuid.UUID(str(session_id)).hex)


async def test_create_get_list(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    made = await create(client, user, name="  My project  ")
    assert made["name"] == "My project"
    assert made["state"] == "active"
    config = made["config"]
    assert isinstance(config, dict)
    assert config["mode"] == "code"
    assert config["network"] is False
    assert config["limits"] == {
        "maxMemoryMB": DEFAULTS.max_memory_mb,
        "maxCpuPercent": DEFAULTS.max_cpu_percent,
        "maxDiskMB": DEFAULTS.max_disk_mb,
        "maxExecutionTime": DEFAULTS.max_execution_time,
        "maxConcurrentTasks": DEFAULTS.max_concurrent_tasks,
        "maxProcesses": DEFAULTS.max_processes,
        "maxOutputBytes": DEFAULTS.max_output_bytes,
        "maxFiles": resources.settings.session_max_files,
    }
    assert config["approvalPolicy"]["autoApproveWrite"] is False  # type: ignore[index]
    assert "workspaceDir" not in made
    assert str(resources.settings.workspaces_dir) not in str(made)
    assert workspace_of(resources, made["id"]).is_dir()

    got = await client.get(f"/api/v1/sessions/{made['id']}", headers=user.headers)
    assert got.status_code == 200
    assert got.json()["id"] == made["id"]
    listed = await client.get("/api/v1/sessions", headers=user.headers)
    assert listed.json()["total"] == 1
    assert [s["id"] for s in listed.json()["items"]] == [made["id"]]


async def test_config_and_limits_are_validated(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    resources.sessions_manager.allow_network = True
    user = await sign_in()
    made = await create(
        client,
        user,
        name="custom",
        config={
            "mode": "architect",
            "provider": "anthropic",
            "model": "claude-sonnet",
            "network": True,
            "limits": {"maxMemoryMB": 1024, "maxExecutionTime": 60},
            "approvalPolicy": {"autoApproveExecute": True, "allowedCommands": ["npm test"]},
        },
    )
    config = made["config"]
    assert isinstance(config, dict)
    assert config["limits"]["maxMemoryMB"] == 1024
    assert config["limits"]["maxExecutionTime"] == 60
    assert config["approvalPolicy"]["allowedCommands"] == ["npm test"]

    over = await client.post(
        "/api/v1/sessions",
        headers=user.headers,
        json={"config": {"limits": {"maxMemoryMB": QUOTAS[Role.MEMBER].max_memory_mb + 1}}},
    )
    assert over.status_code == 422
    body = over.json()
    assert body["type"] == "urn:roo:problem:quota-exceeded"
    assert body["errors"][0]["field"] == "body.config.limits.maxMemoryMB"


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x" * 201},
        {"config": {"mode": "hacker"}},
        {"config": {"limits": {"maxCpuPercent": 0}}},
        {"config": {"limits": {"maxMemory": 10}}},
        {"workspacePath": "/etc"},
        {"config": {"approvalPolicy": {"allowedCommands": [""]}}},
    ],
)
async def test_bad_bodies_are_422_and_create_nothing(
    client: httpx.AsyncClient, sign_in: SignIn, body: dict[str, object]
) -> None:
    user = await sign_in()
    response = await client.post("/api/v1/sessions", headers=user.headers, json=body)
    assert response.status_code == 422
    assert response.json()["errors"]
    assert (await client.get("/api/v1/sessions", headers=user.headers)).json()["total"] == 0


async def test_other_users_sessions_are_404(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    alice = await sign_in()
    bob = await sign_in()
    made = await create(client, alice)
    sid = made["id"]
    for method, path, body in [
        ("GET", f"/api/v1/sessions/{sid}", None),
        ("PUT", f"/api/v1/sessions/{sid}", {"name": "mine now"}),
        ("DELETE", f"/api/v1/sessions/{sid}", None),
        ("GET", f"/api/v1/sessions/{sid}/resources", None),
    ]:
        response = await client.request(method, path, headers=bob.headers, json=body)
        assert response.status_code == 404, (method, path)
    assert (await client.get("/api/v1/sessions", headers=bob.headers)).json()["items"] == []
    still = await client.get(f"/api/v1/sessions/{sid}", headers=alice.headers)
    assert still.json()["name"] == made["name"]


async def test_admin_sees_everyone(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    alice = await sign_in()
    admin = await sign_in("admin")
    made = await create(client, alice)
    page = await client.get("/api/v1/admin/sessions", headers=admin.headers)
    assert page.status_code == 200
    assert made["id"] in [s["id"] for s in page.json()["items"]]
    assert (await client.get("/api/v1/admin/sessions", headers=alice.headers)).status_code == 403


async def test_viewer_reads_but_cannot_create(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    viewer = await sign_in("viewer")
    assert (await client.get("/api/v1/sessions", headers=viewer.headers)).status_code == 200
    denied = await client.post("/api/v1/sessions", headers=viewer.headers, json={})
    assert denied.status_code == 403


async def test_session_count_quota(
    client: httpx.AsyncClient, sign_in: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from roo.sessions import quotas

    limited = dataclasses.replace(quotas.QUOTAS[Role.MEMBER], max_sessions=2)
    monkeypatch.setitem(quotas.QUOTAS, Role.MEMBER, limited)
    user = await sign_in()
    first = await create(client, user)
    await create(client, user)
    third = await client.post("/api/v1/sessions", headers=user.headers, json={})
    assert third.status_code == 409
    assert third.json()["type"] == "urn:roo:problem:session-quota-reached"
    # Archiving frees a slot.
    archived = await client.put(
        f"/api/v1/sessions/{first['id']}", headers=user.headers, json={"state": "archived"}
    )
    assert archived.json()["state"] == "archived"
    assert (await client.post("/api/v1/sessions", headers=user.headers, json={})).status_code == 201


async def test_update_archive_restore_delete(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    made = await create(client, user)
    sid = made["id"]
    renamed = await client.put(
        f"/api/v1/sessions/{sid}",
        headers=user.headers,
        json={"name": "renamed", "config": {"mode": "ask"}},
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "renamed"
    assert renamed.json()["config"]["mode"] == "ask"
    archived = await client.put(
        f"/api/v1/sessions/{sid}", headers=user.headers, json={"state": "archived"}
    )
    assert archived.json()["state"] == "archived"
    assert archived.json()["archivedAt"] is not None
    filtered = await client.get("/api/v1/sessions?state=archived", headers=user.headers)
    assert [s["id"] for s in filtered.json()["items"]] == [sid]
    restored = await client.put(
        f"/api/v1/sessions/{sid}", headers=user.headers, json={"state": "active"}
    )
    assert restored.json()["state"] == "active"

    path = workspace_of(resources, sid)
    (path / "file.txt").write_text("data")
    deleted = await client.delete(f"/api/v1/sessions/{sid}", headers=user.headers)
    assert deleted.status_code == 204
    assert not path.exists()
    assert (await client.get(f"/api/v1/sessions/{sid}", headers=user.headers)).status_code == 404


async def test_resources_report_disk_usage(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    made = await create(client, user, config={"limits": {"maxDiskMB": 10}})
    path = workspace_of(resources, made["id"])
    (path / "a.bin").write_bytes(b"x" * 5000)
    (path / "sub").mkdir()
    (path / "sub" / "b.bin").write_bytes(b"y" * 3000)
    (path / "link").symlink_to("/usr/bin/bash")  # over 1 MB, but not followed: not counted
    response = await client.get(f"/api/v1/sessions/{made['id']}/resources", headers=user.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["disk"]["limitBytes"] == 10 * 1024 * 1024
    # Allocated blocks, as the sandbox's disk watch counts them: the two files and a directory.
    assert 8000 <= body["disk"]["usedBytes"] <= 8000 + 8 * 4096
    assert body["limits"]["maxDiskMB"] == 10


async def test_sessions_survive_a_restart(
    client: httpx.AsyncClient, sign_in: SignIn, settings: Settings
) -> None:
    user = await sign_in()
    made = await create(client, user, name="durable")
    app = create_app(settings)
    async with app_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            got = await c.get(f"/api/v1/sessions/{made['id']}", headers=user.headers)
            assert got.status_code == 200
            assert got.json()["name"] == "durable"
            assert got.json()["workspaceAvailable"] is True


async def test_janitor_moves_sessions_through_their_life_cycle(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    made = await create(client, user)
    sid = uuid.UUID(str(made["id"]))
    path = workspace_of(resources, sid)
    janitor = SessionJanitor(
        resources.db_sessions,
        resources.sessions_manager.workspaces,
        idle_after=timedelta(hours=1),
        idle_ttl=timedelta(days=7),
        retention=timedelta(days=30),
    )

    async def state() -> tuple[str, bool]:
        async with resources.db_sessions() as db:
            row = await db.get(Session, sid)
            assert row is not None
            return row.state, row.workspace_deleted_at is None

    now = utcnow()
    assert (await janitor.run_once(now))["idled"] == 0
    assert await state() == ("active", True)
    await janitor.run_once(now + timedelta(hours=2))
    assert await state() == ("idle", True)
    await janitor.run_once(now + timedelta(days=8))
    assert await state() == ("archived", True)
    assert path.is_dir()
    await janitor.run_once(now + timedelta(days=8) + timedelta(days=31))
    assert await state() == ("archived", False)
    assert not path.exists()
    got = await client.get(f"/api/v1/sessions/{sid}", headers=user.headers)
    assert got.json()["workspaceAvailable"] is False
    restore = await client.put(
        f"/api/v1/sessions/{sid}", headers=user.headers, json={"state": "active"}
    )
    assert restore.status_code == 409


async def test_orphaned_workspaces_are_removed_and_nothing_else(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    user = await sign_in()
    made = await create(client, user)
    root = resources.sessions_manager.workspaces.root
    orphan = root / uuid.uuid4().hex
    orphan.mkdir()
    (orphan / "left-over").write_text("x")
    hour_ago = time.time() - 3600
    os.utime(orphan, (hour_ago, hour_ago))
    # A directory made moments ago may belong to a session whose row is not committed yet.
    fresh = root / uuid.uuid4().hex
    fresh.mkdir()
    unrelated = root / "operator-notes"
    unrelated.mkdir()
    janitor = SessionJanitor(
        resources.db_sessions,
        resources.sessions_manager.workspaces,
        timedelta(hours=1),
        timedelta(days=1),
        timedelta(days=1),
    )
    removed = await janitor.sweep_orphans()
    assert removed == [orphan.name]
    assert not orphan.exists()
    assert fresh.is_dir()
    assert unrelated.is_dir()
    assert workspace_of(resources, made["id"]).is_dir()


async def test_network_needs_the_operators_consent(
    client: httpx.AsyncClient, sign_in: SignIn
) -> None:
    user = await sign_in()
    refused = await client.post(
        "/api/v1/sessions", headers=user.headers, json={"config": {"network": True}}
    )
    assert refused.status_code == 403
    assert refused.json()["type"] == "urn:roo:problem:network-not-allowed"
    made = await create(client, user)
    updated = await client.put(
        f"/api/v1/sessions/{made['id']}", headers=user.headers, json={"config": {"network": True}}
    )
    assert updated.status_code == 403


async def test_views_of_a_config_stored_before_max_files(
    client: httpx.AsyncClient, sign_in: SignIn, resources: Resources
) -> None:
    """The list and the single read validate the stored JSON as loaded (roo.sessions.
    repository); a change answers from the ORM object. All three show the same session, with
    today's default `maxFiles` for a config stored before that limit existed."""
    user = await sign_in()
    made = await create(client, user, name="old")
    sid = uuid.UUID(str(made["id"]))
    async with resources.db_sessions() as db:
        row = await db.get(Session, sid)
        assert row is not None
        limits = {k: v for k, v in row.config["limits"].items() if k != "maxFiles"}
        row.config = {**row.config, "limits": limits}
        await db.commit()
    listed = await client.get("/api/v1/sessions", headers=user.headers)
    got = await client.get(f"/api/v1/sessions/{sid}", headers=user.headers)
    renamed = await client.put(f"/api/v1/sessions/{sid}", headers=user.headers, json={})
    assert listed.status_code == got.status_code == renamed.status_code == 200
    [item] = listed.json()["items"]
    assert item["config"]["limits"]["maxFiles"] == resources.settings.session_max_files
    assert item == got.json() == renamed.json()
    assert item == {**made, "updatedAt": item["updatedAt"]}  # the direct update above moved it
