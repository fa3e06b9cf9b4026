"""The service's lifespan in tests, with room for a busy machine.

asgi-lifespan gives a start and a stop 5 s each; the service's start opens its database pool,
Redis clients, the bus, the sandbox probe and the audit sealer's first round, which on a shared CI
machine under the whole suite once took longer than that. The service itself sets no such limit
(uvicorn waits for its lifespan), so the tests allow what an operator's probe would.
"""

from __future__ import annotations

from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp

START_AND_STOP_SECONDS = 60.0


def app_lifespan(app: ASGIApp) -> LifespanManager:
    """`async with app_lifespan(app):` runs the app's startup, then its shutdown on the way out."""
    return LifespanManager(
        app, startup_timeout=START_AND_STOP_SECONDS, shutdown_timeout=START_AND_STOP_SECONDS
    )
