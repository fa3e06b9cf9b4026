"""Checks and shaping of what a caller asks the runner for: command, paths, environment.

Bad input raises here, before anything starts: `SandboxPathError` for paths (a cwd or bind that
leaves its root), `ValueError` for the rest.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from roo.sandbox import bwrap
from roo.sandbox.errors import SandboxPathError
from roo.sandbox.limits import ResourceLimits

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHELL = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GROUP_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Sandbox paths an extra bind may not cover: the kernel views and the workspace itself.
_RESERVED = ("/proc", "/dev", bwrap.WORKSPACE)


def group(key: str | None) -> str | None:
    """A group key names a cgroup and a slot file: letters, digits, `_` and `-` only."""
    if key is not None and not _GROUP_KEY.match(key):
        raise ValueError(f"group must be 1-64 letters, digits, '_' or '-', got {key!r}")
    return key


def argv(command: str | Sequence[str]) -> list[str]:
    """A shell string runs under bash (sh where bash is missing); a list runs as is."""
    if isinstance(command, str):
        if not command.strip():
            raise ValueError("empty command")
        return [SHELL, "-c", command]
    args = list(command)
    if not args or not all(isinstance(a, str) for a in args):
        raise ValueError("command must be a non-empty list of strings")
    if any("\0" in a for a in args):
        raise ValueError("command contains a NUL byte")
    return args


def workspace(path: Path) -> Path:
    """The workspace as an existing directory, symlinks resolved."""
    try:
        ws = Path(path).resolve(strict=True)
    except OSError as exc:
        raise SandboxPathError(f"workspace {path} does not exist") from exc
    if not ws.is_dir():
        raise SandboxPathError(f"workspace {path} is not a directory")
    return ws


def resolve_cwd(ws: Path, cwd: str) -> tuple[Path, str]:
    """The host directory for `cwd` and its path relative to the workspace (symlinks followed)."""
    rel = cwd
    if posixpath.isabs(cwd):
        if cwd != bwrap.WORKSPACE and not cwd.startswith(bwrap.WORKSPACE + "/"):
            raise SandboxPathError(f"cwd {cwd!r} is outside the workspace")
        rel = cwd[len(bwrap.WORKSPACE) :].lstrip("/") or "."
    target = (ws / rel).resolve()
    if target != ws and ws not in target.parents:
        raise SandboxPathError(f"cwd {cwd!r} is outside the workspace")
    if not target.is_dir():
        raise SandboxPathError(f"cwd {cwd!r} is not a directory of the workspace")
    return target, target.relative_to(ws).as_posix()


def wall(timeout: float | None, limits: ResourceLimits) -> float:
    """Wall-clock seconds: `timeout` when given, never more than the limit."""
    if timeout is None:
        return float(limits.max_execution_time)
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    return min(float(timeout), float(limits.max_execution_time))


def checked_env(env: Mapping[str, str] | None) -> dict[str, str]:
    """The caller's variables, refused when a name or value could not be a real one."""
    checked: dict[str, str] = {}
    for name, value in (env or {}).items():
        if not _ENV_NAME.match(name):
            raise ValueError(f"invalid environment variable name {name!r}")
        if not isinstance(value, str) or "\0" in value:
            raise ValueError(f"invalid value for environment variable {name}")
        checked[name] = value
    return checked


def environment(extra: Mapping[str, str], *, home: str, tmp: str) -> dict[str, str]:
    """The whole environment of a sandboxed command: a fixed base plus the caller's entries."""
    env = {
        "PATH": PATH,
        "HOME": home,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "SHELL": SHELL,
        "GIT_TERMINAL_PROMPT": "0",
    }
    env.update(extra)
    return env


def checked_binds(binds: Mapping[str, Path]) -> dict[str, Path]:
    """Extra binds (sandbox path -> host path) with clean destinations and existing sources."""
    checked: dict[str, Path] = {}
    for dest, src in binds.items():
        norm = posixpath.normpath(dest)
        if not posixpath.isabs(norm) or norm == "/" or norm != dest.rstrip("/"):
            raise SandboxPathError(f"bind destination {dest!r} must be a clean absolute path")
        if any(norm == r or norm.startswith(r + "/") for r in _RESERVED):
            raise SandboxPathError(f"bind destination {dest!r} is reserved")
        try:
            checked[norm] = Path(src).resolve(strict=True)
        except OSError as exc:
            raise SandboxPathError(f"bind source {src} does not exist") from exc
    return checked
