"""A session's MCP servers for the runner, the tools API and the MCP endpoints: its config's
servers and its workspace's `.roo/mcp.json` (read in a thread, through the path guard), the
hub's connections, the sandbox that runs stdio servers, and the audit of each call."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.agent.tools.base import Tool
from roo.agent.tools.mcp import McpFunctionTool, function_name
from roo.agent.tools.registry import ToolRegistry
from roo.db.engine import unit_of_work
from roo.db.models import Session
from roo.mcp.cluster import McpCluster, best, entry_view
from roo.mcp.config import McpConfigError, ServerConfigIn, merged, read_mcp_json, session_servers
from roo.mcp.hub import BoundMcp, McpHub, ServerView, SessionMcp
from roo.mcp.schemas import McpResourceOut, McpServerStatusOut, McpStatusOut, McpToolOut
from roo.mcp.transport import StartProcess
from roo.sandbox import ProcessResult, StdinPipe
from roo.security.audit import record
from roo.security.egress import EgressPolicy, EgressRefused
from roo.security.secrets_box import SecretBox
from roo.sessions.service import SessionManager

Audit = Callable[[str, dict[str, Any]], Awaitable[None]]


class McpService:
    def __init__(
        self,
        hub: McpHub,
        manager: SessionManager,
        box: SecretBox,
        db_sessions: async_sessionmaker[AsyncSession],
        cluster: McpCluster | None = None,
    ) -> None:
        self.hub = hub
        self.manager = manager
        self.box = box
        self.db_sessions = db_sessions
        # the other processes' servers (None: one process, embedded)
        self.cluster = cluster

    def _sandbox(
        self, session: Session
    ) -> Callable[[list[str], str, Mapping[str, str]], StartProcess]:
        """Runs a stdio server's command in the session's sandbox: its cgroup and limits, its
        network setting, outside its command slots (the agent's commands never wait for it)."""

        def starter(argv: list[str], cwd: str, env: Mapping[str, str]) -> StartProcess:
            async def start(
                pipe: StdinPipe, on_output: Callable[[str, bytes], Awaitable[None]]
            ) -> ProcessResult:
                return await self.manager.run_command(
                    session,
                    argv,
                    cwd=cwd,
                    env=dict(env),
                    stdin=pipe,
                    on_output=on_output,
                    use_slot=False,
                )

            return start

        return starter

    async def session(self, session: Session) -> SessionMcp:
        """The session's servers in this process, configured from its current config and
        workspace (no database connection is held: `session` is a loaded row)."""
        workspace = self.manager.workspaces.path(session.workspace_dir)
        configured = session_servers(session.config or {}, self.box)
        error: str | None = None
        try:
            found = await asyncio.to_thread(read_mcp_json, workspace)
        except McpConfigError as exc:
            found, error = [], str(exc)
        servers = merged(configured, found)
        mcp = self.hub.session(session.id, self._sandbox(session), keep=bool(servers))
        await mcp.configure(servers, error)
        return mcp

    async def reload(self, session_id: uuid.UUID) -> SessionMcp | None:
        """The session's servers configured from its current row (None: it is gone); the row
        is read in a short unit of work of its own."""
        async with unit_of_work(self.db_sessions) as db:
            session = await db.get(Session, session_id)
        return None if session is None else await self.session(session)

    async def status(self, session: Session) -> McpStatusOut:
        """The session's servers as this process and, with several processes, the others hold
        them: for each server, the best status (`roo.mcp.cluster.best`)."""
        mcp = await self.session(session)
        views = mcp.views()
        if self.cluster is not None:
            states = await self.cluster.states(session.id)
            views = [
                view
                if view.disabled or view.name not in states
                else best([view, *(entry_view(e, view, mcp) for e in states[view.name].values())])
                for view in views
            ]
        return McpStatusOut(
            servers=[server_out(view) for view in views], workspace_error=mcp.config_error
        )

    async def restart(self, session: Session, name: str) -> ServerView | None:
        """Stop the server and start it again now: where it runs (this process and any other
        that holds it), or here when it runs nowhere. None: no such server."""
        mcp = await self.session(session)
        if name not in mcp.servers:
            return None
        local = next(v for v in mcp.views() if v.name == name)
        states = await self.cluster.states(session.id) if self.cluster is not None else {}
        holders = [p for p, e in states.get(name, {}).items() if e.get("status") != "stopped"]
        views: list[ServerView] = []
        missing = 0
        if holders and self.cluster is not None:
            outcome = await self.cluster.restart(session.id, name, holders)
            missing = outcome.missing
            views += [entry_view(e, local, mcp) for e in outcome.answered if e is not None]
        if name in mcp.connections or (not views and not missing):
            await mcp.restart(name)
            views.append(next(v for v in mcp.views() if v.name == name))
        if views:
            return best(views)
        wait = self.cluster.answer_seconds if self.cluster is not None else 0
        local.status = "starting"
        local.error = (
            f"the restart was asked of the process that runs the server; it did not answer "
            f"within {wait:g} s (GET .../mcp shows its status)"
        )
        return local

    def auditor(self, user_id: uuid.UUID, session_id: uuid.UUID) -> Audit:
        """Writes one audit row per MCP call, in a short unit of work of its own."""

        async def audit(action: str, detail: dict[str, Any]) -> None:
            async with unit_of_work(self.db_sessions, writes=True) as db:
                await record(
                    db,
                    action,
                    actor_id=user_id,
                    target=f"session:{session_id}",
                    outcome="failure" if detail.get("is_error") else "success",
                    **detail,
                )

        return audit

    async def for_run(
        self, session: Session, registry: ToolRegistry, user_id: uuid.UUID
    ) -> tuple[BoundMcp, ToolRegistry, list[ServerView]]:
        """At a task's start: the session's servers started (each within its start timeout),
        the registry with their tools as `mcp--server--tool` functions (and
        access_mcp_resource offered when one has resources), and their status."""
        mcp = await self.session(session)
        await mcp.start_all()
        tools: list[Tool] = [McpFunctionTool(info) for info in mcp.tool_infos()]
        show = ["access_mcp_resource"] if mcp.has_resources() else []
        cap = self.manager.limits(session).max_output_bytes
        bound = BoundMcp(mcp, self.auditor(user_id, session.id), cap)
        return bound, registry.extended(tools, show=show), mcp.views()

    async def stop_session(self, session_id: uuid.UUID) -> None:
        await self.hub.stop_session(session_id)


async def check_urls(egress: EgressPolicy, servers: Mapping[str, ServerConfigIn]) -> str | None:
    """Why a remote server's URL may not be stored (the rules of provider base URLs), or None."""
    for name, server in servers.items():
        if server.remote and server.url:
            try:
                await egress.check_url(server.url)
            except EgressRefused as exc:
                return f"mcpServers.{name}.url: {exc}"
    return None


def server_out(view: ServerView) -> McpServerStatusOut:
    return McpServerStatusOut(
        name=view.name,
        source=view.source,
        type=view.type,
        status=view.status,
        error=view.error,
        tools=[
            McpToolOut(
                name=t.name,
                function_name=function_name(view.name, t.name),
                description=t.description,
                input_schema=t.input_schema,
                enabled=t.enabled,
                always_allow=t.always_allow,
            )
            for t in view.tools
        ],
        resources=[
            McpResourceOut(
                uri=x.uri,
                name=x.name,
                mime_type=x.mime_type,
                description=x.description,
                template=x.template,
            )
            for x in view.resources
        ],
        started_at=view.started_at,
        timeout=view.timeout,
    )
