"""Encrypting small secrets at rest (users' provider API keys): Fernet, with key rotation.

`SecretBox(keys)` encrypts with its first key and decrypts with any of them, so a new key can be
put first while the old ones still read what they wrote (`MultiFernet`). Ciphertexts are Fernet
tokens (AES-128-CBC with HMAC-SHA256, a timestamp and a version byte), as text.

Where the keys come from (`box_from_settings`, docs/providers.md):

- `ROO_ENCRYPTION_KEY`: a Fernet key is used as it is; any other string of at least 32 bytes is
  input to HKDF-SHA256.
- unset, production: HKDF-SHA256 of `JWT_SECRET` with an info label of its own, so the signing
  key and the encryption key are never the same bytes. Rotating `JWT_SECRET` then makes the
  stored credentials unreadable: they read as absent (with a warning in the log).
- unset, development and test: a generated secret kept in `ROO_DATA_DIR/encryption-key` (0600).

`ROO_ENCRYPTION_KEY_PREVIOUS` (comma-separated) adds retired keys that still decrypt. When
`ROO_ENCRYPTION_KEY` is set, the key the service would use without it (the one derived from
`JWT_SECRET`, or the development file if it exists) is kept as a retired key too: turning
`ROO_ENCRYPTION_KEY` on loses nothing already stored.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from roo.config import Settings, dev_secret, split_keys
from roo.kit.logs import get_logger

log = get_logger("roo.security")

# HKDF info labels: one per origin of the input, so no two origins ever yield the same key.
ENCRYPTION_KEY_LABEL = b"roo-core/provider-credentials/v1/encryption-key"
JWT_SECRET_LABEL = b"roo-core/provider-credentials/v1/from-jwt-secret"

# The generated development/test key, in ROO_DATA_DIR.
DEV_KEY_FILE = "encryption-key"


class SecretBoxError(Exception):
    """Base of the errors of this module."""


class UndecryptableSecret(SecretBoxError):
    """A ciphertext none of the box's keys can open: encrypted under another key (the
    encryption key or JWT_SECRET changed), or corrupt. The message never holds the value."""

    def __init__(self) -> None:
        super().__init__(
            "the value cannot be decrypted with the configured keys (was ROO_ENCRYPTION_KEY, "
            "or JWT_SECRET without it, changed?) or it is corrupt"
        )


def derive_key(secret: str | bytes, label: bytes) -> bytes:
    """A Fernet key (url-safe base64 of 32 bytes) from `secret` by HKDF-SHA256 with `label`."""
    material = secret.encode() if isinstance(secret, str) else secret
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(material)
    return base64.urlsafe_b64encode(raw)


def key_from_setting(value: str) -> bytes:
    """The Fernet key an encryption-key setting stands for: itself when it is a Fernet key,
    else derived from it with HKDF."""
    value = value.strip()
    try:
        Fernet(value.encode())
    except ValueError:
        return derive_key(value, ENCRYPTION_KEY_LABEL)
    return value.encode()


class SecretBox:
    """Encrypts with the first key, decrypts with any; holds no plaintext, shows no key."""

    __slots__ = ("_fernet", "key_count")

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a SecretBox needs at least one key")
        self._fernet = MultiFernet([Fernet(key) for key in keys])
        self.key_count = len(keys)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """The plaintext; `UndecryptableSecret` when no key opens it."""
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise UndecryptableSecret() from None

    def rotate(self, ciphertext: str) -> str:
        """The same plaintext encrypted under the first key; `UndecryptableSecret` as above."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise UndecryptableSecret() from None

    def __repr__(self) -> str:
        return f"SecretBox(keys={self.key_count})"


def box_from_settings(settings: Settings) -> SecretBox:
    """The box for provider credentials, keyed as the module docstring says.

    In development and test without `ROO_ENCRYPTION_KEY` this creates the key file on first use.
    """
    keys: list[bytes] = []
    if settings.encryption_key is not None:
        keys.append(key_from_setting(settings.encryption_key.get_secret_value()))
        source = "ROO_ENCRYPTION_KEY"
        implicit = _implicit_key(settings, create=False)
    else:
        implicit = _implicit_key(settings, create=True)
        if implicit is None:  # load_settings always provides a JWT secret
            raise RuntimeError("no encryption key: settings carry no JWT secret")
        keys.append(implicit)
        implicit = None
        source = (
            "derived from JWT_SECRET"
            if settings.is_production
            else f"generated, kept in {settings.data_dir / DEV_KEY_FILE}"
        )
    if settings.encryption_key_previous is not None:
        keys.extend(key_from_setting(key) for key in split_keys(settings.encryption_key_previous))
    if implicit is not None:
        keys.append(implicit)
    unique = list(dict.fromkeys(keys))
    log.info("credentials.encryption", source=source, retired_keys=len(unique) - 1)
    return SecretBox(unique)


def _implicit_key(settings: Settings, *, create: bool) -> bytes | None:
    """The key used when `ROO_ENCRYPTION_KEY` is unset (None if there is none to read)."""
    if settings.is_production:
        if settings.jwt_secret is None:
            return None
        return derive_key(settings.jwt_secret.get_secret_value(), JWT_SECRET_LABEL)
    if not create and not (settings.data_dir / DEV_KEY_FILE).exists():
        return None
    return key_from_setting(dev_secret(settings.data_dir, DEV_KEY_FILE).get_secret_value())
