"""The API's request and response models, generated from its OpenAPI document.

Do not edit: regenerate with `.venv/bin/python -m tests.client.generate_models` (see
docs/client.md, "Models"); `tests/client/test_drift.py` fails when this file is not what the
current document generates.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AnyUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
)
from typing_extensions import TypeAliasType


class ApiKeyCreatedOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    created_at: Annotated[AwareDatetime, Field(alias="createdAt", title="Createdat")]
    expires_at: Annotated[AwareDatetime | None, Field(alias="expiresAt", title="Expiresat")]
    id: Annotated[UUID, Field(title="Id")]
    key: Annotated[
        str,
        Field(description="The secret. Shown only in this response: store it now.", title="Key"),
    ]
    last_used_at: Annotated[AwareDatetime | None, Field(alias="lastUsedAt", title="Lastusedat")]
    name: Annotated[str, Field(title="Name")]
    prefix: Annotated[str, Field(title="Prefix")]
    revoked_at: Annotated[AwareDatetime | None, Field(alias="revokedAt", title="Revokedat")]
    scopes: Annotated[list[str], Field(title="Scopes")]


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    created_at: Annotated[AwareDatetime, Field(alias="createdAt", title="Createdat")]
    expires_at: Annotated[AwareDatetime | None, Field(alias="expiresAt", title="Expiresat")]
    id: Annotated[UUID, Field(title="Id")]
    last_used_at: Annotated[AwareDatetime | None, Field(alias="lastUsedAt", title="Lastusedat")]
    name: Annotated[str, Field(title="Name")]
    prefix: Annotated[str, Field(title="Prefix")]
    revoked_at: Annotated[AwareDatetime | None, Field(alias="revokedAt", title="Revokedat")]
    scopes: Annotated[list[str], Field(title="Scopes")]


class AllowedCommand(RootModel[str]):
    root: Annotated[str, Field(max_length=200, min_length=1, pattern="^[^\\u0000]*$")]


class AllowedMaxCost(RootModel[float]):
    root: Annotated[
        float,
        Field(
            description="The same for the cost in USD (null or 0: no limit; a model without prices never reaches it); Roo's allowedMaxCost",
            ge=0.0,
            le=1000000.0,
            title="Allowedmaxcost",
        ),
    ]


class AllowedMaxRequests(RootModel[int]):
    root: Annotated[
        int,
        Field(
            description="The task asks before its next model request after this many requests since its run started or the user last said go on (null or 0: no limit); Roo's allowedMaxRequests",
            ge=0,
            le=1000000,
            title="Allowedmaxrequests",
        ),
    ]


class DeniedCommand(RootModel[str]):
    root: Annotated[str, Field(max_length=200, min_length=1, pattern="^[^\\u0000]*$")]


class McpAlwaysAllowItem(RootModel[str]):
    root: Annotated[
        str,
        Field(
            max_length=200,
            min_length=1,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
        ),
    ]


McpAlwaysAllowPatternProperty = TypeAliasType(
    "McpAlwaysAllowPatternProperty", Annotated[list[McpAlwaysAllowItem], Field(max_length=500)]
)


class ApprovalPolicyIn(BaseModel):
    """
    Roo's auto-approve settings (the engine applies them).
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    allowed_commands: Annotated[
        list[AllowedCommand] | None,
        Field(
            alias="allowedCommands", max_length=200, title="Allowedcommands", validate_default=True
        ),
    ] = []
    allowed_max_cost: Annotated[
        AllowedMaxCost | None,
        Field(
            alias="allowedMaxCost",
            description="The same for the cost in USD (null or 0: no limit; a model without prices never reaches it); Roo's allowedMaxCost",
            title="Allowedmaxcost",
        ),
    ] = None
    allowed_max_requests: Annotated[
        AllowedMaxRequests | None,
        Field(
            alias="allowedMaxRequests",
            description="The task asks before its next model request after this many requests since its run started or the user last said go on (null or 0: no limit); Roo's allowedMaxRequests",
            title="Allowedmaxrequests",
        ),
    ] = None
    auto_approve_execute: Annotated[
        bool | None, Field(alias="autoApproveExecute", title="Autoapproveexecute")
    ] = False
    auto_approve_followup_questions: Annotated[
        bool | None,
        Field(
            alias="autoApproveFollowupQuestions",
            description="A follow-up question is answered with its first suggestion when nobody answered within followupAutoApproveTimeoutMs (Roo's alwaysAllowFollowupQuestions)",
            title="Autoapprovefollowupquestions",
        ),
    ] = False
    auto_approve_mcp: Annotated[
        bool | None, Field(alias="autoApproveMcp", title="Autoapprovemcp")
    ] = False
    auto_approve_mode_switch: Annotated[
        bool | None,
        Field(
            alias="autoApproveModeSwitch",
            description="switch_mode runs without asking (Roo's alwaysAllowModeSwitch)",
            title="Autoapprovemodeswitch",
        ),
    ] = False
    auto_approve_read: Annotated[
        bool | None, Field(alias="autoApproveRead", title="Autoapproveread")
    ] = True
    auto_approve_subtasks: Annotated[
        bool | None,
        Field(
            alias="autoApproveSubtasks",
            description="new_task, and a subtask's return to its parent, run without asking (Roo's alwaysAllowSubtasks)",
            title="Autoapprovesubtasks",
        ),
    ] = False
    auto_approve_write: Annotated[
        bool | None, Field(alias="autoApproveWrite", title="Autoapprovewrite")
    ] = False
    auto_approve_write_protected: Annotated[
        bool | None,
        Field(
            alias="autoApproveWriteProtected",
            description="Also auto-approve writes to the files that configure the agent (.rooignore, .roomodes, .roo/, rules files, AGENTS.md...; Roo's alwaysAllowWriteProtected)",
            title="Autoapprovewriteprotected",
        ),
    ] = False
    denied_commands: Annotated[
        list[DeniedCommand] | None,
        Field(
            alias="deniedCommands", max_length=200, title="Deniedcommands", validate_default=True
        ),
    ] = []
    followup_auto_approve_timeout_ms: Annotated[
        int | None,
        Field(
            alias="followupAutoApproveTimeoutMs",
            description="Milliseconds before a follow-up question is answered with its first suggestion (0: never); Roo's followupAutoApproveTimeoutMs",
            ge=0,
            le=86400000,
            title="Followupautoapprovetimeoutms",
        ),
    ] = 60000
    mcp_always_allow: Annotated[
        dict[
            Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")],
            McpAlwaysAllowPatternProperty,
        ]
        | None,
        Field(
            alias="mcpAlwaysAllow",
            description='MCP tools that run without asking when autoApproveMcp is on, per server ("*": all its tools); a server\'s own alwaysAllow list counts too',
            title="Mcpalwaysallow",
        ),
    ] = None


class AuditEventOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    action: Annotated[
        str, Field(description="What was done, e.g. `auth.login`, `files.write`", title="Action")
    ]
    actor_id: Annotated[
        UUID | None,
        Field(alias="actorId", description="The user who acted (none: anonymous)", title="Actorid"),
    ]
    at: Annotated[AwareDatetime, Field(title="At")]
    chain_seq: Annotated[
        int | None,
        Field(
            alias="chainSeq",
            description="Its position in the hash chain (none: not sealed yet, within a second)",
            title="Chainseq",
        ),
    ]
    credential: Annotated[
        str | None,
        Field(
            description="The API key acted with: its public prefix (none: an access token)",
            title="Credential",
        ),
    ] = None
    detail: Annotated[
        dict[str, Any], Field(description="Action-specific facts; never a secret", title="Detail")
    ]
    hash: Annotated[
        str | None,
        Field(description="SHA-256 of the row and the previous row's hash", title="Hash"),
    ]
    id: Annotated[UUID, Field(title="Id")]
    ip: Annotated[str | None, Field(description="The client's address", title="Ip")]
    outcome: Annotated[str, Field(description="`success`, `failure`, `denied`...", title="Outcome")]
    request_id: Annotated[str | None, Field(alias="requestId", title="Requestid")]
    session_id: Annotated[
        UUID | None,
        Field(alias="sessionId", description="The session it concerns, if any", title="Sessionid"),
    ]
    target: Annotated[
        str | None, Field(description="What it was done to, `kind:id`", title="Target")
    ]
    user_agent: Annotated[str | None, Field(alias="userAgent", title="Useragent")]


class AutoAnswerOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    after_ms: Annotated[
        int,
        Field(
            alias="afterMs",
            description="Milliseconds after the question it is given",
            title="Afterms",
        ),
    ]
    text: Annotated[
        str, Field(description="The follow-up question's first suggestion", title="Text")
    ]


class ChainVerifyOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    bad_seq: Annotated[
        int | None,
        Field(alias="badSeq", description="The first position that does not hold", title="Badseq"),
    ] = None
    checked: Annotated[int, Field(description="Rows checked", title="Checked")]
    first_seq: Annotated[
        int,
        Field(
            alias="firstSeq",
            description="The first position kept (after a retention cut: > 1)",
            title="Firstseq",
        ),
    ]
    last_hash: Annotated[
        str, Field(alias="lastHash", description="The chain head's hash", title="Lasthash")
    ]
    last_seq: Annotated[
        int, Field(alias="lastSeq", description="The chain head's last position", title="Lastseq")
    ]
    ok: Annotated[
        bool, Field(description="Every position from the anchor to the head holds", title="Ok")
    ]
    problem: Annotated[str | None, Field(description="What is wrong there", title="Problem")] = None
    unsealed: Annotated[int, Field(description="Rows written but not sealed yet", title="Unsealed")]


class ChangedFileOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    path: Annotated[str, Field(title="Path")]
    status: Annotated[Literal["added", "modified", "deleted"] | str, Field(title="Status")]


class CheckpointDiffOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    against: Annotated[
        str, Field(description="`current` (the workspace now) or a checkpoint id", title="Against")
    ]
    checkpoint_id: Annotated[UUID, Field(alias="checkpointId", title="Checkpointid")]
    diff: Annotated[
        str,
        Field(description="A unified diff (git's), from the checkpoint to `against`", title="Diff"),
    ]
    truncated: Annotated[
        bool, Field(description="Cut at the session's maxOutputBytes", title="Truncated")
    ]


class CheckpointOut(BaseModel):
    """
    A snapshot of the workspace taken before step `step` of the task (steps count from
    0): the files as they were when that step began. `files` lists what changed since the
    session's previous snapshot (at most 200 of them; `filesChanged` counts them all).
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    commit: Annotated[str, Field(title="Commit")]
    created_at: Annotated[AwareDatetime, Field(alias="createdAt", title="Createdat")]
    files: Annotated[list[ChangedFileOut], Field(title="Files")]
    files_changed: Annotated[int, Field(alias="filesChanged", title="Fileschanged")]
    id: Annotated[UUID, Field(title="Id")]
    step: Annotated[int, Field(title="Step")]
    task_id: Annotated[UUID, Field(alias="taskId", title="Taskid")]


class CheckpointsOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    items: Annotated[list[CheckpointOut], Field(title="Items")]


class Ref(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="Branch or tag (default: the remote's default branch)",
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Ref",
        ),
    ]


class CloneIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    ref: Annotated[
        Ref | None,
        Field(description="Branch or tag (default: the remote's default branch)", title="Ref"),
    ] = None
    url: Annotated[
        str,
        Field(
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Url",
        ),
    ]


class CloneOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    output: Annotated[str, Field(description="What git printed (truncated)", title="Output")]


class CommandsUsage(BaseModel):
    """
    What the session's running commands use now (from their cgroups). A figure is null when
    the host cannot tell (no cgroups, or no CPU accounting group).
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    cpu_seconds: Annotated[
        float | None,
        Field(
            alias="cpuSeconds",
            description="CPU time used so far by the running commands",
            title="Cpuseconds",
        ),
    ]
    memory_bytes: Annotated[int | None, Field(alias="memoryBytes", title="Memorybytes")]
    memory_limit_bytes: Annotated[
        int, Field(alias="memoryLimitBytes", description="Per command", title="Memorylimitbytes")
    ]
    processes: Annotated[int | None, Field(title="Processes")]


class ContentBlockOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    data: Annotated[str | None, Field(title="Data")] = None
    media_type: Annotated[str | None, Field(alias="mediaType", title="Mediatype")] = None
    text: Annotated[str | None, Field(title="Text")] = None
    type: Annotated[Literal["text", "image"], Field(title="Type")]


