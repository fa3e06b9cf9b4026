"""Run one command for one session's workspace, isolated (bubblewrap) and limited (cgroups,
rlimits, watches). A pure package: no web framework, no database. See docs/sandbox.md.
"""

from roo.sandbox.cgroups import CgroupSupport, RunUsage, detect_cgroups
from roo.sandbox.disk import workspace_usage, workspace_usage_bytes
from roo.sandbox.errors import SandboxBusy, SandboxError, SandboxPathError, SandboxUnavailable
from roo.sandbox.limits import ResourceLimits
from roo.sandbox.result import Backend, KilledReason, ProcessResult, truncation_marker
from roo.sandbox.runner import Sandbox, detect_backend
from roo.sandbox.supervise import StdinPipe

__all__ = [
    "Backend",
    "CgroupSupport",
    "KilledReason",
    "ProcessResult",
    "ResourceLimits",
    "RunUsage",
    "Sandbox",
    "SandboxBusy",
    "SandboxError",
    "SandboxPathError",
    "SandboxUnavailable",
    "StdinPipe",
    "detect_backend",
    "detect_cgroups",
    "truncation_marker",
    "workspace_usage",
    "workspace_usage_bytes",
]
