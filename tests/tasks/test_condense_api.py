"""Condensing through the API: the user's `condense` action (in this process and through the
inbox of another), the whole history returned with its marks, the summary's cost in the task's
usage, `context.condensed` in the session's event log, 409 for a task that cannot condense."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from sqlalchemy import select

from roo.agent.pricing import Usage as Priced
from roo.agent.pricing import model_info
from roo.agent.prompts import condense_instructions, condense_system_prompt
from roo.api.state import Resources
from roo.db.engine import unit_of_work
from roo.db.models import Task, TaskMessage
from roo.testing.fake_llm import Failure, Reply, ToolCall, Usage
from tests.tasks.conftest import Api, FakeLLM

SUMMARY = "1. Primary Request and Intent: write notes.txt."


def script(llm: FakeLLM) -> None:
    """A listing, a write that asks, then (once the user condensed and approved) the summary
    and the completion; every reply with its usage."""
    llm.script(
        Reply(
            tool_calls=[ToolCall("list_files", {"path": "."}, id="call_list")],
            usage=Usage(1_000, 20),
        ),
        Reply(
            tool_calls=[
                ToolCall("write_to_file", {"path": "notes.txt", "content": "hi\n"}, id="call_w")
            ],
            usage=Usage(1_500, 30),
        ),
        Reply(text=SUMMARY, usage=Usage(2_000, 300)),
        Reply(
            tool_calls=[ToolCall("attempt_completion", {"result": "Written."})],
            usage=Usage(700, 10),
        ),
    )


def system_of(body: dict[str, object]) -> object:
    messages = body["messages"]
    assert isinstance(messages, list)
    return next(m["content"] for m in messages if m["role"] == "system")


async def test_the_user_condenses_a_waiting_task(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    script(llm)
    task = await api.start(session, "Write notes.txt")
    waiting = await api.wait(session, task["id"], "awaiting_approval")

    response = await api.act(session, task["id"], action="condense")

    assert response.status_code == 200, response.text
    assert response.json()["state"] == "awaiting_approval"  # it condenses once it goes on
    response = await api.act(
        session, task["id"], action="approve", approvalId=waiting["pending"]["id"]
    )
    assert response.status_code == 200, response.text
    done = await api.wait(session, task["id"], "completed")

    # the summary request went between the approved write and the completion
    summary_request, after = llm.requests[2].body, llm.requests[3].body
    assert system_of(summary_request) == condense_system_prompt()
    assert summary_request["messages"][-1]["content"] == [
        {"type": "text", "text": condense_instructions()}
    ]
    assert "tools" not in summary_request
    assert "[Tool Use: write_to_file]" in str(summary_request["messages"])
    assert [m["role"] for m in after["messages"]] == ["system", "user"]
    first = after["messages"][1]["content"][0]
    assert first == {"type": "text", "text": f"## Conversation Summary\n{SUMMARY}"}

    # the whole history, marked: nothing condensed is lost
    messages = done["messages"]
    assert len(messages) == 7  # the task, two steps, the summary, the completion
    summary = messages[5]
    assert summary["isSummary"] is True
    assert summary["role"] == "user"
    assert [m.get("condenseParent") for m in messages[:5]] == [summary["condenseId"]] * 5
    assert "Write notes.txt" in str(messages[0])
    assert "call_w" in str(messages[3])
    assert "condenseParent" not in messages[6]

    # its cost is the task's: tokens and dollars of all four calls; three were the task's own
    info = model_info("openai", "gpt-4o")
    assert info is not None
    calls = [(1_000, 20), (1_500, 30), (2_000, 300), (700, 10)]
    usage = done["usage"]
    assert usage["inputTokens"] == sum(i for i, _ in calls)
    assert usage["outputTokens"] == sum(o for _, o in calls)
    total = sum(Priced.priced(info, "openai", i, o, 0, 0).cost for i, o in calls)
    assert usage["cost"] == pytest.approx(total, abs=1e-6)
    assert usage["requests"] == 3

    events = await api.events(session)
    (requested,) = [e for e in events if e["event"] == "context.condense_requested"]
    assert requested["taskId"] == task["id"]
    (condensed,) = [e for e in events if e["event"] == "context.condensed"]
    assert condensed["data"]["trigger"] == "manual"
    assert condensed["data"]["condenseId"] == summary["condenseId"]
    assert condensed["data"]["cost"] == pytest.approx(
        Priced.priced(info, "openai", 2_000, 300, 0, 0).cost
    )
    assert condensed["data"]["prevContextTokens"] > 0
    assert condensed["data"]["newContextTokens"] > 0


async def test_a_task_that_is_not_running_or_waiting_cannot_condense(
    api: Api, llm: FakeLLM, resources: Resources
) -> None:
    session = await api.session()
    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]))
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    async with unit_of_work(resources.db_sessions) as db:
        before_row = await db.get(Task, uuid.UUID(task["id"]))
        assert before_row is not None
        before = (before_row.inbox, dict(before_row.engine_state))

    response = await api.act(session, task["id"], action="condense")

    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("task-state-conflict")
    assert "completed" in problem["detail"]
    assert "condense" in problem["detail"]
    events = await api.events(session)
    assert not [e for e in events if e["event"].startswith("context.")]
    async with unit_of_work(resources.db_sessions) as db:
        row = await db.get(Task, uuid.UUID(task["id"]))
        assert row is not None
        assert (row.inbox, row.engine_state) == before
        assert row.state == "completed"


async def test_an_unknown_action_is_refused(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]))
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")

    response = await api.act(session, task["id"], action="compact")

    assert response.status_code == 422, response.text


@pytest.mark.task_settings(task_heartbeat_seconds=5)
async def test_condense_asked_of_another_process(
    api: Api, other: Api, llm: FakeLLM, resources: Resources
) -> None:
    """`roo serve --workers 2`: the request reaches the running process through the task's
    inbox, as approvals and messages do."""
    session = await api.session()
    script(llm)
    task = await api.start(session, "Write notes.txt")  # run by the first process
    waiting = await other.wait(session, task["id"], "awaiting_approval")

    response = await other.act(session, task["id"], action="condense")
    assert response.status_code == 200, response.text
    await inbox_read(resources, task["id"])
    response = await other.act(
        session, task["id"], action="approve", approvalId=waiting["pending"]["id"]
    )
    assert response.status_code == 200, response.text
    done = await other.wait(session, task["id"], "completed")

    assert system_of(llm.requests[2].body) == condense_system_prompt()
    assert done["messages"][5]["isSummary"] is True


async def inbox_read(resources: Resources, task_id: str, within: float = 10.0) -> None:
    """Until the running process has taken the task's mail."""
    deadline = time.monotonic() + within
    while True:
        async with unit_of_work(resources.db_sessions) as db:
            inbox = await db.scalar(select(Task.inbox).where(Task.id == uuid.UUID(task_id)))
        if inbox is None:
            return
        assert time.monotonic() < deadline, f"the inbox was not read: {inbox}"
        await asyncio.sleep(0.05)


