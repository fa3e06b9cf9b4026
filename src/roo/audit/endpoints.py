"""`/api/v1/admin/audit` and `/api/v1/auth/audit`: routes only (queries in
`roo.audit.repository`, the chain in `roo.security.audit_chain`)."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from roo.api.deps import get_resources
from roo.api.routing import api_router
from roo.audit import repository
from roo.audit.repository import AuditFilter
from roo.audit.schemas import AuditEventOut, ChainVerifyOut
from roo.auth.deps import require
from roo.auth.identity import Principal
from roo.auth.permissions import Permission
from roo.kit.inputs import Offset, PageLimit, SafeText, UtcDateTime
from roo.kit.schema import Page
from roo.security.audit_verify import verify_chain

admin_router = api_router("/admin/audit", tags=["admin"])
own_router = api_router("/auth", tags=["auth"])

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, invalid, expired or revoked credentials"},
    403: {"description": "The credential lacks the permission"},
}

Auditor = Annotated[Principal, require(Permission.AUDIT_READ)]


async def _page(
    request: Request, where: AuditFilter, limit: int, offset: int
) -> Page[AuditEventOut]:
    rows, total = await repository.page(get_resources(request).reads, where, limit, offset)
    return Page[AuditEventOut](
        items=[AuditEventOut.model_validate(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


def _filters(
    action: Annotated[SafeText | None, Query(max_length=80, description="Exact action")] = None,
    outcome: Annotated[SafeText | None, Query(max_length=20, description="Exact outcome")] = None,
    target: Annotated[
        SafeText | None, Query(max_length=200, description="Exact target, `kind:id`")
    ] = None,
    session: Annotated[uuid.UUID | None, Query(description="Rows concerning a session")] = None,
    since: Annotated[UtcDateTime | None, Query(description="At or after (ISO 8601)")] = None,
    until: Annotated[UtcDateTime | None, Query(description="Before (ISO 8601)")] = None,
) -> AuditFilter:
    """The filters both trails take (the actor is the admin's to choose, or the caller)."""
    return AuditFilter(None, action, outcome, target, session, since, until)


Filters = Annotated[AuditFilter, Depends(_filters)]


@admin_router.get(
    "",
    summary="The audit trail, newest first, filtered (audit:read)",
    responses=UNAUTHORIZED,
)
async def list_audit(
    request: Request,
    _: Auditor,
    where: Filters,
    actor: Annotated[uuid.UUID | None, Query(description="Rows of one actor")] = None,
    limit: PageLimit = 50,
    offset: Offset = 0,
) -> Page[AuditEventOut]:
    return await _page(request, dataclasses.replace(where, actor=actor), limit, offset)


@admin_router.get(
    "/verify",
    summary="Verify the audit trail's hash chain (audit:read)",
    description="Walks the chain from its anchor to its head. `ok` false names the first "
    "position that does not hold (an edited, deleted, reordered or truncated row).",
    responses=UNAUTHORIZED,
)
async def verify_audit(request: Request, _: Auditor) -> ChainVerifyOut:
    report = await verify_chain(get_resources(request).engine)
    return ChainVerifyOut.model_validate(dataclasses.asdict(report))


@own_router.get(
    "/audit",
    summary="Your own audit trail (what you did), newest first",
    responses=UNAUTHORIZED,
)
async def own_audit(
    request: Request,
    principal: Annotated[Principal, require(Permission.PROFILE_READ)],
    where: Filters,
    limit: PageLimit = 50,
    offset: Offset = 0,
) -> Page[AuditEventOut]:
    return await _page(request, dataclasses.replace(where, actor=principal.user_id), limit, offset)
