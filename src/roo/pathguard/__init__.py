"""The one path guard: every file access on behalf of a client or the agent goes through here.

Two layers:

- `split(user_path)` checks the *text* of a path and returns its names. It refuses absolute
  paths, `..`, backslashes, NUL and control characters, invalid UTF-8, Windows drive paths, `~`,
  empty segments, names over 255 bytes, paths over 4096 bytes, and percent-escapes left in an
  already-decoded path when they hide `.`, `/`, `\\`, `%`, a control or a non-ASCII byte (double
  encoding such as `%252e%252e%252f`).
- `Root` opens the workspace once and resolves every path *beneath* it in user space: each name
  is opened relative to its parent's directory fd with `O_NOFOLLOW`, so the kernel never follows
  a symbolic link on our behalf. A link met on the way is read and followed by this code only
  while its target stays inside the workspace: absolute targets and targets that climb above
  the root are refused. `..` in a link target pops a directory fd this code already holds; it is
  never opened on disk, so renaming or swapping directories concurrently cannot lead outside.

Symlink policy: links inside the workspace that point inside it are followed for reads and for
the directories leading to a write; the last name of a write is never followed (writing to a
link is refused) and deleting a link removes the link, never its target. A link planted by a
sandboxed command that points to `/etc/passwd` or `../other-workspace` is refused wherever it
appears, however it is swapped in and out during a request.

Pure package: it raises `PathRejected` (the reason is safe to show a client) and the standard
`OSError` subclasses (their `filename` is the relative path, never a host path).

Whole trees (`tree`): `tree_usage` measures and `remove_tree` deletes a tree beneath a directory
fd with the same rule (never entering a link) and a bounded number of open fds at any depth:
the service, as root, uses them for the disk watch, the files API's recursive delete, the
archive import's clean-up and workspace deletion.

The package: `errors` (what the guard raises), `rules` (the text of a path: `split`), `walker`
(the walk beneath a directory fd, the open flags), `writer` (`AtomicWriter`), `tree` (usage and
recursive delete of a whole tree), `root` (`Root`, the workspace, and the one-shot helpers),
`locks` (`open_lock_file`: the service's lock files beside the workspaces). Import from here.
"""

from __future__ import annotations

from roo.pathguard.errors import (
    ESCAPES,
    MissingParent,
    PathRejected,
    UnsupportedFileType,
)
from roo.pathguard.locks import open_lock_file
from roo.pathguard.root import (
    Root,
    listdir,
    mkdir,
    open_read,
    open_write,
    remove,
    resolve,
    stat,
)
from roo.pathguard.rules import MAX_NAME_BYTES, MAX_PATH_BYTES, relative, split
from roo.pathguard.tree import TreeUsage, remove_tree, tree_usage
from roo.pathguard.walker import MAX_SYMLINKS, open_subdir
from roo.pathguard.writer import TEMP_PREFIX, AtomicWriter

__all__ = [
    "ESCAPES",
    "MAX_NAME_BYTES",
    "MAX_PATH_BYTES",
    "MAX_SYMLINKS",
    "TEMP_PREFIX",
    "AtomicWriter",
    "MissingParent",
    "PathRejected",
    "Root",
    "TreeUsage",
    "UnsupportedFileType",
    "listdir",
    "mkdir",
    "open_lock_file",
    "open_read",
    "open_subdir",
    "open_write",
    "relative",
    "remove",
    "remove_tree",
    "resolve",
    "split",
    "stat",
    "tree_usage",
]
