"""How many event streams (WebSockets and SSE streams together) each user holds open.

A stream costs little while idle, but nothing else bounds how many one client opens: each user
may hold `ROO_WS_MAX_CONNECTIONS_PER_USER` (20) at once in one process. The count is per
process (a user's streams spread over N processes may reach N times the limit; documented).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from roo.observability.metrics import WS_CONNECTIONS


class TooManyConnections(Exception):
    """The user already holds the most streams allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} open event streams per user")
        self.limit = limit


class ConnectionCounter:
    def __init__(self, limit_per_user: int) -> None:
        self.limit_per_user = limit_per_user
        self._open: dict[uuid.UUID, int] = {}

    def open(self, user_id: uuid.UUID) -> int:
        return self._open.get(user_id, 0)

    def full(self, user_id: uuid.UUID) -> bool:
        """Whether `user_id` holds the most streams allowed already."""
        return self.open(user_id) >= self.limit_per_user

    @property
    def total(self) -> int:
        return sum(self._open.values())

    @contextmanager
    def hold(self, user_id: uuid.UUID) -> Iterator[None]:
        """One stream of `user_id` while the block runs; TooManyConnections beyond the limit."""
        count = self._open.get(user_id, 0)
        if count >= self.limit_per_user:
            raise TooManyConnections(self.limit_per_user)
        self._open[user_id] = count + 1
        WS_CONNECTIONS.inc()
        try:
            yield
        finally:
            WS_CONNECTIONS.dec()
            left = self._open[user_id] - 1
            if left:
                self._open[user_id] = left
            else:
                del self._open[user_id]
