"""Streamed text and command output reach the event log as they are produced: merged while they
wait for the run's next write, in order, and nothing is lost at a question or the run's end."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from roo.api.state import Resources
from roo.tasks.run import MESSAGE_DELTA_CHARS, EventBuffer
from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.tasks.conftest import RUN_ANYTHING, Api, Json, is_command_event, question


def output(call_id: str, text: str) -> Json:
    return {"phase": "output", "callId": call_id, "tool": "execute_command", "output": text}


def text_of(events: list[Json], kind: str = "text") -> str:
    return "".join(
        e["data"]["delta"] for e in events if e["event"] == "message" and e["data"]["kind"] == kind
    )


async def test_consecutive_deltas_and_output_chunks_become_one_event(
    api: Api, resources: Resources
) -> None:
    session = await api.session()
    buffer = EventBuffer(resources.tasks.events, uuid.UUID(session), uuid.uuid4())
    for word in ("Let ", "me ", "look."):
        await buffer("message", {"kind": "text", "delta": word})
    await buffer("message", {"kind": "reasoning", "delta": "hm"})
    await buffer("message", {"kind": "text", "delta": " Now"})
    await buffer("tool.execution", {"phase": "start", "callId": "c1", "tool": "execute_command"})
    for line in ("one\n", "two\n", "three\n"):
        await buffer("tool.execution", output("c1", line))
    await buffer("tool.execution", output("c2", "other call\n"))
    await buffer("tool.execution", output("c1", "four\n"))
    await buffer.flush()

    events = await api.events(session)
    assert [(e["event"], e["data"]) for e in events] == [
        ("message", {"kind": "text", "delta": "Let me look."}),
        ("message", {"kind": "reasoning", "delta": "hm"}),
        ("message", {"kind": "text", "delta": " Now"}),
        ("tool.execution", {"phase": "start", "callId": "c1", "tool": "execute_command"}),
        ("tool.execution", output("c1", "one\ntwo\nthree\n")),
        ("tool.execution", output("c2", "other call\n")),
        ("tool.execution", output("c1", "four\n")),
    ]
    assert [e["seq"] for e in events] == list(range(1, 8))


async def test_merged_deltas_keep_the_size_bound_and_lose_nothing(
    api: Api, resources: Resources
) -> None:
    session = await api.session()
    buffer = EventBuffer(resources.tasks.events, uuid.UUID(session), uuid.uuid4())
    text = "".join(f"w{i} " for i in range(400)) + "x" * (MESSAGE_DELTA_CHARS * 2 + 7)
    for start in range(0, len(text), 37):
        await buffer("message", {"kind": "text", "delta": text[start : start + 37]})
    await buffer("message", {"kind": "text", "delta": "y" * (MESSAGE_DELTA_CHARS * 3)})
    await buffer.flush()

    deltas = [e["data"]["delta"] for e in await api.events(session)]
    assert "".join(deltas) == text + "y" * (MESSAGE_DELTA_CHARS * 3)
    assert all(len(d) == MESSAGE_DELTA_CHARS for d in deltas[:-1])
    assert 0 < len(deltas[-1]) <= MESSAGE_DELTA_CHARS


async def test_a_delta_emitted_during_a_write_is_not_merged_into_it(
    api: Api, resources: Resources
) -> None:
    session = await api.session()
    store = resources.tasks.events
    buffer = EventBuffer(store, uuid.UUID(session), uuid.uuid4())
    await buffer("message", {"kind": "text", "delta": "a"})
    writing = asyncio.create_task(buffer.flush())
    await asyncio.sleep(0)  # the write has taken "a"
    await buffer("message", {"kind": "text", "delta": "b"})
    await writing
    await buffer.flush()
    assert [e["data"]["delta"] for e in await api.events(session)] == ["a", "b"]


async def test_what_is_emitted_during_a_slow_write_follows_it_without_another_event(
    api: Api, resources: Resources, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await api.session()
    store = resources.tasks.events
    buffer = EventBuffer(store, uuid.UUID(session), uuid.uuid4())
    append_many = store.append_many
    writing, go = asyncio.Event(), asyncio.Event()
    writes: list[list[str]] = []

    async def slow(*args: Any, **kwargs: Any) -> Any:
        writes.append([item[1]["delta"] for item in args[2]])
        writing.set()
        await go.wait()
        return await append_many(*args, **kwargs)

    monkeypatch.setattr(store, "append_many", slow)
    await buffer("message", {"kind": "text", "delta": "a"})
    await asyncio.wait_for(writing.wait(), 10)  # the timed write of "a" waits for the database
    await buffer("message", {"kind": "text", "delta": "b"})
    await buffer("message", {"kind": "text", "delta": "c"})
    go.set()  # nothing is emitted after this: "bc" must still follow by itself
    await api.wait_event(session, lambda e: e["data"]["delta"] == "bc")
    assert writes == [["a"], ["bc"]]
    assert [e["data"]["delta"] for e in await api.events(session)] == ["a", "bc"]


async def test_text_before_a_pause_in_the_stream_is_in_the_log_during_the_pause(
    api: Api, llm: FakeLLM
) -> None:
    first, rest = "I will list the files. ", "Then I am done."
    llm.script(
        Reply(
            text=first + rest,
            chunk_size=len(first),
            hold_after=1,
            tool_calls=[ToolCall("attempt_completion", {"result": "ok"})],
        )
    )
    session = await api.session()
    task = await api.start(session)

    event = await api.wait_event(session, lambda e: e["event"] == "message")
    assert event["data"] == {"kind": "text", "delta": first}
    assert llm.held == 1  # the model has not sent the rest yet
    llm.release()
    await api.wait(session, task["id"], "completed")

    events = await api.events(session)
    assert text_of(events) == first + rest
    names = [e["event"] for e in events]
    assert names.index("task.complete") > max(i for i, n in enumerate(names) if n == "message")


async def test_streamed_text_is_all_in_the_log_before_a_question_and_at_the_end(
    api: Api, llm: FakeLLM
) -> None:
    asked = " ".join(f"why{i}" for i in range(200))
    closing = " ".join(f"done{i}" for i in range(200))
    ask = question("Which file?")
    llm.script(
        Reply(text=asked, reasoning="thinking it over", tool_calls=ask.tool_calls, chunk_size=3),
        Reply(
            text=closing,
            tool_calls=[ToolCall("attempt_completion", {"result": "ok"})],
            chunk_size=3,
        ),
    )
    session = await api.session()
    task = await api.start(session)
    waiting = await api.wait(session, task["id"], "awaiting_input")

    events = await api.events(session)
    assert text_of(events) == asked  # all of it, written with the question
    assert text_of(events, "reasoning") == "thinking it over"
    names = [e["event"] for e in events]
    assert names.index("approval.required") > max(i for i, n in enumerate(names) if n == "message")
    response = await api.act(
        session,
        task["id"],
        action="answer",
        approvalId=waiting["pending"]["id"],
        text="a.txt",
    )
    assert response.status_code == 200, response.text
    await api.wait(session, task["id"], "completed")

    events = await api.events(session)
    assert text_of(events) == asked + closing
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)
    last_message = max(i for i, e in enumerate(events) if e["event"] == "message")
    assert last_message < [e["event"] for e in events].index("task.complete")


async def test_command_output_is_in_the_log_in_order_while_the_command_runs(
    api: Api, llm: FakeLLM
) -> None:
    # Five lines a little apart, then a wait the test ends by cancelling the task.
    command = "for i in 1 2 3 4 5; do echo line$i; sleep 0.05; done; sleep 60"
    llm.script(Reply(tool_calls=[ToolCall("execute_command", {"command": command})]))
    session = await api.session(approvalPolicy=RUN_ANYTHING)
    task = await api.start(session)
    lines = "".join(f"line{i}\n" for i in range(1, 6))

    def outputs(events: list[Json]) -> str:
        return "".join(
            e["data"]["output"]
            for e in events
            if is_command_event(e) and e["data"]["phase"] == "output"
        )

    await api.wait_event(
        session, lambda e: is_command_event(e) and "line5" in e["data"].get("output", "")
    )
    events = await api.events(session)
    phases = [e["data"]["phase"] for e in events if is_command_event(e)]
    assert phases[0] == "start"
    assert "end" not in phases  # the command still runs (it sleeps for a minute)
    assert outputs(events) == lines
    assert (await api.task(session, task["id"]))["state"] == "running"

    response = await api.request("DELETE", f"/api/v1/sessions/{session}/tasks/{task['id']}")
    assert response.status_code == 200, response.text
    events = await api.events(session)
    assert outputs(events) == lines
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
