"""The request id of the work in progress, readable anywhere below the middleware that sets it."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("roo_request_id", default=None)

# An incoming X-Request-ID is kept only when it is short and plain: it ends up in logs and headers.
_SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> None:
    _request_id.set(value)


def accept_or_generate(incoming: str | None) -> str:
    """Keep a sane client-supplied request id, else make a new one."""
    if incoming and _SANE_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex
