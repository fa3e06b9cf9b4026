"""Roo's defaults where the engine used to differ: the temperature sent, images for models
without vision, asking the user after the retry budget, unknown models (no price: cost null),
against the fake LLM through the official SDKs."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from roo.agent import messages as m
from roo.agent.approval import ApprovalPolicy
from roo.agent.engine import IMAGE_PLACEHOLDER
from roo.agent.pricing import default_model_info, model_info
from roo.agent.state import Answer, EngineState
from roo.agent.tools.execute_command import BackgroundCommands
from roo.agent.tools.read_command_output import CommandOutputs
from roo.testing import Failure, ToolCall, Usage
from tests.agent.engine.conftest import FAST, Harness, calls, complete, gpt_4o, tool_results

BOTH = pytest.mark.parametrize("protocol", ["openai", "anthropic"])
RUN_ALL = ApprovalPolicy(auto_approve_execute=True, allowed_commands=("*",))
PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
    "rkJggg=="
)


# ---- temperature --------------------------------------------------------------------------------


@BOTH
async def test_temperature_0_is_sent_by_default_as_roo(harness: Harness) -> None:
    harness.llm.script(complete())

    outcome = await harness.run()

    assert outcome.status == "completed"
    assert harness.llm.requests[0].temperature == 0


@BOTH
async def test_the_tasks_temperature_overrides_the_default(harness: Harness) -> None:
    harness.llm.script(complete())

    await harness.run(temperature=0.7)

    assert harness.llm.requests[0].temperature == 0.7


@pytest.mark.parametrize("model", ["gpt-5", "o4-mini", "gpt-5.2"])
async def test_models_that_refuse_temperature_get_none(harness: Harness, model: str) -> None:
    info = model_info("openai", model) or default_model_info("openai", model)
    assert not info.supports_temperature  # the table says so; gpt-5.2 by its family
    harness.llm.script(complete())

    outcome = await harness.run(model=model, model_info=info, temperature=0.5)

    assert outcome.status == "completed"
    request = harness.llm.requests[0]
    assert request.model == model
    assert "temperature" not in request.body


# ---- reasoning effort ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-5", "o3", "gpt-5.2"])
async def test_reasoning_effort_goes_to_openai_reasoning_models(
    harness: Harness, model: str
) -> None:
    info = model_info("openai", model) or default_model_info("openai", model)
    assert info.supports_reasoning_effort
    harness.llm.script(complete())

    await harness.run(model=model, model_info=info, reasoning_effort="high")

    assert harness.llm.requests[0].body["reasoning_effort"] == "high"


async def test_no_reasoning_effort_for_other_models_or_when_unset(harness: Harness) -> None:
    harness.llm.script(complete(), complete())

    await harness.run(reasoning_effort="high")  # gpt-4o takes none
    gpt5 = model_info("openai", "gpt-5")
    assert gpt5 is not None
    await harness.run(model="gpt-5", model_info=gpt5)  # none set: the model's default

    assert ["reasoning_effort" in r.body for r in harness.llm.requests] == [False, False]


# ---- images for models without vision -----------------------------------------------------------


@BOTH
async def test_a_model_without_vision_gets_roos_placeholder_instead_of_the_image(
    harness: Harness,
) -> None:
    blind = replace(gpt_4o(), supports_images=False)
    harness.llm.script(complete())
    agent = harness.make_agent(model_info=blind)

    outcome = await agent.run("What is in this picture?", [m.image_block("image/png", PIXEL)])

    assert outcome.status == "completed"
    sent = json.dumps(harness.llm.requests[0].messages)
    assert PIXEL not in sent
    assert "image_url" not in sent
    assert '"image"' not in sent
    assert IMAGE_PLACEHOLDER == "[Referenced image in conversation]"
    assert IMAGE_PLACEHOLDER in sent
    # the history keeps the image: a model with vision later would see it
    first = harness.state.history[0]["content"]
    assert any(block.get("type") == "image" for block in first)


async def test_a_model_with_vision_still_gets_the_image(harness: Harness) -> None:
    harness.llm.script(complete())
    agent = harness.make_agent()

    await agent.run("What is in this picture?", [m.image_block("image/png", PIXEL)])

    sent = json.dumps(harness.llm.requests[0].messages)
    assert PIXEL in sent
    assert IMAGE_PLACEHOLDER not in sent


# ---- retries past the budget ask the user -------------------------------------------------------


@BOTH
async def test_past_the_retry_budget_the_user_is_asked_and_approve_retries(
    harness: Harness,
) -> None:
    failures = [Failure(503) for _ in range(FAST.retry_attempts + 1)]
    harness.llm.script(*failures, complete())
    harness.interaction.answer(Answer("approve"))

    outcome = await harness.run()

    assert outcome.status == "completed"
    (asked,) = harness.interaction.asked
    assert asked.kind == "api_retry"
    assert asked.text is not None
    assert "503" in asked.text
    assert len(harness.llm.requests) == FAST.retry_attempts + 2


async def test_a_fresh_budget_after_approval_then_deny_fails(harness: Harness) -> None:
    rounds = 2 * (FAST.retry_attempts + 1)
    harness.llm.script(*(Failure(429) for _ in range(rounds)), complete())
    harness.interaction.answer(Answer("approve"), Answer("deny"))

    outcome = await harness.run()

    assert (outcome.status, outcome.reason) == ("failed", "api_req_failed")
    assert [a.kind for a in harness.interaction.asked] == ["api_retry", "api_retry"]
    assert len(harness.llm.requests) == rounds  # each approval gave the whole budget again
    assert harness.llm.pending == 1


async def test_a_non_transient_failure_is_not_asked_about(harness: Harness) -> None:
    harness.llm.script(Failure(400, "bad request"), complete())

    outcome = await harness.run()

    assert (outcome.status, outcome.reason) == ("failed", "api_req_failed")
    assert harness.interaction.asked == []
    assert len(harness.llm.requests) == 1


# ---- a model without prices --------------------------------------------------------------------


async def test_an_unpriced_model_reports_its_cost_as_unknown(harness: Harness) -> None:
    info = default_model_info("openai", "brand-new-model")
    usage = Usage(input_tokens=100, output_tokens=10)
    harness.llm.script(
        calls(ToolCall("update_todo_list", {"todos": "[ ] one"}), usage=usage),
        complete(usage=usage),
    )

    outcome = await harness.run(model="brand-new-model", model_info=info)

    assert outcome.status == "completed"
    assert harness.state.usage.cost is None
    assert harness.state.usage.input_tokens == 200
    assert [p["usage"]["cost"] for p in harness.events.of("task.progress")] == [None, None]
    saved = EngineState.from_dict(harness.checkpoints.saved[-1])
    assert saved.usage.cost is None
    # the environment details say the cost is not available, never $0.00
    assert "(Not available)" in json.dumps(harness.llm.requests[1].messages)


async def test_an_unknown_cost_does_not_trip_the_cost_limit(harness: Harness) -> None:
    info = default_model_info("openai", "brand-new-model")
    harness.llm.script(complete())

    outcome = await harness.run(
        model="brand-new-model", model_info=info, limits=replace(FAST, max_cost=0.000001)
    )

    assert outcome.status == "completed"


# ---- read_command_output ------------------------------------------------------------------------

LONG = "seq 1 30000"  # 168,894 bytes: past a 20 KB maxOutputBytes, cut in the middle


async def test_a_long_output_is_kept_and_read_in_pages(harness: Harness) -> None:
    harness.commands = True
    harness.command_outputs = CommandOutputs()
    harness.max_output_bytes = 20_000
    harness.policy = RUN_ALL
    harness.llm.script(
        calls(ToolCall("execute_command", {"command": LONG}, id="run")),
        calls(
            ToolCall("read_command_output", {"artifact_id": "cmd-1.txt", "search": "^15000$"}),
            ToolCall(
                "read_command_output",
                {"artifact_id": "cmd-1.txt", "offset": 100_000, "limit": 100},
            ),
            ToolCall("read_command_output", {"artifact_id": "cmd-9.txt"}),
        ),
        complete(),
    )

    outcome = await harness.run()

    assert outcome.status == "completed"
    (result,) = tool_results(harness.llm.requests[1])
    assert "bytes were omitted from the middle" in result[1]
    assert "Artifact ID: cmd-1.txt" in result[1]
    assert "\n15000\n" not in result[1]  # the middle the model did not get
    search, page, missing = tool_results(harness.llm.requests[2])
    assert "1 matching line(s)" in search[1]
    assert "15000: 15000" in search[1]
    assert "bytes 100000-100100 of 168894" in page[1]
    assert "call again with offset=100100" in page[1]
    assert "not found" in missing[1]
    ends = [e for e in harness.events.of("tool.execution") if e["phase"] == "end"]
    assert ends[0]["data"]["artifactId"] == "cmd-1.txt"


async def test_a_short_output_keeps_no_artifact(harness: Harness) -> None:
    harness.commands = True
    harness.command_outputs = CommandOutputs()
    harness.policy = RUN_ALL
    harness.llm.script(calls(ToolCall("execute_command", {"command": "echo hi"})), complete())

    await harness.run()

    (result,) = tool_results(harness.llm.requests[1])
    assert "Artifact" not in result[1]
    assert harness.command_outputs.path("cmd-1.txt") is None
    harness.command_outputs.close()


async def test_artifacts_are_deleted_when_the_store_closes(tmp_path: Path) -> None:
    store = CommandOutputs(max_bytes=10, keep=1)
    first = store.writer()
    first.write(b"0123456789abc")
    first.keep()
    assert first.cut
    path = store.path("cmd-1.txt")
    assert path is not None
    assert path.read_bytes() == b"0123456789"
    second = store.writer()
    second.write(b"x")
    second.keep()
    assert store.path("cmd-1.txt") is None  # keep=1: the older one went
    assert not path.exists()
    kept = store.path("cmd-2.txt")
    assert kept is not None
    store.close()
    assert not kept.parent.exists()


# ---- a command outlasting the model's timeout keeps running -------------------------------------

WAITS_FOR_GO = "echo started; while [ ! -f go ]; do sleep 0.05; done; echo finished; rm go"
LETS_IT_GO = "touch go; while [ -e go ]; do sleep 0.05; done; echo let go"


async def test_a_timed_out_command_keeps_running_and_its_end_is_told(harness: Harness) -> None:
    harness.commands = True
    harness.background = BackgroundCommands()
    harness.policy = RUN_ALL
    harness.llm.script(
        calls(ToolCall("execute_command", {"command": WAITS_FOR_GO, "timeout": 0.3})),
        calls(ToolCall("execute_command", {"command": LETS_IT_GO})),
        calls(ToolCall("update_todo_list", {"todos": "[x] wait"})),
        complete(),
    )

    outcome = await harness.run()

    assert outcome.status == "completed"
    ((_, first),) = tool_results(harness.llm.requests[1])
    assert first.startswith("Command is still running in terminal from '/workspace'.")
    assert "Here's the output so far:\nstarted" in first
    assert "You will be updated on the terminal status and new output in the future." in first
    assert "terminated" not in first
    ((_, second),) = tool_results(harness.llm.requests[2])
    assert "let go" in second  # the command left running was still there and saw the file
    later = json.dumps(harness.llm.requests[3].messages)
    assert "that was left running in the background has finished" in later
    assert "started\\nfinished" in later  # its whole output, told at the next turn
    assert harness.background.running == 0


async def test_a_command_left_running_is_killed_when_the_run_ends(harness: Harness) -> None:
    harness.commands = True
    harness.background = BackgroundCommands()
    harness.policy = RUN_ALL
    command = "echo $$ > pid; exec sleep 60"
    harness.interaction.answer(Answer("approve"))  # `$$` is known at run time only: it asks
    harness.llm.script(
        calls(ToolCall("execute_command", {"command": command, "timeout": 0.3})), complete()
    )

    outcome = await harness.run()

    assert outcome.status == "completed"
    assert harness.background.running == 1  # the run ended with it still running
    pid = int((harness.workspace / "pid").read_text())
    await harness.background.aclose()  # what the host does when the run ends
    assert harness.background.running == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_without_a_background_the_timeout_still_kills(harness: Harness) -> None:
    harness.commands = True
    harness.policy = RUN_ALL
    harness.llm.script(
        calls(ToolCall("execute_command", {"command": "sleep 30", "timeout": 0.3})), complete()
    )

    await harness.run()

    ((_, text),) = tool_results(harness.llm.requests[1])
    assert "terminated after exceeding" in text
