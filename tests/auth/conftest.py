"""Fixtures for identity tests: users of each role, signed in through the real endpoints."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from roo.api.state import Resources
from roo.auth.service import AuthService
from roo.db.engine import unit_of_work

PASSWORD = "correct horse battery staple"


@dataclass
class SignedIn:
    user_id: uuid.UUID
    email: str
    token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def resources(app: FastAPI) -> Resources:
    res: Resources = app.state.resources
    return res


@pytest.fixture
def auth(resources: Resources) -> AuthService:
    return resources.auth


MakeUser = Callable[..., Awaitable[uuid.UUID]]
SignIn = Callable[..., Awaitable[SignedIn]]


@pytest.fixture
def make_user(resources: Resources) -> MakeUser:
    async def make(
        email: str | None = None, role: str = "member", password: str = PASSWORD
    ) -> uuid.UUID:
        email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
        async with unit_of_work(resources.db_sessions) as db:
            user = await resources.auth.create_user(db, email, password=password, roles=[role])
            return user.id

    return make


@pytest.fixture
def sign_in(client: httpx.AsyncClient, resources: Resources, make_user: MakeUser) -> SignIn:
    async def sign(role: str = "member", email: str | None = None) -> SignedIn:
        email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
        user_id = await make_user(email, role)
        response = await client.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        return SignedIn(user_id, email, body["token"], body["refreshToken"])

    return sign
