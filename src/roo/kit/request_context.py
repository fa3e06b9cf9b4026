"""The request id of the work in progress, readable anywhere below the middleware that sets it."""

from __future__ import annotations

import random
import re
from contextvars import ContextVar, Token

_request_id: ContextVar[str | None] = ContextVar("roo_request_id", default=None)

# An incoming X-Request-ID is kept only when it is short and plain: it ends up in logs and headers.
_SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")


def current_request_id() -> str | None:
    return _request_id.get()


# The public prefix of the API key the current request authenticated with (None: no key), for
# the credential field of the audit rows it writes. Set by the route's credential check.
_credential: ContextVar[str | None] = ContextVar("roo_credential", default=None)


def current_credential() -> str | None:
    return _credential.get()


def bind_credential(value: str | None) -> Token[str | None]:
    return _credential.set(value)


def reset_credential(token: Token[str | None]) -> None:
    _credential.reset(token)


def bind_request_id(value: str | None) -> Token[str | None]:
    """Make `value` the current request id; hand the token to `reset_request_id` when done."""
    return _request_id.set(value)


def reset_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)


def accept_or_generate(incoming: str | None) -> str:
    """Keep a sane client-supplied request id, else make a new one."""
    if incoming and _SANE_ID.match(incoming):
        return incoming
    # 128 random bits as 32 hex digits, like uuid4().hex at a sixth of the cost (no system call):
    # an id must be unique, not unguessable. `random` reseeds itself in a forked worker.
    return f"{random.getrandbits(128):032x}"
