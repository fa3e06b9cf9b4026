"""Password hashing with argon2id (argon2-cffi's RFC 9106 defaults), off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

# Verified against when the account does not exist or has no password, so that a wrong email
# costs the same time as a wrong password (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash("roo-dummy-password-for-timing")

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches `stored`; always costs one argon2 verification."""
    return await asyncio.to_thread(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
