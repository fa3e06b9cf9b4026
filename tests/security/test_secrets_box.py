"""SecretBox: Fernet at rest, rotation, and where its keys come from in each environment."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from roo.config import ConfigError, load_settings
from roo.security.secrets_box import (
    DEV_KEY_FILE,
    ENCRYPTION_KEY_LABEL,
    JWT_SECRET_LABEL,
    SecretBox,
    UndecryptableSecret,
    box_from_settings,
    derive_key,
    key_from_setting,
)

JWT = "k3V9q-L0ngEnough_And_Random-Looking_Secret_42"
OTHER_JWT = "Zz9-another-L0ng_and_Random-Looking-Secret-77"
PG = "postgresql://app@db.internal:5432/roo"
PLAINTEXT = "sk-ant-api03-plaintext-that-must-stay-secret"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ROO_ENCRYPTION_KEY", "ROO_ENCRYPTION_KEY_PREVIOUS", "JWT_SECRET", "ROO_ENV"):
        monkeypatch.delenv(name, raising=False)


def production(**overrides: object) -> SecretBox:
    settings: dict[str, object] = {"jwt_secret": JWT, "database_url": PG, **overrides}
    return box_from_settings(load_settings(env="production", **settings))


def test_round_trip_and_fresh_ciphertexts() -> None:
    box = SecretBox([Fernet.generate_key()])
    first, second = box.encrypt(PLAINTEXT), box.encrypt(PLAINTEXT)
    assert PLAINTEXT not in first
    assert first != second  # a random IV each time
    assert box.decrypt(first) == box.decrypt(second) == PLAINTEXT
    assert box.decrypt(box.encrypt("")) == ""
    assert box.decrypt(box.encrypt("ünïcödé")) == "ünïcödé"


@pytest.mark.parametrize(
    "ciphertext",
    [
        SecretBox([Fernet.generate_key()]).encrypt(PLAINTEXT),  # another key
        "gAAAAA-not-a-token",
        "",
        "ciphertext with ünicode",
    ],
)
def test_wrong_key_or_garbage_is_a_clear_error(ciphertext: str) -> None:
    box = SecretBox([Fernet.generate_key()])
    with pytest.raises(UndecryptableSecret) as excinfo:
        box.decrypt(ciphertext)
    assert "cannot be decrypted" in str(excinfo.value)
    assert PLAINTEXT not in str(excinfo.value)
    with pytest.raises(UndecryptableSecret):
        box.rotate(ciphertext)


def test_rotation_first_key_encrypts_all_decrypt() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    written_before = SecretBox([old]).encrypt(PLAINTEXT)
    rotated_box = SecretBox([new, old])
    assert rotated_box.decrypt(written_before) == PLAINTEXT
    written_after = rotated_box.encrypt(PLAINTEXT)
    assert SecretBox([new]).decrypt(written_after) == PLAINTEXT
    with pytest.raises(UndecryptableSecret):
        SecretBox([old]).decrypt(written_after)
    assert SecretBox([new]).decrypt(rotated_box.rotate(written_before)) == PLAINTEXT


def test_box_shows_no_key_and_needs_one() -> None:
    key = Fernet.generate_key()
    assert key.decode() not in repr(SecretBox([key]))
    with pytest.raises(ValueError, match="at least one key"):
        SecretBox([])


def test_key_from_setting_takes_fernet_keys_as_they_are_and_derives_the_rest() -> None:
    fernet_key = Fernet.generate_key()
    assert key_from_setting(fernet_key.decode()) == fernet_key
    assert key_from_setting(f" {fernet_key.decode()}\n") == fernet_key
    passphrase = "a long operator passphrase, at least thirty-two bytes"
    derived = key_from_setting(passphrase)
    assert derived == key_from_setting(passphrase)  # deterministic
    assert derived == derive_key(passphrase, ENCRYPTION_KEY_LABEL)
    assert derived != derive_key(passphrase, JWT_SECRET_LABEL)  # labels keep origins apart
    Fernet(derived)  # a valid Fernet key


def test_production_derives_the_key_from_jwt_secret_deterministically() -> None:
    token = production().encrypt(PLAINTEXT)
    # Another process, or a restart, with the same JWT_SECRET reads it.
    assert production().decrypt(token) == PLAINTEXT
    # It is HKDF-SHA256 of JWT_SECRET with its own label: not the secret, not the other label.
    assert Fernet(derive_key(JWT, JWT_SECRET_LABEL)).decrypt(token.encode()) == PLAINTEXT.encode()
    with pytest.raises(UndecryptableSecret):
        SecretBox([key_from_setting(JWT)]).decrypt(token)
    # Rotating JWT_SECRET without ROO_ENCRYPTION_KEY loses what was stored.
    with pytest.raises(UndecryptableSecret):
        production(jwt_secret=OTHER_JWT).decrypt(token)


def test_production_creates_no_key_file(tmp_path: Path) -> None:
    production(data_dir=tmp_path / "var")
    assert not (tmp_path / "var" / DEV_KEY_FILE).exists()


def test_production_keeps_the_jwt_derived_key_when_an_explicit_key_is_set() -> None:
    derived_era = production().encrypt(PLAINTEXT)
    explicit = Fernet.generate_key().decode()
    box = production(encryption_key=explicit)
    assert box.decrypt(derived_era) == PLAINTEXT
    # New values are written under the explicit key: they survive a JWT_SECRET rotation.
    token = box.encrypt(PLAINTEXT)
    assert production(encryption_key=explicit, jwt_secret=OTHER_JWT).decrypt(token) == PLAINTEXT
    assert SecretBox([explicit.encode()]).decrypt(box.rotate(derived_era)) == PLAINTEXT


def test_previous_keys_still_decrypt() -> None:
    old_a = "retired passphrase number one and long enough to use"
    old_b = Fernet.generate_key().decode()
    from_a = production(encryption_key=old_a).encrypt(PLAINTEXT)
    from_b = production(encryption_key=old_b).encrypt(PLAINTEXT)
    box = production(
        encryption_key=Fernet.generate_key().decode(),
        encryption_key_previous=f"{old_a}, {old_b}",
    )
    assert box.decrypt(from_a) == box.decrypt(from_b) == PLAINTEXT


@pytest.mark.parametrize("env", ["development", "test"])
def test_development_generates_a_key_file_0600_and_reuses_it(tmp_path: Path, env: str) -> None:
    data_dir = tmp_path / "var"
    token = box_from_settings(load_settings(env=env, data_dir=data_dir)).encrypt(PLAINTEXT)
    path = data_dir / DEV_KEY_FILE
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().strip()) >= 32
    # A restart reads the same file.
    assert box_from_settings(load_settings(env=env, data_dir=data_dir)).decrypt(token) == PLAINTEXT
    assert [p.name for p in data_dir.iterdir() if p.name.startswith(".")] == []
    # Another data directory is another key.
    with pytest.raises(UndecryptableSecret):
        box_from_settings(load_settings(env=env, data_dir=tmp_path / "other")).decrypt(token)


def test_development_with_an_explicit_key_keeps_reading_the_generated_one(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    token = box_from_settings(load_settings(env="development", data_dir=data_dir)).encrypt(
        PLAINTEXT
    )
    explicit = Fernet.generate_key().decode()
    box = box_from_settings(
        load_settings(env="development", data_dir=data_dir, encryption_key=explicit)
    )
    assert box.decrypt(token) == PLAINTEXT
    # With an explicit key and no file yet, no file is created.
    box_from_settings(
        load_settings(env="development", data_dir=tmp_path / "fresh", encryption_key=explicit)
    )
    assert not (tmp_path / "fresh" / DEV_KEY_FILE).exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ROO_ENCRYPTION_KEY", "too-short-but-secret-x"),
        (
            "ROO_ENCRYPTION_KEY_PREVIOUS",
            "a long enough retired key, thirty-two bytes+,short-secret",
        ),
    ],
)
def test_short_keys_are_refused_without_echoing_them(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings(env="test")
    message = str(excinfo.value)
    assert name in message
    assert "32 bytes" in message
    assert "short-but-secret" not in message
    assert "short-secret" not in message


def test_blank_keys_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROO_ENCRYPTION_KEY", "  ")
    monkeypatch.setenv("ROO_ENCRYPTION_KEY_PREVIOUS", "")
    settings = load_settings(env="test")
    assert settings.encryption_key is None
    assert settings.encryption_key_previous is None


def test_the_encryption_key_is_not_in_the_settings_repr() -> None:
    explicit = Fernet.generate_key().decode()
    settings = load_settings(env="test", encryption_key=explicit)
    assert explicit not in repr(settings)
    assert explicit not in str(settings.model_dump())
