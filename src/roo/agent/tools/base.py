"""What every tool is: a name, a description for the model, a parameter schema, an approval
category, and `run(params, context) -> ToolResult`.

Failures are data: a tool returns `ToolResult(is_error=True, ...)` with text for the model (the
model reads it and adapts). Only infrastructure faults raise. Parameters are a pydantic model per
tool (`extra="forbid"`): its JSON Schema is what the model sees, and validation failures become
Roo's "Missing value for required parameter" / invalid-parameter tool errors, never a crash.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from roo.sandbox import ProcessResult, SandboxBusy

if TYPE_CHECKING:
    from roo.agent.tools.execute_command import BackgroundCommands
    from roo.agent.tools.mcp import McpAccess
    from roo.agent.tools.read_command_output import CommandOutputs


class ApprovalCategory(StrEnum):
    """Roo's auto-approve categories: which setting decides whether a call needs approval."""

    READ = "read"
    WRITE = "write"
    EXECUTE = "execute"
    MCP = "mcp"
    INTERACTION = "interaction"


@dataclass(frozen=True, slots=True)
class TextBlock:
    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ImageBlock:
    media_type: str
    data: str  # base64
    type: Literal["image"] = "image"

    @classmethod
    def from_bytes(cls, media_type: str, raw: bytes) -> ImageBlock:
        return cls(media_type, base64.b64encode(raw).decode("ascii"))


ContentBlock = TextBlock | ImageBlock


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool call produced: content for the model, plus structured fields for clients
    (`data`: e.g. `exitCode`, `operation`, `truncated`)."""

    content: tuple[ContentBlock, ...]
    is_error: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def text(cls, text: str, **data: Any) -> ToolResult:
        return cls((TextBlock(text),), False, data)

    @classmethod
    def error(cls, text: str, **data: Any) -> ToolResult:
        return cls((TextBlock(text),), True, data)

    @property
    def text_content(self) -> str:
        return "\n".join(b.text for b in self.content if isinstance(b, TextBlock))


OnOutput = Callable[[str], Awaitable[None]]
RunCommand = Callable[..., Awaitable[ProcessResult]]


class IgnoreRules:
    """Paths the agent must not see or touch (`.rooignore`). The default ignores nothing."""

    def ignored(self, relative_path: str) -> bool:
        return False


@dataclass(slots=True)
class ToolContext:
    """Everything a tool may use; built per call by the service (or a test).

    workspace: the host directory of the session's workspace. All file access goes through
      `roo.pathguard` relative to it; paths shown to the model are relative.
    run_command: runs an argv or shell string in the session's sandbox (cwd relative to the
      workspace, `on_output`, `timeout`, `merge_stderr` ... as `roo.sandbox.Sandbox.run`).
    ignore: the session's `.rooignore` rules (for the agent; the user's files API ignores them).
    on_output: streams command output chunks as they arrive (the engine emits them as events).
    command_outputs: where execute_command keeps long outputs for read_command_output (None:
      nowhere; the model gets the middle-cut output only).
    """

    workspace: Path
    run_command: RunCommand
    ignore: IgnoreRules = field(default_factory=IgnoreRules)
    on_output: OnOutput | None = None
    fuzzy_threshold: float = 1.0  # apply_diff: 1.0 = exact match only (Roo's default)
    supports_images: bool = True
    command_outputs: CommandOutputs | None = None
    # execute_command: where a command outlasting the model's timeout goes on running (None:
    # the timeout kills it, as before)
    background: BackgroundCommands | None = None
    # use_mcp_tool, access_mcp_resource and mcp--server--tool functions: the session's MCP
    # servers (None: none can be reached here)
    mcp: McpAccess | None = None


_SCHEMAS: dict[type[BaseModel], dict[str, Any]] = {}


class ToolParams(BaseModel):
    """Base of every tool's parameters: unknown parameters are an error."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class Tool:
    """Subclass with `name`, `description`, `Params`, `category`; implement `execute`."""

    name: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[ToolParams]]
    category: ClassVar[ApprovalCategory]
    aliases: ClassVar[Sequence[str]] = ()
    # Interaction tools (ask_followup_question, attempt_completion...) are handled by the
    # engine; the tools API refuses to run them directly.
    direct: ClassVar[bool] = True
    # Built per run (an MCP server's tool): its schema is not cached per class.
    dynamic: ClassVar[bool] = False

    @classmethod
    def parameters_schema(cls) -> dict[str, Any]:
        """The JSON Schema of the parameters (built once per class; treat it as read-only)."""
        schema = _SCHEMAS.get(cls.Params)
        if schema is None:
            schema = cls.Params.model_json_schema()
            schema.pop("title", None)
            _SCHEMAS[cls.Params] = schema
        return schema

    async def run(self, params: Mapping[str, Any], ctx: ToolContext) -> ToolResult:
        """Validate `params` and execute; invalid parameters are a tool error, not a crash."""
        try:
            parsed = self.Params.model_validate(dict(params))
        except ValidationError as exc:
            return ToolResult.error(parameter_error(self.name, exc), invalid_parameters=True)
        return await self.execute(parsed, ctx)

    async def execute(self, params: Any, ctx: ToolContext) -> ToolResult:
        raise NotImplementedError


def parameter_error(tool: str, exc: ValidationError) -> str:
    """Roo's wording for a missing parameter; a clear one for any other invalid value."""
    problems = exc.errors()
    for problem in problems:
        if problem["type"] == "missing":
            name = ".".join(str(p) for p in problem["loc"])
            return (
                f"Missing value for required parameter '{name}'. Please retry with complete "
                "response."
            )
    details = "; ".join(
        f"'{'.'.join(str(p) for p in e['loc']) or 'params'}': {e['msg']}" for e in problems
    )
    return f"Invalid parameters for tool '{tool}': {details}"


def busy_error(exc: SandboxBusy) -> ToolResult:
    """What the model reads when the session already runs as many commands as it may."""
    word = "command" if exc.limit == 1 else "commands"
    return ToolResult.error(
        f"The command was not started: this session already runs {exc.limit} {word} at once, "
        "the most its limits allow. Wait for the running command to finish (or for its "
        "timeout), then try again.",
        busy=True,
    )
