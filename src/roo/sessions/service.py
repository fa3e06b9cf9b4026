"""`SessionManager`: sessions in the database, workspaces on disk, limits within quotas.

The database is the source of truth (a restart loses nothing); every query filters by owner, so
another user's session is simply not found.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import TypeAdapter
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from roo.auth.identity import Principal
from roo.db.engine import after_commit
from roo.db.models import Session, User
from roo.db.types import new_id, utcnow
from roo.kit.logs import get_logger, redact_text
from roo.kit.schema import Page
from roo.mcp.config import seal
from roo.sandbox import ProcessResult, Sandbox, SandboxBusy
from roo.sandbox import ResourceLimits as SandboxLimits
from roo.security.audit import ClientInfo, record
from roo.security.egress import ALLOWED_HOSTS_SETTING, EgressPolicy, EgressRefused
from roo.security.secrets_box import SecretBox
from roo.security.session_limits import Budgets, CommandBudgetSpent, SessionRateLimited
from roo.sessions import exceptions as exc
from roo.sessions.importer import ArchiveRejected, ImportResult, import_archive
from roo.sessions.quotas import DEFAULT_MAX_FILES, DEFAULTS, quota_for, stored_config
from roo.sessions.schemas import (
    STORED_MAX_FILES,
    CommandsUsage,
    ResourceLimitsOut,
    SessionConfigIn,
    SessionOut,
)
from roo.sessions.workspace import WorkspaceManager, workspace_name

log = get_logger("roo.sessions")

# The largest single file a command may write, unless the disk quota is smaller.
DEFAULT_MAX_FILE_MB = 256
# How fine `last_active_at` is kept (`SessionManager.touch`): far below the idle timeout
# (ROO_SESSION_IDLE_AFTER, 1 h) and the janitor's round (ROO_CLEANUP_INTERVAL, 5 min).
ACTIVITY_RESOLUTION = timedelta(seconds=5)


class SessionManager:
    def __init__(
        self,
        workspaces: WorkspaceManager,
        sandbox: Sandbox,
        *,
        allow_network: bool = False,
        default_max_files: int = DEFAULT_MAX_FILES,
        mcp_secrets: SecretBox | None = None,
        budgets: Budgets | None = None,
    ) -> None:
        self.workspaces = workspaces
        # The session-commands budget (roo.security.session_limits); None: commands uncounted.
        self.budgets = budgets
        self.sandbox = sandbox
        # What a session that asks for nothing gets (ROO_SESSION_MAX_FILES for the file count).
        self.defaults = dataclasses.replace(DEFAULTS, max_files=default_max_files)
        # With network, a sandboxed command shares the host's network: it could reach the
        # service's own database or Redis on loopback. Off unless the operator allows it.
        self.allow_network = allow_network
        # Encrypts the MCP servers' env and headers values in session configs (roo.mcp.config)
        self.mcp_secrets = mcp_secrets
        # Commands running now, per session, in this process (the resources view reports it).
        self._running: Counter[uuid.UUID] = Counter()

    # -- commands ---------------------------------------------------------------------------

    def sandbox_limits(self, session: Session) -> SandboxLimits:
        """The sandbox's limits for the session's commands: the session's limits (the same
        names), plus a file size bound no larger than its disk quota."""
        limits = self.limits(session)
        return SandboxLimits(
            **limits.model_dump(by_alias=False),
            max_file_mb=min(limits.max_disk_mb, DEFAULT_MAX_FILE_MB),
        )

    async def run_command(
        self,
        session: Session,
        command: str | Sequence[str],
        *,
        network: bool | None = None,
        **options: Any,
    ) -> ProcessResult:
        """Run a command in the session's workspace, in the sandbox, within its limits.

        `network` defaults to the session's own setting. Every process the service starts for a
        session goes through here: all of them share the session's memory, CPU and process
        limits, and at most `maxConcurrentTasks` run at once (`SandboxBusy` beyond that, after
        the sandbox's short wait for a slot). Each command counts against the session's
        `session-commands` budget first: `CommandBudgetSpent` (nothing started) past it.
        """
        if self.budgets is not None:
            verdict = await self.budgets.command(session.id)
            if verdict is not None and not verdict.allowed:
                raise CommandBudgetSpent(verdict)
        self._running[session.id] += 1
        try:
            async with self.workspaces.held(session.workspace_dir, exclusive=False):
                result = await self.sandbox.run(
                    command,
                    workspace=self.workspaces.path(session.workspace_dir),
                    limits=self.sandbox_limits(session),
                    network=bool(session.config.get("network")) if network is None else network,
                    group=session.id.hex,
                    **options,
                )
        finally:
            self._running[session.id] -= 1
            if self._running[session.id] <= 0:
                del self._running[session.id]
        if result.killed_reason is not None and result.killed_reason != "cancelled":
            # A runaway stopped by a limit: worth an operator's attention.
            log.warning(
                "sandbox.command_stopped",
                session_id=str(session.id),
                user_id=str(session.user_id),
                killed_reason=result.killed_reason,
                duration_s=round(result.duration, 3),
            )
        return result

    def request_runner(self, session: Session) -> Callable[..., Awaitable[ProcessResult]]:
        """`run_command` for a command an API request waits on: a session that already runs
        its most commands is a 429 problem (`CommandsBusy`), which tools do not turn into a
        tool error as they do with the sandbox's own `SandboxBusy`; so is one whose command
        budget is spent (`SessionRateLimited`, with the budget's RateLimit headers)."""

        async def run(command: str | Sequence[str], **options: Any) -> ProcessResult:
            try:
                return await self.run_command(session, command, **options)
            except CommandBudgetSpent as spent:
                raise SessionRateLimited.of(spent.verdict, "commands") from spent
            except SandboxBusy as busy:
                limit = self.limits(session).max_concurrent_tasks
                raise exc.CommandsBusy(
                    f"This session already runs {limit} command{'s' if limit != 1 else ''} at "
                    f"once, the most its limits allow (maxConcurrentTasks = {limit}); try "
                    "again when one has ended",
                    headers={"Retry-After": "1"},
                ) from busy

        return run

    def running_commands(self, session: Session) -> int:
        return self._running.get(session.id, 0)

    async def commands_usage(self, session: Session) -> CommandsUsage:
        """Memory, CPU time and processes of the session's running commands, right now."""
        limit = self.limits(session).max_memory_mb * 1024 * 1024
        usage = await self.sandbox.usage(self.workspaces.path(session.workspace_dir))
        if usage is not None:
            return CommandsUsage(
                memory_bytes=usage.memory_bytes,
                memory_limit_bytes=limit,
                cpu_seconds=usage.cpu_seconds,
                processes=usage.processes,
            )
        if self.running_commands(session):  # running, but without cgroups to ask
            return CommandsUsage(
                memory_bytes=None, memory_limit_bytes=limit, cpu_seconds=None, processes=None
            )
        return CommandsUsage(memory_bytes=0, memory_limit_bytes=limit, cpu_seconds=0.0, processes=0)

    @staticmethod
    async def check_clone_url(policy: EgressPolicy, url: str) -> list[str]:
        """The `git -c` options that keep a clone of `url` on public addresses, or 400
        `clone-url-refused` (the SSRF policy of provider base URLs, `roo.security.egress`).

        The clone runs with the host's network (loopback included): without this a user could
        make the service fetch from its neighbours (Redis, a metadata service, an admin port)
        and read git's account of the answer. The host's addresses are checked here; for
        http(s) git connects to the address checked (`http.curloptResolve`: no DNS rebinding
        in between) and follows no redirect. git:// URLs are checked the same way but git
        resolves their host again itself (a rebinding window of one DNS answer)."""
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            raise exc.CloneUrlRefused("The URL's port is not a number") from None
        scheme, host = parts.scheme.lower(), parts.hostname or ""
        if not host:
            raise exc.CloneUrlRefused("The URL has no host")
        port = port or {"https": 443, "http": 80}.get(scheme, 9418)
        try:
            addresses = await policy.addresses(scheme, host, port)
        except EgressRefused:
            raise exc.CloneUrlRefused(
                f"{host} is not a public address or does not resolve to one (loopback, "
                "private, link-local, metadata...); an operator can allow the host with "
                f"{ALLOWED_HOSTS_SETTING}"
            ) from None
        options = ["-c", "http.followRedirects=false"]
        if addresses and scheme in ("http", "https"):
            first = addresses[0].split("%", 1)[0]
            pinned = f"[{first}]" if ":" in first else first
            options += ["-c", f"http.curloptResolve={host}:{port}:{pinned}"]
        return options

    async def clone_repository(
        self, session: Session, url: str, ref: str | None, git_options: Sequence[str] = ()
    ) -> ProcessResult:
        """Fill the (empty) workspace with a shallow `git clone`, run in the sandbox with the
        network allowed for this one command; a failed clone leaves the workspace empty (the
        caller audits the result, then `check_clone` refuses a failure). Takes seconds to
        minutes: the caller holds no database connection meanwhile. `git_options`: from
        `check_clone_url`."""
        workspace = self.workspaces.path(session.workspace_dir)
        if await asyncio.to_thread(lambda: any(workspace.iterdir())):
            raise exc.ArchiveInvalid("The workspace is not empty; clone into a new session")
        argv = [
            "git",
            "-c", "protocol.file.allow=never",
            "-c", "protocol.ext.allow=never",
            "-c", "core.symlinks=false",
            *git_options,
            "clone", "--depth", "1", "--no-tags", "--single-branch",
            *(["--branch", ref] if ref else []),
            "--", url, ".",
        ]  # fmt: skip
        result = await self.request_runner(session)(
            argv,
            network=True,
            merge_stderr=True,
            env={"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"},
        )
        if result.exit_code != 0:
            # Leave the workspace as it was: empty.
            try:
                await self.workspaces.empty(session.workspace_dir)
            except OSError as error:
                log.warning("workspace.empty_failed", session_id=str(session.id), error=repr(error))
        return result

    @staticmethod
    async def record_clone(
        db: AsyncSession,
        principal: Principal,
        session: Session,
        url: str,
        result: ProcessResult,
        client: ClientInfo,
    ) -> None:
        """The audit row of a clone, failed or not."""
        await record(
            db,
            "sessions.clone",
            actor_id=principal.user_id,
            target=f"session:{session.id}",
            outcome="success" if result.exit_code == 0 else "failure",
            client=client,
            url=redact_text(url),
            exit_code=result.exit_code,
        )

    @staticmethod
    def check_clone(result: ProcessResult) -> None:
        """Refuse (400 `clone-failed`, with git's output) a clone that failed."""
        if result.exit_code != 0:
            tail = result.stdout.decode("utf-8", "replace")[-1500:]
            raise exc.CloneFailed(f"git clone failed (exit {result.exit_code}): {tail.strip()}")

    # -- queries ----------------------------------------------------------------------------

    async def get(self, db: AsyncSession, principal: Principal, session_id: uuid.UUID) -> Session:
        """The caller's session, or 404 (also for sessions of other users)."""
        query = select(Session).where(
            Session.id == session_id, Session.user_id == principal.user_id
        )
        session = (await db.execute(query)).scalar_one_or_none()
        if session is None:
            raise exc.SessionNotFound()
        return session

    # -- changes ----------------------------------------------------------------------------

    async def create(
        self,
        db: AsyncSession,
        principal: Principal,
        name: str,
        config: SessionConfigIn,
        client: ClientInfo,
    ) -> Session:
        self._check_network(config)
        quota = quota_for(principal.roles)
        session_id = new_id()
        # The directory first, before this unit of work writes anything: a write transaction
        # waits on nothing but the database (on SQLite every other writer waits for it). Should
        # the creation fail after this, the directory is an orphan the start-up sweep removes.
        await self.workspaces.create(workspace_name(session_id))
        try:
            await self._check_session_count(db, principal)
        except exc.SessionQuotaReached:
            await self.workspaces.remove(workspace_name(session_id))
            raise
        session = Session(
            id=session_id,
            user_id=principal.user_id,
            name=name,
            state="active",
            config=self._sealed(stored_config(config, quota, self.defaults), config, None),
            workspace_dir=workspace_name(session_id),
        )
        db.add(session)
        await db.flush()
        await record(
            db,
            "sessions.create",
            actor_id=principal.user_id,
            target=f"session:{session.id}",
            client=client,
        )
        return session

    async def _check_session_count(
        self, db: AsyncSession, principal: Principal, restoring: uuid.UUID | None = None
    ) -> None:
        """Refuse (409) one more open session beyond the role's quota: before a creation and
        before a restore.

        The UPDATE of the owner's row comes first and changes nothing: it takes the row's lock
        (PostgreSQL) or the database's write lock (SQLite) until this transaction ends, so the
        owner's concurrent creations and restores run this check one after the other and each
        counts what the previous one added (the mechanism of task creation, on the session row).
        """
        await db.execute(
            update(User)
            .where(User.id == principal.user_id)
            .values(session_version=User.session_version, updated_at=User.updated_at)
            .execution_options(synchronize_session=False)
        )
        others = [] if restoring is None else [Session.id != restoring]  # a concurrent restore
        open_sessions = (
            await db.execute(
                select(func.count())
                .select_from(Session)
                .where(Session.user_id == principal.user_id, Session.state != "archived", *others)
            )
        ).scalar_one()
        if open_sessions >= quota_for(principal.roles).max_sessions:
            raise exc.SessionQuotaReached(
                f"You have {open_sessions} open sessions, the most your role allows; "
                "archive or delete one first"
            )

    def _sealed(
        self, data: dict[str, Any], config: SessionConfigIn, previous: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """The stored config with its MCP servers' secrets encrypted (never stored in clear)."""
        data.pop("mcpServers", None)
        if config.mcp_servers:
            if self.mcp_secrets is None:
                raise RuntimeError("no secret box to store MCP server secrets with")
            old = (previous or {}).get("mcpServers") or {}
            data["mcpServers"] = seal(config.mcp_servers, old, self.mcp_secrets)
        return data

    def _check_network(self, config: SessionConfigIn) -> None:
        if config.network and not self.allow_network:
            raise exc.NetworkNotAllowed(
                "Network access for session commands is turned off on this server "
                "(ROO_ALLOW_SESSION_NETWORK)"
            )

    async def update(
        self,
        db: AsyncSession,
        principal: Principal,
        session: Session,
        *,
        name: str | None,
        config: SessionConfigIn | None,
        state: str | None,
    ) -> Session:
        if name is not None:
            session.name = name
        if config is not None:
            self._check_network(config)
            session.config = self._sealed(
                stored_config(config, quota_for(principal.roles), self.defaults),
                config,
                session.config,
            )
        if state == "archived" and session.state != "archived":
            session.state = "archived"
            session.archived_at = utcnow()
        elif state == "active" and session.state != "active":
            if session.workspace_deleted_at is not None:
                raise exc.WorkspaceGone(
                    "This session's workspace was deleted; it cannot be restored"
                )
            if session.state == "archived":  # an idle session is open already
                await self._check_session_count(db, principal, restoring=session.id)
            session.state = "active"
            session.archived_at = None
            session.last_active_at = utcnow()
        await db.flush()
        return session

    async def delete(
        self, db: AsyncSession, principal: Principal, session: Session, client: ClientInfo
    ) -> None:
        """Delete the row now; remove the workspace once that commits."""
        name = session.workspace_dir
        await db.delete(session)
        await record(
            db,
            "sessions.delete",
            actor_id=principal.user_id,
            target=f"session:{session.id}",
            client=client,
        )
        after_commit(db, lambda: self.workspaces.remove(name))

    async def touch(self, db: AsyncSession, session: Session) -> None:
        """Mark activity before a change to the workspace; an idle session becomes active
        again. Refused (409) for archived sessions and deleted workspaces. `last_active_at` is
        kept to `ACTIVITY_RESOLUTION`: within it of the last recorded activity nothing is
        written, so a burst of tool calls or a task started right after its session was created
        costs no UPDATE of the session's row."""
        if session.workspace_deleted_at is not None:
            raise exc.WorkspaceGone("This session's workspace was deleted")
        if session.state == "archived":
            raise exc.SessionArchived("Restore the session (state: active) to work in it")
        now = utcnow()
        if session.state == "idle":
            session.state = "active"
        elif now - session.last_active_at < ACTIVITY_RESOLUTION:
            return  # recorded moments ago: no write (a read-only unit of work stays one)
        session.last_active_at = now

    async def import_archive(self, session: Session, chunks: AsyncIterator[bytes]) -> ImportResult:
        """Stream an uploaded archive to a scratch file beside the workspaces, then extract it
        into the session's (empty) workspace within its disk quota and file limit. No command
        of the session runs meanwhile (409 `workspace-busy` for whichever comes second). The
        upload and the extraction take a while: the caller holds no database connection
        meanwhile, and audits the result (`record_import`)."""
        limits = self.limits(session)
        quota = limits.max_disk_mb * 1024 * 1024
        scratch = self.workspaces.root / f".import-{uuid.uuid4().hex}"
        try:
            size = 0
            out = await asyncio.to_thread(scratch.open, "wb")
            try:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > quota:
                        raise exc.InsufficientStorage(
                            f"The upload is larger than the workspace quota ({quota} bytes)"
                        )
                    await asyncio.to_thread(out.write, chunk)
            finally:
                await asyncio.to_thread(out.close)
            workspace = self.workspaces.path(session.workspace_dir)
            try:
                async with self.workspaces.held(
                    session.workspace_dir,
                    exclusive=True,
                    busy="Commands or file writes are under way in this workspace; import when "
                    "they have finished",
                ):
                    result = await asyncio.to_thread(
                        import_archive, scratch, workspace, quota, limits.max_files
                    )
            except ArchiveRejected as rejected:
                raise exc.ArchiveInvalid(str(rejected)) from None
            except OSError as error:
                if error.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise exc.InsufficientStorage("The server's disk is full") from None
                raise
        finally:
            scratch.unlink(missing_ok=True)
        return result

    @staticmethod
    async def record_import(
        db: AsyncSession,
        principal: Principal,
        session: Session,
        result: ImportResult,
        client: ClientInfo,
    ) -> None:
        await record(
            db,
            "sessions.import",
            actor_id=principal.user_id,
            target=f"session:{session.id}",
            client=client,
            files=result.files,
            bytes=result.bytes,
        )

    def limits(self, session: Session) -> ResourceLimitsOut:
        # Sessions stored before `maxFiles` existed get today's default.
        stored = {"maxFiles": self.defaults.max_files, **session.config["limits"]}
        return ResourceLimitsOut.model_validate(stored)

    def out(self, session: Session) -> SessionOut:
        """What the API shows of a session, from its ORM object (after a change)."""
        config = session.config
        return SessionOut.model_validate(
            {
                **{name: getattr(session, name) for name in _VIEW_COLUMNS},
                # sessions stored before `maxFiles` existed get today's default
                "config": {
                    **config,
                    "limits": {"maxFiles": self.defaults.max_files, **config["limits"]},
                },
                "workspace_available": session.workspace_deleted_at is None,
            }
        )

    def row_out(self, row: Mapping[str, Any]) -> SessionOut:
        """What the API shows of a session, from its row (`roo.sessions.repository`)."""
        return SessionOut.model_validate(row, context=self._context)

    def rows_out(
        self, rows: Sequence[Mapping[str, Any]], total: int, limit: int, offset: int
    ) -> Page[SessionOut]:
        """A page of sessions from their rows (`roo.sessions.repository.page`), validated in
        one pass over the rows as they are (no dict per row)."""
        return _PAGE.validate_python(
            {"items": rows, "total": total, "limit": limit, "offset": offset},
            context=self._context,
        )

    @property
    def _context(self) -> dict[str, Any]:
        return {STORED_MAX_FILES: self.defaults.max_files}


_PAGE: TypeAdapter[Page[SessionOut]] = TypeAdapter(Page[SessionOut])

_VIEW_COLUMNS = (
    "id",
    "user_id",
    "name",
    "state",
    "created_at",
    "updated_at",
    "last_active_at",
    "archived_at",
)
