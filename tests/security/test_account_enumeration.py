"""Registration tells nobody whether an address has an account, and is throttled per IP.

The attack (issue 12, item 13): `POST /auth/register` answered 409 "already registered" for a
known address, without any limit: a list of addresses could be checked as fast as the server
answers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from roo.config import Settings
from tests.auth.conftest import PASSWORD, MakeUser, auth, make_user, resources, sign_in

__all__ = ["auth", "make_user", "resources", "sign_in"]  # fixtures

PER_IP = 4


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"register_max_per_ip": PER_IP})


def comparable(response: httpx.Response) -> tuple[int, str | None, Any]:
    body = response.json()
    body.pop("requestId", None)
    return response.status_code, response.headers.get("content-type"), body


async def register(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/register", json={"email": email, "password": password})


async def login(client: httpx.AsyncClient, email: str, password: str) -> int:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    return response.status_code


def address(name: str) -> str:
    """A fresh address: the database is shared by the tests of a run."""
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


@pytest.fixture
async def other_ip(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_a_taken_address_gets_the_answer_of_a_new_one(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    taken, fresh = address("taken"), address("fresh")
    await make_user(taken)
    new = await register(client, fresh, "attacker-chosen-pw")
    known = await register(client, taken.upper(), "attacker-chosen-pw")
    assert new.status_code == 202, new.text
    assert comparable(new) == comparable(known)
    assert "token" not in new.text.lower()
    # The new account exists; the existing one is untouched (its password still the owner's).
    assert await login(client, fresh, "attacker-chosen-pw") == 200
    assert await login(client, taken, "attacker-chosen-pw") == 401
    assert await login(client, taken, PASSWORD) == 200


async def test_registration_is_throttled_per_ip(
    client: httpx.AsyncClient, other_ip: httpx.AsyncClient, make_user: MakeUser
) -> None:
    taken, extra = address("taken"), address("one-more")
    await make_user(taken)
    answers = [
        (await register(client, address("probe"), "attacker-chosen-pw")).status_code
        for _ in range(PER_IP - 1)
    ]
    answers.append((await register(client, taken, "x" * 12)).status_code)
    assert answers == [202] * PER_IP
    refused = await register(client, extra, "attacker-chosen-pw")
    assert refused.status_code == 429, refused.text
    assert refused.json()["type"] == "urn:roo:problem:registration-throttled"
    assert int(refused.headers["retry-after"]) >= 1
    refused_taken = await register(client, taken, "attacker-chosen-pw")
    assert comparable(refused_taken) == comparable(refused)
    # The refused address was not created; another client address has its own budget.
    assert await login(client, extra, "attacker-chosen-pw") == 401
    assert (await register(other_ip, extra, "attacker-chosen-pw")).status_code == 202
    assert await login(client, extra, "attacker-chosen-pw") == 200
