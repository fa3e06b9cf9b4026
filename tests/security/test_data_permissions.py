"""The data directory, the SQLite database and its companions, the generated secrets and the
workspaces are private to the service user, whatever the umask.

The finding (issue 12, item 14): `var/roo.db` and the data directory were created 0644/0755,
readable by every local user (the database holds password hashes, token hashes, the audit
trail; the secrets sign tokens and decrypt provider keys).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from roo.app import create_app
from roo.auth.passwords import hash_password
from roo.config import Settings, load_settings
from roo.db.engine import unit_of_work
from roo.db.models import User
from roo.security.datadir import secure_data_dir
from tests.support.lifespan import app_lifespan


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def loose_umask() -> Iterator[None]:
    """The usual umask of a shell or a service manager: files 0644, directories 0755."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def embedded(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Embedded mode: SQLite in the data directory, migrated at start-up, secrets generated."""
    for name in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "ROO_ENCRYPTION_KEY"):
        monkeypatch.delenv(name, raising=False)
    return load_settings(env="development", data_dir=data_dir, database_url="", redis_url="")


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return embedded(tmp_path / "var", monkeypatch)


async def sign_up_and_create_a_session(settings: Settings) -> None:
    """Write through the running service: the WAL and shared-memory files exist then."""
    app = create_app(settings)
    async with app_lifespan(app):
        resources = app.state.resources
        async with unit_of_work(resources.db_sessions) as db:
            db.add(
                User(
                    email="owner@example.com",
                    password_hash=await hash_password("correct horse battery"),
                    roles=["member"],
                    preferences={},
                )
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            login = await c.post(
                "/api/v1/auth/login",
                json={"email": "owner@example.com", "password": "correct horse battery"},
            )
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['token']}"}
            made = await c.post("/api/v1/sessions", headers=headers, json={})
            assert made.status_code == 201, made.text
            workspace = settings.workspaces_dir / made.json()["id"].replace("-", "")
            database = settings.data_dir / "roo.db"
            # While the service runs: the database's companions exist, all private.
            for companion in ("roo.db-wal", "roo.db-shm"):
                assert (settings.data_dir / companion).exists(), companion
                assert mode(settings.data_dir / companion) == 0o600, companion
            assert mode(database) == 0o600
            assert mode(workspace) == 0o700


async def test_a_new_data_directory_is_private(service: Settings) -> None:
    await sign_up_and_create_a_session(service)
    data = service.data_dir
    assert mode(data) == 0o700
    assert mode(data / "roo.db") == 0o600
    assert mode(data / "jwt-secret") == 0o600
    assert mode(data / "encryption-key") == 0o600
    assert mode(service.workspaces_dir) == 0o700


async def test_an_existing_loose_data_directory_is_tightened_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "var"
    workspaces = data / "workspaces"
    workspaces.mkdir(parents=True)
    for path in (data, workspaces):
        path.chmod(0o755)
    (data / "roo.db").touch(mode=0o644)
    (data / "jwt-secret").write_text("s" * 64 + "\n")
    (data / "jwt-secret").chmod(0o644)
    (data / "unrelated.txt").touch(mode=0o644)  # not the service's to change
    settings = embedded(data, monkeypatch)
    await sign_up_and_create_a_session(settings)
    assert mode(data) == 0o700
    assert mode(workspaces) == 0o700
    for name in ("roo.db", "jwt-secret"):
        assert mode(data / name) == 0o600, name
    assert mode(data / "unrelated.txt") == 0o644


def test_loose_database_companions_and_secrets_are_tightened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an earlier version left (SQLite removes an empty journal when it opens the
    database, so this is checked without starting the service)."""
    data = tmp_path / "var"
    data.mkdir(mode=0o755)
    for name in ("roo.db", "roo.db-wal", "roo.db-shm", "roo.db-journal", "encryption-key"):
        (data / name).touch(mode=0o644)
    secure_data_dir(embedded(data, monkeypatch))
    for name in ("roo.db", "roo.db-wal", "roo.db-shm", "roo.db-journal", "encryption-key"):
        assert mode(data / name) == 0o600, name
    assert mode(data) == 0o700


def test_the_cli_makes_the_data_directory_private_before_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from roo.cli import app

    for name in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "ROO_ENCRYPTION_KEY"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "cli-var"
    monkeypatch.setenv("ROO_DATA_DIR", str(data))
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert mode(data) == 0o700
    assert mode(data / "roo.db") == 0o600
