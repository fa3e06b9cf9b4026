"""RBAC: named permissions and the one table of role -> permissions.

Every route declares what it needs (`roo.auth.deps.require`); a test walks the app and fails on
a route that declares nothing. API keys carry scopes, which narrow their owner's permissions at
the time of use and never widen them.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from functools import lru_cache


class Permission(StrEnum):
    PROFILE_READ = "profile:read"
    PROFILE_WRITE = "profile:write"
    SESSIONS_READ = "sessions:read"
    SESSIONS_WRITE = "sessions:write"
    TASKS_READ = "tasks:read"
    TASKS_WRITE = "tasks:write"
    FILES_READ = "files:read"
    FILES_WRITE = "files:write"
    TOOLS_EXECUTE = "tools:execute"
    COMMANDS_EXECUTE = "commands:execute"
    APIKEYS_MANAGE = "apikeys:manage"
    USERS_ADMIN = "users:admin"
    AUDIT_READ = "audit:read"
    # GET /metrics (the admin role holds it; a scraper uses an API key scoped to it alone)
    METRICS_READ = "metrics:read"


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


P = Permission

# A viewer reads what it may see, manages its own profile and signs out; it never writes
# sessions, tasks or files and never executes anything.
_VIEWER = frozenset({P.PROFILE_READ, P.PROFILE_WRITE, P.SESSIONS_READ, P.TASKS_READ, P.FILES_READ})
_MEMBER = _VIEWER | {
    P.SESSIONS_WRITE,
    P.TASKS_WRITE,
    P.FILES_WRITE,
    P.TOOLS_EXECUTE,
    P.COMMANDS_EXECUTE,
    P.APIKEYS_MANAGE,
}
_ADMIN = frozenset(Permission)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.MEMBER: frozenset(_MEMBER),
    Role.ADMIN: _ADMIN,
}

DEFAULT_ROLE = Role.MEMBER


def permissions_for(roles: Iterable[str]) -> frozenset[Permission]:
    """The union of the roles' permissions; unknown role names grant nothing."""
    return _permissions_for(tuple(roles))


@lru_cache(maxsize=256)  # a handful of role combinations exist; every request asks
def _permissions_for(roles: tuple[str, ...]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for name in roles:
        try:
            granted |= ROLE_PERMISSIONS[Role(name)]
        except ValueError:
            continue
    return frozenset(granted)


@lru_cache(maxsize=256)
def permission_names(permissions: frozenset[Permission]) -> tuple[str, ...]:
    """The permissions' names, sorted (as the API lists them)."""
    return tuple(sorted(p.value for p in permissions))
