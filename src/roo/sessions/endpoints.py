"""`/api/v1/sessions`.

Only the listing exists so far, and it answers an empty page: sessions themselves (workspaces,
limits, the rest of the CRUD) arrive with the sessions capability. It is here so that the
sign-in flow of the original plan (log in, then list sessions with the token) works end to end
with the permission it will keep.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from roo.api.routing import api_router
from roo.auth.deps import require
from roo.auth.identity import Principal
from roo.auth.permissions import Permission
from roo.kit.schema import Page

router = api_router("/sessions", tags=["sessions"])


@router.get("", summary="Your sessions")
async def list_sessions(
    _: Annotated[Principal, require(Permission.SESSIONS_READ)],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[dict[str, Any]]:
    return Page[dict[str, Any]](items=[], total=0, limit=limit, offset=offset)
