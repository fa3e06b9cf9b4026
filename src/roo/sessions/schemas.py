"""Request and response bodies of the sessions endpoints."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

import pydantic_core
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from roo.agent.custom_modes import MAX_CUSTOM_MODES, SLUG_PATTERN, ModeDefinition
from roo.agent.modes import MODES
from roo.kit.inputs import NO_CONTROLS, NO_NUL
from roo.kit.schema import ApiInput, ApiModel
from roo.mcp.config import MAX_SERVERS, ServerConfigIn, ServerName
from roo.mcp.schemas import McpServerOut

SessionState = Literal["active", "idle", "archived"]
CommandPrefix = Annotated[str, StringConstraints(min_length=1, max_length=200), NO_NUL]
Label = Annotated[str, StringConstraints(min_length=1, max_length=200), NO_CONTROLS]
ProviderName = Annotated[str, StringConstraints(min_length=1, max_length=50), NO_CONTROLS]


class ResourceLimitsIn(ApiInput):
    """Per-session limits (the seed's names). Omitted values take the service defaults; each is
    bounded by the quota of the owner's role."""

    # The upper bounds are what any host could mean (1 TiB of memory, 16 TiB of disk, Linux's
    # largest pid count, 1 GiB of output); the role's quota is far below them.
    max_memory_mb: int | None = Field(None, ge=16, le=1024 * 1024, alias="maxMemoryMB")
    max_cpu_percent: int | None = Field(None, ge=1, le=1600, alias="maxCpuPercent")
    max_disk_mb: int | None = Field(None, ge=1, le=16 * 1024 * 1024, alias="maxDiskMB")
    max_execution_time: int | None = Field(None, ge=1, le=86400, alias="maxExecutionTime")
    max_concurrent_tasks: int | None = Field(None, ge=1, le=64, alias="maxConcurrentTasks")
    max_processes: int | None = Field(None, ge=8, le=4 * 1024 * 1024, alias="maxProcesses")
    max_output_bytes: int | None = Field(None, ge=1024, le=1024**3, alias="maxOutputBytes")
    max_files: int | None = Field(
        None,
        ge=1,
        le=1_000_000_000,
        alias="maxFiles",
        description="Files, directories and links the workspace may hold (inodes)",
    )


class ResourceLimitsOut(ApiModel):
    """A session's limits as the API shows them; `roo.sandbox.ResourceLimits` takes the same
    field names (`SessionManager.sandbox_limits`)."""

    max_memory_mb: int = Field(alias="maxMemoryMB")
    max_cpu_percent: int = Field(alias="maxCpuPercent")
    max_disk_mb: int = Field(alias="maxDiskMB")
    max_execution_time: int = Field(alias="maxExecutionTime")
    max_concurrent_tasks: int = Field(alias="maxConcurrentTasks")
    max_processes: int = Field(alias="maxProcesses")
    max_output_bytes: int = Field(alias="maxOutputBytes")
    max_files: int = Field(alias="maxFiles")


class ApprovalPolicyIn(ApiInput):
    """Roo's auto-approve settings (the engine applies them)."""

    auto_approve_read: bool = True
    auto_approve_write: bool = False
    auto_approve_execute: bool = False
    auto_approve_mcp: bool = False
    auto_approve_write_protected: bool = Field(
        False,
        description="Also auto-approve writes to the files that configure the agent (.rooignore, "
        ".roomodes, .roo/, rules files, AGENTS.md...; Roo's alwaysAllowWriteProtected)",
    )
    allowed_commands: Annotated[list[CommandPrefix], Field(max_length=200)] = []
    denied_commands: Annotated[list[CommandPrefix], Field(max_length=200)] = []
    # Roo's remaining auto-approve settings (engine17)
    auto_approve_mode_switch: bool = Field(
        False, description="switch_mode runs without asking (Roo's alwaysAllowModeSwitch)"
    )
    auto_approve_subtasks: bool = Field(
        False,
        description="new_task, and a subtask's return to its parent, run without asking "
        "(Roo's alwaysAllowSubtasks)",
    )
    auto_approve_followup_questions: bool = Field(
        False,
        description="A follow-up question is answered with its first suggestion when nobody "
        "answered within followupAutoApproveTimeoutMs (Roo's alwaysAllowFollowupQuestions)",
    )
    followup_auto_approve_timeout_ms: int = Field(
        60_000,
        ge=0,
        le=86_400_000,
        description="Milliseconds before a follow-up question is answered with its first "
        "suggestion (0: never); Roo's followupAutoApproveTimeoutMs",
    )
    allowed_max_requests: int | None = Field(
        None,
        ge=0,
        le=1_000_000,
        description="The task asks before its next model request after this many requests since "
        "its run started or the user last said go on (null or 0: no limit); Roo's "
        "allowedMaxRequests",
    )
    allowed_max_cost: float | None = Field(
        None,
        ge=0,
        le=1_000_000,
        allow_inf_nan=False,
        description="The same for the cost in USD (null or 0: no limit; a model without prices "
        "never reaches it); Roo's allowedMaxCost",
    )
    mcp_always_allow: Annotated[
        dict[ServerName, Annotated[list[Label], Field(max_length=500)]], Field(max_length=50)
    ] = Field(
        default_factory=dict,
        description="MCP tools that run without asking when autoApproveMcp is on, per server "
        '("*": all its tools); a server\'s own alwaysAllow list counts too',
    )


class ModeDefinitionIn(ModeDefinition):
    """A custom mode in Roo's schema (`.roomodes`' `customModes` items); unknown keys are
    refused here (a `.roomodes` file may carry Roo's extra ones)."""

    model_config = ConfigDict(extra="forbid")


ModeSlug = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=SLUG_PATTERN)]


