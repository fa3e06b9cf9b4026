"""A session's shadow Git repository: snapshots of its workspace kept outside it.

Roo-Code's ShadowCheckpointService, run the way every other process of a session runs: inside
the session's sandbox (`roo.sandbox`), as the sandbox's user, with the workspace at
/workspace and the session's checkpoint directory bind-mounted at MOUNT. Git's own
directory is given by GIT_DIR and its work tree by GIT_WORK_TREE, so the user's `.git` in the
workspace is never read or written (Git never tracks a `.git`), and nothing of the host but
those two directories is writable: a link planted in the workspace can point nowhere else.
Git itself also refuses to write through a symbolic link met on the way to a tracked path.

No user or system Git configuration applies (GIT_CONFIG_NOSYSTEM, GIT_CONFIG_GLOBAL), hooks
are off, and the repository's config is written here once. Each operation is one `sh -c` run
of SCRIPT, so a save costs one sandbox start.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roo.checkpoints.excludes import exclude_patterns
from roo.sandbox import ProcessResult

MOUNT = "/roo-checkpoints"  # where the session's checkpoint directory is in the sandbox
MAX_LISTED = 200  # changed files a checkpoint record lists (all of them are counted)
_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")

# $1: operation (save | restore | diff); then its arguments.
SCRIPT = r"""
set -eu
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0
g() { git -c safe.directory='*' -c core.hooksPath=/dev/null -c core.fsmonitor=false "$@"; }
init() {
  if [ ! -f "$GIT_DIR/HEAD" ]; then
    mkdir -p "$GIT_DIR"
    g init -q --template= >/dev/null
    g config user.name "Roo Code"
    g config user.email noreply@example.com
    g config commit.gpgSign false
    g config core.autocrlf false
    g config core.quotePath false
    g config core.symlinks true
    g config gc.autoDetach false
    g config core.untrackedCache true
    g commit -q --allow-empty --no-verify -m "initial commit"
  fi
}
prepare() {
  mkdir -p "$GIT_DIR/info"
  # the workspace's .gitattributes must not change bytes (eol, ident, filters, encodings)
  printf '* -text -eol -ident -filter -working-tree-encoding\n' > "$GIT_DIR/info/attributes"
  printf '%s' "$ROO_EXCLUDES" > "$GIT_DIR/info/exclude.new"
  cd "$GIT_WORK_TREE"
  if [ -f .gitattributes ] && [ ! -L .gitattributes ]; then
    grep 'filter=lfs' .gitattributes | awk '{print $1}' >> "$GIT_DIR/info/exclude.new" || true
  fi
  # nested repositories (their parent directory) and files over the size cap
  find . -path ./.git -prune -o \( -name .git -printf '%h\0' -prune \) \
    -o \( -type f -size +"$ROO_FILE_MAX"c -print0 \) \
    | sed -z -e 's|^\./||' > "$GIT_DIR/info/left-out"
  sed -z -e 's/[][*?\\!# ]/\\&/g' -e 's|^|/|' "$GIT_DIR/info/left-out" | tr '\0' '\n' \
    >> "$GIT_DIR/info/exclude.new"
  mv -f "$GIT_DIR/info/exclude.new" "$GIT_DIR/info/exclude"
}
stage() {
  g add -A
  if [ -s "$GIT_DIR/info/left-out" ]; then
    GIT_LITERAL_PATHSPECS=1 g rm -r -q --cached --ignore-unmatch \
      --pathspec-from-file="$GIT_DIR/info/left-out" --pathspec-file-nul
  fi
}
op="$1"; shift
case "$op" in
  save)
    init; prepare; stage
    g commit -q --allow-empty --no-verify -m "$1"
    g count-objects -v | awk '/^size:|^size-pack:/ {s += $2} END {printf "%d\0", s * 1024}'
    g diff-tree --always -r -z --name-status --no-renames HEAD
    ;;
  restore)
    init
    g cat-file -e "$1^{commit}"
    prepare
    g clean -f -d -q
    g reset -q --hard "$1"
    ;;
  diff)
    if [ -z "$2" ]; then
      init; prepare; stage
      g diff --cached --no-color --no-ext-diff --no-textconv --no-renames "$1"
    else
      g diff --no-color --no-ext-diff --no-textconv --no-renames "$1" "$2"
    fi
    ;;
