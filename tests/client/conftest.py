"""The SDK against the service: in process over ASGI for REST, on a loopback port (uvicorn) for
the live stream and the sync client, with the fake LLM behind the tasks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from roo.client import AsyncRooClient
from tests.auth.conftest import PASSWORD, SignedIn, SignIn
from tests.realtime.conftest import live, serving
from tests.tasks.conftest import api, auth, llm, make_api, make_user, resources, settings, sign_in

__all__ = [
    "api", "auth", "live", "llm", "make_api", "make_user", "resources", "serving", "settings",
    "sign_in",
]  # fmt: skip


@pytest.fixture
async def user(sign_in: SignIn) -> SignedIn:
    return await sign_in()


@pytest.fixture
async def roo(app: FastAPI, user: SignedIn) -> AsyncIterator[AsyncRooClient]:
    """A client of the in-process app, signed in with the user's password."""
    transport = httpx.ASGITransport(app=app)
    async with AsyncRooClient("http://testserver", transport=transport) as client:
        await client.login(user.email, PASSWORD)
        yield client
