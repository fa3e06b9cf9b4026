"""A harness for the agent engine alone: no database, no web app.

The engine talks to the project's fake LLM server over real sockets through the official SDKs
(`build_provider`), runs the default tools in a `tmp_path` workspace (commands through a plain
`Sandbox`, like tests/agent/commands), and reports to in-memory fakes of its host: an event sink,
a scripted `Interaction` (answers queued by the test) and a checkpoint that keeps deep copies of
every saved `EngineState`.

    async def test_x(harness: Harness) -> None:
        harness.llm.script(Reply(tool_calls=[ToolCall("attempt_completion", {"result": "ok"})]))
        outcome = await harness.run("do it")
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from roo.agent.approval import ApprovalPolicy
from roo.agent.engine import Agent, AgentLimits, AgentSetup
from roo.agent.pricing import ModelInfo, model_info
from roo.agent.providers.base import Provider
from roo.agent.providers.factory import build_provider
from roo.agent.state import Answer, Ask, EngineState, Outcome
from roo.agent.tools.base import OnOutput, ToolContext
from roo.agent.tools.execute_command import BackgroundCommands
from roo.agent.tools.read_command_output import CommandOutputs
from roo.agent.tools.registry import default_registry
from roo.sandbox import ResourceLimits, Sandbox
from roo.testing import FakeLLM, RecordedRequest, Reply, ToolCall

KEY = "sk-engine-test-0123456789abcdef"
MODEL = "gpt-4o"
FAST = AgentLimits(retry_base_delay=0.001)
Json = dict[str, Any]


def gpt_4o() -> ModelInfo:
    info = model_info("openai", MODEL)
    assert info is not None
    return info


# ---- the host's side ----------------------------------------------------------------------------


class Events:
    """The event sink: every (event, data) in order."""

    def __init__(self, timeline: list[tuple[str, Any]]) -> None:
        self.all: list[tuple[str, Json]] = []
        self._timeline = timeline
        self._seen: dict[str, asyncio.Event] = {}

    async def __call__(self, event: str, data: Json) -> None:
        self.all.append((event, copy.deepcopy(data)))
        self._timeline.append(("event", event))
        self._seen.setdefault(event, asyncio.Event()).set()

    async def wait_for(self, name: str) -> None:
        """Until the engine has emitted `name` (at once when it already has)."""
        await self._seen.setdefault(name, asyncio.Event()).wait()

    def of(self, name: str) -> list[Json]:
        return [data for event, data in self.all if event == name]

    def names(self) -> list[str]:
        return [event for event, _ in self.all]


class ScriptedInteraction:
    """Answers queued by the test, in order; an unexpected question fails the test."""

    def __init__(self) -> None:
        self.answers: deque[Answer] = deque()
        self.asked: list[Ask] = []
        self.queued: list[str] = []
        self.condense_requested = False

    def answer(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    async def ask(self, question: Ask) -> Answer:
        self.asked.append(question)
        if not self.answers:
            raise AssertionError(f"unexpected question: {question}")
        return self.answers.popleft()

    def take_queued_messages(self) -> list[str]:
        taken, self.queued = self.queued, []
        return taken

    def take_condense_request(self) -> bool:
        taken, self.condense_requested = self.condense_requested, False
        return taken


class Checkpoints:
    """Deep copies of every saved state (`EngineState.to_dict()`)."""

    def __init__(self, timeline: list[tuple[str, Any]]) -> None:
        self.saved: list[Json] = []
        self._timeline = timeline

    async def __call__(self, state: EngineState) -> None:
        snapshot = copy.deepcopy(state.to_dict())
        self.saved.append(snapshot)
        self._timeline.append(("checkpoint", snapshot))


async def _no_commands(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("this test runs no commands")


def command_runner(workspace: Path, max_output_bytes: int = 1024 * 1024) -> Any:
    """Real commands in a plain sandbox (the pattern of tests/agent/commands/conftest.py)."""
    limits = ResourceLimits(max_execution_time=10, max_output_bytes=max_output_bytes)
    return functools.partial(Sandbox(backend="plain").run, workspace=workspace, limits=limits)


@dataclass
class Harness:
    llm: FakeLLM
    workspace: Path
    protocol: str = "openai"
    commands: bool = False  # True: run_command runs real commands; False: it fails the test
    policy: ApprovalPolicy = field(default_factory=ApprovalPolicy)
    limits: AgentLimits = FAST
    api_key: str = KEY
    timeline: list[tuple[str, Any]] = field(default_factory=list)
    events: Events = field(init=False)
    interaction: ScriptedInteraction = field(default_factory=ScriptedInteraction)
    checkpoints: Checkpoints = field(init=False)
    policy_changes: list[ApprovalPolicy] = field(default_factory=list)
    subtasks: list[tuple[str, str, str | None]] = field(default_factory=list)
    subtask_result: tuple[str, str] = ("child-1", "summary")
    providers: list[Provider] = field(default_factory=list)
    agent: Agent | None = None
    command_outputs: CommandOutputs | None = None  # read_command_output's artifacts
    background: BackgroundCommands | None = None  # commands left running after their timeout
    max_output_bytes: int = 1024 * 1024  # what the model gets of a command's output

    def __post_init__(self) -> None:
        self.events = Events(self.timeline)
        self.checkpoints = Checkpoints(self.timeline)

    def tool_context(self, on_output: OnOutput) -> ToolContext:
        run_command = (
            command_runner(self.workspace, self.max_output_bytes) if self.commands else _no_commands
        )
        return ToolContext(
            workspace=self.workspace,
            run_command=run_command,
            on_output=on_output,
            command_outputs=self.command_outputs,
            background=self.background,
        )

    async def on_policy_change(self, policy: ApprovalPolicy) -> None:
        self.policy_changes.append(policy)

    async def spawn_subtask(self, mode: str, message: str, todos: str | None) -> tuple[str, str]:
        self.subtasks.append((mode, message, todos))
        return self.subtask_result

    def setup(self, **overrides: Any) -> AgentSetup:
        base_url = self.llm.openai_base_url if self.protocol == "openai" else self.llm.url
        provider = build_provider(
            self.protocol, api_key=self.api_key, base_url=base_url, timeout=10
        )
        self.providers.append(provider)
        values: dict[str, Any] = {
            "provider": provider,
            "model": MODEL,
            "model_info": gpt_4o(),
            "registry": default_registry(),
            "tool_context": self.tool_context,
            "sink": self.events,
            "interaction": self.interaction,
            "checkpoint": self.checkpoints,
            "policy": self.policy,
            "on_policy_change": self.on_policy_change,
            "spawn_subtask": self.spawn_subtask,
            "limits": self.limits,
            "background": self.background,
        }
        values.update(overrides)
        return AgentSetup(**values)

    def make_agent(self, state: EngineState | None = None, **overrides: Any) -> Agent:
        self.agent = Agent(self.setup(**overrides), state if state is not None else EngineState())
        return self.agent

    async def run(
        self, task: str | None = "Do the task.", state: EngineState | None = None, **overrides: Any
    ) -> Outcome:
        return await self.make_agent(state, **overrides).run(task)

    @property
    def state(self) -> EngineState:
        assert self.agent is not None
        return self.agent.state

    async def aclose(self) -> None:
        for provider in self.providers:
            await provider.aclose()
        if self.background is not None:
            await self.background.aclose()
        if self.command_outputs is not None:
            self.command_outputs.close()


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with FakeLLM(api_key=KEY) as server:
        yield server


@pytest.fixture
def protocol() -> str:
    """The wire protocol; `@pytest.mark.parametrize("protocol", [...])` overrides it."""
    return "openai"


@pytest.fixture
async def harness(llm: FakeLLM, tmp_path: Path, protocol: str) -> AsyncIterator[Harness]:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    h = Harness(llm, workspace, protocol)
    yield h
    await h.aclose()


# ---- script and request helpers -----------------------------------------------------------------


def calls(*items: ToolCall, text: str = "", **reply: Any) -> Reply:
    """A reply made of tool calls (and optional text)."""
    return Reply(text=text, tool_calls=items, **reply)


def complete(result: str = "Done.", call_id: str | None = None, **reply: Any) -> Reply:
    """A reply calling attempt_completion."""
    call = ToolCall("attempt_completion", {"result": result}, id=call_id)
    return Reply(tool_calls=[call], **reply)


def tool_results(request: RecordedRequest) -> list[tuple[str, str]]:
    """(call id, text) of the tool results of the request's last user turn, in order, in either
    protocol's wire shape."""
    messages = request.messages
    if request.protocol == "openai":
        last_assistant = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        return [
            (m["tool_call_id"], m["content"])
            for m in messages[last_assistant + 1 :]
            if m["role"] == "tool"
        ]
    out: list[tuple[str, str]] = []
    for block in messages[-1]["content"]:
        if block.get("type") == "tool_result":
            content = block["content"]
            text = content if isinstance(content, str) else _joined(content)
            out.append((block["tool_use_id"], text))
    return out


def tool_errors(request: RecordedRequest) -> list[bool]:
    """Anthropic only: is_error of each tool result of the last user turn."""
    assert request.protocol == "anthropic"
    return [
        bool(b.get("is_error"))
        for b in request.messages[-1]["content"]
        if b.get("type") == "tool_result"
    ]


def _joined(blocks: Iterable[Json]) -> str:
    return "\n".join(b["text"] for b in blocks if b.get("type") == "text")


def user_texts(request: RecordedRequest) -> list[str]:
    """The text parts of the request's last user message (not the tool results)."""
    last = request.messages[-1]
    assert last["role"] == "user", last
    content = last["content"]
    if isinstance(content, str):
        return [content]
    return [b["text"] for b in content if b.get("type") == "text"]


def tool_names(request: RecordedRequest) -> list[str]:
    """The names of the tools the request offered."""
    if request.protocol == "openai":
        return [t["function"]["name"] for t in request.tools]
    return [t["name"] for t in request.tools]


def body_text(request: RecordedRequest) -> str:
    return json.dumps(request.body, ensure_ascii=False)