def too_long() -> Failure:
    return Failure(400, "maximum context length exceeded", code="context_length_exceeded")


async def test_the_sliding_window_marks_what_it_hides_and_the_api_returns_it(
    api: Api, llm: FakeLLM
) -> None:
    session = await api.session()
    llm.script(
        *[
            Reply(
                tool_calls=[
                    ToolCall("list_files", {"path": ".", "recursive": i % 2 == 0}, id=f"call_{i}")
                ]
            )
            for i in range(1, 5)
        ],
        too_long(),  # under 75 % of the window: a quarter of the turns is hidden
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]),
    )
    task = await api.start(session)
    done = await api.wait(session, task["id"], "completed")

    messages = done["messages"]
    assert len(messages) == 10  # the task, four steps, the completion: all of them
    marks = [m.get("truncationParent") for m in messages]
    (truncated,) = [e for e in await api.events(session) if e["event"] == "context.truncated"]
    assert marks == [None, *[truncated["data"]["truncationId"]] * 2, *[None] * 7]
    assert "call_1" in str(messages[1])
    assert "[Sliding window truncation: 2 messages hidden to reduce context]" in str(messages[0])
    assert "call_1" not in str(llm.requests[-1].body["messages"])


async def test_a_task_saved_with_the_older_count_is_read_marked(
    api: Api, llm: FakeLLM, resources: Resources
) -> None:
    """Tasks saved before marks existed kept `engine_state["hidden"]`: the API shows those
    messages marked, and the task's next run stores the marks and sends them no more."""
    session = await api.session()
    llm.script(
        Reply(tool_calls=[ToolCall("list_files", {"path": "."}, id="call_1")]),
        Reply(tool_calls=[ToolCall("list_files", {"path": "."}, id="call_2")]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]),
    )
    task = await api.start(session)
    await api.wait(session, task["id"], "completed")
    task_id = uuid.UUID(task["id"])
    async with unit_of_work(resources.db_sessions) as db:
        row = await db.get(Task, task_id)
        assert row is not None
        row.engine_state = {**row.engine_state, "hidden": 2}

    shown = (await api.task(session, task["id"]))["messages"]

    assert len(shown) == 6
    assert [m.get("truncationParent") for m in shown] == [
        None,
        "legacy",
        "legacy",
        None,
        None,
        None,
    ]

    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "again"})]))
    response = await api.act(session, task["id"], action="message", text="once more")
    assert response.status_code == 200, response.text
    await api.wait(session, task["id"], "completed")

    sent = str(llm.requests[-1].body["messages"])
    assert "call_1" not in sent
    assert "call_2" in sent
    assert "once more" in sent
    async with unit_of_work(resources.db_sessions) as db:
        row = await db.get(Task, task_id)
        assert row is not None
        assert "hidden" not in row.engine_state
        stored = {
            r.position: r.message
            for r in await db.execute(
                select(TaskMessage.position, TaskMessage.message).where(
                    TaskMessage.task_id == task_id
                )
            )
        }
    assert [stored[p].get("truncationParent") for p in range(4)] == [
        None,
        "legacy",
        "legacy",
        None,
    ]
