"""Password hashing with argon2id (argon2-cffi's RFC 9106 defaults), off the event loop.

Each hash takes ~64 MiB and, on this kind of machine, ~0.1 s of one core: unbounded, a burst
of sign-ins would take every core and hundreds of MiB. So at most `concurrency` hashes run at
once per process (one per core by default); the rest wait their turn for at most `wait`
seconds and are then answered 503 service-overloaded (`configure`, from the settings
`ROO_PASSWORD_HASH_CONCURRENCY` and `ROO_PASSWORD_HASH_WAIT`). The parameters and their
measured cost are in docs/authentication.md.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from roo.kit.errors import ServiceOverloaded

# The parameter sets an operator chooses from (ROO_PASSWORD_HASH_PROFILE); docs/authentication.md
# has what each costs here. A stored hash carries its parameters: changing the profile keeps
# every password working, and each is re-hashed with the new one at its next sign-in.
PROFILES: dict[str, PasswordHasher] = {
    # RFC 9106's second recommended option (argon2-cffi's default): t=3, 64 MiB, p=4
    "rfc9106": PasswordHasher(),
    # OWASP's first recommended option: t=2, 19 MiB, p=1
    "owasp": PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1),
}
_hasher = PROFILES["rfc9106"]

# Verified against when the account does not exist or has no password, so that a wrong email
# costs the same time as a wrong password (no user enumeration by timing).
_DUMMY_HASHES = {
    name: hasher.hash("roo-dummy-password-for-timing") for name, hasher in PROFILES.items()
}
_DUMMY_HASH = _DUMMY_HASHES["rfc9106"]

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256

T = TypeVar("T")


class _HashSlots:
    """The process-wide bound on hashes running at once (a semaphore per event loop: tests
    run several loops in one process)."""

    def __init__(self) -> None:
        self.concurrency = os.cpu_count() or 1
        self.wait = 3.0
        self._semaphores: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()

    def semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.concurrency)
        return semaphore

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        semaphore = self.semaphore()
        try:
            async with asyncio.timeout(self.wait):
                await semaphore.acquire()
        except TimeoutError:
            raise ServiceOverloaded(
                "Too many sign-ins are being checked at once; retry shortly"
            ) from None
        try:
            return await asyncio.to_thread(fn, *args)
        finally:
            semaphore.release()


_slots = _HashSlots()


def configure(concurrency: int | None, wait: float, profile: str = "rfc9106") -> None:
    """Choose the hash parameters (`PROFILES`), bound the hashes run at once in this process
    (None: one per core) and how long one waits for its turn."""
    global _hasher, _DUMMY_HASH
    _hasher, _DUMMY_HASH = PROFILES[profile], _DUMMY_HASHES[profile]
    _slots.concurrency = concurrency or os.cpu_count() or 1
    _slots.wait = wait
    _slots._semaphores.clear()


async def hash_password(password: str) -> str:
    return await _slots.run(_hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """True when `password` matches `stored`; always costs one argon2 verification."""
    return await _slots.run(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
