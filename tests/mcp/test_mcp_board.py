"""The MCP board (`roo.mcp.board`) on what it runs on: Redis, or PostgreSQL without it.
Entries live their lifetime and no longer; a taken entry is gone."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from roo.api.state import Resources
from roo.mcp.board import Board, PostgresBoard, RedisBoard
from tests.support.databases import is_postgres


@pytest.fixture(params=["redis", "postgres"])
def board(request: pytest.FixtureRequest, resources: Resources) -> Board:
    if request.param == "redis":
        if resources.redis is None:
            pytest.skip("needs REDIS_URL")
        return RedisBoard(resources.redis, resources.settings.redis_prefix)
    if not is_postgres(resources.settings.db_url):
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    return PostgresBoard(resources.db_sessions)


async def test_entries_live_their_lifetime_and_a_taken_one_is_gone(board: Board) -> None:
    scope = uuid.uuid4().hex
    await board.put("state", scope, "p1", {"servers": [{"name": "a"}]}, 30)
    await board.put("state", scope, "p2", {"servers": []}, 0.5)
    await board.put("state", scope, "p1", {"servers": [{"name": "b"}]}, 30)  # replaced
    assert await board.read("state", scope) == {
        "p1": {"servers": [{"name": "b"}]},
        "p2": {"servers": []},
    }
    assert await board.read("state", uuid.uuid4().hex) == {}
    await asyncio.sleep(1.0)
    assert await board.read("state", scope) == {"p1": {"servers": [{"name": "b"}]}}
    await board.sweep()
    await board.delete("state", scope, "p1")
    assert await board.read("state", scope) == {}

    await board.put("request", scope, "r1", {"server": "s"}, 30)
    await board.put("request", scope, "r2", {"server": "t"}, 30)
    assert await board.take("request", scope) == {"r1": {"server": "s"}, "r2": {"server": "t"}}
    assert await board.take("request", scope) == {}
