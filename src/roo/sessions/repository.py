"""The sessions table's queries that only read: Core statements over the columns the API shows,
for `roo.db.reads.Reads` (no ORM objects, no unit of work). Every one filters by owner unless
it says otherwise, so another user's session is simply not found."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping, Select, bindparam, func, select

from roo.db.models import Session
from roo.db.reads import Reads

# What a session's view needs (roo.sessions.service.SessionManager.view).
COLUMNS = (
    Session.id,
    Session.user_id,
    Session.name,
    Session.state,
    Session.config,
    Session.created_at,
    Session.updated_at,
    Session.last_active_at,
    Session.archived_at,
    Session.workspace_deleted_at,
)

_ONE = select(*COLUMNS).where(
    Session.id == bindparam("session_id"), Session.user_id == bindparam("user_id")
)


async def one(reads: Reads, user_id: uuid.UUID, session_id: uuid.UUID) -> RowMapping | None:
    """The user's session `session_id`, or None (also when another user owns it)."""
    return await reads.first(_ONE, {"session_id": session_id, "user_id": user_id})


def _escape_like(text: str) -> str:
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


@functools.cache
def _page_statement(by_user: bool, by_state: bool, by_name: bool) -> Select[Any]:
    """The page query for one combination of filters, built once: every value is a bound
    parameter, so a request only binds (no statement building, one compiled form)."""
    conditions: list[Any] = []
    if by_user:
        conditions.append(Session.user_id == bindparam("user_id"))
    if by_state:
        conditions.append(Session.state == bindparam("state"))
    if by_name:
        conditions.append(func.lower(Session.name).contains(bindparam("name"), escape="/"))
    return (
        select(*COLUMNS, func.count().over().label("total"))
        .where(*conditions)
        .order_by(Session.last_active_at.desc(), Session.id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


async def page(
    reads: Reads,
    *,
    user_id: uuid.UUID | None,
    state: str | None,
    query: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[RowMapping], int]:
    """A page of sessions, most recently active first, and how many match in all (None for
    `user_id`: everyone's). One statement: the total comes with the rows (a window count);
    only a page past the end asks for it separately."""
    statement = _page_statement(user_id is not None, state is not None, bool(query))
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if user_id is not None:
        params["user_id"] = user_id
    if state is not None:
        params["state"] = state
    if query:
        params["name"] = _escape_like(query.lower())
    rows = await reads.all(statement, params)
    if rows:
        return rows, int(rows[0]["total"])
    if offset == 0:
        return rows, 0
    counted = await reads.first(
        select(func.count().label("n")).select_from(statement.subquery()),
        {**params, "limit": 1 << 62, "offset": 0},
    )
    return rows, int(counted["n"]) if counted else 0