class SessionConfigIn(ApiInput):
    # `modes` before `mode`: the check of `mode` sees them
    modes: Annotated[list[ModeDefinitionIn], Field(max_length=MAX_CUSTOM_MODES)] = Field(
        default_factory=list,
        description="Custom modes (Roo's schema); one with a built-in's slug replaces it; a "
        "workspace .roomodes mode replaces one of these with the same slug",
    )
    mode: ModeSlug = Field(
        "code",
        description="The tasks' default mode: a built-in one or one of `modes` (a task may "
        "also name a mode of the workspace's .roomodes)",
    )
    provider: ProviderName | None = None
    model: Label | None = None
    approval_policy: ApprovalPolicyIn = Field(default_factory=ApprovalPolicyIn)
    limits: ResourceLimitsIn = Field(default_factory=ResourceLimitsIn)
    network: bool = Field(False, description="Let commands in this session reach the network")
    custom_instructions: Annotated[str, StringConstraints(max_length=20000), NO_NUL] | None = None
    mcp_servers: Annotated[dict[ServerName, ServerConfigIn], Field(max_length=MAX_SERVERS)] = Field(
        default_factory=dict,
        description="MCP servers in Roo's format (stdio: command, args, cwd, env; sse and "
        "streamable-http: url, headers). env and headers values are stored encrypted and "
        "never shown; null keeps a stored value. A server of the workspace's .roo/mcp.json "
        "with the same name replaces one of these",
    )

    @field_validator("modes")
    @classmethod
    def _unique_slugs(cls, modes: list[ModeDefinitionIn]) -> list[ModeDefinitionIn]:
        slugs = [m.slug for m in modes]
        duplicates = sorted({s for s in slugs if slugs.count(s) > 1})
        if duplicates:
            raise ValueError(f"duplicate slug(s): {', '.join(duplicates)}")
        return modes

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, mode: str, info: ValidationInfo) -> str:
        custom = [m.slug for m in info.data.get("modes") or [] if m.slug not in MODES]
        known = [*MODES, *custom]
        if mode not in known:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(known)}")
        return mode


class SessionConfigOut(ApiModel):
    mode: str
    modes: list[dict[str, object]] = []
    provider: str | None
    model: str | None
    approval_policy: dict[str, object]
    limits: ResourceLimitsOut
    network: bool
    custom_instructions: str | None
    mcp_servers: dict[str, McpServerOut] = {}


SessionName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NO_CONTROLS
]


class SessionCreateIn(ApiInput):
    name: SessionName = "Untitled session"
    config: SessionConfigIn = Field(default_factory=SessionConfigIn)


