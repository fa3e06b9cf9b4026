"""What the path guard raises; no error carries a host path.

`PathRejected` is a refusal whose `reason` is safe to show a client; the `OSError`s name the path
relative to the workspace (`filename`), never where the workspace lives on the host.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence

ESCAPES = "a symbolic link on the path leads outside the workspace"


class PathRejected(ValueError):
    """A path that must not be used; `reason` is safe to show the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MissingParent(FileNotFoundError):
    """A directory leading to the path does not exist (`filename`: the missing prefix)."""


class UnsupportedFileType(OSError):
    """The path names something other than a regular file or directory (a FIFO, a socket)."""


def _oserror(code: int | None, names: Sequence[str], kind: type[OSError] = OSError) -> OSError:
    """An OSError naming the relative path only (`OSError(errno, ...)` picks the subclass)."""
    code = code or errno.EIO
    return kind(code, os.strerror(code), "/".join(names) or ".")
