"""How a task's state is stored: a step writes what it added, not the whole conversation, and
what is stored is what the engine holds, through truncations, edits, failures and resumes."""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from roo.agent import messages as m
from roo.agent.context import effective_history
from roo.agent.messages import Block, Message
from roo.agent.prompts import responses as r
from roo.agent.state import Answer, EngineState
from roo.api.state import Resources
from roo.db.engine import unit_of_work
from roo.db.models import Task, TaskMessage
from roo.tasks.state_store import StateWriter, load_state
from roo.testing.fake_llm import Failure, Reply, ToolCall, Usage
from tests.agent.engine.conftest import Harness, calls, complete
from tests.tasks.conftest import LLM_KEY, RUN_ANYTHING, Api, FakeLLM

RESULT_BYTES = 20_000  # each tool result of these tasks


@dataclass
class Write:
    table: str
    verb: str  # INSERT | UPDATE
    rows: int
    text_bytes: int  # the strings and bytes the statement sends (JSON values included)


@dataclass
class Writes:
    """The statements that write a task's state, as the database receives them."""

    items: list[Write] = field(default_factory=list)

    def on(self, table: str, verb: str) -> list[Write]:
        return [w for w in self.items if w.table == table and w.verb == verb]


STATEMENT = re.compile(r"^\s*(INSERT INTO|UPDATE)\s+(task_messages|tasks)\b", re.IGNORECASE)


def _size(value: Any) -> int:
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, list | tuple):
        return sum(_size(v) for v in value)
    if isinstance(value, dict):
        return sum(_size(v) for v in value.values())
    return 0


@contextmanager
def recorded_writes(engine: AsyncEngine) -> Iterator[Writes]:
    writes = Writes()

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        match = STATEMENT.match(statement)
        if match is None:
            return
        verb = "INSERT" if match.group(1).upper().startswith("INSERT") else "UPDATE"
        rows = len(parameters) if many else statement.count("), (") + 1  # multi-row VALUES
        writes.items.append(Write(match.group(2).lower(), verb, rows, _size(parameters)))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield writes
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def result_file(n: int) -> str:
    line = f"file {n}: " + "x" * 90 + "\n"
    return line * (RESULT_BYTES // len(line))


async def test_a_step_writes_what_it_added_not_the_conversation(
    api: Api, llm: FakeLLM, resources: Resources
) -> None:
    """Twelve steps that each read a 20 KB file: every statement that saves the task carries
    about one step's worth (a 20 KB result, twice: as the pending result, then in its user
    turn), however long the conversation already is; each message is inserted once."""
    steps = 12
    session = await api.session()
    for n in range(steps):
        await api.write(session, f"f{n}.txt", result_file(n))
    llm.script(
        *(
            Reply(tool_calls=[ToolCall("read_file", {"path": f"f{n}.txt"}, id=f"read_{n}")])
            for n in range(steps)
        ),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "read them all"})]),
    )

    with recorded_writes(resources.engine) as writes:
        task = await api.start(session)
        done = await api.wait(session, task["id"], "completed")

    conversation = json.dumps(done["messages"])
    assert len(conversation) > steps * RESULT_BYTES  # the whole is far more than a step
    largest = max(w.text_bytes for w in writes.items)
    assert largest < 3 * RESULT_BYTES, f"a write of {largest} bytes: the whole conversation?"
    # 1 task message + (reply, results) per step + the completing reply; none written twice
    assert len(done["messages"]) == 1 + 2 * steps + 1
    assert sum(w.rows for w in writes.on("task_messages", "INSERT")) == len(done["messages"])
    assert writes.on("task_messages", "UPDATE") == []
    assert await message_rows(resources, task["id"]) == len(done["messages"])


async def test_a_checkpoint_that_fails_midway_leaves_the_previous_one(
    api: Api, llm: FakeLLM, resources: Resources
) -> None:
    """The checkpoint that records step 1's user turn fails after inserting its message row:
    nothing of it stays (one transaction), the task fails, and `resume` continues from the
    checkpoint before: the command's saved result is reused (it does not run again), and the
    conversation has each position once."""
    session = await api.session(approvalPolicy=RUN_ANYTHING)
    llm.script(
        Reply(tool_calls=[ToolCall("execute_command", {"command": "echo once | tee -a log.txt"})]),
    )
    checkpoints = 0

    def fail_the_fourth(
        _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        nonlocal checkpoints
        if statement.lstrip().upper().startswith("UPDATE TASKS") and "engine_state" in statement:
            checkpoints += 1
            # 1 the task, 2 the reply, 3 the command's result, 4 the user turn with it
            if checkpoints == 4:
                raise RuntimeError("the database went away")

    sync_engine = resources.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", fail_the_fourth)
    try:
        task = await api.start(session)
        failed = await api.wait(session, task["id"], "failed")
    finally:
        event.remove(sync_engine, "before_cursor_execute", fail_the_fourth)
    assert failed["failure"]["reason"] == "internal_error"
    assert [m["role"] for m in failed["messages"]] == ["user", "assistant"]

    llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "done"})]))
    response = await api.act(session, task["id"], action="resume")
    assert response.status_code == 200, response.text
    done = await api.wait(session, task["id"], "completed")

    assert await api.read(session, "log.txt") == "once\n"  # ran exactly once
    assert [m["role"] for m in done["messages"]] == ["user", "assistant", "user", "assistant"]
    results = [b for b in done["messages"][2]["content"] if b["type"] == "tool_result"]
    assert "Exit code: 0" in json.dumps(results)
    assert len(llm.requests) == 2
    async with unit_of_work(resources.db_sessions) as db:
        positions = await db.scalars(
            select(TaskMessage.position)
            .where(TaskMessage.task_id == uuid.UUID(task["id"]))
            .order_by(TaskMessage.position)
        )
        assert list(positions) == [0, 1, 2, 3]


async def message_rows(resources: Resources, task_id: str) -> int:
    async with unit_of_work(resources.db_sessions) as db:
        count = await db.scalar(
            select(func.count())
            .select_from(TaskMessage)
            .where(TaskMessage.task_id == uuid.UUID(task_id))
        )
    return int(count or 0)


async def test_deleting_a_task_or_its_session_deletes_its_messages(
    api: Api, llm: FakeLLM, resources: Resources
) -> None:
    session = await api.session()
    done = Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})])
    llm.script(done, done)
    first = await api.start(session)
    await api.wait(session, first["id"], "completed")
    second = await api.start(session)
    await api.wait(session, second["id"], "completed")
    assert await message_rows(resources, first["id"]) == 2

    response = await api.request("DELETE", f"/api/v1/sessions/{session}/tasks/{first['id']}")
    assert response.status_code == 204, response.text
    assert await message_rows(resources, first["id"]) == 0
    assert await message_rows(resources, second["id"]) == 2
    response = await api.request("DELETE", f"/api/v1/sessions/{session}")
    assert response.status_code == 204, response.text
    assert await message_rows(resources, second["id"]) == 0


# ---- the store against the engine ---------------------------------------------------------------


async def new_task_row(api: Api, resources: Resources) -> uuid.UUID:
    """A running task of a fresh session, with nothing saved yet."""
    session = await api.session()
    async with unit_of_work(resources.db_sessions) as db:
        row = Task(
            session_id=uuid.UUID(session),
            user_id=api.user.user_id,
            state="running",
            mode="code",
            provider="openai",
            model="gpt-4o",
            input="do it",
            images=[],
            engine_state={},
        )
        db.add(row)
    return row.id


class Mirror:
    """A checkpoint that saves through the runner's `StateWriter`, then reads the task back as
    a resumed run would and checks it is what the engine holds."""

    def __init__(self, resources: Resources, task_id: uuid.UUID, state: EngineState) -> None:
        self.db_sessions = resources.db_sessions
        self.task_id = task_id
        self.writer = StateWriter(task_id, state)
        self.written: list[int] = []  # messages written by each checkpoint

    async def __call__(self, state: EngineState) -> None:
        async with unit_of_work(self.db_sessions) as db:
            self.written.append(await self.writer.write(db, state, mode=state.mode))
        loaded = await self.load()
        assert loaded.to_dict() == copy.deepcopy(state.to_dict())

    async def load(self) -> EngineState:
        async with unit_of_work(self.db_sessions) as db:
            task = await db.get(Task, self.task_id)
            assert task is not None
            return await load_state(db, task)

    async def rows(self) -> dict[int, Any]:
        async with unit_of_work(self.db_sessions) as db:
            result = await db.execute(
                select(TaskMessage.position, TaskMessage.message).where(
                    TaskMessage.task_id == self.task_id
                )
            )
            return {row.position: row.message for row in result}


@contextmanager
def engine_harness(llm: FakeLLM, tmp_path: Path) -> Iterator[Harness]:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "a.txt").write_text("alpha\n")
    yield Harness(llm, workspace, api_key=LLM_KEY)


def four_steps() -> list[Reply]:
    return [
        calls(ToolCall("list_files", {"path": "."}, id="call_1")),
        calls(ToolCall("read_file", {"path": "a.txt"}, id="call_2")),
        calls(ToolCall("list_files", {"path": ".", "recursive": True}, id="call_3")),
        calls(ToolCall("read_file", {"path": "a.txt", "limit": 1}, id="call_4")),
    ]


async def test_a_truncation_marks_rows_and_rewrites_only_those(
    api: Api, llm: FakeLLM, resources: Resources, tmp_path: Path
) -> None:
    """A context-window error hides the oldest turn pair from what the model sees: their rows
    stay, rewritten with their mark, the first message is rewritten with the marker, nothing
    else is."""
    task_id = await new_task_row(api, resources)
    mirror = Mirror(resources, task_id, EngineState())
    too_long = Failure(400, "maximum context length exceeded", code="context_length_exceeded")
    llm.script(*four_steps(), too_long, complete())

    with engine_harness(llm, tmp_path) as harness, recorded_writes(resources.engine) as writes:
        try:
            outcome = await harness.run("Look around.", checkpoint=mirror)
        finally:
            await harness.aclose()

    assert outcome.status == "completed"
    (truncated,) = harness.events.of("context.truncated")
    assert truncated["messagesRemoved"] == 2
    state = harness.state
    rows = await mirror.rows()
    assert sorted(rows) == list(range(state.end()))  # hidden ones included
    assert r.truncation_marker(2) in json.dumps(rows[0])
    assert "call_1" in json.dumps(rows[1])
    assert rows[1]["truncationParent"] == rows[2]["truncationParent"] == truncated["truncationId"]
    assert "call_1" not in json.dumps(effective_history(state.history))
    rewrites = writes.on("task_messages", "UPDATE")
    assert sum(w.rows for w in rewrites) == 3  # the first message and the two hidden
    assert max(mirror.written) <= 4  # those three and the new reply


async def test_a_condense_marks_rows_and_appends_the_summary(
    api: Api, llm: FakeLLM, resources: Resources, tmp_path: Path
) -> None:
    """Condensing rewrites each older row once, with its mark, and appends the summary; what
    a resumed run reads back is what the engine holds (the Mirror checks it at every
    checkpoint)."""
    task_id = await new_task_row(api, resources)
    mirror = Mirror(resources, task_id, EngineState())
    script = four_steps()
    script[-1] = replace(script[-1], usage=Usage(120_000, 10))  # past gpt-4o's 128k x 0.9 - 16k
    llm.script(*script, Reply(text="What happened."), complete())

    with engine_harness(llm, tmp_path) as harness, recorded_writes(resources.engine) as writes:
        try:
            outcome = await harness.run("Look around.", checkpoint=mirror)
        finally:
            await harness.aclose()

    assert outcome.status == "completed"
    (condensed,) = harness.events.of("context.condensed")
    rows = await mirror.rows()
    assert sorted(rows) == list(range(harness.state.end()))
    assert [rows[p].get("condenseParent") for p in range(9)] == [condensed["condenseId"]] * 9
    assert rows[9]["isSummary"] is True
    assert rows[9]["condenseId"] == condensed["condenseId"]
    assert "What happened." in json.dumps(rows[9])
    rewrites = writes.on("task_messages", "UPDATE")
    assert sum(w.rows for w in rewrites) == 9  # each condensed row once


async def test_notes_added_to_a_saved_turn_are_saved(
    api: Api, llm: FakeLLM, resources: Resources, tmp_path: Path
) -> None:
    """The mistake-limit guidance joins the last user turn, which was saved already; and a
    resume with a message adds it to the last user turn too: both are stored as they are."""
    task_id = await new_task_row(api, resources)
    mirror = Mirror(resources, task_id, EngineState())
    bad = ToolCall("read_file", '{"path": ')
    # three invalid calls: the task asks; then the provider fails for good (api_req_failed)
    llm.script(calls(bad), calls(bad), calls(bad), *[Failure(500, "down")] * 4)

    with engine_harness(llm, tmp_path) as harness:
        harness.interaction.answer(Answer("answer", "Send valid JSON."), Answer("deny"))
        try:
            outcome = await harness.run("Read a.", checkpoint=mirror)
            assert outcome.reason == "api_req_failed"
            stored = await mirror.load()
            assert r.too_many_mistakes("Send valid JSON.") in texts(stored.history[-1])

            llm.script(complete())
            resumed = Mirror(resources, task_id, stored)
            outcome = await harness.run("Also read b.", state=stored, checkpoint=resumed)
        finally:
            await harness.aclose()

    assert outcome.status == "completed"
    final = await resumed.load()
    assert final.history[-2]["role"] == "user"
    assert r.user_message("Also read b.") in texts(final.history[-2])
    assert resumed.written[0] == 1  # the resume rewrote the last user turn, nothing more


