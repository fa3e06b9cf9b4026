"""The `roo` command line, run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from roo import __version__
from roo.db.migrate import head_revision

ROO = str(Path(sys.executable).parent / "roo")


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `roo` embedded (SQLite in the given data dir): never against the run's servers."""
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    return subprocess.run(
        [ROO, *args],
        env={**base, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_version() -> None:
    result = run("version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"roo-core {__version__}"


def test_production_without_secret_refuses_with_one_line(tmp_path: Path) -> None:
    result = run("serve", env={"ROO_ENV": "production", "ROO_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("roo: refusing to start in production:")
    assert "JWT_SECRET" in lines[0]
    assert "DATABASE_URL" in lines[0]


def test_serve_refuses_several_workers_on_sqlite_with_one_line(tmp_path: Path) -> None:
    result = run("serve", "--workers", "2", env={"ROO_DATA_DIR": str(tmp_path / "var")})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "PostgreSQL" in lines[0]


def test_migrate_up_and_down_embedded(tmp_path: Path) -> None:
    env = {"ROO_ENV": "development", "ROO_DATA_DIR": str(tmp_path / "var")}
    up = run("migrate", env=env)
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip() == f"database at revision {head_revision()}"
    assert (tmp_path / "var" / "roo.db").exists()
    down = run("migrate", "base", "--down", env=env)
    assert down.returncode == 0, down.stderr
    assert down.stdout.strip() == "database at revision base"


def test_user_create_first_admin_then_duplicate(tmp_path: Path) -> None:
    env = {"ROO_ENV": "development", "ROO_DATA_DIR": str(tmp_path / "var")}
    args = ("user", "create", "--email", "Root@Example.com", "--role", "admin", "--password-stdin")
    first = run(*args, env=env, stdin="a-long-admin-password\n")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("created user root@example.com (admin) id=")
    again = run(*args, env=env, stdin="a-long-admin-password\n")
    assert again.returncode == 1
    assert "already registered" in again.stderr


def test_user_create_refuses_bad_input(tmp_path: Path) -> None:
    env = {"ROO_ENV": "development", "ROO_DATA_DIR": str(tmp_path / "var")}
    bad_role = run(
        "user", "create", "--email", "a@example.com", "--role", "root", "--no-password", env=env
    )
    assert bad_role.returncode == 2
    assert "roles: admin, member, viewer" in bad_role.stderr
    short = run(
        "user", "create", "--email", "a@example.com", "--password-stdin", env=env, stdin="short\n"
    )
    assert short.returncode == 2
    assert "8 to 256" in short.stderr
