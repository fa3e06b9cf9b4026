"""Liveness and readiness probes (outside `/api/v1`: they belong to the deployment, not the API)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import Response

from roo.api.deps import AppResources, public
from roo.api.problems import problem_response
from roo.db.engine import ping

CHECK_TIMEOUT_SECONDS = 2.0

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready"] = "ready"
    checks: dict[str, str]


async def _check(probe: Any) -> str:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return f"unreachable: no answer within {CHECK_TIMEOUT_SECONDS:g}s"
    except Exception as exc:  # any failure means "not ready"; the type tells the operator why
        return f"unreachable: {type(exc).__name__}"
    return "ok"


@router.get("/healthz", summary="Liveness: the process is up (no I/O)")
@public
async def healthz() -> Liveness:
    return Liveness()


@router.get(
    "/readyz",
    summary="Readiness: the database and Redis (when configured) answer",
    response_model=Readiness,
    responses={503: {"description": "A dependency is unreachable; `checks` says which"}},
)
@public
async def readyz(resources: AppResources) -> Readiness | Response:
    probes: dict[str, Any] = {"database": ping(resources.engine)}
    if resources.redis is not None:
        probes["redis"] = resources.redis.ping()
    if resources.queue_ping is not None:
        probes["queue"] = resources.queue_ping()
    results = await asyncio.gather(*(_check(p) for p in probes.values()))
    checks = dict(zip(probes, results, strict=True))
    if resources.redis is None:
        checks["redis"] = "not configured"
    failing = [name for name, result in checks.items() if result.startswith("unreachable")]
    if failing:
        return problem_response(
            503,
            detail=f"Not ready: {', '.join(failing)} unreachable",
            instance="/readyz",
            checks=checks,
        )
    return Readiness(checks=checks)