class DiskUsage(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    limit_bytes: Annotated[int, Field(alias="limitBytes", title="Limitbytes")]
    limit_files: Annotated[int, Field(alias="limitFiles", title="Limitfiles")]
    used_bytes: Annotated[int, Field(alias="usedBytes", title="Usedbytes")]
    used_files: Annotated[
        int,
        Field(
            alias="usedFiles",
            description="Files, directories and links in the workspace",
            title="Usedfiles",
        ),
    ]


class EventOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    data: Annotated[dict[str, Any], Field(title="Data")]
    event: Annotated[str, Field(title="Event")]
    seq: Annotated[int, Field(title="Seq")]
    session_id: Annotated[UUID, Field(alias="sessionId", title="Sessionid")]
    task_id: Annotated[UUID | None, Field(alias="taskId", title="Taskid")]
    timestamp: Annotated[AwareDatetime, Field(title="Timestamp")]


class EventsPage(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    has_more: Annotated[bool, Field(alias="hasMore", title="Hasmore")]
    items: Annotated[list[EventOut], Field(title="Items")]
    next_after: Annotated[
        int,
        Field(
            alias="nextAfter",
            description="Pass as `after` to get the next events",
            title="Nextafter",
        ),
    ]


class FailureOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    message: Annotated[str | None, Field(title="Message")]
    reason: Annotated[str, Field(title="Reason")]


class FieldProblem(BaseModel):
    """
    One field-level validation problem.
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    field: Annotated[
        str,
        Field(
            description="Dotted path of the offending field, e.g. `body.config.model`",
            title="Field",
        ),
    ]
    message: Annotated[str, Field(title="Message")]
    type: Annotated[
        str,
        Field(
            description="Machine-readable error kind, e.g. `missing`, `string_too_long`",
            title="Type",
        ),
    ]


class FileContent(BaseModel):
    """
    A file as JSON (`?format=json`).
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    content_type: Annotated[str, Field(alias="contentType", title="Contenttype")]
    encoding: Annotated[Literal["utf-8", "base64"], Field(title="Encoding")]
    etag: Annotated[str, Field(title="Etag")]
    mtime: Annotated[AwareDatetime, Field(title="Mtime")]
    path: Annotated[str, Field(title="Path")]
    sha256: Annotated[str, Field(title="Sha256")]
    size: Annotated[int, Field(title="Size")]
    text: Annotated[
        str,
        Field(description="The content: UTF-8 text, or base64 when not valid UTF-8", title="Text"),
    ]
    type: Annotated[Literal["file"], Field(title="Type")] = "file"


class FileEntry(BaseModel):
    """
    One entry of a directory listing. Links are listed, never followed.
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    mtime: Annotated[AwareDatetime, Field(title="Mtime")]
    name: Annotated[str, Field(title="Name")]
    path: Annotated[str, Field(description="Relative to the workspace root", title="Path")]
    size: Annotated[int | None, Field(description="Bytes, for files; null otherwise", title="Size")]
    target: Annotated[
        str | None, Field(description="What a symbolic link points to (as written)", title="Target")
    ] = None
    type: Annotated[
        Literal["file", "dir", "symlink", "other"],
        Field(description="`other`: a FIFO, socket or device", title="Type"),
    ]


class FileInfo(BaseModel):
    """
    What a write created or replaced.
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    created: Annotated[bool, Field(title="Created")]
    etag: Annotated[str | None, Field(title="Etag")] = None
    mtime: Annotated[AwareDatetime, Field(title="Mtime")]
    path: Annotated[str, Field(title="Path")]
    sha256: Annotated[str | None, Field(title="Sha256")] = None
    size: Annotated[int | None, Field(title="Size")]
    type: Annotated[Literal["file", "dir"], Field(title="Type")]


class Description(RootModel[str]):
    root: Annotated[
        str,
        Field(
            max_length=500,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Description",
        ),
    ]


class FileRegex(RootModel[str]):
    root: Annotated[
        str,
        Field(
            max_length=1000,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Fileregex",
        ),
    ]


class GroupOptions(BaseModel):
    """
    Roo's `groupOptionsSchema`.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    description: Annotated[Description | None, Field(title="Description")] = None
    file_regex: Annotated[FileRegex | None, Field(alias="fileRegex", title="Fileregex")] = None


class ImportOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    bytes: Annotated[int, Field(title="Bytes")]
    directories: Annotated[int, Field(title="Directories")]
    files: Annotated[int, Field(title="Files")]


class Liveness(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    status: Annotated[Literal["ok"], Field(title="Status")] = "ok"


class LoginIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    email: Annotated[
        str, Field(max_length=320, min_length=1, pattern="^[^\\u0000]*$", title="Email")
    ]
    password: Annotated[
        str, Field(max_length=256, min_length=1, pattern="^[^\\u0000]*$", title="Password")
    ]


class McpResourceOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    description: Annotated[str | None, Field(title="Description")] = None
    mime_type: Annotated[str | None, Field(alias="mimeType", title="Mimetype")] = None
    name: Annotated[str, Field(title="Name")]
    template: Annotated[bool | None, Field(title="Template")] = False
    uri: Annotated[str, Field(description="A URI, or a URI template when `template`", title="Uri")]


class McpServerOut(BaseModel):
    """
    A server of a session's config as stored: secrets named, never shown.
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    always_allow: Annotated[list[str] | None, Field(alias="alwaysAllow", title="Alwaysallow")] = []
    args: Annotated[list[str] | None, Field(title="Args")] = []
    command: Annotated[str | None, Field(title="Command")] = None
    cwd: Annotated[str | None, Field(title="Cwd")] = None
    disabled: Annotated[bool | None, Field(title="Disabled")] = False
    disabled_tools: Annotated[
        list[str] | None, Field(alias="disabledTools", title="Disabledtools")
    ] = []
    env_keys: Annotated[
        list[str] | None,
        Field(alias="envKeys", description="Names of the stored env variables", title="Envkeys"),
    ] = []
    header_keys: Annotated[
        list[str] | None,
        Field(alias="headerKeys", description="Names of the stored headers", title="Headerkeys"),
    ] = []
    timeout: Annotated[int | None, Field(title="Timeout")] = 60
    type: Annotated[Literal["stdio", "sse", "streamable-http"], Field(title="Type")]
    url: Annotated[str | None, Field(title="Url")] = None


class McpToolOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    always_allow: Annotated[
        bool,
        Field(
            alias="alwaysAllow", description="On the server's alwaysAllow list", title="Alwaysallow"
        ),
    ]
    description: Annotated[str, Field(title="Description")]
    enabled: Annotated[
        bool, Field(description="False for the server's disabledTools", title="Enabled")
    ]
    function_name: Annotated[
        str,
        Field(
            alias="functionName",
            description="The native tool name the model sees",
            title="Functionname",
        ),
    ]
    input_schema: Annotated[dict[str, Any], Field(alias="inputSchema", title="Inputschema")]
    name: Annotated[str, Field(title="Name")]


class CustomInstructions(RootModel[str]):
    root: Annotated[
        str, Field(max_length=20000, pattern="^[^\\u0000]*$", title="Custominstructions")
    ]


class Description1(RootModel[str]):
    root: Annotated[str, Field(max_length=1000, pattern="^[^\\u0000]*$", title="Description")]


class Groups(RootModel[str]):
    root: Annotated[
        str,
        Field(
            max_length=40,
            min_length=1,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
        ),
    ]


class Groups1Item(RootModel[str]):
    root: Annotated[
        str,
        Field(
            max_length=40,
            min_length=1,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
        ),
    ]


class Groups1(RootModel[tuple[Groups1Item, GroupOptions]]):
    root: Annotated[tuple[Groups1Item, GroupOptions], Field(max_length=2, min_length=2)]


class WhenToUse(RootModel[str]):
    root: Annotated[str, Field(max_length=5000, pattern="^[^\\u0000]*$", title="Whentouse")]


class ModeDefinitionIn(BaseModel):
    """
    A custom mode in Roo's schema (`.roomodes`' `customModes` items); unknown keys are
    refused here (a `.roomodes` file may carry Roo's extra ones).
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    custom_instructions: Annotated[
        CustomInstructions | None, Field(alias="customInstructions", title="Custominstructions")
    ] = None
    description: Annotated[Description1 | None, Field(title="Description")] = None
    groups: Annotated[list[Groups | Groups1], Field(max_length=20, title="Groups")]
    name: Annotated[
        str,
        Field(
            max_length=200,
            min_length=1,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Name",
        ),
    ]
    role_definition: Annotated[
        str,
        Field(
            alias="roleDefinition",
            max_length=20000,
            min_length=1,
            pattern="^[^\\u0000]*$",
            title="Roledefinition",
        ),
    ]
    slug: Annotated[
        str, Field(max_length=64, min_length=1, pattern="^[a-zA-Z0-9-]+$", title="Slug")
    ]
    when_to_use: Annotated[WhenToUse | None, Field(alias="whenToUse", title="Whentouse")] = None


class ModeGroupOut(BaseModel):
    """
    A tool group of a mode; `fileRegex` (and its `description`) limit `edit` to some files.
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    description: Annotated[str | None, Field(title="Description")] = None
    file_regex: Annotated[str | None, Field(alias="fileRegex", title="Fileregex")] = None
    name: Annotated[str, Field(title="Name")]


class ModeOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    description: Annotated[str | None, Field(title="Description")] = None
    groups: Annotated[list[ModeGroupOut], Field(title="Groups")]
    name: Annotated[str, Field(title="Name")]
    slug: Annotated[str, Field(title="Slug")]
    source: Annotated[Literal["builtin", "session", "workspace"], Field(title="Source")]
    when_to_use: Annotated[str, Field(alias="whenToUse", title="Whentouse")]


class ModeProblem(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    field: Annotated[str, Field(title="Field")]
    message: Annotated[str, Field(title="Message")]


class OAuthProviderOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    display_name: Annotated[str, Field(alias="displayName", title="Displayname")]
    name: Annotated[
        str,
        Field(description="The `{provider}` of `/auth/oauth/{provider}/authorize`", title="Name"),
    ]


class OAuthProvidersOut(BaseModel):
    """
    The sign-in providers this server has configured (for a sign-in page's buttons).
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    providers: Annotated[list[OAuthProviderOut], Field(title="Providers")]


class PageAuditEventOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    items: Annotated[list[AuditEventOut], Field(title="Items")]
    limit: Annotated[int, Field(title="Limit")]
    offset: Annotated[int, Field(title="Offset")]
    total: Annotated[int, Field(title="Total")]


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    current_password: Annotated[
        str,
        Field(
            alias="currentPassword",
            max_length=256,
            min_length=1,
            pattern="^[^\\u0000]*$",
            title="Currentpassword",
        ),
    ]
    new_password: Annotated[
        str,
        Field(
            alias="newPassword",
            max_length=256,
            min_length=8,
            pattern="^[^\\u0000]*$",
            title="Newpassword",
        ),
    ]
    revoke_api_keys: Annotated[
        bool | None,
        Field(
            alias="revokeApiKeys",
            description="Revoke every API key of the account too (default). `false` keeps them: only when you know no one else learned the old password.",
            title="Revokeapikeys",
        ),
    ] = True


class PendingOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    auto_answer: Annotated[
        AutoAnswerOut | None,
        Field(
            alias="autoAnswer",
            description="A follow-up question the service answers itself with its first suggestion when nobody answered in time (the approval policy's autoApproveFollowupQuestions)",
        ),
    ] = None
    created_at: Annotated[AwareDatetime, Field(alias="createdAt", title="Createdat")]
    id: Annotated[UUID, Field(title="Id")]
    kind: Annotated[
        Literal["tool", "command", "followup", "mistake_limit", "api_retry", "auto_approval_limit"],
        Field(title="Kind"),
    ]
    params: Annotated[dict[str, Any] | None, Field(title="Params")] = None
    suggestions: Annotated[list[dict[str, Any]] | None, Field(title="Suggestions")] = None
    text: Annotated[
        str | None, Field(description="The command, question or guidance", title="Text")
    ] = None
    tool: Annotated[str | None, Field(title="Tool")] = None


class Permission(
    RootModel[
        Literal[
            "profile:read",
            "profile:write",
            "sessions:read",
            "sessions:write",
            "tasks:read",
            "tasks:write",
            "files:read",
            "files:write",
            "tools:execute",
            "commands:execute",
            "apikeys:manage",
            "users:admin",
            "audit:read",
            "metrics:read",
        ]
    ]
):
    root: Annotated[
        Literal[
            "profile:read",
            "profile:write",
            "sessions:read",
            "sessions:write",
            "tasks:read",
            "tasks:write",
            "files:read",
            "files:write",
            "tools:execute",
            "commands:execute",
            "apikeys:manage",
            "users:admin",
            "audit:read",
            "metrics:read",
        ],
        Field(title="Permission"),
    ]


class DefaultModel(RootModel[str]):
    root: Annotated[
        str,
        Field(
            max_length=200,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Defaultmodel",
        ),
    ]


class DefaultProvider(RootModel[str]):
    root: Annotated[
        str,
        Field(
            max_length=50,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Defaultprovider",
        ),
    ]


class Language(RootModel[str]):
    root: Annotated[
        str,
        Field(
            max_length=20,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Language",
        ),
    ]


class Preferences(BaseModel):
    """
    User preferences (validated; unknown keys are refused).
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    default_mode: Annotated[
        Literal["architect", "code", "ask", "debug", "orchestrator"] | None,
        Field(alias="defaultMode", title="Defaultmode"),
    ] = None
    default_model: Annotated[
        DefaultModel | None, Field(alias="defaultModel", title="Defaultmodel")
    ] = None
    default_provider: Annotated[
        DefaultProvider | None, Field(alias="defaultProvider", title="Defaultprovider")
    ] = None
    language: Annotated[Language | None, Field(title="Language")] = None
    theme: Annotated[Literal["light", "dark", "system"] | None, Field(title="Theme")] = "system"


class Problem(BaseModel):
    """
    RFC 9457 problem details: the body of every error response.
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    detail: Annotated[
        str | None, Field(description="What went wrong in this occurrence", title="Detail")
    ] = None
    instance: Annotated[
        str | None, Field(description="The request path that failed", title="Instance")
    ] = None
    request_id: Annotated[
        str | None,
        Field(
            alias="requestId", description="Quote it when reporting a problem", title="Requestid"
        ),
    ] = None
    status: Annotated[int, Field(description="HTTP status code", title="Status")]
    title: Annotated[str, Field(description="Short summary of the problem kind", title="Title")]
    type: Annotated[
        str,
        Field(
            description="URI identifying the problem kind",
            examples=["urn:roo:problem:not-found"],
            title="Type",
        ),
    ]


class DisplayName(RootModel[str]):
    root: Annotated[
        str,
        Field(
            max_length=200,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Displayname",
        ),
    ]


class ProfileUpdateIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    display_name: Annotated[DisplayName | None, Field(alias="displayName", title="Displayname")] = (
        None
    )
    preferences: Preferences | None = None


class ApiKey(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="Your API key for this provider: 1 to 500 printable ASCII characters, no whitespace. Stored encrypted, never shown again.",
            max_length=500,
            min_length=1,
            title="Apikey",
        ),
    ]


class BaseUrl(RootModel[AnyUrl]):
    root: Annotated[
        AnyUrl,
        Field(
            description="An http(s) URL to call instead of the provider's own (a proxy, a compatible server); no user:password@, query or fragment.",
            title="Baseurl",
        ),
    ]


class ProviderCredentialIn(BaseModel):
    """
    Send at least one field. A field left out keeps its stored value; `null` clears it.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    api_key: Annotated[ApiKey | None, Field(alias="apiKey", title="Apikey")] = None
    base_url: Annotated[BaseUrl | None, Field(alias="baseUrl", title="Baseurl")] = None


class ProviderCredentialOut(BaseModel):
    """
    Your stored credentials for one provider: never the key itself.
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    base_url: Annotated[str | None, Field(alias="baseUrl", title="Baseurl")]
    created_at: Annotated[AwareDatetime, Field(alias="createdAt", title="Createdat")]
    has_api_key: Annotated[bool, Field(alias="hasApiKey", title="Hasapikey")]
    key_hint: Annotated[
        str | None,
        Field(
            alias="keyHint",
            description="The key's last four characters, e.g. `…abcd`",
            title="Keyhint",
        ),
    ]
    provider: Annotated[str, Field(title="Provider")]
    updated_at: Annotated[AwareDatetime, Field(alias="updatedAt", title="Updatedat")]


class Readiness(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    checks: Annotated[dict[str, str], Field(title="Checks")]
    status: Annotated[Literal["ready"], Field(title="Status")] = "ready"


class RefreshIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    refresh_token: Annotated[
        str,
        Field(
            alias="refreshToken",
            max_length=200,
            min_length=1,
            pattern="^[^\\u0000]*$",
            title="Refreshtoken",
        ),
    ]


class RegisterIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    display_name: Annotated[
        str | None,
        Field(
            alias="displayName",
            max_length=200,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Displayname",
        ),
    ] = ""
    email: Annotated[
        str,
        Field(
            max_length=320,
            min_length=3,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Email",
        ),
    ]
    password: Annotated[
        str, Field(max_length=256, min_length=8, pattern="^[^\\u0000]*$", title="Password")
    ]


class RegistrationOut(BaseModel):
    """
    The same answer whether the address was free or taken (it does not tell which).
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    detail: Annotated[str | None, Field(title="Detail")] = (
        "Registration received. If the address had no account, it has one now: sign in with POST /api/v1/auth/login. If it had one, nothing changed."
    )


class MaxConcurrentTasks(RootModel[int]):
    root: Annotated[int, Field(ge=1, le=64, title="Maxconcurrenttasks")]


class MaxCpuPercent(RootModel[int]):
    root: Annotated[int, Field(ge=1, le=1600, title="Maxcpupercent")]


class MaxDiskMb(RootModel[int]):
    root: Annotated[int, Field(ge=1, le=16777216, title="Maxdiskmb")]


class MaxExecutionTime(RootModel[int]):
    root: Annotated[int, Field(ge=1, le=86400, title="Maxexecutiontime")]


class MaxFiles(RootModel[int]):
    root: Annotated[
        int,
        Field(
            description="Files, directories and links the workspace may hold (inodes)",
            ge=1,
            le=1000000000,
            title="Maxfiles",
        ),
    ]


class MaxMemoryMb(RootModel[int]):
    root: Annotated[int, Field(ge=16, le=1048576, title="Maxmemorymb")]


class MaxOutputBytes(RootModel[int]):
    root: Annotated[int, Field(ge=1024, le=1073741824, title="Maxoutputbytes")]


class MaxProcesses(RootModel[int]):
    root: Annotated[int, Field(ge=8, le=4194304, title="Maxprocesses")]


class ResourceLimitsIn(BaseModel):
    """
    Per-session limits (the seed's names). Omitted values take the service defaults; each is
    bounded by the quota of the owner's role.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    max_concurrent_tasks: Annotated[
        MaxConcurrentTasks | None, Field(alias="maxConcurrentTasks", title="Maxconcurrenttasks")
    ] = None
    max_cpu_percent: Annotated[
        MaxCpuPercent | None, Field(alias="maxCpuPercent", title="Maxcpupercent")
    ] = None
    max_disk_mb: Annotated[MaxDiskMb | None, Field(alias="maxDiskMB", title="Maxdiskmb")] = None
    max_execution_time: Annotated[
        MaxExecutionTime | None, Field(alias="maxExecutionTime", title="Maxexecutiontime")
    ] = None
    max_files: Annotated[
        MaxFiles | None,
        Field(
            alias="maxFiles",
            description="Files, directories and links the workspace may hold (inodes)",
            title="Maxfiles",
        ),
    ] = None
    max_memory_mb: Annotated[
        MaxMemoryMb | None, Field(alias="maxMemoryMB", title="Maxmemorymb")
    ] = None
    max_output_bytes: Annotated[
        MaxOutputBytes | None, Field(alias="maxOutputBytes", title="Maxoutputbytes")
    ] = None
    max_processes: Annotated[
        MaxProcesses | None, Field(alias="maxProcesses", title="Maxprocesses")
    ] = None


class ResourceLimitsOut(BaseModel):
    """
    A session's limits as the API shows them; `roo.sandbox.ResourceLimits` takes the same
    field names (`SessionManager.sandbox_limits`).
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    max_concurrent_tasks: Annotated[
        int, Field(alias="maxConcurrentTasks", title="Maxconcurrenttasks")
    ]
    max_cpu_percent: Annotated[int, Field(alias="maxCpuPercent", title="Maxcpupercent")]
    max_disk_mb: Annotated[int, Field(alias="maxDiskMB", title="Maxdiskmb")]
    max_execution_time: Annotated[int, Field(alias="maxExecutionTime", title="Maxexecutiontime")]
    max_files: Annotated[int, Field(alias="maxFiles", title="Maxfiles")]
    max_memory_mb: Annotated[int, Field(alias="maxMemoryMB", title="Maxmemorymb")]
    max_output_bytes: Annotated[int, Field(alias="maxOutputBytes", title="Maxoutputbytes")]
    max_processes: Annotated[int, Field(alias="maxProcesses", title="Maxprocesses")]


class RestoreIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    conversation: Annotated[
        bool | None,
        Field(
            description="false: the workspace's files only; true: the files and the task's conversation, cut back to the checkpoint's step (continue the task from there)",
            title="Conversation",
        ),
    ] = False


class RestoreOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    checkpoint: CheckpointOut
    conversation: Annotated[bool, Field(title="Conversation")]


class Role(RootModel[Literal["admin", "member", "viewer"]]):
    root: Annotated[Literal["admin", "member", "viewer"], Field(title="Role")]


class AlwaysAllowItem(RootModel[str]):
    root: Annotated[str, Field(max_length=4096, pattern="^[^\\u0000]*$")]


class Arg(RootModel[str]):
    root: Annotated[str, Field(max_length=4096, pattern="^[^\\u0000]*$")]


class Command(RootModel[str]):
    root: Annotated[
        str, Field(max_length=4096, min_length=1, pattern="^[^\\u0000]*$", title="Command")
    ]


class Cwd(RootModel[str]):
    root: Annotated[str, Field(max_length=4096, pattern="^[^\\u0000]*$", title="Cwd")]


class DisabledTool(RootModel[str]):
    root: Annotated[str, Field(max_length=4096, pattern="^[^\\u0000]*$")]


class Url(RootModel[str]):
    root: Annotated[
        str,
        Field(
            max_length=2000,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Url",
        ),
    ]


class ServerConfigIn(BaseModel):
    """
    A server in a session's config (the sessions API): unknown keys are refused. `null` as
    an `env` or `headers` value keeps the value stored for that server and name.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    always_allow: Annotated[
        list[AlwaysAllowItem] | None,
        Field(alias="alwaysAllow", max_length=1000, title="Alwaysallow"),
    ] = None
    args: Annotated[
        list[Arg] | None, Field(max_length=256, title="Args", validate_default=True)
    ] = []
    command: Annotated[Command | None, Field(title="Command")] = None
    cwd: Annotated[Cwd | None, Field(title="Cwd")] = None
    disabled: Annotated[bool | None, Field(title="Disabled")] = False
    disabled_tools: Annotated[
        list[DisabledTool] | None,
        Field(alias="disabledTools", max_length=1000, title="Disabledtools"),
    ] = None
    env: Annotated[dict[str, str | None] | None, Field(title="Env")] = {}
    headers: Annotated[dict[str, str | None] | None, Field(title="Headers")] = {}
    timeout: Annotated[int | None, Field(ge=1, le=3600, title="Timeout")] = 60
    type: Annotated[Literal["stdio", "sse", "streamable-http"] | None, Field(title="Type")] = None
    url: Annotated[Url | None, Field(title="Url")] = None


class Model(RootModel[str]):
    root: Annotated[
        str,
        Field(
            max_length=200,
            min_length=1,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Model",
        ),
    ]


class Provider(RootModel[str]):
    root: Annotated[
        str,
        Field(
            max_length=50,
            min_length=1,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Provider",
        ),
    ]


class SessionConfigIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    approval_policy: Annotated[ApprovalPolicyIn | None, Field(alias="approvalPolicy")] = None
    custom_instructions: Annotated[
        CustomInstructions | None, Field(alias="customInstructions", title="Custominstructions")
    ] = None
    limits: ResourceLimitsIn | None = None
    mcp_servers: Annotated[
        dict[
            Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")],
            ServerConfigIn,
        ]
        | None,
        Field(
            alias="mcpServers",
            description="MCP servers in Roo's format (stdio: command, args, cwd, env; sse and streamable-http: url, headers). env and headers values are stored encrypted and never shown; null keeps a stored value. A server of the workspace's .roo/mcp.json with the same name replaces one of these",
            title="Mcpservers",
        ),
    ] = None
    mode: Annotated[
        str | None,
        Field(
            description="The tasks' default mode: a built-in one or one of `modes` (a task may also name a mode of the workspace's .roomodes)",
            max_length=64,
            min_length=1,
            pattern="^[a-zA-Z0-9-]+$",
            title="Mode",
        ),
    ] = "code"
    model: Annotated[Model | None, Field(title="Model")] = None
    modes: Annotated[
        list[ModeDefinitionIn] | None,
        Field(
            description="Custom modes (Roo's schema); one with a built-in's slug replaces it; a workspace .roomodes mode replaces one of these with the same slug",
            max_length=50,
            title="Modes",
        ),
    ] = None
    network: Annotated[
        bool | None,
        Field(description="Let commands in this session reach the network", title="Network"),
    ] = False
    provider: Annotated[Provider | None, Field(title="Provider")] = None


class SessionConfigOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    approval_policy: Annotated[
        dict[str, Any], Field(alias="approvalPolicy", title="Approvalpolicy")
    ]
    custom_instructions: Annotated[
        str | None, Field(alias="customInstructions", title="Custominstructions")
    ]
    limits: ResourceLimitsOut
    mcp_servers: Annotated[
        dict[str, McpServerOut] | None,
        Field(alias="mcpServers", title="Mcpservers", validate_default=True),
    ] = {}
    mode: Annotated[str, Field(title="Mode")]
    model: Annotated[str | None, Field(title="Model")]
    modes: Annotated[list[dict[str, Any]] | None, Field(title="Modes")] = []
    network: Annotated[bool, Field(title="Network")]
    provider: Annotated[str | None, Field(title="Provider")]


class SessionCreateIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    config: SessionConfigIn | None = None
    name: Annotated[
        str | None,
        Field(
            max_length=200,
            min_length=1,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Name",
        ),
    ] = "Untitled session"


class SessionModesOut(BaseModel):
    """
    The modes a task of the session can use, in Roo's order (built-ins first, replaced in
    place by a custom mode of the same slug). `workspaceError` says why the workspace's
    .roomodes was left out: tasks cannot start until it is fixed.
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    default_mode: Annotated[
        str,
        Field(alias="defaultMode", description="The session config's `mode`", title="Defaultmode"),
    ]
    modes: Annotated[list[ModeOut], Field(title="Modes")]
    workspace_error: Annotated[
        str | None, Field(alias="workspaceError", title="Workspaceerror")
    ] = None
    workspace_errors: Annotated[
        list[ModeProblem] | None,
        Field(alias="workspaceErrors", title="Workspaceerrors", validate_default=True),
    ] = []


class SessionOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    archived_at: Annotated[AwareDatetime | None, Field(alias="archivedAt", title="Archivedat")]
    config: SessionConfigOut
    created_at: Annotated[AwareDatetime, Field(alias="createdAt", title="Createdat")]
    id: Annotated[UUID, Field(title="Id")]
    last_active_at: Annotated[AwareDatetime, Field(alias="lastActiveAt", title="Lastactiveat")]
    name: Annotated[str, Field(title="Name")]
    state: Annotated[Literal["active", "idle", "archived"], Field(title="State")]
    updated_at: Annotated[AwareDatetime, Field(alias="updatedAt", title="Updatedat")]
    user_id: Annotated[UUID, Field(alias="userId", title="Userid")]
    workspace_available: Annotated[
        bool, Field(alias="workspaceAvailable", title="Workspaceavailable")
    ]


class SessionResources(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    commands: CommandsUsage
    disk: DiskUsage
    limits: ResourceLimitsOut
    running_commands: Annotated[
        int,
        Field(
            alias="runningCommands",
            description="Sandboxed commands running now in this service process",
            title="Runningcommands",
        ),
    ]
    running_tasks: Annotated[
        int,
        Field(
            alias="runningTasks",
            description="Agent tasks active now: queued, running or waiting for an answer",
            title="Runningtasks",
        ),
    ]


class Name(RootModel[str]):
    root: Annotated[
        str,
        Field(
            max_length=200,
            min_length=1,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Name",
        ),
    ]


class SessionUpdateIn(BaseModel):
    """
    Replace what is given; `config` is replaced as a whole when present.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    config: SessionConfigIn | None = None
    name: Annotated[Name | None, Field(title="Name")] = None
    state: Annotated[
        Literal["active", "archived"] | None,
        Field(
            description="`archived` archives; `active` restores an archived session", title="State"
        ),
    ] = None


class Feedback(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="What the model should know with an approval or a denial",
            max_length=10000,
            pattern="^[^\\u0000]*$",
            title="Feedback",
        ),
    ]


class Text(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description="The answer (`answer`), the message (`message`, `resume`)",
            max_length=10000,
            pattern="^[^\\u0000]*$",
            title="Text",
        ),
    ]


class TaskActionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    action: Annotated[
        Literal["approve", "approve_always", "deny", "answer", "message", "resume", "condense"],
        Field(title="Action"),
    ]
    approval_id: Annotated[
        UUID | None,
        Field(
            alias="approvalId",
            description="The pending approval or question (default: the one pending now)",
            title="Approvalid",
        ),
    ] = None
    feedback: Annotated[
        Feedback | None,
        Field(
            description="What the model should know with an approval or a denial", title="Feedback"
        ),
    ] = None
    text: Annotated[
        Text | None,
        Field(description="The answer (`answer`), the message (`message`, `resume`)", title="Text"),
    ] = None


class Mode(RootModel[str]):
    root: Annotated[
        str,
        Field(
            max_length=50,
            min_length=1,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Mode",
        ),
    ]


class ReasoningBudget(RootModel[int]):
    root: Annotated[
        int,
        Field(
            description="Claude models with extended thinking: the thinking budget in tokens (Roo's reasoning budget; at most 80 % of the 16,384 max tokens sent with it); the temperature is then 1; ignored for other models; default: no thinking",
            ge=1024,
            le=13107,
            title="Reasoningbudget",
        ),
    ]


class Temperature(RootModel[float]):
    root: Annotated[
        float,
        Field(
            description="Sampling temperature (default 0, as Roo); not sent to models that refuse it (the gpt-5 family, the o-series)",
            ge=0.0,
            le=2.0,
            title="Temperature",
        ),
    ]


class TaskConfigIn(BaseModel):
    """
    The seed's `config`: which provider and model run the task, and its first mode. Omitted
    values come from the session's config, then the service defaults.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    mode: Annotated[Mode | None, Field(title="Mode")] = None
    model: Annotated[Model | None, Field(title="Model")] = None
    provider: Annotated[Provider | None, Field(title="Provider")] = None
    reasoning_budget: Annotated[
        ReasoningBudget | None,
        Field(
            alias="reasoningBudget",
            description="Claude models with extended thinking: the thinking budget in tokens (Roo's reasoning budget; at most 80 % of the 16,384 max tokens sent with it); the temperature is then 1; ignored for other models; default: no thinking",
            title="Reasoningbudget",
        ),
    ] = None
    reasoning_effort: Annotated[
        Literal["minimal", "low", "medium", "high"] | None,
        Field(
            alias="reasoningEffort",
            description="OpenAI reasoning models (the gpt-5 family, the o-series): the effort sent as reasoning_effort; ignored for other models; default: the model's own",
            title="Reasoningeffort",
        ),
    ] = None
    temperature: Annotated[
        Temperature | None,
        Field(
            description="Sampling temperature (default 0, as Roo); not sent to models that refuse it (the gpt-5 family, the o-series)",
            title="Temperature",
        ),
    ] = None


class Image(RootModel[str]):
    root: Annotated[str, Field(pattern="^[^\\u0000]*$")]


class Images(RootModel[list[Image]]):
    root: Annotated[list[Image], Field(max_length=10, title="Images")]


class TaskCreateIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    config: TaskConfigIn | None = None
    images: Annotated[Images | None, Field(title="Images")] = None
    input: Annotated[
        str, Field(max_length=10000, min_length=1, pattern="^[^\\u0000]*$", title="Input")
    ]


class TicketOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    expires_in: Annotated[float, Field(alias="expiresIn", title="Expiresin")]
    ticket: Annotated[str, Field(title="Ticket")]


class ToolOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    aliases: Annotated[list[str], Field(title="Aliases")]
    category: Annotated[
        Literal["read", "write", "execute", "mcp", "interaction"], Field(title="Category")
    ]
    description: Annotated[str, Field(title="Description")]
    directly_executable: Annotated[
        bool, Field(alias="directlyExecutable", title="Directlyexecutable")
    ]
    name: Annotated[str, Field(title="Name")]
    parameters: Annotated[
        dict[str, Any], Field(description="JSON Schema of the parameters", title="Parameters")
    ]
    permissions: Annotated[
        list[str], Field(description="What a caller needs to run it directly", title="Permissions")
    ]


class ToolResultOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    content: Annotated[list[ContentBlockOut], Field(title="Content")]
    data: Annotated[
        dict[str, Any],
        Field(description="Structured fields, e.g. exitCode, operation", title="Data"),
    ]
    is_error: Annotated[bool, Field(alias="isError", title="Iserror")]
    tool: Annotated[str, Field(title="Tool")]


class UsageOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    cache_read_tokens: Annotated[int, Field(alias="cacheReadTokens", title="Cachereadtokens")]
    cache_write_tokens: Annotated[int, Field(alias="cacheWriteTokens", title="Cachewritetokens")]
    cost: Annotated[
        float | None,
        Field(
            description="USD, from the model's price table; null when the model's prices are unknown (a model the table does not know, or an entry without prices)",
            title="Cost",
        ),
    ]
    input_tokens: Annotated[int, Field(alias="inputTokens", title="Inputtokens")]
    output_tokens: Annotated[int, Field(alias="outputTokens", title="Outputtokens")]
    requests: Annotated[int, Field(title="Requests")]


class Roles(RootModel[list[Role]]):
    root: Annotated[list[Role], Field(max_length=3, min_length=1, title="Roles")]


class UserAdminUpdateIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    disabled: Annotated[bool | None, Field(title="Disabled")] = None
    display_name: Annotated[DisplayName | None, Field(alias="displayName", title="Displayname")] = (
        None
    )
    roles: Annotated[Roles | None, Field(title="Roles")] = None


class UserOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    created_at: Annotated[AwareDatetime, Field(alias="createdAt", title="Createdat")]
    disabled: Annotated[bool, Field(title="Disabled")]
    display_name: Annotated[str, Field(alias="displayName", title="Displayname")]
    email: Annotated[str, Field(title="Email")]
    email_verified: Annotated[bool, Field(alias="emailVerified", title="Emailverified")]
    id: Annotated[UUID, Field(title="Id")]
    last_login_at: Annotated[AwareDatetime | None, Field(alias="lastLoginAt", title="Lastloginat")]
    preferences: Annotated[dict[str, Any], Field(title="Preferences")]
    provider: Annotated[str, Field(title="Provider")]
    roles: Annotated[list[str], Field(title="Roles")]


class ValidationProblem(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
    )
    detail: Annotated[
        str | None, Field(description="What went wrong in this occurrence", title="Detail")
    ] = None
    errors: Annotated[list[FieldProblem] | None, Field(title="Errors")] = None
    instance: Annotated[
        str | None, Field(description="The request path that failed", title="Instance")
    ] = None
    request_id: Annotated[
        str | None,
        Field(
            alias="requestId", description="Quote it when reporting a problem", title="Requestid"
        ),
    ] = None
    status: Annotated[int, Field(description="HTTP status code", title="Status")]
    title: Annotated[str, Field(description="Short summary of the problem kind", title="Title")]
    type: Annotated[
        str,
        Field(
            description="URI identifying the problem kind",
            examples=["urn:roo:problem:not-found"],
            title="Type",
        ),
    ]


class VersionInfo(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    api_version: Annotated[str, Field(alias="apiVersion", title="Apiversion")]
    name: Annotated[str, Field(title="Name")]
    version: Annotated[str, Field(title="Version")]


class WhoAmIOut(BaseModel):
    """
    The caller as this request resolved it, with its effective permissions.
    """

    model_config = ConfigDict(
        populate_by_name=True,
    )
    api_key_id: Annotated[UUID | None, Field(alias="apiKeyId", title="Apikeyid")]
    email: Annotated[str, Field(title="Email")]
    permissions: Annotated[list[str], Field(title="Permissions")]
    roles: Annotated[list[str], Field(title="Roles")]
    user_id: Annotated[UUID, Field(alias="userId", title="Userid")]
    via: Annotated[Literal["access_token", "api_key"], Field(title="Via")]


class ApiKeyCreateIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    expires_at: Annotated[
        AwareDatetime | None,
        Field(
            alias="expiresAt",
            description="In the future, with a time zone. Default: never; for a key created with an API key, that key's expiry (and never later).",
            title="Expiresat",
        ),
    ] = None
    name: Annotated[
        str,
        Field(
            max_length=100,
            min_length=1,
            pattern="^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\u2028\\u2029]*$",
            title="Name",
        ),
    ]
    scopes: Annotated[list[Permission], Field(max_length=14, min_length=1, title="Scopes")]


class DirectoryListing(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    entries: Annotated[list[FileEntry], Field(title="Entries")]
    path: Annotated[
        str,
        Field(
            description="The directory, relative to the workspace root ('' = root)", title="Path"
        ),
    ]
    recursive: Annotated[bool, Field(title="Recursive")]
    truncated: Annotated[
        bool,
        Field(
            description="More entries exist than `limit` (or the depth limit)", title="Truncated"
        ),
    ]
    type: Annotated[Literal["dir"], Field(title="Type")] = "dir"


class McpServerStatusOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    error: Annotated[
        str | None, Field(description="Why it failed (start, crash, refused URL)", title="Error")
    ] = None
    name: Annotated[str, Field(title="Name")]
    resources: Annotated[list[McpResourceOut], Field(title="Resources")]
    source: Annotated[
        Literal["session", "workspace"],
        Field(description="The session's config or the workspace's .roo/mcp.json", title="Source"),
    ]
    started_at: Annotated[AwareDatetime | None, Field(alias="startedAt", title="Startedat")] = None
    status: Annotated[
        Literal["stopped", "starting", "connected", "failed", "disabled"],
        Field(
            description="Where it runs: in any process of the service (a worker running the session's task, an API process); servers start when a task or a call needs them",
            title="Status",
        ),
    ]
    timeout: Annotated[int, Field(description="Seconds a call may take", title="Timeout")]
    tools: Annotated[list[McpToolOut], Field(title="Tools")]
    type: Annotated[Literal["stdio", "sse", "streamable-http"], Field(title="Type")]


class McpStatusOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    servers: Annotated[list[McpServerStatusOut], Field(title="Servers")]
    workspace_error: Annotated[
        str | None,
        Field(
            alias="workspaceError",
            description="Why the workspace's .roo/mcp.json was left out",
            title="Workspaceerror",
        ),
    ] = None


class PageSessionOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    items: Annotated[list[SessionOut], Field(title="Items")]
    limit: Annotated[int, Field(title="Limit")]
    offset: Annotated[int, Field(title="Offset")]
    total: Annotated[int, Field(title="Total")]


class PageUserOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    items: Annotated[list[UserOut], Field(title="Items")]
    limit: Annotated[int, Field(title="Limit")]
    offset: Annotated[int, Field(title="Offset")]
    total: Annotated[int, Field(title="Total")]


class TaskDetailOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    child_ids: Annotated[list[UUID], Field(alias="childIds", title="Childids")]
    created_at: Annotated[AwareDatetime, Field(alias="createdAt", title="Createdat")]
    failure: FailureOut | None
    finished_at: Annotated[AwareDatetime | None, Field(alias="finishedAt", title="Finishedat")]
    id: Annotated[UUID, Field(title="Id")]
    input: Annotated[str, Field(title="Input")]
    messages: Annotated[
        list[dict[str, Any]],
        Field(
            description="The whole conversation (Anthropic-shaped messages of content blocks). Nothing is removed: a summary written by condensing has `isSummary` and `condenseId`; messages it replaced have `condenseParent` (its condenseId), those the sliding window hid `truncationParent`; neither is sent to the model any more",
            title="Messages",
        ),
    ]
    mode: Annotated[str, Field(title="Mode")]
    model: Annotated[str, Field(title="Model")]
    parent_id: Annotated[UUID | None, Field(alias="parentId", title="Parentid")]
    pending: Annotated[
        PendingOut | None, Field(description="The approval or answer the task waits for")
    ]
    provider: Annotated[str, Field(title="Provider")]
    result: Annotated[str | None, Field(title="Result")]
    session_id: Annotated[UUID, Field(alias="sessionId", title="Sessionid")]
    started_at: Annotated[AwareDatetime | None, Field(alias="startedAt", title="Startedat")]
    state: Annotated[
        Literal[
            "queued",
            "running",
            "awaiting_approval",
            "awaiting_input",
            "completed",
            "failed",
            "cancelled",
            "interrupted",
        ],
        Field(title="State"),
    ]
    todos: Annotated[str | None, Field(title="Todos")]
    updated_at: Annotated[AwareDatetime, Field(alias="updatedAt", title="Updatedat")]
    usage: UsageOut


class TaskOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    child_ids: Annotated[list[UUID], Field(alias="childIds", title="Childids")]
    created_at: Annotated[AwareDatetime, Field(alias="createdAt", title="Createdat")]
    failure: FailureOut | None
    finished_at: Annotated[AwareDatetime | None, Field(alias="finishedAt", title="Finishedat")]
    id: Annotated[UUID, Field(title="Id")]
    input: Annotated[str, Field(title="Input")]
    mode: Annotated[str, Field(title="Mode")]
    model: Annotated[str, Field(title="Model")]
    parent_id: Annotated[UUID | None, Field(alias="parentId", title="Parentid")]
    pending: Annotated[
        PendingOut | None, Field(description="The approval or answer the task waits for")
    ]
    provider: Annotated[str, Field(title="Provider")]
    result: Annotated[str | None, Field(title="Result")]
    session_id: Annotated[UUID, Field(alias="sessionId", title="Sessionid")]
    started_at: Annotated[AwareDatetime | None, Field(alias="startedAt", title="Startedat")]
    state: Annotated[
        Literal[
            "queued",
            "running",
            "awaiting_approval",
            "awaiting_input",
            "completed",
            "failed",
            "cancelled",
            "interrupted",
        ],
        Field(title="State"),
    ]
    todos: Annotated[str | None, Field(title="Todos")]
    updated_at: Annotated[AwareDatetime, Field(alias="updatedAt", title="Updatedat")]
    usage: UsageOut


class TokenPairOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    expires_in: Annotated[
        int,
        Field(
            alias="expiresIn",
            description="Seconds until the access token expires",
            title="Expiresin",
        ),
    ]
    refresh_expires_in: Annotated[int, Field(alias="refreshExpiresIn", title="Refreshexpiresin")]
    refresh_token: Annotated[
        str,
        Field(
            alias="refreshToken",
            description="One-time refresh token for `POST /auth/refresh`",
            title="Refreshtoken",
        ),
    ]
    token: Annotated[
        str, Field(description="Access token (JWT) for `Authorization: Bearer`", title="Token")
    ]
    token_type: Annotated[Literal["Bearer"], Field(alias="tokenType", title="Tokentype")] = "Bearer"
    user: UserOut


class PageTaskOut(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True,
    )
    items: Annotated[list[TaskOut], Field(title="Items")]
    limit: Annotated[int, Field(title="Limit")]
    offset: Annotated[int, Field(title="Offset")]
    total: Annotated[int, Field(title="Total")]
