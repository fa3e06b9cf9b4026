"""The floor of roo's database path, for `db_path.py`: its reads with nothing else around them.

    uvicorn --app-dir bench --factory floor_app:create_app   (roo's environment; FLOOR_USER_ID)

A bare FastAPI app (no middleware, no logging, no authentication, no rate limit) on roo's own
engine (`roo.db.engine.create_engine` from roo's settings: the same database, pool, driver and
SQLite connection as the service) that serves the two reads the issue's targets are about, the
same statement through the same `roo.db.reads.Reads`, validated into the same response model:

    /floor/profile    the profile's one-row read (roo.auth.service), as `UserOut`
    /floor/sessions   a page of 20 sessions and their count (roo.sessions.repository), as the
                      service's `Page[SessionOut]`

What the service adds on top (middleware, a credential, rate limits, logging, routing among
its routes) is the difference between these and `/api/v1/auth/profile`, `/api/v1/sessions`.
Never deploy this: it serves a user's data to anyone.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from roo.auth.schemas import UserOut
from roo.auth.service import AuthService
from roo.config import Settings
from roo.db.engine import create_engine
from roo.db.reads import Reads
from roo.kit.schema import Page
from roo.sessions import repository
from roo.sessions.quotas import DEFAULT_MAX_FILES
from roo.sessions.schemas import STORED_MAX_FILES, SessionOut
from roo.sessions.service import _PAGE  # the service's own validator of a page

LISTED = 20


def create_app() -> FastAPI:
    settings = Settings()
    user_id = uuid.UUID(os.environ["FLOOR_USER_ID"])
    engine = create_engine(settings)
    reads = Reads(engine)
    context: dict[str, Any] = {STORED_MAX_FILES: DEFAULT_MAX_FILES}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/floor/profile")
    async def floor_profile() -> UserOut:
        return UserOut.model_validate(await AuthService.profile(reads, user_id))

    @app.get("/floor/sessions")
    async def floor_sessions() -> Page[SessionOut]:
        rows, total = await repository.page(
            reads, user_id=user_id, state=None, query=None, limit=LISTED, offset=0
        )
        return _PAGE.validate_python(
            {"items": rows, "total": total, "limit": LISTED, "offset": 0}, context=context
        )

    return app
