"""The unified diff of a file edit, for the people watching a task: the write tools put it in
their result's data (`diff`), which reaches the tool's `end` event; the model never sees it."""

from __future__ import annotations

import difflib

# What one event carries at most; a longer diff is cut (`diffTruncated`).
MAX_DIFF_CHARS = 64 * 1024
# Files larger than this are not compared at all (difflib's cost grows faster than the size).
MAX_COMPARED_CHARS = 2 * 1024 * 1024


def edit_diff(rel: str, before: str | None, after: str) -> dict[str, object]:
    """`{"diff": <unified diff>, "diffTruncated": bool}`; `before` None: a new file.
    `{"diff": None, "diffTruncated": True}` when the files are too large to compare."""
    if len(before or "") + len(after) > MAX_COMPARED_CHARS:
        return {"diff": None, "diffTruncated": True}
    lines = difflib.unified_diff(
        (before or "").splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile="/dev/null" if before is None else f"a/{rel}",
        tofile=f"b/{rel}",
    )
    parts: list[str] = []
    size = 0
    for line in lines:
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        if size + len(line) > MAX_DIFF_CHARS:
            return {"diff": "".join(parts), "diffTruncated": True}
        parts.append(line)
        size += len(line)
    return {"diff": "".join(parts), "diffTruncated": False}
