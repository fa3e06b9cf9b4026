"""`AsyncRooClient` and `RooClient`: every route of the public API, typed by the generated
models (`roo.client.models`).

The routes are written once, in `Operations`, as builders of a `Call`; the `operation`
descriptor makes each an async method of `AsyncRooClient` and a plain one of `RooClient`.
The list routes have iterators (`iter_sessions`...) that page through them. The OAuth routes
are for a browser (a redirect to the provider and back): `oauth_authorize_url` gives the URL
to open; `BROWSER_ONLY` names them for the coverage test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, Self, TypeVar
from urllib.parse import quote, urlencode
from uuid import UUID

import httpx

from roo.client._core import (
    API,
    USER_AGENT,
    AsyncTransport,
    Call,
    Credentials,
    SyncTransport,
    fields,
    json_or_none,
    many,
    model,
    nothing,
    route,
)
from roo.client.errors import RooError
from roo.client.models import (
    ApiKeyCreatedOut,
    ApiKeyCreateIn,
    ApiKeyOut,
    ChainVerifyOut,
    CheckpointDiffOut,
    CheckpointsOut,
    CloneIn,
    CloneOut,
    DirectoryListing,
    EventOut,
    EventsPage,
    FileContent,
    FileInfo,
    ImportOut,
    Liveness,
    LoginIn,
    McpServerStatusOut,
    McpStatusOut,
    OAuthProvidersOut,
    PageAuditEventOut,
    PageSessionOut,
    PageTaskOut,
    PageUserOut,
    PasswordChangeIn,
    ProfileUpdateIn,
    ProviderCredentialIn,
    ProviderCredentialOut,
    Readiness,
    RefreshIn,
    RegisterIn,
    RegistrationOut,
    RestoreIn,
    RestoreOut,
    SessionCreateIn,
    SessionModesOut,
    SessionOut,
    SessionResources,
    SessionUpdateIn,
    TaskActionIn,
    TaskCreateIn,
    TaskDetailOut,
    TaskOut,
    TicketOut,
    TokenPairOut,
    ToolOut,
    ToolResultOut,
    UserAdminUpdateIn,
    UserOut,
    VersionInfo,
    WhoAmIOut,
)

Id = UUID | str
Json = dict[str, Any]
ItemT = TypeVar("ItemT", covariant=True)

# Routes a browser follows (redirects to the provider and back), not a client library.
BROWSER_ONLY = frozenset(
    {
        ("GET", f"{API}/auth/oauth/{{provider}}/authorize"),
        ("GET", f"{API}/auth/oauth/{{provider}}/callback"),
    }
)
PAGE_SIZE = 100


@dataclass(frozen=True)
class Download:
    """A file's bytes as served, with its `ETag` (for `If-Match` on the next write)."""

    content: bytes
    etag: str | None
    content_type: str | None


def _download(response: httpx.Response) -> Download:
    return Download(
        response.content, response.headers.get("etag"), response.headers.get("content-type")
    )


def _text(response: httpx.Response) -> str:
    return response.text


def _listing(response: httpx.Response) -> DirectoryListing:
    if "json" not in response.headers.get("content-type", ""):
        raise RooError("not a directory: the service answered with a file's bytes")
    return DirectoryListing.model_validate_json(response.content)


def _conditions(if_match: str | None, if_none_match: str | None) -> dict[str, str]:
    headers = {}
    if if_match is not None:
        headers["If-Match"] = if_match
    if if_none_match is not None:
        headers["If-None-Match"] = if_none_match
    return headers


