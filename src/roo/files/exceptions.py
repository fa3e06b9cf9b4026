"""Files errors (each carries its HTTP status)."""

from __future__ import annotations

from typing import ClassVar

from roo.kit.errors import AppError, BadRequest, Conflict, ContentTooLarge, Forbidden, NotFound


class InvalidPath(BadRequest):
    """The path was refused by the path guard; the detail says why."""

    slug, title = "invalid-path", "Invalid path"


class FileNotFound(NotFound):
    slug, title = "file-not-found", "File not found"


class FileAlreadyExists(Conflict):
    slug, title = "file-exists", "File already exists"


class ParentMissing(Conflict):
    slug, title = "parent-missing", "Parent directory missing"


class NotADirectory(Conflict):
    slug, title = "not-a-directory", "Not a directory"


class IsADirectory(Conflict):
    slug, title = "is-a-directory", "Is a directory"


class DirectoryNotEmpty(Conflict):
    slug, title = "directory-not-empty", "Directory not empty"


class NotARegularFile(Conflict):
    slug, title = "not-a-regular-file", "Not a regular file"


class FileNotAccessible(Forbidden):
    """The file's own permissions (set by a command) keep the service out."""

    slug, title = "file-not-accessible", "File not accessible"


class WorkspaceChanged(Conflict):
    """The workspace changed under the operation (a command ran at the same time); retry."""

    slug, title = "workspace-changed", "Workspace changed during the operation"


class TooLargeForJson(BadRequest):
    slug, title = "too-large-for-json", "File too large for the JSON format"


class UploadTooLarge(ContentTooLarge):
    slug, title = "upload-too-large", "Upload too large"


class PreconditionFailed(AppError):
    status: ClassVar[int] = 412
    slug: ClassVar[str] = "precondition-failed"
    title: ClassVar[str] = "Precondition Failed"


class RangeNotSatisfiable(AppError):
    status: ClassVar[int] = 416
    slug: ClassVar[str] = "range-not-satisfiable"
    title: ClassVar[str] = "Range Not Satisfiable"