class SessionUpdateIn(ApiInput):
    """Replace what is given; `config` is replaced as a whole when present."""

    name: SessionName | None = None
    config: SessionConfigIn | None = None
    state: Literal["active", "archived"] | None = Field(
        None, description="`archived` archives; `active` restores an archived session"
    )


class SessionOut(ApiModel):
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    state: SessionState
    config: SessionConfigOut
    created_at: datetime
    updated_at: datetime
    last_active_at: datetime
    archived_at: datetime | None
    workspace_available: bool

    @field_validator("config", mode="before")
    @classmethod
    def _stored_config(cls, value: object, info: ValidationInfo) -> object:
        """The config as the hot reads load it (`roo.sessions.repository`): its stored JSON
        text, parsed here (a dict passes as it is); a session stored before
        `maxFiles` existed gets the default the validation context names
        (`SessionManager.rows_out`), filled into the freshly decoded value."""
        config = pydantic_core.from_json(value) if isinstance(value, str | bytes) else value
        context = info.context
        if isinstance(config, dict) and isinstance(context, dict) and STORED_MAX_FILES in context:
            limits = config.get("limits")
            if isinstance(limits, dict):
                limits.setdefault("maxFiles", context[STORED_MAX_FILES])
        return config


# The validation context's key for `SessionOut`'s default `maxFiles` of older stored configs.
STORED_MAX_FILES = "default_max_files"


class DiskUsage(ApiModel):
    used_bytes: int
    limit_bytes: int
    used_files: int = Field(description="Files, directories and links in the workspace")
    limit_files: int


class CommandsUsage(ApiModel):
    """What the session's running commands use now (from their cgroups). A figure is null when
    the host cannot tell (no cgroups, or no CPU accounting group)."""

    memory_bytes: int | None
    memory_limit_bytes: int = Field(description="Per command")
    cpu_seconds: float | None = Field(description="CPU time used so far by the running commands")
    processes: int | None


class SessionResources(ApiModel):
    disk: DiskUsage
    commands: CommandsUsage
    running_tasks: int = Field(
        description="Agent tasks active now: queued, running or waiting for an answer"
    )
    running_commands: int = Field(
        description="Sandboxed commands running now in this service process"
    )
    limits: ResourceLimitsOut


class ModeGroupOut(ApiModel):
    """A tool group of a mode; `fileRegex` (and its `description`) limit `edit` to some files."""

    name: str
    file_regex: str | None = None
    description: str | None = None


class ModeOut(ApiModel):
    slug: str
    name: str
    source: Literal["builtin", "session", "workspace"]
    groups: list[ModeGroupOut]
    when_to_use: str
    description: str | None = None


class ModeProblem(ApiModel):
    field: str
    message: str


class SessionModesOut(ApiModel):
    """The modes a task of the session can use, in Roo's order (built-ins first, replaced in
    place by a custom mode of the same slug). `workspaceError` says why the workspace's
    .roomodes was left out: tasks cannot start until it is fixed."""

    modes: list[ModeOut]
    default_mode: str = Field(description="The session config's `mode`")
    workspace_error: str | None = None
    workspace_errors: list[ModeProblem] = []


GIT_URL = re.compile(r"^(https?|git)://[^\s\x00-\x1f]{3,2000}$")
GIT_REF = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_./-]{0,199}$")


def _git_url(value: str) -> str:
    if not GIT_URL.match(value):
        raise ValueError("must be an https://, http:// or git:// URL")
    return value


def _git_ref(value: str) -> str:
    if not GIT_REF.match(value) or ".." in value:
        raise ValueError("not a branch or tag name")
    return value


class CloneIn(ApiInput):
    url: Annotated[str, AfterValidator(_git_url), NO_CONTROLS]
    ref: Annotated[str, AfterValidator(_git_ref), NO_CONTROLS] | None = Field(
        None, description="Branch or tag (default: the remote's default branch)"
    )


class CloneOut(ApiModel):
    output: str = Field(description="What git printed (truncated)")


class ImportOut(ApiModel):
    files: int
    directories: int
    bytes: int