esac
"""

# (argv, env, rw_binds, timeout) -> the result: a run in the session's sandbox
Runner = Callable[..., Awaitable[ProcessResult]]


class ShadowError(Exception):
    """Git failed (its stderr in the message), or ran out of time."""


@dataclass(frozen=True, slots=True)
class Saved:
    commit: str
    files: list[dict[str, str]]  # at most MAX_LISTED: {path, status}
    files_changed: int
    repository_bytes: int  # the repository's objects, loose and packed, after the save


@dataclass(frozen=True, slots=True)
class Diff:
    text: str
    truncated: bool


def is_commit(value: str) -> bool:
    return bool(_COMMIT.match(value))


class ShadowRepo:
    """The shadow repository of one session. `run` runs a command in the session's sandbox;
    `isolated`: it does (bwrap), so the repository is at MOUNT there; else (the plain backend,
    development only) git runs on the host paths, as every command of the session does."""

    def __init__(
        self,
        run: Runner,
        directory: Path,
        workspace: Path,
        *,
        isolated: bool,
        file_max_bytes: int,
        timeout: float,
    ) -> None:
        self._run = run
        self.directory = directory
        self._isolated = isolated
        self._timeout = timeout
        git_dir, work_tree = (
            (f"{MOUNT}/git", "/workspace") if isolated else (str(directory / "git"), str(workspace))
        )
        self._env = {
            "GIT_DIR": git_dir,
            "GIT_WORK_TREE": work_tree,
            "ROO_EXCLUDES": exclude_patterns(),
            "ROO_FILE_MAX": str(file_max_bytes),
        }

    async def _git(self, *args: str) -> ProcessResult:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        options: dict[str, Any] = {"env": self._env, "timeout": self._timeout}
        if self._isolated:
            options["rw_binds"] = {MOUNT: self.directory}
        result = await self._run(["sh", "-c", SCRIPT, "roo-checkpoint", *args], **options)
        if not result.ok:
            detail = result.stderr.decode(errors="replace").strip()[-2000:]
            reason = "timed out" if result.timed_out else f"exit code {result.exit_code}"
            raise ShadowError(f"git {args[0]} failed ({reason}): {detail}")
        return result

    async def save(self, message: str) -> Saved:
        """Snapshot the workspace as it is now."""
        result = await self._git("save", message)
        # the objects' size, then (diff-tree -z) the commit, then status and path of each change
        size, _, rest = result.stdout.partition(b"\0")
        head, _, rest = rest.partition(b"\0")
        commit = head.decode(errors="replace").strip()
        if not is_commit(commit) or not size.isdigit():
            raise ShadowError(f"git save printed no commit: {result.stdout[:100]!r}")
        files, count = _name_status(rest)
        return Saved(commit, files, count, int(size))

    async def restore(self, commit: str) -> None:
        """Make the workspace's snapshotted files exactly those of `commit`: files created
        since are removed, changed and deleted ones come back. Left-out files (the exclude
        rules, the size cap, nested repositories) are not touched."""
        await self._git("restore", commit)

    async def diff(self, commit: str, against: str | None) -> Diff:
        """The unified diff from `commit` to `against` (another commit), or to the workspace
        as it is now (None)."""
        result = await self._git("diff", commit, against or "")
        return Diff(result.stdout.decode(errors="replace"), result.stdout_omitted > 0)


def _name_status(raw: bytes) -> tuple[list[dict[str, str]], int]:
    """`git diff-tree -z --name-status` output: status\0path\0..."""
    parts = raw.split(b"\0")
    files: list[dict[str, str]] = []
    count = 0
    for i in range(0, len(parts) - 1, 2):
        status, path = parts[i].decode().strip(), parts[i + 1].decode(errors="replace")
        if not status:
            continue
        count += 1
        if len(files) < MAX_LISTED:
            files.append({"path": path, "status": _STATUS.get(status[0], status)})
    return files, count


_STATUS = {"A": "added", "M": "modified", "D": "deleted", "T": "modified"}


def session_directory(root: Path, session_key: str) -> Path:
    """Where a session's shadow repository lives (`root`: the checkpoints directory)."""
    return root / session_key