class Operations:
    """Every route of the API, as builders (see the module's docstring)."""

    # -- health and meta ------------------------------------------------------------------------

    @route("GET", "/healthz")
    def healthz(self) -> Call[Liveness]:
        return Call(parse=model(Liveness), authenticated=False)

    @route("GET", "/readyz")
    def readyz(self) -> Call[Readiness]:
        return Call(parse=model(Readiness), authenticated=False)

    @route("GET", "/metrics")
    def metrics(self) -> Call[str]:
        """The Prometheus exposition (text format): an admin, or a key with `metrics:read`."""
        return Call(parse=_text)

    @route("GET", f"{API}/version")
    def version(self) -> Call[VersionInfo]:
        return Call(parse=model(VersionInfo), authenticated=False)

    # -- authentication -------------------------------------------------------------------------

    @route("GET", f"{API}/auth/oauth/providers")
    def oauth_providers(self) -> Call[OAuthProvidersOut]:
        return Call(parse=model(OAuthProvidersOut), authenticated=False)

    @route("POST", f"{API}/auth/register", body=RegisterIn)
    def register(
        self, email: str, password: str, *, display_name: str | None = None
    ) -> Call[RegistrationOut]:
        """Register an account (202 whether or not the address had one: sign in next)."""
        json = fields(email=email, password=password, displayName=display_name)
        return Call(parse=model(RegistrationOut), json=json, authenticated=False)

    @route("POST", f"{API}/auth/login", body=LoginIn)
    def _login(self, email: str, password: str) -> Call[TokenPairOut]:
        json = fields(email=email, password=password)
        return Call(parse=model(TokenPairOut), json=json, authenticated=False)

    @route("POST", f"{API}/auth/refresh", body=RefreshIn)
    def _refresh(self, refresh_token: str) -> Call[TokenPairOut]:
        json = fields(refreshToken=refresh_token)
        return Call(parse=model(TokenPairOut), json=json, authenticated=False)

    @route("POST", f"{API}/auth/logout")
    def _logout(self) -> Call[None]:
        return Call(parse=nothing)

    @route("GET", f"{API}/auth/profile")
    def get_profile(self) -> Call[UserOut]:
        return Call(parse=model(UserOut))

    @route("PUT", f"{API}/auth/profile", body=ProfileUpdateIn)
    def update_profile(
        self, *, display_name: str | None = None, preferences: Mapping[str, Any] | None = None
    ) -> Call[UserOut]:
        json = fields(displayName=display_name, preferences=preferences)
        return Call(parse=model(UserOut), json=json)

    @route("GET", f"{API}/auth/whoami")
    def whoami(self) -> Call[WhoAmIOut]:
        return Call(parse=model(WhoAmIOut))

    @route("PUT", f"{API}/auth/password", body=PasswordChangeIn)
    def change_password(
        self, current_password: str, new_password: str, *, revoke_api_keys: bool | None = None
    ) -> Call[None]:
        json = fields(currentPassword=current_password, newPassword=new_password,
            revokeApiKeys=revoke_api_keys,
        )  # fmt: skip
        return Call(parse=nothing, json=json)

    @route("GET", f"{API}/auth/api-keys")
    def list_api_keys(self) -> Call[list[ApiKeyOut]]:
        return Call(parse=many(ApiKeyOut))

    @route("POST", f"{API}/auth/api-keys", body=ApiKeyCreateIn)
    def create_api_key(
        self, name: str, scopes: Sequence[str], *, expires_at: str | None = None
    ) -> Call[ApiKeyCreatedOut]:
        """A new API key; its secret (`key`) is in this answer only."""
        json = fields(name=name, scopes=list(scopes), expiresAt=expires_at)
        return Call(parse=model(ApiKeyCreatedOut), json=json)

    @route("DELETE", f"{API}/auth/api-keys/{{key_id}}")
    def revoke_api_key(self, key_id: Id) -> Call[None]:
        return Call(parse=nothing, path={"key_id": key_id})

    # -- administration and audit ---------------------------------------------------------------

    @route("GET", f"{API}/users")
    def list_users(
        self, *, limit: int | None = None, offset: int | None = None
    ) -> Call[PageUserOut]:
        return Call(parse=model(PageUserOut), params={"limit": limit, "offset": offset})

    @route("PATCH", f"{API}/users/{{user_id}}", body=UserAdminUpdateIn)
    def update_user(
        self, user_id: Id, *, roles: Sequence[str] | None = None, disabled: bool | None = None,
        display_name: str | None = None,
    ) -> Call[UserOut]:  # fmt: skip
        json = fields(roles=list(roles) if roles is not None else None,
            disabled=disabled, displayName=display_name,
        )  # fmt: skip
        return Call(parse=model(UserOut), path={"user_id": user_id}, json=json)

    @route("DELETE", f"{API}/users/{{user_id}}/sign-in-failures")
    def clear_sign_in_failures(self, user_id: Id) -> Call[None]:
        return Call(parse=nothing, path={"user_id": user_id})

    @route("GET", f"{API}/auth/audit")
    def own_audit(
        self, *, action: str | None = None, outcome: str | None = None, target: str | None = None,
        session: Id | None = None, since: str | None = None, until: str | None = None,
        limit: int | None = None, offset: int | None = None,
    ) -> Call[PageAuditEventOut]:  # fmt: skip
        params = {"action": action, "outcome": outcome, "target": target, "session": session,
                      "since": since, "until": until, "limit": limit, "offset": offset}  # fmt: skip
        return Call(parse=model(PageAuditEventOut), params=params)

    @route("GET", f"{API}/admin/audit")
    def list_audit(
        self, *, actor: Id | None = None, action: str | None = None, outcome: str | None = None,
        target: str | None = None, session: Id | None = None, since: str | None = None,
        until: str | None = None, limit: int | None = None, offset: int | None = None,
    ) -> Call[PageAuditEventOut]:  # fmt: skip
        params = {
            "actor": actor, "action": action, "outcome": outcome, "target": target,
            "session": session, "since": since, "until": until, "limit": limit, "offset": offset,
        }  # fmt: skip
        return Call(parse=model(PageAuditEventOut), params=params)

    @route("GET", f"{API}/admin/audit/verify")
    def verify_audit(self) -> Call[ChainVerifyOut]:
        return Call(parse=model(ChainVerifyOut))

    # -- provider credentials -------------------------------------------------------------------

    @route("GET", f"{API}/auth/providers")
    def list_credentials(self) -> Call[list[ProviderCredentialOut]]:
        return Call(parse=many(ProviderCredentialOut))

    @route("PUT", f"{API}/auth/providers/{{provider}}", body=ProviderCredentialIn)
    def put_credential(
        self, provider: str, *, api_key: str | None = None, base_url: str | None = None
    ) -> Call[ProviderCredentialOut]:
        json = fields(apiKey=api_key, baseUrl=base_url)
        return Call(parse=model(ProviderCredentialOut), path={"provider": provider}, json=json)

    @route("DELETE", f"{API}/auth/providers/{{provider}}")
    def delete_credential(self, provider: str) -> Call[None]:
        return Call(parse=nothing, path={"provider": provider})

    # -- sessions -------------------------------------------------------------------------------

    @route("GET", f"{API}/sessions")
    def list_sessions(
        self, *, state: str | None = None, q: str | None = None, limit: int | None = None,
        offset: int | None = None,
    ) -> Call[PageSessionOut]:  # fmt: skip
        params = {"state": state, "q": q, "limit": limit, "offset": offset}
        return Call(parse=model(PageSessionOut), params=params)

    @route("POST", f"{API}/sessions", body=SessionCreateIn)
    def create_session(
        self, name: str | None = None, *, config: Mapping[str, Any] | None = None
    ) -> Call[SessionOut]:
        """A new session. `config` as `SessionConfigIn` (mode, provider, model,
        approvalPolicy, limits, network, customInstructions), by the API's names."""
        json = fields(name=name, config=config)
        return Call(parse=model(SessionOut), json=json)

    @route("GET", f"{API}/sessions/{{session_id}}")
    def get_session(self, session_id: Id) -> Call[SessionOut]:
        return Call(parse=model(SessionOut), path={"session_id": session_id})

    @route("PUT", f"{API}/sessions/{{session_id}}", body=SessionUpdateIn)
    def update_session(
        self, session_id: Id, *, name: str | None = None, config: Mapping[str, Any] | None = None,
        state: str | None = None,
    ) -> Call[SessionOut]:  # fmt: skip
        json = fields(name=name, config=config, state=state)
        return Call(parse=model(SessionOut), path={"session_id": session_id}, json=json)

    @route("DELETE", f"{API}/sessions/{{session_id}}")
    def delete_session(self, session_id: Id) -> Call[None]:
        return Call(parse=nothing, path={"session_id": session_id})

    @route("GET", f"{API}/sessions/{{session_id}}/resources")
    def session_resources(self, session_id: Id) -> Call[SessionResources]:
        return Call(parse=model(SessionResources), path={"session_id": session_id})

    @route("GET", f"{API}/sessions/{{session_id}}/modes")
    def session_modes(self, session_id: Id) -> Call[SessionModesOut]:
        return Call(parse=model(SessionModesOut), path={"session_id": session_id})

    @route("GET", f"{API}/sessions/{{session_id}}/mcp")
    def session_mcp(self, session_id: Id) -> Call[McpStatusOut]:
        """The session's MCP servers in the answering process: status, tools, resources."""
        return Call(parse=model(McpStatusOut), path={"session_id": session_id})

    @route("POST", f"{API}/sessions/{{session_id}}/mcp/{{server}}/restart")
    def restart_mcp_server(self, session_id: Id, server: str) -> Call[McpServerStatusOut]:
        return Call(
            parse=model(McpServerStatusOut), path={"session_id": session_id, "server": server}
        )

    @route("POST", f"{API}/sessions/{{session_id}}/workspace/import")
    def import_workspace(
        self, session_id: Id, archive: bytes,
        content_type: Literal[
            "application/gzip", "application/zip", "application/x-tar", "application/x-bzip2",
            "application/x-xz",
        ] = "application/gzip",
    ) -> Call[ImportOut]:  # fmt: skip
        return Call(
            parse=model(ImportOut), path={"session_id": session_id}, content=archive,
            headers={"Content-Type": content_type},
        )  # fmt: skip

    @route("POST", f"{API}/sessions/{{session_id}}/workspace/clone", body=CloneIn)
    def clone_workspace(
        self, session_id: Id, url: str, *, ref: str | None = None
    ) -> Call[CloneOut]:
        json = fields(url=url, ref=ref)
        return Call(parse=model(CloneOut), path={"session_id": session_id}, json=json)

    @route("GET", f"{API}/admin/sessions")
    def admin_list_sessions(
        self, *, state: str | None = None, limit: int | None = None, offset: int | None = None
    ) -> Call[PageSessionOut]:
        params = {"state": state, "limit": limit, "offset": offset}
        return Call(parse=model(PageSessionOut), params=params)

    # -- files ----------------------------------------------------------------------------------

    @route("GET", f"{API}/sessions/{{session_id}}/files")
    def list_files(
        self, session_id: Id, *, recursive: bool | None = None, limit: int | None = None
    ) -> Call[DirectoryListing]:
        """The workspace's root directory."""
        params = {"recursive": recursive, "limit": limit}
        return Call(parse=_listing, path={"session_id": session_id}, params=params)

    @route("GET", f"{API}/sessions/{{session_id}}/files/{{path}}")
    def list_directory(
        self, session_id: Id, path: str, *, recursive: bool | None = None, limit: int | None = None
    ) -> Call[DirectoryListing]:
        params = {"recursive": recursive, "limit": limit}
        return Call(parse=_listing, path={"session_id": session_id, "path": path}, params=params)

    @route("GET", f"{API}/sessions/{{session_id}}/files/{{path}}")
    def download_file(
        self, session_id: Id, path: str, *, if_none_match: str | None = None
    ) -> Call[Download]:
        """A file's bytes and ETag."""
        return Call(
            parse=_download, path={"session_id": session_id, "path": path},
            headers={"Accept": "application/octet-stream", **_conditions(None, if_none_match)},
        )  # fmt: skip

    @route("GET", f"{API}/sessions/{{session_id}}/files/{{path}}")
    def read_file(self, session_id: Id, path: str) -> Call[FileContent]:
        """A file as JSON (`?format=json`: text, or base64 for binary content)."""
        return Call(
            parse=model(FileContent), path={"session_id": session_id, "path": path},
            params={"format": "json"},
        )  # fmt: skip

    @route("PUT", f"{API}/sessions/{{session_id}}/files/{{path}}")
    def upload_file(
        self, session_id: Id, path: str, content: bytes, *, parents: bool | None = None,
        if_match: str | None = None, if_none_match: str | None = None,
    ) -> Call[FileInfo]:  # fmt: skip
        """Create or replace a file. `if_match` (an ETag, or `*`) replaces it only if it is
        still that version (else `PreconditionFailed`); `if_none_match="*"` only creates."""
        return Call(
            parse=model(FileInfo), path={"session_id": session_id, "path": path},
            params={"parents": parents}, content=content,
            headers={"Content-Type": "application/octet-stream",
                     **_conditions(if_match, if_none_match)},
        )  # fmt: skip

    @route("POST", f"{API}/sessions/{{session_id}}/files/{{path}}")
    def create_path(
        self, session_id: Id, path: str, *, type: Literal["file", "directory"] = "directory",
        content: bytes = b"", parents: bool | None = None,
    ) -> Call[FileInfo]:  # fmt: skip
        """Create a directory (or a file that must not exist yet)."""
        return Call(
            parse=model(FileInfo), path={"session_id": session_id, "path": path},
            params={"type": type, "parents": parents}, content=content,
            headers={"Content-Type": "application/octet-stream"},
        )  # fmt: skip

    @route("DELETE", f"{API}/sessions/{{session_id}}/files/{{path}}")
    def delete_file(
        self, session_id: Id, path: str, *, recursive: bool | None = None
    ) -> Call[None]:
        """Delete a file, a link or a directory (`recursive` when it is not empty). (The route
        has no `If-Match`: docs/client.md, "Known limits".)"""
        return Call(
            parse=nothing, path={"session_id": session_id, "path": path},
            params={"recursive": recursive},
        )  # fmt: skip

    # -- tools ----------------------------------------------------------------------------------

    @route("GET", f"{API}/tools")
    def list_tools(self) -> Call[list[ToolOut]]:
        return Call(parse=many(ToolOut))

    @route("GET", f"{API}/tools/{{tool_name}}")
    def get_tool(self, tool_name: str) -> Call[ToolOut]:
        return Call(parse=model(ToolOut), path={"tool_name": tool_name})

    @route("POST", f"{API}/sessions/{{session_id}}/tools/{{tool_name}}")
    def run_tool(
        self, session_id: Id, tool_name: str, params: Mapping[str, Any] | None = None
    ) -> Call[ToolResultOut]:
        return Call(
            parse=model(ToolResultOut), path={"session_id": session_id, "tool_name": tool_name},
            json=dict(params or {}),
        )  # fmt: skip

    # -- tasks ----------------------------------------------------------------------------------

    @route("POST", f"{API}/sessions/{{session_id}}/tasks", body=TaskCreateIn)
    def create_task(
        self, session_id: Id, input: str, *, images: Sequence[str] | None = None,
        mode: str | None = None, provider: str | None = None, model_name: str | None = None,
    ) -> Call[TaskOut]:  # fmt: skip
        """Start a task (202: it runs in the background; follow it with `events`)."""
        config = {"mode": mode, "provider": provider, "model": model_name}
        config = {k: v for k, v in config.items() if v is not None}
        json = fields(input=input, images=list(images) if images is not None else None,
            config=config or None,
        )  # fmt: skip
        return Call(parse=model(TaskOut), path={"session_id": session_id}, json=json)

    @route("GET", f"{API}/sessions/{{session_id}}/tasks")
    def list_tasks(
        self, session_id: Id, *, state: str | None = None, limit: int | None = None,
        offset: int | None = None,
    ) -> Call[PageTaskOut]:  # fmt: skip
        params = {"state": state, "limit": limit, "offset": offset}
        return Call(parse=model(PageTaskOut), path={"session_id": session_id}, params=params)

    @route("GET", f"{API}/sessions/{{session_id}}/tasks/{{task_id}}")
    def get_task(self, session_id: Id, task_id: Id) -> Call[TaskDetailOut]:
        return Call(parse=model(TaskDetailOut), path={"session_id": session_id, "task_id": task_id})

    @route("PUT", f"{API}/sessions/{{session_id}}/tasks/{{task_id}}", body=TaskActionIn)
    def act(
        self, session_id: Id, task_id: Id,
        action: Literal["approve", "approve_always", "deny", "answer", "message", "resume",
                        "condense"],
        *, approval_id: Id | None = None, text: str | None = None, feedback: str | None = None,
    ) -> Call[TaskOut]:  # fmt: skip
        """An action on a task (docs/tasks.md, "Actions"); the helpers below name each."""
        json = fields(action=action, approvalId=str(approval_id) if approval_id else None,
            text=text, feedback=feedback,
        )  # fmt: skip
        return Call(
            parse=model(TaskOut), path={"session_id": session_id, "task_id": task_id}, json=json
        )

    @route("PUT", f"{API}/sessions/{{session_id}}/tasks/{{task_id}}", body=TaskActionIn)
    def approve(
        self, session_id: Id, task_id: Id, approval_id: Id | None = None, *,
        always: bool = False, feedback: str | None = None,
    ) -> Call[TaskOut]:  # fmt: skip
        action = "approve_always" if always else "approve"
        return Operations.act.build(self, session_id, task_id, action,
                                    approval_id=approval_id, feedback=feedback)  # fmt: skip

    @route("PUT", f"{API}/sessions/{{session_id}}/tasks/{{task_id}}", body=TaskActionIn)
    def deny(
        self, session_id: Id, task_id: Id, approval_id: Id | None = None, *,
        feedback: str | None = None,
    ) -> Call[TaskOut]:  # fmt: skip
        return Operations.act.build(self, session_id, task_id, "deny",
                                    approval_id=approval_id, feedback=feedback)  # fmt: skip

    @route("PUT", f"{API}/sessions/{{session_id}}/tasks/{{task_id}}", body=TaskActionIn)
    def answer(
        self, session_id: Id, task_id: Id, text: str, approval_id: Id | None = None
    ) -> Call[TaskOut]:
        return Operations.act.build(self, session_id, task_id, "answer", approval_id=approval_id,
                                    text=text)  # fmt: skip

    @route("PUT", f"{API}/sessions/{{session_id}}/tasks/{{task_id}}", body=TaskActionIn)
    def message(self, session_id: Id, task_id: Id, text: str) -> Call[TaskOut]:
        """A message: joins the running task's next turn, answers a question, or continues a
        completed task's conversation (docs/tasks.md)."""
        return Operations.act.build(self, session_id, task_id, "message", text=text)

    @route("PUT", f"{API}/sessions/{{session_id}}/tasks/{{task_id}}", body=TaskActionIn)
    def continue_(self, session_id: Id, task_id: Id, text: str) -> Call[TaskOut]:
        """Continue a completed task's conversation (the `message` action)."""
        return Operations.act.build(self, session_id, task_id, "message", text=text)

    @route("PUT", f"{API}/sessions/{{session_id}}/tasks/{{task_id}}", body=TaskActionIn)
    def resume(self, session_id: Id, task_id: Id, text: str | None = None) -> Call[TaskOut]:
        return Operations.act.build(self, session_id, task_id, "resume", text=text)

    @route("PUT", f"{API}/sessions/{{session_id}}/tasks/{{task_id}}", body=TaskActionIn)
    def condense(self, session_id: Id, task_id: Id) -> Call[TaskOut]:
        return Operations.act.build(self, session_id, task_id, "condense")

    @route("DELETE", f"{API}/sessions/{{session_id}}/tasks/{{task_id}}")
    def cancel(self, session_id: Id, task_id: Id) -> Call[Json | None]:
        """Cancel a running task (its detail, 200); a finished one is deleted (None, 204)."""
        return Call(parse=json_or_none, path={"session_id": session_id, "task_id": task_id})

    # -- checkpoints ----------------------------------------------------------------------------

    @route("GET", f"{API}/sessions/{{session_id}}/tasks/{{task_id}}/checkpoints")
    def checkpoints(self, session_id: Id, task_id: Id) -> Call[CheckpointsOut]:
        """The task's workspace snapshots, by step (docs/checkpoints.md)."""
        return Call(
            parse=model(CheckpointsOut), path={"session_id": session_id, "task_id": task_id}
        )

    @route(
        "GET", f"{API}/sessions/{{session_id}}/tasks/{{task_id}}/checkpoints/{{checkpoint_id}}/diff"
    )
    def checkpoint_diff(
        self, session_id: Id, task_id: Id, checkpoint_id: Id, against: Id = "current"
    ) -> Call[CheckpointDiffOut]:  # fmt: skip
        """A unified diff from the checkpoint to the workspace now (`current`) or to another
        checkpoint of the task."""
        path = {"session_id": session_id, "task_id": task_id, "checkpoint_id": checkpoint_id}
        return Call(parse=model(CheckpointDiffOut), path=path, params={"against": str(against)})

    @route(
        "POST",
        f"{API}/sessions/{{session_id}}/tasks/{{task_id}}/checkpoints/{{checkpoint_id}}/restore",
        body=RestoreIn,
    )
    def restore_checkpoint(
        self, session_id: Id, task_id: Id, checkpoint_id: Id, *, conversation: bool = False
    ) -> Call[RestoreOut]:  # fmt: skip
        """Restore the workspace's files to the checkpoint; with `conversation`, the task's
        conversation too (refused, 409, while a task of the session is active)."""
        path = {"session_id": session_id, "task_id": task_id, "checkpoint_id": checkpoint_id}
        return Call(parse=model(RestoreOut), path=path, json={"conversation": conversation})

    # -- events ---------------------------------------------------------------------------------

    @route("GET", f"{API}/sessions/{{session_id}}/events")
    def events(
        self, session_id: Id, *, after: int | None = None, limit: int | None = None
    ) -> Call[EventsPage]:
        """A page of the session's event log after `after` (a `seq`)."""
        params = {"after": after, "limit": limit}
        return Call(parse=model(EventsPage), path={"session_id": session_id}, params=params)

    @route("POST", f"{API}/sessions/{{session_id}}/ws-ticket")
    def ws_ticket(self, session_id: Id) -> Call[TicketOut]:
        """A one-use ticket for the session's WebSocket or SSE stream (`?ticket=`)."""
        return Call(parse=model(TicketOut), path={"session_id": session_id})


