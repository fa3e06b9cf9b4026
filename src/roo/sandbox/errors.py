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
