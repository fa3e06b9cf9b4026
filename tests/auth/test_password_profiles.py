"""The password hash profile (ROO_PASSWORD_HASH_PROFILE): a stored hash keeps working when the
profile changes, and moves to the new parameters at its next sign-in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from argon2 import extract_parameters
from fastapi import FastAPI

from roo.api.state import Resources
from roo.app import create_app
from roo.auth import passwords
from roo.config import Settings
from roo.db.engine import unit_of_work
from tests.auth.conftest import PASSWORD
from tests.support.lifespan import app_lifespan


@pytest.fixture
async def owasp_app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings.model_copy(update={"password_hash_profile": "owasp"}))
    async with app_lifespan(application):
        yield application
    passwords.configure(None, settings.password_hash_wait_seconds)  # back to the default


async def test_a_hash_of_the_old_profile_signs_in_and_is_rehashed(owasp_app: FastAPI) -> None:
    resources: Resources = owasp_app.state.resources
    old_hash = passwords.PROFILES["rfc9106"].hash(PASSWORD)
    async with unit_of_work(resources.db_sessions) as db:
        user = await resources.auth.create_user(db, "old@example.com", password=PASSWORD)
        user.password_hash = old_hash
    transport = httpx.ASGITransport(app=owasp_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post(
            "/api/v1/auth/login", json={"email": "old@example.com", "password": PASSWORD}
        )
    assert response.status_code == 200, response.text
    async with unit_of_work(resources.db_sessions) as db:
        stored = (await resources.auth.get_user(db, user.id)).password_hash
    assert stored is not None
    assert stored != old_hash
    params = extract_parameters(stored)
    assert (params.time_cost, params.memory_cost, params.parallelism) == (2, 19 * 1024, 1)
