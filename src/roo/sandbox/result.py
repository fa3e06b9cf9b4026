"""What a sandboxed command produced: `ProcessResult`, and the bounded output buffer behind it."""

from __future__ import annotations

import signal as _signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Backend = Literal["bwrap", "plain"]
"""`bwrap`: namespaces + bind mounts; `plain`: a process group with limits, no isolation."""

KilledReason = Literal["timeout", "memory", "disk", "output", "processes", "cpu", "cancelled"]
"""Why the sandbox (or a limit it set) stopped the command before it ended on its own."""


def truncation_marker(omitted: int) -> bytes:
    """The line put where output was dropped."""
    return f"\n[... output truncated: {omitted} bytes omitted ...]\n".encode()


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """The outcome of one command. A failing command is a result, never an exception.

    `exit_code` follows the shell convention: a command ended by signal N reports 128 + N and
    `signal` names it (inside bwrap the sandbox's init reports it that way, so both backends
    agree). `stdout`/`stderr` hold at most `max_output_bytes` each plus a truncation marker.
    """

    exit_code: int
    signal: str | None
    timed_out: bool
    killed_reason: KilledReason | None
    stdout: bytes
    stderr: bytes
    stdout_omitted: int
    stderr_omitted: int
    duration: float
    sandbox: Backend
    enforcement: Mapping[str, str] = field(default_factory=dict)
    """How each limit was enforced on this run (e.g. `memory: cgroup v1 ...`), for logs/tests."""

    @property
    def ok(self) -> bool:
        """The command ran to completion and exited 0."""
        return self.exit_code == 0 and self.killed_reason is None

    @property
    def output(self) -> bytes:
        """stdout followed by stderr (run with `merge_stderr=True` for true interleaving)."""
        return self.stdout + self.stderr

    @property
    def truncated(self) -> bool:
        return bool(self.stdout_omitted or self.stderr_omitted)

    def text(self) -> str:
        """`output` decoded as UTF-8, undecodable bytes replaced."""
        return self.output.decode("utf-8", errors="replace")


def signal_name(signo: int) -> str | None:
    """`SIGKILL` for 9; None when the number is no signal of this platform."""
    try:
        return _signal.Signals(signo).name
    except ValueError:
        return None


class OutputCapture:
    """Keeps the head and the tail of a byte stream within `cap` bytes.

    Both ends matter to an agent: the head shows what started, the tail how it ended (test
    summaries, the final error). The dropped middle is counted and marked.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._tail_cap = cap // 2
        self._head_cap = cap - self._tail_cap
        self._head = bytearray()
        self._tail = bytearray()
        self._overflow = False
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if not self._overflow:
            self._head += chunk
            if len(self._head) <= self.cap:
                return
            self._overflow = True
            self._tail = self._head[self._head_cap :]
            del self._head[self._head_cap :]
        else:
            self._tail += chunk
        # Trim lazily (at twice the size) so a stream of small chunks stays linear in cost.
        if len(self._tail) > 2 * self._tail_cap:
            del self._tail[: len(self._tail) - self._tail_cap]

    @property
    def omitted(self) -> int:
        if not self._overflow:
            return 0
        return self.total - len(self._head) - min(len(self._tail), self._tail_cap)

    def value(self) -> bytes:
        if not self._overflow:
            return bytes(self._head)
        tail = self._tail[max(0, len(self._tail) - self._tail_cap) :]
        return bytes(self._head) + truncation_marker(self.omitted) + bytes(tail)