def texts(message: Message) -> list[str]:
    return [b["text"] for b in message["content"] if b.get("type") == "text"]


def step(n: int) -> tuple[Message, Block, Message]:
    """Step `n` of a long task: the reply, its 20 KB result, the next user turn."""
    call = f"call_{n}"
    reply = m.assistant(m.tool_use_block(call, "read_file", {"path": f"f{n}.txt"}))
    result = m.tool_result_block(call, [m.text_block(result_file(n))])
    turn = m.user(result, m.text_block("<environment_details>...</environment_details>"))
    return reply, result, turn


async def test_the_checkpoints_of_step_300_write_what_those_of_step_10_do(
    api: Api, resources: Resources
) -> None:
    """A task with 20 KB tool results, saved up to step 10 and up to step 300: the three
    checkpoints of the next step write the same messages and the same bytes."""
    cost: dict[int, list[tuple[int, int]]] = {}
    for steps in (10, 300):
        task_id = await new_task_row(api, resources)
        state = EngineState(history=[m.user(m.text_block("do it"))])
        for n in range(steps):
            reply, _, turn = step(n)
            state.history += [reply, turn]
        state.step = state.requests = steps
        writer = StateWriter(task_id, EngineState())
        async with unit_of_work(resources.db_sessions) as db:
            assert await writer.write(db, state) == 1 + 2 * steps

        reply, result, turn = step(steps)
        cost[steps] = []
        with recorded_writes(resources.engine) as writes:
            for change in ("reply", "result", "turn"):
                if change == "reply":
                    state.history.append(reply)
                elif change == "result":
                    state.pending_results.append(result)
                else:
                    state.history.append(turn)
                    state.pending_results = []
                    state.step += 1
                before = len(writes.items)
                async with unit_of_work(resources.db_sessions) as db:
                    written = await writer.write(db, state)
                cost[steps].append((written, sum(w.text_bytes for w in writes.items[before:])))

    assert [written for written, _ in cost[300]] == [1, 0, 1]
    assert [written for written, _ in cost[10]] == [1, 0, 1]
    for (_, small), (_, large) in zip(cost[10], cost[300], strict=True):
        assert abs(large - small) <= 16  # a few more digits in the counters and positions


def test_size_counts_json_text() -> None:
    assert _size(("abc", 3, [b"de", {"k": "fgh"}])) == 8


async def test_a_save_under_a_lease_the_runner_no_longer_holds_writes_nothing(
    api: Api, resources: Resources
) -> None:
    """`StateWriter.write(..., lease=...)` writes the task's row first, only where that runner
    holds the active task: another runner's save (the task resumed elsewhere) returns None and
    leaves the row and its messages as they were; the holder's save goes through."""
    task_id = await new_task_row(api, resources)
    async with unit_of_work(resources.db_sessions) as db:
        await db.execute(update(Task).where(Task.id == task_id).values(runner_id="holder"))
    state = EngineState(history=[m.user(m.text_block("do it"))], step=1)

    async with unit_of_work(resources.db_sessions) as db:
        assert await StateWriter(task_id, EngineState()).write(db, state, lease="other") is None
    async with unit_of_work(resources.db_sessions) as db:
        row = await db.get(Task, task_id)
        assert row is not None
        assert row.engine_state == {}
        assert await db.scalar(select(func.count()).where(TaskMessage.task_id == task_id)) == 0

    async with unit_of_work(resources.db_sessions) as db:
        assert await StateWriter(task_id, EngineState()).write(db, state, lease="holder") == 1
    async with unit_of_work(resources.db_sessions) as db:
        assert await db.scalar(select(func.count()).where(TaskMessage.task_id == task_id)) == 1
        await db.execute(update(Task).where(Task.id == task_id).values(state="completed"))
    # not active any more: the holder's lease is over too
    async with unit_of_work(resources.db_sessions) as db:
        assert await StateWriter(task_id, state).write(db, state, lease="holder") is None
