"""One error model for the whole service: RFC 9457 problem details (`application/problem+json`).

Services raise `AppError` subclasses (domain errors carry their own status); the handlers in
`roo.api.problems` render them and every framework error in the same shape. Nothing here imports
the web framework, so domain code can raise these freely.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, ClassVar

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:roo:problem:"


def problem_type(slug: str) -> str:
    return PROBLEM_TYPE_PREFIX + slug


def status_slug(status: int) -> str:
    """`404` -> `not-found`: the problem type for a plain HTTP status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status].slug
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return f"http-{status}"
    return "-".join(phrase.lower().replace("'", "").split())


def status_title(status: int) -> str:
    if status in _BY_STATUS:
        return _BY_STATUS[status].title
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


class AppError(Exception):
    """Base of every error the service reports to a client on purpose.

    Subclasses set `status`, `slug` and `title`; instances carry a human `detail`, optional
    response headers and extension members that become part of the problem body.
    """

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extensions = extensions

    @property
    def type(self) -> str:
        return problem_type(self.slug)


class BadRequest(AppError):
    status, slug, title = 400, "bad-request", "Bad Request"


class MalformedBody(BadRequest):
    slug, title = "malformed-body", "Malformed request body"


class Unauthorized(AppError):
    status, slug, title = 401, "unauthorized", "Unauthorized"


class Forbidden(AppError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(AppError):
    status, slug, title = 404, "not-found", "Not Found"


class Conflict(AppError):
    status, slug, title = 409, "conflict", "Conflict"


class ConcurrentChange(Conflict):
    """What a request changed was deleted or changed by another request at the same time."""

    slug, title = "concurrent-change", "Changed by another request"


class ContentTooLarge(AppError):
    status, slug, title = 413, "content-too-large", "Content Too Large"


class UnsupportedMediaType(AppError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported Media Type"


class Unprocessable(AppError):
    status, slug, title = 422, "validation-error", "Request validation failed"


class TooManyRequests(AppError):
    status, slug, title = 429, "rate-limited", "Too Many Requests"


class ServiceUnavailable(AppError):
    status, slug, title = 503, "service-unavailable", "Service Unavailable"


class ServiceOverloaded(ServiceUnavailable):
    """More work than the service takes on at once: the client should retry shortly."""

    slug, title = "service-overloaded", "Service overloaded"

    def __init__(self, detail: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(
            detail or "The service is busy; retry shortly",
            headers={"Retry-After": str(retry_after)},
        )


# The problem type of a bare status (a framework 404, 405, 413...) is its class's, when one exists.
_BY_STATUS: dict[int, type[AppError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        ContentTooLarge,
        UnsupportedMediaType,
        Unprocessable,
        TooManyRequests,
        ServiceUnavailable,
    )
}
