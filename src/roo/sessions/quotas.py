"""Per-role quotas: the most a session of a user with that role may ask for.

A session's limits are its own (`config.limits`), bounded by the quota of the best role its owner
holds. The numbers are data, reviewed like code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from roo.auth.permissions import Role
from roo.sessions import exceptions as exc
from roo.sessions.schemas import ResourceLimitsIn, ResourceLimitsOut, SessionConfigIn


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
    max_files: int  # inodes in the workspace


QUOTAS: dict[Role, Quota] = {
    Role.VIEWER: Quota(256, 50, 256, 60, 1, 64, 256 * 1024, 0, 100_000),
    Role.MEMBER: Quota(2048, 200, 4096, 1800, 2, 256, 4 * 1024 * 1024, 20, 1_000_000),
    Role.ADMIN: Quota(8192, 400, 20480, 7200, 8, 1024, 16 * 1024 * 1024, 200, 4_000_000),
}

# What a new session gets when it asks for nothing (also bounded by the quota). The file
# count's default is a setting (ROO_SESSION_MAX_FILES): `SessionManager` passes its own.
DEFAULT_MAX_FILES = 100_000
DEFAULTS = Quota(512, 100, 1024, 300, 1, 128, 1024 * 1024, 0, DEFAULT_MAX_FILES)


def quota_for(roles: Iterable[str]) -> Quota:
    """The most generous quota among the roles (field by field)."""
    quotas = [QUOTAS[Role(r)] for r in roles if r in Role._value2member_map_]
    if not quotas:
        return QUOTAS[Role.VIEWER]
    return Quota(*(max(getattr(q, f) for q in quotas) for f in Quota.__dataclass_fields__))


# ResourceLimitsIn field -> the Quota field that bounds it.
_LIMIT_FIELDS = (
    "max_memory_mb",
    "max_cpu_percent",
    "max_disk_mb",
    "max_execution_time",
    "max_concurrent_tasks",
    "max_processes",
    "max_output_bytes",
    "max_files",
)


def effective_limits(
    requested: ResourceLimitsIn, quota: Quota, defaults: Quota = DEFAULTS
) -> ResourceLimitsOut:
    """Fill defaults and check every value against the quota (422 naming each excess)."""
    values: dict[str, int] = {}
    problems: list[dict[str, str]] = []
    for name in _LIMIT_FIELDS:
        asked = getattr(requested, name)
        ceiling = getattr(quota, name)
        value = min(getattr(defaults, name), ceiling) if asked is None else asked
        if value > ceiling:
            alias = ResourceLimitsIn.model_fields[name].alias or name
            problems.append(
                {
                    "field": f"body.config.limits.{alias}",
                    "message": f"at most {ceiling} for your role",
                    "type": "quota_exceeded",
                }
            )
        values[name] = value
    if problems:
        raise exc.QuotaExceeded("Requested limits exceed your role's quota", errors=problems)
    return ResourceLimitsOut(**values)


def stored_config(
    config: SessionConfigIn, quota: Quota, defaults: Quota = DEFAULTS
) -> dict[str, Any]:
    limits = effective_limits(config.limits, quota, defaults)
    data = config.model_dump(by_alias=True, exclude={"limits"})
    data["limits"] = limits.model_dump(by_alias=True)
    return data