class _Page(Protocol[ItemT]):
    @property
    def items(self) -> Sequence[ItemT]: ...
    @property
    def total(self) -> int: ...


def _client_args(
    api_key: str | None, token: str | None, refresh_token: str | None,
    headers: Mapping[str, str] | None,
) -> tuple[Credentials, dict[str, str]]:  # fmt: skip
    if api_key and token:
        raise ValueError("give an API key or an access token, not both")
    credentials = Credentials(api_key=api_key, access_token=token, refresh_token=refresh_token)
    return credentials, {"User-Agent": USER_AGENT, **(headers or {})}


def oauth_authorize_url(base_url: str, provider: str, *, next: str | None = None) -> str:
    """The URL a browser opens to sign in with `provider` (docs/oauth.md)."""
    query = f"?{urlencode({'next': next})}" if next else ""
    return f"{base_url.rstrip('/')}{API}/auth/oauth/{quote(provider, safe='')}/authorize{query}"


class AsyncRooClient(Operations, AsyncTransport):
    """The API over `httpx.AsyncClient`. Use as `async with AsyncRooClient(url) as roo:`.

    Authenticate with `api_key=` (sent as `X-API-Key`), with `token=` (and `refresh_token=`),
    or by `await roo.login(email, password)`. An access token that has expired is refreshed
    once with the refresh token and the request retried, for concurrent callers once between
    them; errors raise `roo.client.errors.RooApiError` subclasses.
    """

    def __init__(
        self, base_url: str, *, api_key: str | None = None, token: str | None = None,
        refresh_token: str | None = None, timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None, headers: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        credentials, default_headers = _client_args(api_key, token, refresh_token, headers)
        http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, transport=transport, headers=default_headers
        )
        super().__init__(http, credentials)
        self.base_url = base_url.rstrip("/")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def login(self, email: str, password: str) -> TokenPairOut:
        """Sign in; the client then uses (and refreshes) the tokens."""
        pair = await self._login(email, password)
        self.credentials.access_token, self.credentials.refresh_token = (
            pair.token,
            pair.refresh_token,
        )
        self.credentials.api_key = None
        return pair

    async def refresh(self) -> TokenPairOut:
        """Renew the tokens now (the client also does it by itself when the access one expires)."""
        if not self.credentials.refresh_token:
            raise RooError("no refresh token: sign in first")
        async with self._refresh_lock:
            pair = await self._refresh(self.credentials.refresh_token)
            self.credentials.access_token = pair.token
            self.credentials.refresh_token = pair.refresh_token
        return pair

    async def logout(self) -> None:
        """Revoke this sign-in's tokens (refresh family) and forget them."""
        try:
            await self._logout()
        finally:
            self.credentials.access_token = self.credentials.refresh_token = None

    def oauth_authorize_url(self, provider: str, *, next: str | None = None) -> str:
        return oauth_authorize_url(self.base_url, provider, next=next)

    # -- pagination -------------------------------------------------------------------------

    async def paginate(
        self, fetch: Callable[[int, int], Awaitable[_Page[ItemT]]], *, page_size: int = PAGE_SIZE
    ) -> AsyncIterator[ItemT]:
        """Every item of a list route, page by page: `fetch(limit, offset)` gets one page."""
        offset = 0
        while True:
            page = await fetch(page_size, offset)
            for item in page.items:
                yield item
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    def iter_sessions(self, *, state: str | None = None, q: str | None = None,
                      page_size: int = PAGE_SIZE) -> AsyncIterator[SessionOut]:  # fmt: skip
        return self.paginate(
            lambda limit, offset: self.list_sessions(state=state, q=q, limit=limit, offset=offset),
            page_size=page_size,
        )

    def iter_tasks(self, session_id: Id, *, state: str | None = None,
                   page_size: int = PAGE_SIZE) -> AsyncIterator[TaskOut]:  # fmt: skip
        return self.paginate(
            lambda limit, offset: self.list_tasks(
                session_id, state=state, limit=limit, offset=offset
            ),
            page_size=page_size,
        )

    def iter_users(self, *, page_size: int = PAGE_SIZE) -> AsyncIterator[UserOut]:
        return self.paginate(
            lambda limit, offset: self.list_users(limit=limit, offset=offset), page_size=page_size
        )

    async def iter_events(
        self, session_id: Id, *, after: int = 0, page_size: int = PAGE_SIZE
    ) -> AsyncIterator[EventOut]:
        """The session's event log after `after`, as stored now (no waiting: `follow` for that)."""
        while True:
            page = await self.events(session_id, after=after, limit=page_size)
            for event in page.items:
                yield event
            after = page.next_after
            if not page.has_more:
                return

    def follow(
        self, session_id: Id, *, after: int = 0, transport: Literal["auto", "ws", "sse"] = "auto"
    ) -> AsyncIterator[EventOut]:
        """The session's events after `after`, live, for as long as the caller iterates: each
        once, in `seq` order, across reconnects (`roo.client.events.follow`)."""
        from roo.client.events import follow

        return follow(self, session_id, after=after, transport=transport)


