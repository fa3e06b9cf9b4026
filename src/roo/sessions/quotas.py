"""Per-role quotas: the most a session of a user with that role may ask for.

A session's limits are its own (`config.limits`), bounded by the quota of the best role its owner
holds. The numbers are data, reviewed like code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from roo.auth.permissions import Role


@dataclass(frozen=True, slots=True)
class Quota:
    max_memory_mb: int
    max_cpu_percent: int
    max_disk_mb: int
    max_execution_time: int  # seconds, one command or tool call
    max_concurrent_tasks: int
    max_processes: int
    max_output_bytes: int
    max_sessions: int  # sessions that are not archived


QUOTAS: dict[Role, Quota] = {
    Role.VIEWER: Quota(256, 50, 256, 60, 1, 64, 256 * 1024, 0),
    Role.MEMBER: Quota(2048, 200, 4096, 1800, 2, 256, 4 * 1024 * 1024, 20),
    Role.ADMIN: Quota(8192, 400, 20480, 7200, 8, 1024, 16 * 1024 * 1024, 200),
}

# What a new session gets when it asks for nothing (also bounded by the quota).
DEFAULTS = Quota(512, 100, 1024, 300, 1, 128, 1024 * 1024, 0)


def quota_for(roles: Iterable[str]) -> Quota:
    """The most generous quota among the roles (field by field)."""
    quotas = [QUOTAS[Role(r)] for r in roles if r in Role._value2member_map_]
    if not quotas:
        return QUOTAS[Role.VIEWER]
    return Quota(*(max(getattr(q, f) for q in quotas) for f in Quota.__dataclass_fields__))
