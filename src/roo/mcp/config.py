"""MCP server configurations in Roo's format (`mcpServers`, Roo's `McpHub.ts` schema).

A session's servers come from two places: its config (`mcpServers`, set through the sessions
API, secrets sealed) and the workspace's `.roo/mcp.json` (read through the path guard at each
use). A workspace server replaces a session server of the same name, as Roo's project servers
replace its global ones.

- stdio: `command`, `args`, `cwd` (relative to the workspace), `env`; the command runs in the
  session's sandbox (`roo.mcp.transport`).
- remote: `type` `streamable-http` or `sse`, `url`, `headers`; a URL without a type is SSE (Roo's
  schema tries SSE first).
- all: `timeout` (seconds per call, 1-3600, Roo's default 60), `alwaysAllow` (tools approved
  without asking when MCP auto-approval is on), `disabled`, `disabledTools`.

Secrets: `env` and `headers` values of the session config are encrypted with the service's
`SecretBox` (like provider keys) into one `secrets` token per server; the stored config and
every answer keep only their names (`envKeys`, `headerKeys`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from roo import pathguard
from roo.kit.inputs import NO_CONTROLS, NO_NUL
from roo.security.secrets_box import SecretBox, UndecryptableSecret

MCP_JSON = ".roo/mcp.json"
MAX_MCP_JSON_BYTES = 256 * 1024
MAX_SERVERS = 20
SERVER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
DEFAULT_TIMEOUT = 60
WORKSPACE_FOLDER = "${workspaceFolder}"
SANDBOX_WORKSPACE = "/workspace"

Transport = Literal["stdio", "sse", "streamable-http"]
ServerName = Annotated[str, StringConstraints(pattern=SERVER_NAME_PATTERN)]
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
Text = Annotated[str, StringConstraints(max_length=4096), NO_NUL]


def _no_controls(value: str, what: str) -> str:
    if any(ord(c) < 32 and c not in "\t" for c in value) or "\x7f" in value:
        raise ValueError(f"{what} must not contain control characters")
    return value


def check_url(value: str) -> str:
    """An absolute http(s) URL with a host and no credentials in it."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError("must be an http or https URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https URL with a host")
    if "@" in parts.netloc:
        raise ValueError("must not contain credentials (user:password@); use headers")
    return value


class ServerConfig(BaseModel):
    """One server as Roo's `mcpServers` entries describe it. Unknown keys are ignored (Roo's
    files carry some, e.g. `watchPaths`); the API's input model forbids them."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    type: Transport | None = None
    command: Annotated[str, StringConstraints(min_length=1, max_length=4096), NO_NUL] | None = None
    args: Annotated[list[Text], Field(max_length=256)] = []
    cwd: Text | None = None
    env: dict[str, str | None] = {}
    url: Annotated[str, StringConstraints(max_length=2000), NO_CONTROLS] | None = None
    headers: dict[str, str | None] = {}
    timeout: int = Field(DEFAULT_TIMEOUT, ge=1, le=3600)
    always_allow: Annotated[list[Text], Field(max_length=1000)] = Field(
        default_factory=list, alias="alwaysAllow"
    )
    disabled: bool = False
    disabled_tools: Annotated[list[Text], Field(max_length=1000)] = Field(
        default_factory=list, alias="disabledTools"
    )

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        if len(value) > 100:
            raise ValueError("at most 100 variables")
        for name, text in value.items():
            if not _ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not an environment variable name")
            if text is not None and ("\x00" in text or len(text) > 32768):
                raise ValueError(f"{name}: no NUL, at most 32768 characters")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        if len(value) > 50:
            raise ValueError("at most 50 headers")
        for name, text in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a header name")
            if text is not None:
                _no_controls(text, f"header {name}")
                if len(text) > 8192:
                    raise ValueError(f"header {name}: at most 8192 characters")
        return value

    @model_validator(mode="after")
    def _shape(self) -> ServerConfig:
        if self.command is not None and self.url is not None:
            raise ValueError("give either command (stdio) or url (sse, streamable-http), not both")
        if self.type is None:
            if self.command is not None:
                self.type = "stdio"
            elif self.url is not None:
                self.type = "sse"  # Roo's schema tries SSE first for a bare url
            else:
                raise ValueError("needs a command (stdio) or a url (sse, streamable-http)")
        if self.type == "stdio":
            if self.command is None:
                raise ValueError("a stdio server needs a command")
            if self.headers:
                raise ValueError("headers are for sse and streamable-http servers")
        else:
            if self.url is None:
                raise ValueError(f"a {self.type} server needs a url")
            check_url(self.url)
            if self.env or self.args or self.cwd:
                raise ValueError("command, args, cwd and env are for stdio servers")
        return self

    @property
    def remote(self) -> bool:
        return self.type != "stdio"


class ServerConfigIn(ServerConfig):
    """A server in a session's config (the sessions API): unknown keys are refused. `null` as
    an `env` or `headers` value keeps the value stored for that server and name."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")


@dataclass(frozen=True, slots=True)
class ResolvedServer:
    """A server ready to start: its config with its secrets (never shown, never logged)."""

    name: str
    source: Literal["session", "workspace"]
    config: ServerConfig
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    def fingerprint(self) -> str:
        """What a running connection was started from: a changed config restarts it."""
        return json.dumps(
            [
                self.source,
                self.config.model_dump(exclude={"env", "headers"}),
                dict(self.env),
                dict(self.headers),
            ],
            sort_keys=True,
        )


