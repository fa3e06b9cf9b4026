"""Settings: environment names, defaults, and what production refuses."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from roo.app import describe_backends
from roo.config import ConfigError, Environment, load_settings, normalise_database_url

GOOD_SECRET = "k3V9q-L0ngEnough_And_Random-Looking_Secret_42"
PG = "postgresql://app@db.internal:5432/roo"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("ROO_", "OAUTH_", "DATABASE_", "REDIS_", "JWT_")) or name in {
            "PORT",
            "ALLOWED_ORIGINS",
            "LOG_LEVEL",
            "HOST",
        }:
            monkeypatch.delenv(name)
    monkeypatch.setenv("ROO_DATA_DIR", str(tmp_path / "var"))


def test_defaults_are_embedded(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.env is Environment.DEVELOPMENT
    assert settings.port == 3000
    assert settings.db_url == f"sqlite+aiosqlite:///{(tmp_path / 'var' / 'roo.db').as_posix()}"
    assert settings.is_sqlite
    assert settings.should_auto_migrate
    assert settings.redis_url is None
    assert settings.db_pool_min == 2
    assert settings.db_pool_max == 10
    assert settings.max_json_body_bytes == 1024 * 1024
    assert not settings.wants_json_logs


def test_seed_environment_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("DATABASE_URL", PG)
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/2")
    monkeypatch.setenv("JWT_SECRET", GOOD_SECRET)
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("OAUTH_GOOGLE_CLIENT_ID", "gid")
    monkeypatch.setenv("OAUTH_GOOGLE_CLIENT_SECRET", "gsecret")
    monkeypatch.setenv("OAUTH_GITHUB_CLIENT_ID", "hid")
    monkeypatch.setenv("OAUTH_GITHUB_CLIENT_SECRET", "hsecret")
    monkeypatch.setenv("ROO_ENV", "production")
    settings = load_settings()
    assert settings.port == 8080
    assert settings.db_url == "postgresql+asyncpg://app@db.internal:5432/roo"
    assert not settings.should_auto_migrate  # a shared server is migrated with `roo migrate`
    assert settings.redis_url == "redis://cache:6379/2"
    assert settings.jwt_secret is not None
    assert settings.jwt_secret.get_secret_value() == GOOD_SECRET
    assert settings.allowed_origins == ["https://a.example", "https://b.example"]
    assert settings.oauth_google_client_id == "gid"
    assert settings.oauth_github_client_secret is not None
    assert settings.oauth_github_client_secret.get_secret_value() == "hsecret"
    assert settings.wants_json_logs
    assert GOOD_SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": PG}, "JWT_SECRET is not set"),
        ({"DATABASE_URL": PG, "JWT_SECRET": "short-but-random-Xy7"}, "JWT_SECRET is too short"),
        ({"DATABASE_URL": PG, "JWT_SECRET": "your-secret-key"}, "placeholder"),
        ({"DATABASE_URL": PG, "JWT_SECRET": "changeme"}, "placeholder"),
        ({"DATABASE_URL": PG, "JWT_SECRET": "a" * 64}, "placeholder"),
        ({"JWT_SECRET": GOOD_SECRET}, "DATABASE_URL is not set"),
        ({}, "JWT_SECRET is not set (it needs at least 32 bytes); DATABASE_URL is not set"),
    ],
)
def test_production_refuses_bad_configuration(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    monkeypatch.setenv("ROO_ENV", "production")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    text = str(excinfo.value)
    assert text.startswith("refusing to start in production: ")
    assert message in text
    assert "\n" not in text
    assert env.get("JWT_SECRET", "\0") not in text  # the secret itself is never echoed


def test_development_generates_and_keeps_a_secret(tmp_path: Path) -> None:
    first = load_settings()
    path = tmp_path / "var" / "jwt-secret"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = load_settings()
    assert first.jwt_secret is not None
    assert second.jwt_secret is not None
    assert first.jwt_secret.get_secret_value() == second.jwt_secret.get_secret_value()
    assert len(first.jwt_secret.get_secret_value()) >= 32
    assert "generated" in first.secret_source


def test_test_environment_uses_an_ephemeral_secret(tmp_path: Path) -> None:
    a = load_settings(env="test")
    b = load_settings(env="test")
    assert a.jwt_secret is not None
    assert b.jwt_secret is not None
    assert a.jwt_secret.get_secret_value() != b.jwt_secret.get_secret_value()
    assert not (tmp_path / "var" / "jwt-secret").exists()


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("PORT", "not-a-port", "PORT"),
        ("PORT", "70000", "PORT"),
        ("ROO_ENV", "staging", "ROO_ENV"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
        ("DATABASE_POOL_MAX", "0", "DATABASE_POOL_MAX"),
        ("ROO_TASK_AUTO_CONDENSE_PERCENT", "4", "ROO_TASK_AUTO_CONDENSE_PERCENT"),
        ("ROO_TASK_AUTO_CONDENSE_PERCENT", "101", "ROO_TASK_AUTO_CONDENSE_PERCENT"),
        ("ROO_TASK_AUTO_CONDENSE", "maybe", "ROO_TASK_AUTO_CONDENSE"),
    ],
)
def test_invalid_values_are_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, field: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    text = str(excinfo.value)
    assert text.startswith("invalid configuration: ")
    assert f"{field}:" in text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql://u@h:5432/d", "postgresql+asyncpg://u@h:5432/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("sqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_urls_map_to_async_drivers(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, {"redis": "none (in-process)", "identity_cache": "in-process"}),
        (
            {"REDIS_URL": "redis://cache.internal:6380/2"},
            {"redis": "redis (cache.internal:6380/2)", "identity_cache": "redis + in-process copy"},
        ),
        (
            {"REDIS_URL": "redis://:pw@cache.internal/0", "ROO_IDENTITY_NEAR_CACHE": "false"},
            {"redis": "redis (cache.internal:6379/0)", "identity_cache": "redis"},
        ),
    ],
)
def test_the_start_up_line_names_the_backends_without_credentials(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: dict[str, str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    described = describe_backends(load_settings())
    assert {k: described[k] for k in expected} == expected
    assert "pw" not in str(described)


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("oauth_github_token_url", "http://github.example/token", "OAUTH_GITHUB_TOKEN_URL"),
        ("oauth_oidc_discovery_url", "not a url", "OAUTH_OIDC_DISCOVERY_URL"),
        ("public_url", "https://roo.example/#x", "ROO_PUBLIC_URL"),
    ],
)
def test_oauth_urls_are_checked_with_the_settings(field: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(env="test", **{field: value})
    assert says in str(raised.value)


def test_plain_http_oauth_urls_are_fine_on_loopback() -> None:
    settings = load_settings(env="test", oauth_github_token_url="http://127.0.0.1:9/token")
    assert settings.oauth_github_token_url == "http://127.0.0.1:9/token"
