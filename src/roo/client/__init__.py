"""The Python SDK of roo-core's API (docs/client.md).

`AsyncRooClient` (httpx.AsyncClient) and `RooClient` (httpx.Client) cover every route of the
public API with the models generated from its OpenAPI document (`roo.client.models`); errors
are `roo.client.errors.RooApiError` subclasses built from the problem+json bodies;
`AsyncRooClient.follow` iterates over a session's events live, reconnecting from its last `seq`.

It imports nothing of the service (an import-linter contract): httpx, websockets and pydantic
only, so it can be used on its own.
"""

from roo.client.client import AsyncRooClient, Download, Operations, RooClient
from roo.client.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    RateLimited,
    RooApiError,
    RooError,
    ServiceUnavailable,
    StreamRefused,
    Unauthorized,
    ValidationError,
)

__all__ = [
    "AsyncRooClient",
    "Conflict",
    "Download",
    "Forbidden",
    "NotFound",
    "Operations",
    "PreconditionFailed",
    "RateLimited",
    "RooApiError",
    "RooClient",
    "RooError",
    "ServiceUnavailable",
    "StreamRefused",
    "Unauthorized",
    "ValidationError",
]