# -- the session config's part ----------------------------------------------------------------


def seal(
    servers: Mapping[str, ServerConfigIn],
    previous: Mapping[str, Any] | None,
    box: SecretBox,
) -> dict[str, Any]:
    """The stored form of a session's `mcpServers`: secrets encrypted into `secrets`, their
    names in `envKeys` / `headerKeys`. A null value keeps the one `previous` (the stored
    config) holds for that server and name; with none stored, the name is dropped."""
    stored: dict[str, Any] = {}
    for name, server in servers.items():
        old = opened(previous.get(name), box) if previous else ({}, {})
        env = _kept(server.env, old[0])
        headers = _kept(server.headers, old[1])
        data = server.model_dump(by_alias=True, exclude={"env", "headers"})
        data["envKeys"], data["headerKeys"] = sorted(env), sorted(headers)
        if env or headers:
            data["secrets"] = box.encrypt(json.dumps({"env": env, "headers": headers}))
        stored[name] = data
    return stored


def _kept(given: Mapping[str, str | None], old: Mapping[str, str]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for key, value in given.items():
        if value is not None:
            kept[key] = value
        elif key in old:
            kept[key] = old[key]
    return kept


def opened(stored: Any, box: SecretBox) -> tuple[dict[str, str], dict[str, str]]:
    """(env, headers) of a stored server; empty when it has none or they cannot be decrypted
    (the encryption key changed: the server then starts without them)."""
    if not isinstance(stored, Mapping) or not isinstance(stored.get("secrets"), str):
        return {}, {}
    try:
        data = json.loads(box.decrypt(stored["secrets"]))
    except (UndecryptableSecret, ValueError):
        return {}, {}
    return dict(data.get("env") or {}), dict(data.get("headers") or {})


def session_servers(config: Mapping[str, Any], box: SecretBox | None) -> list[ResolvedServer]:
    """The servers of a stored session config, secrets opened."""
    found: list[ResolvedServer] = []
    for name, stored in (config.get("mcpServers") or {}).items():
        try:
            server = ServerConfig.model_validate(
                {k: v for k, v in stored.items() if k not in ("secrets", "envKeys", "headerKeys")}
            )
        except ValidationError:
            continue  # validated when stored; an older shape is skipped rather than crashing
        env, headers = opened(stored, box) if box is not None else ({}, {})
        found.append(ResolvedServer(name, "session", server, env, headers))
    return found


# -- the workspace's .roo/mcp.json ---------------------------------------------------------


class McpConfigError(Exception):
    """The workspace's `.roo/mcp.json` cannot be used; the message says why (shown to users)."""


def parse_mcp_json(text: str) -> list[ResolvedServer]:
    """The servers of a `.roo/mcp.json` text (Roo's `{"mcpServers": {...}}`)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise McpConfigError(f"{MCP_JSON}: not valid JSON ({exc})") from None
    servers = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise McpConfigError(f"{MCP_JSON}: must be an object with an mcpServers object")
    if len(servers) > MAX_SERVERS:
        raise McpConfigError(f"{MCP_JSON}: at most {MAX_SERVERS} servers")
    found: list[ResolvedServer] = []
    for name, raw in servers.items():
        if not re.match(SERVER_NAME_PATTERN, name):
            raise McpConfigError(
                f"{MCP_JSON}: server name {name!r} must be 1-64 letters, digits, '_', '.', '-'"
            )
        try:
            server = ServerConfig.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            detail = f"{where}: {first['msg']}" if where else first["msg"]
            raise McpConfigError(f"{MCP_JSON}: server {name!r}: {detail}") from None
        env = {k: v for k, v in server.env.items() if v is not None}
        headers = {k: v for k, v in server.headers.items() if v is not None}
        found.append(ResolvedServer(name, "workspace", server, env, headers))
    return found


def read_mcp_json(workspace: Path) -> list[ResolvedServer]:
    """The workspace's `.roo/mcp.json` servers (none without the file), read through the path
    guard (no link leads out of the workspace). Blocking: run it in a thread."""
    try:
        fd = pathguard.open_read(workspace, MCP_JSON)
    except FileNotFoundError:
        return []
    except (OSError, pathguard.PathRejected) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        raise McpConfigError(f"{MCP_JSON}: cannot be read ({reason})") from None
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_MCP_JSON_BYTES:
                raise McpConfigError(f"{MCP_JSON}: larger than {MAX_MCP_JSON_BYTES} bytes")
    finally:
        os.close(fd)
    return parse_mcp_json(b"".join(chunks).decode("utf-8", errors="replace"))


def merged(
    session: list[ResolvedServer], workspace: list[ResolvedServer]
) -> dict[str, ResolvedServer]:
    """The session's servers by name: the workspace's first (they replace a session server of
    the same name, as Roo's project servers replace global ones), then the session's."""
    table = {s.name: s for s in workspace}
    for server in session:
        table.setdefault(server.name, server)
    return table


def in_sandbox(value: str) -> str:
    """Roo's `${workspaceFolder}` as the sandbox sees the workspace."""
    return value.replace(WORKSPACE_FOLDER, SANDBOX_WORKSPACE)
