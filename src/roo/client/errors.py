"""Typed exceptions built from the service's problem+json bodies (RFC 9457).

Every error answer of the API is `application/problem+json` with `type`, `title`, `status`,
`detail` and extension members (`errors` for a 422, `requestId`...). `RooApiError` carries them;
a subclass per status that a caller handles differently (sign in again, ask for permission, not
there, retry later) lets them be caught by kind. The exception for a response is chosen by
`error_for`.
"""

from __future__ import annotations

import json
from typing import Any

import httpx


class RooError(Exception):
    """Anything `roo.client` raises on purpose."""


class RooApiError(RooError):
    """The service answered with an error status."""

    def __init__(
        self,
        status: int,
        *,
        type: str = "about:blank",
        title: str = "",
        detail: str | None = None,
        problem: dict[str, Any] | None = None,
        headers: httpx.Headers | None = None,
    ) -> None:
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.problem = problem or {}  # the whole body, extension members included
        self.headers = headers or httpx.Headers()
        super().__init__(f"{status} {title}" + (f": {detail}" if detail else ""))

    @property
    def request_id(self) -> str | None:
        value = self.problem.get("requestId")
        return value if isinstance(value, str) else None


class Unauthorized(RooApiError):
    """401: no credential, or one that is invalid, expired or revoked."""


class Forbidden(RooApiError):
    """403: the credential lacks a permission (the problem names it)."""


class NotFound(RooApiError):
    """404: no such thing, or not yours."""


class Conflict(RooApiError):
    """409: the state does not allow it (a task not waiting for that approval...)."""


class PreconditionFailed(RooApiError):
    """412: `If-Match` / `If-None-Match` did not hold (the file changed meanwhile)."""


class ValidationError(RooApiError):
    """422: the request was malformed; `errors` lists each field's problem."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        value = self.problem.get("errors")
        return value if isinstance(value, list) else []


class RateLimited(RooApiError):
    """429: too many requests; `retry_after` is the seconds to wait (from `Retry-After`)."""

    @property
    def retry_after(self) -> float | None:
        return _retry_after(self.headers)


class ServiceUnavailable(RooApiError):
    """503: overloaded or not ready; `retry_after` as for 429."""

    @property
    def retry_after(self) -> float | None:
        return _retry_after(self.headers)


class StreamRefused(RooError):
    """The live stream of a session was refused for good (the WebSocket close code, 4400 bad
    `lastSeq`, 4401 credential, 4403 permission, 4404 no such session): retrying would not
    help."""

    def __init__(self, code: int, reason: str) -> None:
        self.code, self.reason = code, reason
        super().__init__(f"{code} {reason}".strip())


_BY_STATUS: dict[int, type[RooApiError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    422: ValidationError,
    429: RateLimited,
    503: ServiceUnavailable,
}


def error_for(response: httpx.Response) -> RooApiError:
    """The exception for an error response, from its problem body when it has one."""
    problem: dict[str, Any] = {}
    try:
        body = json.loads(response.content) if response.content else {}
    except ValueError:
        body = {}
    if isinstance(body, dict):
        problem = body
    cls = _BY_STATUS.get(response.status_code, RooApiError)
    detail = problem.get("detail")
    return cls(
        response.status_code,
        type=str(problem.get("type", "about:blank")),
        title=str(problem.get("title") or response.reason_phrase),
        detail=str(detail) if detail is not None else None,
        problem=problem,
        headers=response.headers,
    )


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:  # an HTTP date: the service sends seconds, a proxy might not
        return None
