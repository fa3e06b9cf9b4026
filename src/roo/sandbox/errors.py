"""Errors of the sandbox: only infrastructure faults and invalid requests raise.

A command that fails, times out or hits a limit is not an error: it is data in `ProcessResult`.
"""

from __future__ import annotations


class SandboxError(Exception):
    """Base of every exception `roo.sandbox` raises."""


class SandboxUnavailable(SandboxError):
    """The isolation the caller asked for cannot be provided on this host (e.g. no `bwrap`)."""


class SandboxPathError(SandboxError, ValueError):
    """A path given to the sandbox (workspace, cwd, bind mount) is missing or escapes its root."""


class SandboxBusy(SandboxError):
    """A group of commands (a session's) already runs as many commands as it may at once, and
    no slot came free within the wait."""

    def __init__(self, limit: int, waited: float) -> None:
        self.limit = limit
        self.waited = waited
        word = "command" if limit == 1 else "commands"
        super().__init__(
            f"already {limit} {word} running at once, the most allowed"
            + (f" (waited {waited:g} s for one to end)" if waited else "")
        )
