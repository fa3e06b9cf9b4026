"""Response bodies of the files endpoints (requests carry raw bytes, not JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from roo.kit.schema import ApiModel

EntryType = Literal["file", "dir", "symlink", "other"]


class FileEntry(ApiModel):
    """One entry of a directory listing. Links are listed, never followed."""

    name: str
    path: str = Field(description="Relative to the workspace root")
    type: EntryType = Field(description="`other`: a FIFO, socket or device")
    size: int | None = Field(description="Bytes, for files; null otherwise")
    mtime: datetime
    target: str | None = Field(None, description="What a symbolic link points to (as written)")


class DirectoryListing(ApiModel):
    path: str = Field(description="The directory, relative to the workspace root ('' = root)")
    type: Literal["dir"] = "dir"
    recursive: bool
    entries: list[FileEntry]
    truncated: bool = Field(description="More entries exist than `limit` (or the depth limit)")


class FileContent(ApiModel):
    """A file as JSON (`?format=json`)."""

    path: str
    type: Literal["file"] = "file"
    size: int
    mtime: datetime
    sha256: str
    etag: str
    content_type: str
    encoding: Literal["utf-8", "base64"]
    text: str = Field(description="The content: UTF-8 text, or base64 when not valid UTF-8")


class FileInfo(ApiModel):
    """What a write created or replaced."""

    path: str
    type: Literal["file", "dir"]
    size: int | None
    mtime: datetime
    sha256: str | None = None
    etag: str | None = None
    created: bool
