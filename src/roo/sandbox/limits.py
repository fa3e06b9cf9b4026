"""`ResourceLimits`: what one session's commands may use.

The first five fields carry the seed plan's names (`maxMemoryMB`, `maxCpuPercent`, `maxDiskMB`,
`maxExecutionTime`, `maxConcurrentTasks`); the others are the sandbox's own. `docs/sandbox.md`
says how each one is enforced.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

MIB = 1024 * 1024

# Inclusive bounds per field. Lower bounds keep a sandbox usable (a shell and python need some
# memory, processes and output); upper bounds catch unit mistakes (bytes given as MB, ms as s).
_BOUNDS: dict[str, tuple[int, int]] = {
    "max_memory_mb": (16, 1024 * 1024),
    "max_cpu_percent": (1, 100 * 1024),
    "max_disk_mb": (1, 64 * 1024 * 1024),
    "max_execution_time": (1, 7 * 24 * 3600),
    "max_concurrent_tasks": (1, 1024),
    "max_processes": (8, 1 << 22),
    "max_output_bytes": (1024, 1 << 30),
    "max_file_mb": (1, 64 * 1024 * 1024),
    "max_files": (1, 1 << 32),
}


@dataclass(frozen=True, slots=True)
class ResourceLimits:
    """Limits of one sandboxed command, or of all the commands of one session together when
    they run with its `group` (`Sandbox.run`). All values are integers; construction validates
    them.
    """

    max_memory_mb: int = 512
    """Memory of the whole process tree, or of the group's trees together (cgroup); address
    space per process (fallback)."""
    max_cpu_percent: int = 100
    """CPU share: 100 is one full core, 250 two and a half cores."""
    max_disk_mb: int = 1024
    """Size of the workspace on disk; growth past it stops the command."""
    max_execution_time: int = 300
    """Wall-clock seconds before the command is stopped (`timed_out`)."""
    max_concurrent_tasks: int = 1
    """Commands of one group that may run at once (slots; with or without cgroups)."""
    max_processes: int = 128
    """Processes and threads alive at once in the command's tree."""
    max_output_bytes: int = 1024 * 1024
    """Output kept per stream; the middle of longer output is dropped with a marker."""
    max_file_mb: int = 256
    """Largest single file the command may write (RLIMIT_FSIZE)."""
    max_files: int = 100_000
    """Inodes (files, directories, links) in the workspace; growth past it stops the command."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            low, high = _BOUNDS[f.name]
            # bool is an int subclass; True as "1 MB" is a bug, not a limit.
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{f.name} must be an integer, got {value!r}")
            if not low <= value <= high:
                raise ValueError(f"{f.name} must be between {low} and {high}, got {value}")

    @property
    def memory_bytes(self) -> int:
        return self.max_memory_mb * MIB

    @property
    def disk_bytes(self) -> int:
        return self.max_disk_mb * MIB

    @property
    def file_bytes(self) -> int:
        return self.max_file_mb * MIB
