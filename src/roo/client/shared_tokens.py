"""Clients whose token pair is shared with other processes through a file (the `roo` client
commands' credentials): a refresh is done under an exclusive lock on that file, after reading
it again, and its result written at once.

Refresh tokens rotate and a reused one revokes the whole sign-in (docs/authentication.md), so
two commands run at the same time with the same saved pair must not both refresh with it: the
second finds the pair the first saved and uses it.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from roo.client.client import AsyncRooClient, RooClient

Pair = tuple[str | None, str | None]


@dataclass(frozen=True)
class TokenFile:
    """Where the pair is kept: `load()` the saved pair, `save(pair)`; `lock` is the lock file."""

    lock: Path
    load: Callable[[], Pair]
    save: Callable[[str | None, str | None], None]

    def acquire(self) -> int:
        self.lock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def release(fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


class SharedRooClient(RooClient):
    def __init__(self, base_url: str, tokens: TokenFile, **kwargs: object) -> None:
        super().__init__(base_url, **kwargs)  # type: ignore[arg-type]
        self.tokens = tokens

    def _refresh_after(self, used: str | None) -> bool:
        fd = self.tokens.acquire()
        try:
            token, refresh = self.tokens.load()
            if token and token != used:  # another process refreshed meanwhile
                self.credentials.access_token, self.credentials.refresh_token = token, refresh
                return True
            renewed = super()._refresh_after(used)
            if renewed:
                self.tokens.save(self.credentials.access_token, self.credentials.refresh_token)
            return renewed
        finally:
            self.tokens.release(fd)


class SharedAsyncRooClient(AsyncRooClient):
    def __init__(self, base_url: str, tokens: TokenFile, **kwargs: object) -> None:
        super().__init__(base_url, **kwargs)  # type: ignore[arg-type]
        self.tokens = tokens

    async def _refresh_after(self, used: str | None) -> bool:
        fd = await asyncio.to_thread(self.tokens.acquire)
        try:
            token, refresh = self.tokens.load()
            if token and token != used:  # another process refreshed meanwhile
                self.credentials.access_token, self.credentials.refresh_token = token, refresh
                return True
            renewed = await super()._refresh_after(used)
            if renewed:
                self.tokens.save(self.credentials.access_token, self.credentials.refresh_token)
            return renewed
        finally:
            self.tokens.release(fd)
