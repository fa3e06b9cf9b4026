"""Session errors (each carries its HTTP status)."""

from __future__ import annotations

from roo.kit.errors import (
    AppError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unprocessable,
)
from roo.sandbox.errors import SandboxError


class SessionNotFound(NotFound):
    slug, title = "session-not-found", "Session not found"

    def __init__(self) -> None:
        super().__init__("No such session")


class SessionArchived(Conflict):
    slug, title = "session-archived", "Session is archived"


class WorkspaceGone(Conflict):
    slug, title = "workspace-deleted", "Workspace deleted"


class QuotaExceeded(Unprocessable):
    slug, title = "quota-exceeded", "Quota exceeded"


class InsufficientStorage(AppError):
    status, slug, title = 507, "insufficient-storage", "Disk quota exceeded"


class SessionQuotaReached(Conflict):
    slug, title = "session-quota-reached", "Session quota reached"


class ArchiveInvalid(BadRequest):
    slug, title = "archive-rejected", "Archive rejected"


class CloneFailed(BadRequest):
    slug, title = "clone-failed", "Repository clone failed"


class CloneUrlRefused(BadRequest):
    slug, title = "clone-url-refused", "The repository URL may not be cloned from"


class CloneDisabled(Forbidden):
    slug, title = "clone-disabled", "Cloning repositories is turned off"


class NetworkNotAllowed(Forbidden):
    slug, title = "network-not-allowed", "Network access not allowed"


class CommandsBusy(TooManyRequests):
    slug, title = "session-commands-busy", "Session runs its most commands"


class WorkspaceBusy(Conflict, SandboxError):
    """An import and commands never run in one workspace at once. A `SandboxError` too, so an
    agent tool reports a refused command as one that could not start."""

    slug, title = "workspace-busy", "Workspace busy"


class McpUrlRefused(Unprocessable):
    """A remote MCP server's URL leads where users' URLs may not (roo.security.egress)."""

    slug, title = "mcp-url-refused", "The MCP server URL may not be used"
