"""`GET /api/v1/version`: what is serving this API (public, no I/O)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from roo import __version__
from roo.api.deps import public
from roo.api.routing import api_router

router = api_router(tags=["meta"])


class VersionInfo(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    name: str
    version: str
    api_version: str


@router.get(
    "/version",
    summary="Service name and version",
    response_model_by_alias=True,
)
@public
async def version() -> VersionInfo:
    return VersionInfo(name="roo-core", version=__version__, api_version="v1")
