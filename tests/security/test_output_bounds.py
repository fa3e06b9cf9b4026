"""Command output is stored with a bound (issue 12, item 11).

The probe: one step wrote 20 MB of `task_events` while the model got 1 MiB (the sandbox stops a
command only at 50x `maxOutputBytes`). Now a command's output events keep at most what the model
gets (`maxOutputBytes`), or less where the service's setting says so; the rest is counted in the
call's `end` event, not stored.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from roo.api.state import Resources
from roo.db.models import TaskEvent
from roo.testing.fake_llm import Reply, ToolCall
from tests.tasks.conftest import (
    RUN_ANYTHING,
    Api,
    FakeLLM,
    api,
    auth,
    is_command_event,
    llm,
    make_api,
    make_user,
    resources,
    settings,
    sign_in,
    tool_results_of,
)

__all__ = ["api", "auth", "llm", "make_api", "make_user", "resources", "settings", "sign_in"]

Json = dict[str, Any]


async def run_one_command(api: Api, llm: FakeLLM, command: str, **limits: int) -> tuple[str, Json]:
    """A task that runs `command` once, then completes: its session and its finished row."""
    session = await api.session(approvalPolicy=RUN_ANYTHING, limits=limits)
    llm.script(
        Reply(tool_calls=[ToolCall("execute_command", {"command": command}, id="c_loud")]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "done"})]),
    )
    task = await api.start(session)
    return session, await api.wait(session, task["id"], "completed", within=60)


def call_events(events: list[Json], phase: str) -> list[Json]:
    return [
        e
        for e in events
        if is_command_event(e) and e["data"]["callId"] == "c_loud" and e["data"]["phase"] == phase
    ]


def streamed_bytes(events: list[Json]) -> int:
    return sum(len(e["data"]["output"].encode()) for e in call_events(events, "output"))


async def test_output_events_keep_at_most_what_the_model_gets(api: Api, llm: FakeLLM) -> None:
    cap = 16 * 1024
    # 600 kB: far more than the model gets, below the sandbox's runaway stop (50 x cap).
    session, _ = await run_one_command(
        api, llm, "yes 0123456789abcdef | head -c 600000", maxOutputBytes=cap
    )
    events = await api.events(session, limit=1000)
    model_got = json.dumps(tool_results_of(llm)[-1]["content"])
    assert "output truncated" in model_got
    assert streamed_bytes(events) <= cap
    (end,) = call_events(events, "end")
    assert end["data"]["outputBytes"] == 600000
    assert end["data"]["outputDropped"] == 600000 - streamed_bytes(events)
    # Everything stored for the call, envelope included, stays near the model's share.
    stored = sum(len(json.dumps(e)) for e in events if is_command_event(e))
    assert stored < 2 * cap + 16 * 1024


async def test_many_small_writes_cannot_multiply_the_stored_rows(
    api: Api, llm: FakeLLM, resources: Resources
) -> None:
    cap = 16 * 1024
    # 4000 writes of 2 bytes each, a little apart: many reads, each of them tiny.
    command = (
        "python3 -c 'import sys, time\n"
        "for i in range(4000):\n"
        '    sys.stdout.write("x\\n"); sys.stdout.flush(); time.sleep(0.0002)\''
    )
    session, task = await run_one_command(api, llm, command, maxOutputBytes=cap)
    async with resources.db_sessions() as db:
        rows = await db.scalar(
            select(func.count())
            .select_from(TaskEvent)
            .where(TaskEvent.task_id == uuid.UUID(task["id"]))
        )
    # Each stored chunk is a row: their count is bounded along with their bytes.
    assert rows is not None
    assert rows < cap // 128 + 50
    events = await api.events(session, limit=1000)
    assert len(call_events(events, "output")) <= cap // 128
    (end,) = call_events(events, "end")
    assert end["data"]["outputBytes"] == 8000
    assert streamed_bytes(events) + end["data"]["outputDropped"] == 8000


@pytest.mark.task_settings(task_output_event_bytes=4096)
async def test_a_smaller_service_setting_bounds_output_events_further(
    api: Api, llm: FakeLLM
) -> None:
    session, _ = await run_one_command(
        api, llm, "yes 0123456789abcdef | head -c 100000", maxOutputBytes=64 * 1024
    )
    events = await api.events(session, limit=1000)
    assert streamed_bytes(events) <= 4096
    (end,) = call_events(events, "end")
    assert end["data"]["outputDropped"] == 100000 - streamed_bytes(events)
    # The model still gets its own share (64 KiB), more than the events keep.
    model_got = json.dumps(tool_results_of(llm)[-1]["content"])
    assert len(model_got) > 60_000
