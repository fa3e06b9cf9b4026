"""Fixtures of the audit tests: signed-in users (tests/auth), and a database of the module's own
for the chain tests, which tamper with rows (the run's shared database must stay intact)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from roo.config import load_settings
from roo.db import migrate
from roo.db.engine import create_engine
from roo.db.models import AuditChain, AuditEvent
from roo.db.models.audit import GENESIS_HASH
from tests.auth.conftest import auth, make_user, resources, sign_in
from tests.support import databases

__all__ = ["auth", "make_user", "resources", "sign_in"]


async def _upgrade(url: str) -> None:
    engine = create_engine(load_settings(env="test", database_url=url))
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def chain_url(server_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of this module's own."""
    tmp = tmp_path_factory.mktemp("audit")
    name = f"roo_audit_{os.getpid()}_{tmp.name[-10:].lower().replace('-', '_')}"
    with databases.scratch_database(server_url, tmp, name) as url:
        asyncio.run(_upgrade(url))
        yield url


@pytest.fixture
async def chain_engine(chain_url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on the module's database, its audit trail emptied and its chain reset."""
    engine = create_engine(load_settings(env="test", database_url=chain_url))
    async with engine.begin() as conn:
        await conn.execute(delete(AuditEvent))
        await conn.execute(delete(AuditChain))
        await conn.execute(
            insert(AuditChain).values(
                id=1,
                last_seq=0,
                last_hash=GENESIS_HASH,
                anchor_seq=0,
                anchor_hash=GENESIS_HASH,
                updated_at=datetime.now(UTC),
            )
        )
    try:
        yield engine
    finally:
        await engine.dispose()
