"""The task-control port (`roo.tasks.control.TaskControl`) driven directly, as the service
drives it: an answer (and a stale one refused), a message, a cancel."""

from __future__ import annotations

import json
import uuid

import pytest

from roo.agent.state import Answer
from roo.api.state import Resources
from roo.db.engine import unit_of_work
from roo.tasks import repository
from roo.tasks.control import AnswerNotAwaited
from roo.testing.fake_llm import Reply, ToolCall
from tests.tasks.conftest import (
    RUN_ANYTHING,
    Api,
    FakeLLM,
    is_command_event,
    question,
    tool_results_of,
)


async def test_an_answer_through_the_port_reaches_the_run(
    api: Api, llm: FakeLLM, resources: Resources
) -> None:
    control = resources.tasks.control
    session = await api.session()
    llm.script(
        question("Which?"), Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})])
    )
    task = await api.start(session)
    waiting = await api.wait(session, task["id"], "awaiting_input")
    task_id = uuid.UUID(task["id"])

    # an answer to another question is refused, and nothing is written
    async def answer_another_question() -> None:
        async with unit_of_work(resources.db_sessions) as db:
            row = await repository.lock(db, task_id)
            assert row is not None
            row.pending = {**(row.pending or {}), "id": str(uuid.uuid4())}
            await control.answer(db, row, Answer("answer", "stale"))

    with pytest.raises(AnswerNotAwaited):
        await answer_another_question()
    assert (await api.task(session, task["id"]))["pending"]["id"] == waiting["pending"]["id"]

    async with unit_of_work(resources.db_sessions) as db:
        row = await repository.lock(db, task_id)
        assert row is not None
        await control.answer(db, row, Answer("answer", "the blue one"))
    done = await api.wait(session, task["id"], "completed")
    assert done["result"] == "ok"
    assert "the blue one" in json.dumps(tool_results_of(llm)[-1]["content"])


async def test_a_message_and_a_cancel_through_the_port(
    api: Api, llm: FakeLLM, resources: Resources
) -> None:
    control = resources.tasks.control
    session = await api.session(approvalPolicy=RUN_ANYTHING)
    llm.script(
        Reply(tool_calls=[ToolCall("list_files", {"path": "."})], first_byte_delay=0.5),
        Reply(tool_calls=[ToolCall("execute_command", {"command": "sleep 30"})]),
    )
    task = await api.start(session)
    task_id = uuid.UUID(task["id"])
    await api.wait(session, task["id"], "running")
    async with unit_of_work(resources.db_sessions) as db:
        row = await repository.lock(db, task_id)
        assert row is not None
        await control.message(db, row, "port note")
    await api.wait_event(session, is_command_event)  # the next turn went out with the note
    assert "port note" in json.dumps(llm.requests[-1].body["messages"])
    assert "port note" not in json.dumps(llm.requests[0].body["messages"])

    await control.cancel(task_id)  # returns once the run recorded its end
    cancelled = await api.task(session, task["id"])
    assert cancelled["state"] == "cancelled"
    assert cancelled["failure"]["reason"] == "user_cancelled"
