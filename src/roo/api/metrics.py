"""`GET /metrics`: the Prometheus exposition (roo.observability), for the admin role.

Outside `/api/v1` like the probes: it belongs to the deployment. It needs `metrics:read`, which
only the admin role holds; a scraper is given an API key scoped to `metrics:read` alone (sent as
`Authorization: Bearer ...`, Prometheus's `authorization` setting). Neither rate-limited nor
counted in flight: a scrape during an overload is when it matters most.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from roo.api.deps import get_resources, public
from roo.auth.deps import require
from roo.auth.identity import Principal
from roo.auth.permissions import Permission
from roo.observability.scrape import CountsCache, exposition

METRICS_PATH = "/metrics"
# What `generate_latest` writes: the classic text format, which every Prometheus version reads
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

router = APIRouter(tags=["health"])
# `roo worker --health-port`: served beside its probes, on their port, without a credential.
probe_router = APIRouter()

RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text exposition format 0.0.4",
        "content": {CONTENT_TYPE: {"schema": {"type": "string"}}},
    },
    401: {"description": "Missing, invalid, expired or revoked credentials"},
    403: {"description": "The credential lacks metrics:read"},
}


@router.get(
    METRICS_PATH,
    summary="Prometheus metrics (metrics:read)",
    response_class=Response,
    responses=RESPONSES,
)
async def metrics(
    request: Request, _: Annotated[Principal, require(Permission.METRICS_READ)]
) -> Response:
    return await _scrape(request)


@probe_router.get(METRICS_PATH, include_in_schema=False)
@public
async def worker_metrics(request: Request) -> Response:
    return await _scrape(request)


async def _scrape(request: Request) -> Response:
    resources = get_resources(request)
    counts: CountsCache = request.app.state.metrics_counts
    body = await exposition(resources.engine, resources.reads, counts)
    return Response(body, media_type=CONTENT_TYPE)