class RooClient(Operations, SyncTransport):
    """The API over `httpx.Client`: `AsyncRooClient`'s methods, blocking. Thread-safe as
    `httpx.Client` is; token refresh is serialised by a lock."""

    def __init__(
        self, base_url: str, *, api_key: str | None = None, token: str | None = None,
        refresh_token: str | None = None, timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None, headers: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        credentials, default_headers = _client_args(api_key, token, refresh_token, headers)
        http = httpx.Client(
            base_url=base_url, timeout=timeout, transport=transport, headers=default_headers
        )
        super().__init__(http, credentials)
        self.base_url = base_url.rstrip("/")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def login(self, email: str, password: str) -> TokenPairOut:
        pair = self._login(email, password)
        self.credentials.access_token, self.credentials.refresh_token = (
            pair.token,
            pair.refresh_token,
        )
        self.credentials.api_key = None
        return pair

    def refresh(self) -> TokenPairOut:
        if not self.credentials.refresh_token:
            raise RooError("no refresh token: sign in first")
        with self._refresh_lock:
            pair = self._refresh(self.credentials.refresh_token)
            self.credentials.access_token = pair.token
            self.credentials.refresh_token = pair.refresh_token
        return pair

    def logout(self) -> None:
        try:
            self._logout()
        finally:
            self.credentials.access_token = self.credentials.refresh_token = None

    def oauth_authorize_url(self, provider: str, *, next: str | None = None) -> str:
        return oauth_authorize_url(self.base_url, provider, next=next)

    def paginate(
        self, fetch: Callable[[int, int], _Page[ItemT]], *, page_size: int = PAGE_SIZE
    ) -> Iterator[ItemT]:
        offset = 0
        while True:
            page = fetch(page_size, offset)
            yield from page.items
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    def iter_sessions(self, *, state: str | None = None, q: str | None = None,
                      page_size: int = PAGE_SIZE) -> Iterator[SessionOut]:  # fmt: skip
        return self.paginate(
            lambda limit, offset: self.list_sessions(state=state, q=q, limit=limit, offset=offset),
            page_size=page_size,
        )

    def iter_tasks(self, session_id: Id, *, state: str | None = None,
                   page_size: int = PAGE_SIZE) -> Iterator[TaskOut]:  # fmt: skip
        return self.paginate(
            lambda limit, offset: self.list_tasks(
                session_id, state=state, limit=limit, offset=offset
            ),
            page_size=page_size,
        )

    def iter_users(self, *, page_size: int = PAGE_SIZE) -> Iterator[UserOut]:
        return self.paginate(
            lambda limit, offset: self.list_users(limit=limit, offset=offset), page_size=page_size
        )

    def iter_events(
        self, session_id: Id, *, after: int = 0, page_size: int = PAGE_SIZE
    ) -> Iterator[EventOut]:
        while True:
            page = self.events(session_id, after=after, limit=page_size)
            yield from page.items
            after = page.next_after
            if not page.has_more:
                return
