"""Request dependencies shared by every domain's endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from roo.api.state import Resources
from roo.config import Settings
from roo.db.engine import unit_of_work

# Dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in its thread
# pool, which costs a thread hop (and GIL contention) on every request.


def get_resources(request: Request) -> Resources:
    """The app's resources (a plain function, for direct calls)."""
    resources: Resources = request.app.state.resources
    return resources


async def resources_dependency(request: Request) -> Resources:
    return get_resources(request)


async def get_settings(request: Request) -> Settings:
    return get_resources(request).settings


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the handler succeeds, rolled back otherwise."""
    async with unit_of_work(get_resources(request).db_sessions) as session:
        yield session


AppResources = Annotated[Resources, Depends(resources_dependency)]
AppSettings = Annotated[Settings, Depends(get_settings)]
# scope="function": the session commits when the endpoint returns, *before* the response is
# sent. With FastAPI's default ("request") the commit would run after the client already has
# the answer, so a client could act on (or be handed tokens for) rows that never commit.
DbSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]


PUBLIC_MARK = "__roo_public__"

F = TypeVar("F", bound=Callable[..., Any])


def public(endpoint: F) -> F:
    """Mark an endpoint as deliberately open to anonymous callers (login, refresh, health):

        @router.get("/healthz")
        @public
        async def healthz() -> ...

    Every route declares either this or a permission (`roo.auth.deps.require`); a test walks
    the app and fails on a route that declares neither. A mark, not a dependency: solving even
    an empty dependency costs every request.
    """
    setattr(endpoint, PUBLIC_MARK, True)
    return endpoint


def is_public(endpoint: Callable[..., Any]) -> bool:
    return bool(getattr(endpoint, PUBLIC_MARK, False))
