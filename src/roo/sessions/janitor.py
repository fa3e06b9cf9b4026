"""`SessionJanitor`: idle, archive and retention transitions, and the orphan sweep."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.db.engine import unit_of_work
from roo.db.models import Session
from roo.db.types import utcnow
from roo.kit.logs import get_logger
from roo.sessions.workspace import WorkspaceManager

log = get_logger("roo.sessions")

# Seconds a workspace directory must have existed before it can count as an orphan.
ORPHAN_MIN_AGE = 600.0


class SessionJanitor:
    """Moves sessions through their life cycle, from the database state alone (restart-safe):
    active -> idle after `idle_after`; idle -> archived after `idle_ttl` of inactivity;
    archived -> workspace deleted `retention` after archiving, with what `also_remove` keeps
    of the session elsewhere (its checkpoints' shadow repository: True once gone)."""

    def __init__(
        self,
        db_sessions: async_sessionmaker[AsyncSession],
        workspaces: WorkspaceManager,
        idle_after: timedelta,
        idle_ttl: timedelta,
        retention: timedelta,
        also_remove: Callable[[uuid.UUID], Awaitable[bool]] | None = None,
    ) -> None:
        self._db_sessions = db_sessions
        self.workspaces = workspaces
        self.idle_after = idle_after
        self.idle_ttl = idle_ttl
        self.retention = retention
        self.also_remove = also_remove

    async def sweep_orphans(self) -> list[str]:
        """Remove workspace directories no session owns.

        A session's directory is made just before its row commits, so only directories older
        than ORPHAN_MIN_AGE count, and they are listed *before* the sessions are read: a session
        created meanwhile (here or in another process) is never mistaken for an orphan.
        """
        candidates = await asyncio.to_thread(self.workspaces.on_disk, ORPHAN_MIN_AGE)
        async with self._db_sessions() as db:
            known = (await db.execute(select(Session.workspace_dir))).scalars().all()
        return await self.workspaces.remove_orphans(candidates, known)

    async def run_once(self, now: datetime | None = None) -> dict[str, int]:
        now = now or utcnow()
        async with unit_of_work(self._db_sessions) as db:
            idled = await db.execute(
                update(Session)
                .where(Session.state == "active", Session.last_active_at < now - self.idle_after)
                .values(state="idle")
            )
            archived = await db.execute(
                update(Session)
                .where(Session.state == "idle", Session.last_active_at < now - self.idle_ttl)
                .values(state="archived", archived_at=now)
            )
            expired = (
                await db.execute(
                    select(Session.id, Session.workspace_dir).where(
                        Session.state == "archived",
                        Session.workspace_deleted_at.is_(None),
                        Session.archived_at < now - self.retention,
                    )
                )
            ).all()
        # Outside the transaction: the filesystem work may be slow, and a workspace is marked
        # deleted only once it is really gone, with its checkpoints (a partial removal is
        # retried next round).
        deleted = []
        for session_id, name in expired:
            if not await self.workspaces.remove(name):
                continue
            if self.also_remove is None or await self.also_remove(session_id):
                deleted.append(session_id)
        if deleted:
            async with unit_of_work(self._db_sessions) as db:
                await db.execute(
                    update(Session)
                    .where(Session.id.in_(deleted), Session.state == "archived")
                    .values(workspace_deleted_at=now)
                )
        counts = {
            "idled": idled.rowcount,  # type: ignore[attr-defined]
            "archived": archived.rowcount,  # type: ignore[attr-defined]
            "workspaces_deleted": len(deleted),
        }
        if any(counts.values()):
            log.info("sessions.cleanup", **counts)
        return counts
