"""The sessions table's queries that only read: Core statements over the columns the API shows,
for `roo.db.reads.Reads` (no ORM objects, no unit of work). Every one filters by owner unless
it says otherwise, so another user's session is simply not found."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from sqlalchemy import Select, String, Text, bindparam, cast, func, select, type_coerce

from roo.db.models import Session
from roo.db.reads import Reads

# What the API shows of a session (`roo.sessions.schemas.SessionOut`), in the form pydantic
# validates it from in one pass (`SessionManager.rows_out`): the ids as the database returns
# them (SQLite's hex text, PostgreSQL's uuid) and the config as JSON text (a cast: PostgreSQL's
# driver would decode jsonb with `json.loads`), parsed by pydantic rather than per value in
# Python; of the workspace's deletion time only whether there is one.
COLUMNS: tuple[Any, ...] = (
    type_coerce(Session.id, String).label("id"),
    type_coerce(Session.user_id, String).label("user_id"),
    Session.name,
    Session.state,
    cast(Session.config, Text).label("config"),
    Session.created_at,
    Session.updated_at,
    Session.last_active_at,
    Session.archived_at,
    Session.workspace_deleted_at.is_(None).label("workspace_available"),
)

_ONE = select(*COLUMNS).where(
    Session.id == bindparam("session_id"), Session.user_id == bindparam("user_id")
)


async def one(reads: Reads, user_id: uuid.UUID, session_id: uuid.UUID) -> dict[str, Any] | None:
    """The user's session `session_id`, or None (also when another user owns it)."""
    rows = await reads.dicts(_ONE, {"session_id": session_id, "user_id": user_id})
    return rows[0] if rows else None


def _escape_like(text: str) -> str:
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


@functools.cache
def _page_statement(by_user: bool, by_state: bool, by_name: bool) -> Select[Any]:
    """The page query for one combination of filters, built once: every value is a bound
    parameter, so a request only binds (no statement building, one compiled form).

    The total comes with the rows as a scalar subquery over the same filters, which both
    databases run once per statement; a window count (`count(*) OVER ()`) would make SQLite
    materialise and sort every matching row, the config included, before the page is cut."""
    conditions: list[Any] = []
    if by_user:
        conditions.append(Session.user_id == bindparam("user_id"))
    if by_state:
        conditions.append(Session.state == bindparam("state"))
    if by_name:
        conditions.append(func.lower(Session.name).contains(bindparam("name"), escape="/"))
    total = select(func.count()).select_from(Session).where(*conditions).scalar_subquery()
    return (
        select(*COLUMNS, total.label("total"))
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
) -> tuple[list[dict[str, Any]], int]:
    """A page of sessions, most recently active first, and how many match in all (None for
    `user_id`: everyone's). One statement: the total comes with the rows; only a page past
    the end asks for it separately."""
    statement = _page_statement(user_id is not None, state is not None, bool(query))
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if user_id is not None:
        params["user_id"] = user_id
    if state is not None:
        params["state"] = state
    if query:
        params["name"] = _escape_like(query.lower())
    rows = await reads.dicts(statement, params)
    if rows:
        return rows, int(rows[0]["total"])
    if offset == 0:
        return rows, 0
    counted = await reads.first(
        select(func.count().label("n")).select_from(statement.subquery()),
        {**params, "limit": 1 << 62, "offset": 0},
    )
    return rows, int(counted["n"]) if counted else 0
