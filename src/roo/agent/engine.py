"""The agent loop: Roo's `recursivelyMakeClineRequests`, with native tool calling.

One step = one model request streamed to the end, then the tool calls of that response run in
order, then their results (plus queued user messages and fresh environment details) form the
next user turn. The loop ends with `attempt_completion`, a limit, an unrecoverable provider
error, or cancellation (CancelledError from the host, which propagates untouched).

Persistence: `checkpoint(state)` runs after the assistant turn is recorded (before any tool
runs), after each tool result, and after the next user turn is assembled. A run that starts
from a saved state therefore continues after the last thing that finished: a tool call whose
result was saved is not run again; one that was interrupted gets Roo's "interrupted" result.
Between checkpoints the history only grows, except where the engine marks a message as edited
(`EngineState.mark_edited`): so a host can save only what changed (`roo.agent.state`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from roo.agent import context as ctx
from roo.agent import messages as m
from roo.agent.approval import ApprovalPolicy, decide_mcp, decide_tool, interaction_approved
from roo.agent.context import ContextSettings, estimate_tokens
from roo.agent.messages import Block, Message
from roo.agent.modes import MODES, Mode, check_tool_allowed, get_mode, tools_for_mode
from roo.agent.output import BoundedOutput
from roo.agent.pricing import ModelInfo, Usage
from roo.agent.prompts import (
    WorkspaceFacts,
    build_system_prompt,
    condense_instructions,
    condense_system_prompt,
    environment_details,
    parse_todos,
)
from roo.agent.prompts import responses as r
from roo.agent.providers.base import (
    ModelRequest,
    Provider,
    ProviderError,
    ReasoningChunk,
    TextChunk,
    ThinkingBlockChunk,
    ToolCallChunk,
    ToolSpec,
    UsageChunk,
)
from roo.agent.rules import Rules, RulesLoader
from roo.agent.state import (
    Answer,
    Ask,
    Checkpoint,
    EngineState,
    EventSink,
    Interaction,
    Outcome,
    SpawnSubtask,
    SubtaskFailed,
    WorkspaceCheckpoints,
)
from roo.agent.tools.base import (
    ApprovalCategory,
    ImageBlock,
    OnOutput,
    TextBlock,
    Tool,
    ToolContext,
    ToolResult,
    parameter_error,
)
from roo.agent.tools.execute_command import BackgroundCommands
from roo.agent.tools.mcp import McpAccess, mcp_ask_params, mcp_target
from roo.agent.tools.registry import ToolRegistry

# Tools that may change the workspace: a checkpoint is taken before them
WRITING = (ApprovalCategory.WRITE, ApprovalCategory.EXECUTE)
# How much of a command's output or a tool's text an event carries (the model gets it all).
EVENT_TEXT_LIMIT = 8_000
CONTEXT_RETRIES = 3  # forced reductions on a context-window error (Roo's limit)
# Roo's DEFAULT_HYBRID_REASONING_MODEL_MAX_TOKENS: max_tokens (and the reply's reserve) with
# extended thinking on; the budget is kept between 1,024 tokens and 80 % of it (Roo's bounds)
THINKING_MAX_TOKENS = 16_384
MIN_THINKING_BUDGET = 1_024
# What a context-window error hides when condensing did not happen: a quarter of the turns
# (Roo keeps 75 %, FORCED_CONTEXT_REDUCTION_PERCENT)
FORCED_TRUNCATION = 0.25


@dataclass(frozen=True, slots=True)
class AgentLimits:
    max_requests: int | None = None
    max_cost: float | None = None  # USD
    max_wall_seconds: float | None = None
    mistake_limit: int = 3  # 0 disables it
    # further attempts after a retryable provider error; then the user is asked (`api_retry`)
    retry_attempts: int = 3
    retry_base_delay: float = 5.0  # Roo's requestDelaySeconds: delay = base * 2^attempt
    retry_max_delay: float = 600.0
    # Command output the `tool.execution` output events of one call keep (bytes, each event
    # also costs roo.agent.output.EVENT_COST); the rest is counted in the call's `end` event.
    # None: all of it. The host passes what the model gets (maxOutputBytes) or less.
    output_event_bytes: int | None = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ModelCall:
    """One model request as the host may measure it (`AgentSetup.on_model_call`)."""

    provider: str
    model: str
    seconds: float  # from sending the request to the end of its streamed response
    outcome: str  # "ok", a ProviderError kind, "cancelled" or "error"
    usage: Usage | None  # tokens and cost (None: the call failed before it was counted)


@dataclass(slots=True)
class AgentSetup:
    """What the host binds for one run."""

    provider: Provider
    model: str
    model_info: ModelInfo
    registry: ToolRegistry
    # Builds the ToolContext of one call; the argument streams command output.
    tool_context: Callable[[OnOutput], ToolContext]
    sink: EventSink
    interaction: Interaction
    checkpoint: Checkpoint
    policy: ApprovalPolicy
    on_policy_change: Callable[[ApprovalPolicy], Awaitable[None]] | None = None
    spawn_subtask: SpawnSubtask | None = None
    limits: AgentLimits = field(default_factory=AgentLimits)
    custom_instructions: str | None = None
    # The modes a task can use (built-ins, the session's, the workspace's: roo.agent.custom_modes)
    modes: Mapping[str, Mode] = field(default_factory=lambda: dict(MODES))
    # The rules files of a mode (roo.agent.rules.load_rules bound to the workspace); rules
    # already read (the host lists the first mode's in `task.started`) go in `rules`.
    rules_loader: RulesLoader | None = None
    rules: dict[str, Rules] = field(default_factory=dict)
    workspace: WorkspaceFacts = field(default_factory=lambda: WorkspaceFacts(file_listing=""))
    context: ContextSettings = field(default_factory=ContextSettings)
    # Sent to models whose table entry accepts it (`ModelInfo.supports_temperature`); None:
    # none is sent. 0 is Roo's default for Anthropic and OpenAI-compatible endpoints.
    temperature: float | None = 0.0
    # OpenAI reasoning models (`ModelInfo.supports_reasoning_effort`): the task's effort
    reasoning_effort: str | None = None
    # Anthropic's extended thinking (`ModelInfo.supports_reasoning_budget`, Anthropic protocol):
    # the task's thinking budget in tokens; None: off
    reasoning_budget: int | None = None
    # Commands left running after the model's timeout: their end is told at the next turn.
    background: BackgroundCommands | None = None
    # A subtask: its attempt_completion returns to the parent, which asks unless subtasks are
    # auto-approved (Roo's finishTask ask)
    is_subtask: bool = False
    # The session's MCP servers (their tools are in `registry` as mcp--server--tool functions)
    mcp: McpAccess | None = None
    # Snapshots of the workspace before each step that writes to it (None: none taken)
    workspace_checkpoints: WorkspaceCheckpoints | None = None
    # Asked before each tool call runs (the host's per-session tool budget): a text refuses the
    # call (the model reads it as the tool's error, the task goes on), None lets it run.
    tool_gate: Callable[[str], Awaitable[str | None]] | None = None
    # Told of every model request of the task's own turns, when it ends (metrics): a plain
    # call, nothing awaited, nothing held.
    on_model_call: Callable[[ModelCall], None] | None = None


class _Failed(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


@dataclass(slots=True)
class _Turn:
    text: str = ""
    reasoning: str = ""
    thinking: list[Block] = field(default_factory=list)  # signed thinking blocks, in order
    calls: list[ToolCallChunk] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


def _clip(text: str) -> str:
    if len(text) <= EVENT_TEXT_LIMIT:
        return text
    return text[:EVENT_TEXT_LIMIT] + f"\n[... {len(text) - EVENT_TEXT_LIMIT} more characters]"


def _result_blocks(result: ToolResult) -> list[Block]:
    blocks: list[Block] = []
    for block in result.content:
        if isinstance(block, TextBlock):
            blocks.append(m.text_block(block.text))
        elif isinstance(block, ImageBlock):
            blocks.append(m.image_block(block.media_type, block.data))
    if not blocks or all(b.get("type") == "text" and not b["text"] for b in blocks):
        return [m.text_block(r.EMPTY_RESULT)]
    return blocks


def _error(call_id: str, text: str) -> Block:
    return m.tool_result_block(call_id, [m.text_block(text)], is_error=True)


class Agent:
    def __init__(self, setup: AgentSetup, state: EngineState) -> None:
        self.setup = setup
        self.state = state
        self._last_call: str | None = None
        self._repeats = 0
        self._stuck_tool: str | None = None
        self._snapshot_step: int | None = None  # the step whose workspace snapshot was taken
        # The system prompt's clock is the run's start: a prompt that changed on every request
        # would defeat the providers' prompt caching.
        self._started = datetime.now(UTC)
        # Roo's reserve for the reply: where context management starts, and the max_tokens sent
        self._reserve = ctx.output_reserve(setup.model, setup.model_info, setup.provider.protocol)
        self._thinking = self._thinking_budget()
        if self._thinking is not None:  # Roo: the hybrid reasoning models' max tokens
            self._reserve = THINKING_MAX_TOKENS

    # -- public ---------------------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        modes = self.setup.modes
        return get_mode(self.state.mode, modes) or modes.get("code") or MODES["code"]

    async def run(self, task: str | None = None, images: Sequence[Block] = ()) -> Outcome:
        """Start (`task` given, empty history) or continue (`task` = the user's resume text or
        None) and loop until the task ends. CancelledError propagates."""
        limits = self.setup.limits
        try:
            async with asyncio.timeout(limits.max_wall_seconds):
                await self._begin(task, images)
                return await self._loop()
        except _Failed as failed:
            return failed.outcome
        except TimeoutError:
            return Outcome(
                "failed",
                reason="wall_time_limit",
                message=f"The task ran longer than its limit of {limits.max_wall_seconds:g} s",
            )

    # -- the loop -------------------------------------------------------------------------------

    async def _begin(self, task: str | None, images: Sequence[Block]) -> None:
        state = self.state
        if not state.history:
            content: list[Block] = [m.text_block(r.user_message(task or "")), *images]
            content.append(m.text_block(self._environment(first=True)))
            state.history.append(m.user(*content))
            await self._checkpoint()
            return
        last = state.history[-1]
        if last["role"] == "assistant":
            # The run stopped after the model answered: pair every call with a result.
            done = {b["tool_use_id"] for b in state.pending_results}
            results = list(state.pending_results)
            answered = False  # the user's message went into attempt_completion's result
            for block in last["content"]:
                if block.get("type") != "tool_use" or block["id"] in done:
                    continue
                if block["name"] == "attempt_completion" and (task or images) and not answered:
                    # Roo: the feedback (and its images) is the completion's tool result
                    feedback = [m.text_block(r.completion_feedback(task or "")), *images]
                    results.append(m.tool_result_block(block["id"], feedback))
                    answered = True
                else:
                    results.append(_error(block["id"], r.interrupted_tool_result()))
            content = list(results)
            if not answered:
                follow = r.user_message(task) if task else r.task_resumption()
                content.extend([m.text_block(follow), *images])
            content.append(m.text_block(self._environment()))
            state.history.append(m.user(*content))
        elif task or images:
            last["content"].extend([m.text_block(r.user_message(task or "")), *images])
            state.mark_edited(len(state.history) - 1)
        state.pending_results = []
        state.result = None
        await self._checkpoint()

    async def _checkpoint(self) -> None:
        await self.setup.checkpoint(self.state)
        self.state.edited.clear()

    async def _loop(self) -> Outcome:
        state, setup, limits = self.state, self.setup, self.setup.limits
        while True:
            if limits.mistake_limit and (
                state.mistakes >= limits.mistake_limit or self._stuck_tool
            ):
                await self._mistake_limit_reached()
            if limits.max_requests is not None and state.requests >= limits.max_requests:
                raise _Failed(
                    Outcome(
                        "failed",
                        reason="request_limit",
                        message=f"The task reached its limit of {limits.max_requests} requests",
                    )
                )
            # an unknown cost (a model without prices) cannot reach the limit: the host says so
            spent = state.usage.cost
            if (
                limits.max_cost is not None
                and spent is not None
                and spent >= limits.max_cost - 1e-9
            ):
                raise _Failed(
                    Outcome(
                        "failed",
                        reason="cost_limit",
                        message=f"The task reached its cost limit of ${limits.max_cost:.2f} "
                        f"(spent ${spent:.4f})",
                    )
                )
            await self._check_approval_limits()
            turn = await self._request()
            state.requests += 1
            state.usage = state.usage + turn.usage
            state.context_tokens = turn.usage.input_tokens + turn.usage.output_tokens
            if setup.provider.protocol == "anthropic":
                state.context_tokens += turn.usage.cache_read_tokens + turn.usage.cache_write_tokens
            await setup.sink(
                "task.progress",
                {
                    "step": state.step + 1,
                    "requests": state.requests,
                    "request": turn.usage.to_dict(),
                    "usage": state.usage.to_dict(),
                },
            )
            calls = self._assistant_turn(turn)
            state.pending_results = []
            await self._checkpoint()

            if not calls:
                state.no_tool_replies += 1
                if state.no_tool_replies >= 2:
                    state.mistakes += 1
                content: list[Block] = [m.text_block(r.no_tools_used())]
            else:
                state.no_tool_replies = 0
                completion = await self._run_tools(calls)
                if completion is not None:
                    state.result = completion
                    state.step += 1
                    await self._checkpoint()
                    return Outcome("completed", result=completion)
                content = list(state.pending_results)
            if setup.background is not None:
                content.extend(m.text_block(note) for note in setup.background.take_notes())
            for queued in setup.interaction.take_queued_messages():
                content.append(m.text_block(r.user_message(queued)))
            content.append(m.text_block(self._environment()))
            state.history.append(m.user(*content))
            state.pending_results = []
            state.step += 1
            await self._checkpoint()

    async def _check_approval_limits(self) -> None:
        """Roo's `AutoApprovalHandler`, before each request: past `allowed_max_requests`
        requests or `allowed_max_cost` USD since the task started or the user last said go on,
        ask (`auto_approval_limit`); approve resets the count, deny fails the task."""
        state, policy = self.state, self.setup.policy
        kind: str | None = None
        text = ""
        limit: float = 0
        if policy.allowed_max_requests:
            # Roo: the requests since the reset, +1 for the one about to be made
            if state.requests - state.approval_reset_requests + 1 > policy.allowed_max_requests:
                kind, limit = "requests", policy.allowed_max_requests
                text = r.auto_approval_request_limit(policy.allowed_max_requests)
        spent = state.usage.cost
        if kind is None and policy.allowed_max_cost and spent is not None:
            if spent - state.approval_reset_cost > policy.allowed_max_cost + 0.0001:
                kind, limit = "cost", policy.allowed_max_cost
                text = r.auto_approval_cost_limit(policy.allowed_max_cost)
        if kind is None:
            return
        answer = await self.setup.interaction.ask(
            Ask(
                kind="auto_approval_limit",
                text=text,
                params={"type": kind, "limit": limit, "spent": spent, "requests": state.requests},
            )
        )
        if answer.action not in ("approve", "approve_always"):
            raise _Failed(
                Outcome(
                    "failed",
                    reason="auto_approval_limit",
                    message=f"{r.AUTO_APPROVAL_LIMIT_DECLINED}: {text}",
                )
            )
        state.approval_reset_requests = state.requests
        state.approval_reset_cost = spent or 0.0
        await self._checkpoint()

    def _assistant_turn(self, turn: _Turn) -> list[tuple[str, str, dict[str, Any] | None]]:
        """Record the model's reply; returns its calls as (id, name, arguments or None when
        the arguments were not a JSON object)."""
        blocks: list[Block] = []
        if turn.thinking:
            # Anthropic's signed thinking, kept as it came: sent back with the tool results
            blocks.extend(turn.thinking)
        elif turn.reasoning:
            blocks.append({"type": "reasoning", "text": turn.reasoning})
        if turn.text:
            blocks.append(m.text_block(turn.text))
        calls: list[tuple[str, str, dict[str, Any] | None]] = []
        seen: set[str] = set()
        for index, call in enumerate(turn.calls):
            call_id = call.id or f"call_{self.state.step}_{index}"
            if call_id in seen:  # duplicate ids break the next request (Roo ignores them)
                continue
            seen.add(call_id)
            try:
                parsed = json.loads(call.arguments or "{}")
            except ValueError:
                parsed = None
            arguments = parsed if isinstance(parsed, dict) else None
            blocks.append(m.tool_use_block(call_id, call.name, arguments or {}))
            calls.append((call_id, call.name, arguments))
        self.state.history.append(m.assistant(*blocks))
        return calls

    # -- model requests -------------------------------------------------------------------------

    def _tools(self) -> list[Tool]:
        info = self.setup.model_info
        return tools_for_mode(
            self.mode, self.setup.registry, info.included_tools, info.excluded_tools
        )

    async def _rules(self, slug: str) -> Rules | None:
        """The mode's rules files, read once per mode and run (`task.rules` says which)."""
        setup = self.setup
        if slug in setup.rules:
            return setup.rules[slug]
        if setup.rules_loader is None:
            return None
        rules = await asyncio.to_thread(setup.rules_loader, slug)
        setup.rules[slug] = rules
        await setup.sink("task.rules", {"mode": slug, "files": rules.to_dicts()})
        return rules

    async def _system_prompt(self, tools: Sequence[Tool]) -> str:
        setup, mode = self.setup, self.mode
        return build_system_prompt(
            mode,
            tools,
            setup.workspace,
            setup.custom_instructions,
            setup.modes,
            now=self._started,
            rules=await self._rules(mode.slug),
        )

    async def _request(self) -> _Turn:
        setup, limits = self.setup, self.setup.limits
        attempt = context_retries = 0
        while True:
            tools = self._tools()
            system = await self._system_prompt(tools)
            specs = [_spec(t) for t in tools]
            if setup.interaction.take_condense_request():
                await self._condense(self._context_size(), "manual", system, specs)
            await self._manage_context(system, specs)
            request = ModelRequest(
                model=setup.model,
                system=system,
                messages=_for_provider(
                    ctx.effective_history(self.state.history),
                    images=setup.model_info.supports_images,
                ),
                tools=specs,
                max_tokens=self._reserve,
                temperature=self._temperature(),
                reasoning_effort=self._reasoning_effort(),
                thinking_budget=self._thinking,
            )
            try:
                return await self._stream(request)
            except ProviderError as error:
                if error.kind == "context_window" and context_retries < CONTEXT_RETRIES:
                    context_retries += 1
                    await self._manage_context(system, specs, forced=True)
                    continue
                if not error.retryable:
                    raise _Failed(
                        Outcome("failed", reason="api_req_failed", message=str(error))
                    ) from error
                if attempt >= limits.retry_attempts:
                    # Roo's api_req_failed ask: a transient failure past the budget is the
                    # user's call (retry with a fresh budget, or end the task)
                    await self._ask_retry(error)
                    attempt = 0
                    continue
                delay = min(
                    math.ceil(limits.retry_base_delay * 2**attempt * 1000) / 1000,
                    limits.retry_max_delay,
                )
                if error.retry_after is not None:
                    delay = max(delay, min(error.retry_after, limits.retry_max_delay))
                attempt += 1
                await setup.sink(
                    "api.retry",
                    {"attempt": attempt, "delaySeconds": delay, "error": str(error)},
                )
                await asyncio.sleep(delay)

    def _temperature(self, *, thinking: bool = True) -> float | None:
        """What the request sends: the task's temperature (Roo's 0 by default), none for a
        model that refuses the parameter (the gpt-5 family, the o-series), 1 with extended
        thinking on (Roo's; the API takes no other)."""
        if not self.setup.model_info.supports_temperature:
            return None
        if thinking and self._thinking is not None:
            return 1.0
        return self.setup.temperature

    def _thinking_budget(self) -> int | None:
        """Roo's reasoning budget for the models that take one (Anthropic protocol): the task's
        budget kept between 1,024 and 80 % of the max tokens; None when off."""
        setup = self.setup
        budget = setup.reasoning_budget
        if (
            budget is None
            or not setup.model_info.supports_reasoning_budget
            or setup.provider.protocol != "anthropic"
        ):
            return None
        return max(MIN_THINKING_BUDGET, min(budget, math.floor(THINKING_MAX_TOKENS * 0.8)))

    def _reasoning_effort(self) -> str | None:
        """The task's reasoning effort, for the models that take one."""
        if not self.setup.model_info.supports_reasoning_effort:
            return None
        return self.setup.reasoning_effort

    async def _ask_retry(self, error: ProviderError) -> None:
        """Ask whether to retry after the retry budget ran out; returns when the user says
        retry, raises `_Failed` when they deny."""
        message = str(error)
        answer = await self.setup.interaction.ask(Ask(kind="api_retry", text=message))
        if answer.action not in ("approve", "approve_always"):
            raise _Failed(Outcome("failed", reason="api_req_failed", message=message))
        await self.setup.sink("api.retry", {"attempt": 0, "delaySeconds": 0, "error": message})

    async def _stream(self, request: ModelRequest) -> _Turn:
        observe = self.setup.on_model_call
        if observe is None:
            return await self._stream_turn(request)
        started = time.monotonic()

        def told(outcome: str, usage: Usage | None) -> None:
            name = self.setup.provider.name
            observe(ModelCall(name, request.model, time.monotonic() - started, outcome, usage))

        try:
            turn = await self._stream_turn(request)
        except ProviderError as error:
            told(error.kind, None)
            raise
        except asyncio.CancelledError:
            told("cancelled", None)
            raise
        except Exception:
            told("error", None)
            raise
        told("ok", turn.usage)
        return turn

    async def _stream_turn(self, request: ModelRequest) -> _Turn:
        setup = self.setup
        turn = _Turn()
        text_parts: list[str] = []
        reasoning_parts: list[str] = []
        await setup.sink("api.request", {"requests": self.state.requests + 1})
        async for chunk in setup.provider.stream(request):
            # Each delta goes to the sink as it comes, so a pause in the stream holds nothing
            # back; the host coalesces them (roo.tasks.run.EventBuffer).
            if isinstance(chunk, TextChunk):
                text_parts.append(chunk.text)
                await setup.sink("message", {"kind": "text", "delta": chunk.text})
            elif isinstance(chunk, ReasoningChunk):
                reasoning_parts.append(chunk.text)
                await setup.sink("message", {"kind": "reasoning", "delta": chunk.text})
            elif isinstance(chunk, ThinkingBlockChunk):
                turn.thinking.append(dict(chunk.block))
            elif isinstance(chunk, ToolCallChunk):
                turn.calls.append(chunk)
            elif isinstance(chunk, UsageChunk):
                turn.usage = turn.usage + Usage(
                    input_tokens=chunk.input_tokens,
                    output_tokens=chunk.output_tokens,
                    cache_write_tokens=chunk.cache_write_tokens,
                    cache_read_tokens=chunk.cache_read_tokens,
                )
        turn.text = "".join(text_parts)
        turn.reasoning = "".join(reasoning_parts)
        if not turn.text.strip() and not turn.calls:
            raise ProviderError("stream", "The model returned no assistant messages.")
        counted = turn.usage
        turn.usage = Usage.priced(
            setup.model_info,
            setup.provider.protocol,
            counted.input_tokens,
            counted.output_tokens,
            counted.cache_write_tokens,
            counted.cache_read_tokens,
        )
        return turn

    # -- context window -------------------------------------------------------------------------

    def _context_size(self) -> int:
        """Roo's `prevContextTokens`: the tokens of the latest request (prompt and reply) plus
        those of the message added since; an estimate of what is sent when there was no
        request since the context last changed."""
        history = self.state.history
        if self.state.context_tokens:
            return self.state.context_tokens + estimate_tokens(history[-1:])
        return estimate_tokens(ctx.effective_history(history))

    async def _manage_context(
        self, system: str, specs: Sequence[ToolSpec], *, forced: bool = False
    ) -> None:
        """Roo's `manageContext`, before each request: condense when the context passes the
        threshold (ContextSettings.condense_percent % of the window, or the window x 0.9 minus
        the reply's reserve); when that is off, was not triggered or failed, and the request
        would not fit, hide the oldest half of the turns (the sliding window).

        `forced`: the provider said the request did not fit (Roo's
        `handleContextWindowExceededError`): condense from 75 % of the window on, whatever
        the settings say, and when that does not happen hide a quarter of the turns: the
        provider's word beats our estimate, so something always goes."""
        info, settings = self.setup.model_info, self.setup.context
        allowed = ctx.allowed_tokens(info, self._reserve)
        prev = self._context_size()
        percent = ctx.FORCED_CONTEXT_REDUCTION_PERCENT if forced else settings.condense_percent
        if (forced or settings.auto_condense) and ctx.should_condense(
            prev, info.context_window, allowed, percent
        ):
            trigger = "context_error" if forced else "auto"
            if await self._condense(prev, trigger, system, specs):
                return
        if forced:
            await self._truncate(FORCED_TRUNCATION, prev)
        elif prev > allowed:
            await self._truncate(0.5, prev)

    async def _truncate(self, fraction: float, before: int) -> None:
        state = self.state
        truncation_id = str(uuid.uuid4())
        removed, changed = ctx.truncate(state.history, fraction, truncation_id)
        if removed:
            for index in changed:
                state.mark_edited(index)
            state.context_tokens = 0
            await self.setup.sink(
                "context.truncated",
                {
                    "truncationId": truncation_id,
                    "messagesRemoved": removed,
                    "prevContextTokens": before,
                    "newContextTokens": estimate_tokens(ctx.effective_history(state.history)),
                },
            )

    async def _condense(
        self, before: int, trigger: str, system: str, specs: Sequence[ToolSpec]
    ) -> bool:
        """Roo's `summarizeConversation`: the task's model summarises what it sees now with
        Roo's condense prompt; the summary becomes a user message (`isSummary`) with the first
        message's workflows, the todo list and fresh environment details, and every earlier
        message is marked `condenseParent` (kept, no longer sent). The call's tokens and cost
        count in the task's usage, whatever its outcome. False (and `context.condense_failed`)
        when there was nothing to condense or the call failed."""
        state, setup = self.state, self.setup
        to_summarize = ctx.effective_history(state.history)
        refusal = ctx.condense_refusal(to_summarize, len(state.history))
        if refusal is not None:
            await setup.sink("context.condense_failed", {"trigger": trigger, "error": refusal})
            return False
        request = ModelRequest(
            model=setup.model,
            system=condense_system_prompt(),
            messages=ctx.summary_request_messages(
                to_summarize,
                condense_instructions(),
                supports_images=setup.model_info.supports_images,
            ),
            tools=[],
            max_tokens=self._reserve,
            temperature=self._temperature(thinking=False),
        )
        usage = Usage()
        parts: list[str] = []
        error: str | None = None
        try:
            async for chunk in setup.provider.stream(request):
                if isinstance(chunk, TextChunk):
                    parts.append(chunk.text)
                elif isinstance(chunk, UsageChunk):
                    usage = usage + Usage(
                        input_tokens=chunk.input_tokens,
                        output_tokens=chunk.output_tokens,
                        cache_write_tokens=chunk.cache_write_tokens,
                        cache_read_tokens=chunk.cache_read_tokens,
                    )
        except ProviderError as exc:
            error = ctx.condense_api_failed(str(exc))
        usage = Usage.priced(
            setup.model_info,
            setup.provider.protocol,
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_write_tokens,
            usage.cache_read_tokens,
        )
        state.usage = state.usage + usage
        summary = "".join(parts).strip()
        if error is None and not summary:
            error = ctx.CONDENSE_FAILED
        if error is not None:
            await setup.sink(
                "context.condense_failed",
                {"trigger": trigger, "error": error, "cost": usage.cost, "usage": usage.to_dict()},
            )
            await self._checkpoint()  # the usage
            return False
        condense_id = str(uuid.uuid4())
        content = ctx.summary_content(
            summary,
            commands=ctx.command_blocks(state.history[0]),
            todos=state.todos,
            environment=self._environment(),
        )
        for index in ctx.mark_condensed(state.history, condense_id):
            state.mark_edited(index)
        summary_message: Message = {
            "role": "user",
            "content": content,
            "isSummary": True,
            "condenseId": condense_id,
        }
        state.history.append(summary_message)
        # what the next request starts from: the system prompt, the tools and the summary
        after = (
            ctx.estimate_text_tokens(system)
            + ctx.estimate_text_tokens(
                json.dumps([[spec.name, spec.description, spec.parameters] for spec in specs])
            )
            + estimate_tokens([summary_message])
        )
        state.context_tokens = after
        await setup.sink(
            "context.condensed",
            {
                "trigger": trigger,
                "condenseId": condense_id,
                "prevContextTokens": before,
                "newContextTokens": after,
                "messagesCondensed": len(to_summarize),
                "cost": usage.cost,
                "usage": usage.to_dict(),
                "summary": _clip(summary),
            },
        )
        await self._checkpoint()
        return True

    # -- tools ----------------------------------------------------------------------------------

    async def _run_tools(self, calls: list[tuple[str, str, dict[str, Any] | None]]) -> str | None:
        """Run the calls in order; returns the completion result when the task is done."""
        state = self.state
        rejected = False
        failed = False
        stop_after: str | None = None
        for call_id, name, arguments in calls:
            if rejected:
                names = {slug: mode.name for slug, mode in self.setup.modes.items()}
                block = _error(call_id, r.skipped_after_rejection(name, arguments, names))
            elif stop_after is not None:
                block = _error(call_id, r.not_executed_after(name, stop_after))
            else:
                outcome = await self._run_tool(call_id, name, arguments, failed)
                if isinstance(outcome, _Completion):
                    return outcome.result
                block, was_rejected = outcome
                rejected = rejected or was_rejected
                failed = failed or bool(block.get("is_error"))
                if name == "new_task" and not block.get("is_error"):
                    stop_after = name
            state.pending_results.append(block)
            await self._checkpoint()
        return None

    async def _run_tool(
        self, call_id: str, name: str, arguments: dict[str, Any] | None, failed_before: bool
    ) -> tuple[Block, bool] | _Completion:
        state, setup = self.state, self.setup
        if arguments is None:
            state.mistakes += 1
            return _error(call_id, r.tool_error(r.invalid_tool_call(name))), False
        tool = setup.registry.get(name)
        if tool is None:
            state.mistakes += 1
            available = ", ".join(t.name for t in self._tools())
            return _error(call_id, r.tool_error(r.unknown_tool(name, available))), False
        refusal = check_tool_allowed(
            self.mode, tool.name, arguments, setup.model_info.included_tools
        )
        if refusal is not None:
            state.mistakes += 1
            return _error(call_id, r.tool_error(refusal)), False
        key = json.dumps([tool.name, arguments], sort_keys=True, default=str)
        self._repeats = self._repeats + 1 if key == self._last_call else 1
        self._last_call = key
        limit = setup.limits.mistake_limit
        # Roo's ToolRepetitionDetector: `limit` repeats of the first call run, the next is refused
        if limit and self._repeats > limit:
            self._stuck_tool = tool.name
            self._repeats = 0
            self._last_call = None
            return _error(call_id, r.tool_error(r.tool_repetition_limit(tool.name))), False
        try:
            params = tool.Params.model_validate(arguments)
        except ValidationError as exc:
            state.mistakes += 1
            return _error(call_id, r.tool_error(parameter_error(tool.name, exc))), False

        if tool.category is ApprovalCategory.INTERACTION:
            return await self._interaction(call_id, tool, params, failed_before)

        feedback: str | None = None
        asked: Mapping[str, Any] = arguments
        if tool.category is ApprovalCategory.MCP:
            # Roo's use_mcp_server ask: {type, serverName, toolName, arguments} or {.., uri}
            server, mcp_tool = mcp_target(tool, arguments)
            allows = (
                mcp_tool is not None
                and setup.mcp is not None
                and setup.mcp.always_allowed(server, mcp_tool)
            )
            decision = decide_mcp(setup.policy, server, mcp_tool, server_allows=allows)
            asked = mcp_ask_params(tool, arguments)
        else:
            decision = decide_tool(setup.policy, tool.category, arguments)
        if decision == "deny":
            return _error(call_id, r.tool_denied_by_policy()), True
        if decision == "ask":
            command = (
                arguments.get("command") if tool.category is ApprovalCategory.EXECUTE else None
            )
            answer = await setup.interaction.ask(
                Ask(
                    kind="command" if command is not None else "tool",
                    text=command,
                    tool=tool.name,
                    params=asked,
                    call_id=call_id,
                )
            )
            if answer.action not in ("approve", "approve_always"):
                text = r.tool_denied_with_feedback(answer.text) if answer.text else r.tool_denied()
                return m.tool_result_block(call_id, [m.text_block(text)], is_error=True), True
            if answer.action == "approve_always":
                setup.policy = setup.policy.with_rule(tool.category, asked)
                if setup.on_policy_change is not None:
                    await setup.on_policy_change(setup.policy)
            feedback = answer.text or None

        await self._snapshot(tool)
        result = await self._execute(call_id, tool, params, arguments)
        if result.is_error and (tool.name == "apply_diff" or result.data.get("invalid_parameters")):
            state.mistakes += 1
        elif not result.is_error:
            state.mistakes = 0
        blocks = _result_blocks(result)
        if feedback:
            blocks.insert(0, m.text_block(r.tool_approved_with_feedback(feedback)))
        return m.tool_result_block(call_id, blocks, is_error=result.is_error), False

    async def _snapshot(self, tool: Tool) -> None:
        """Roo saves a checkpoint before a tool that edits files; here before the first tool
        of a step that may write to the workspace (a file tool or a command), once a step."""
        snapshots, state = self.setup.workspace_checkpoints, self.state
        if snapshots is None or tool.category not in WRITING or self._snapshot_step == state.step:
            return
        self._snapshot_step = state.step
        # the last message is this step's assistant turn: a restore keeps what came before
        await snapshots.before_write(state.step, len(state.history) - 1)

    async def _execute(
        self, call_id: str, tool: Tool, params: Any, arguments: Mapping[str, Any]
    ) -> ToolResult:
        sink = self.setup.sink
        await sink(
            "tool.execution",
            {"phase": "start", "callId": call_id, "tool": tool.name, "params": dict(arguments)},
        )

        async def emit(chunk: str) -> None:
            await sink(
                "tool.execution",
                {"phase": "output", "callId": call_id, "tool": tool.name, "output": chunk},
            )

        on_output = BoundedOutput(emit, self.setup.limits.output_event_bytes)
        ctx: ToolContext = self.setup.tool_context(on_output)
        started = time.monotonic()
        gate = self.setup.tool_gate
        refusal = await gate(tool.name) if gate is not None else None
        if refusal is not None:
            result = ToolResult.error(r.tool_error(refusal), rate_limited=True)
        else:
            try:
                result = await tool.execute(params, ctx)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an infrastructure fault: the model hears it, the task lives
                result = ToolResult.error(r.tool_error(f"{type(exc).__name__}: {exc}"))
        await sink(
            "tool.execution",
            {
                "phase": "end",
                "callId": call_id,
                "tool": tool.name,
                "isError": result.is_error,
                "durationMs": round((time.monotonic() - started) * 1000),
                "output": _clip(result.text_content),
                "data": dict(result.data),
                **on_output.counts(),
            },
        )
        return result

    async def _interaction(
        self, call_id: str, tool: Tool, params: Any, failed_before: bool
    ) -> tuple[Block, bool] | _Completion:
        state, setup = self.state, self.setup
        name = tool.name
        feedback: str | None = None  # given with an approval, sent with the result

        async def approved(tool_name: str, params_shown: Mapping[str, Any]) -> Block | None:
            """Roo's askApproval for the interaction tools that ask: None when the call may
            go on, else the denied result (the later calls of the reply are skipped)."""
            nonlocal feedback
            if interaction_approved(setup.policy, tool_name):
                return None
            answer = await setup.interaction.ask(
                Ask(kind="tool", tool=tool_name, params=dict(params_shown), call_id=call_id)
            )
            if answer.action not in ("approve", "approve_always"):
                text = r.tool_denied_with_feedback(answer.text) if answer.text else r.tool_denied()
                return m.tool_result_block(call_id, [m.text_block(text)], is_error=True)
            if answer.action == "approve_always":
                setup.policy = setup.policy.allowing(tool_name)
                if setup.on_policy_change is not None:
                    await setup.on_policy_change(setup.policy)
            feedback = answer.text or None
            return None

        def ok(text: str) -> tuple[Block, bool]:
            state.mistakes = 0
            blocks = [m.text_block(text)]
            if feedback:
                blocks.insert(0, m.text_block(r.tool_approved_with_feedback(feedback)))
            return m.tool_result_block(call_id, blocks), False

        if name == "attempt_completion":
            if failed_before:
                return _error(call_id, r.completion_refused()), False
            if setup.is_subtask:
                denied = await approved("finish_task", {"result": params.result})
                if denied is not None:
                    return denied, True
            await setup.sink("task.result", {"result": params.result})
            return _Completion(params.result)
        if name == "ask_followup_question":
            suggestions = [s.model_dump(exclude_none=True) for s in params.follow_up]
            timeout = setup.policy.followup_timeout
            first = suggestions[0]["text"] if suggestions and timeout is not None else None
            answer = await setup.interaction.ask(
                Ask(
                    kind="followup",
                    text=params.question,
                    suggestions=suggestions,
                    call_id=call_id,
                    auto_answer=first,
                    auto_after=timeout if first is not None else None,
                )
            )
            if answer.action == "deny" or not answer.text:
                return ok(r.followup_declined())
            # the user's pick of a suggestion with a mode switches to it (Roo's webview does
            # on a click); an automatic answer does not (Roo's timeout sends the text only)
            for suggestion in suggestions if not answer.auto else ():
                if suggestion.get("mode") and suggestion["text"] == answer.text:
                    await self._switch_mode(suggestion["mode"], "the user's answer")
            return ok(r.followup_answer(answer.text))
        if name == "switch_mode":
            target = get_mode(params.mode_slug, setup.modes)
            if target is None:
                state.mistakes += 1
                return _error(call_id, r.invalid_mode(params.mode_slug)), False
            if target.slug == state.mode:
                return ok(r.already_in_mode(target.name))
            denied = await approved(
                "switch_mode", {"mode_slug": params.mode_slug, "reason": params.reason}
            )
            if denied is not None:
                return denied, True
            previous = self.mode
            await self._switch_mode(target.slug, params.reason)
            return ok(r.mode_switched(previous.name, target.name, params.reason))
        if name == "new_task":
            target = get_mode(params.mode, setup.modes)
            if target is None:
                state.mistakes += 1
                return _error(call_id, r.invalid_mode(params.mode)), False
            if setup.spawn_subtask is None:
                return _error(call_id, r.tool_error("Subtasks are not available here.")), False
            shown = {"mode": params.mode, "message": params.message, "todos": params.todos}
            denied = await approved("new_task", {k: v for k, v in shown.items() if v is not None})
            if denied is not None:
                return denied, True
            try:
                child_id, summary = await setup.spawn_subtask(
                    target.slug, params.message, params.todos
                )
            except SubtaskFailed as exc:
                return _error(call_id, r.tool_error(str(exc))), False
            return ok(r.subtask_result(child_id, summary))
        if name == "update_todo_list":
            state.todos = params.todos
            await setup.sink("task.todos", {"todos": params.todos})
            return ok(r.TODO_UPDATED)
        return _error(call_id, r.unknown_tool(name, "")), False

    async def _switch_mode(self, slug: str, reason: str) -> None:
        previous = self.state.mode
        self.state.mode = slug
        await self.setup.sink("task.mode", {"from": previous, "to": slug, "reason": reason})

    async def _mistake_limit_reached(self) -> None:
        state, setup = self.state, self.setup
        stuck = self._stuck_tool
        guidance = r.repetition_guidance(stuck) if stuck else r.MISTAKE_LIMIT_GUIDANCE
        answer: Answer = await setup.interaction.ask(Ask(kind="mistake_limit", text=guidance))
        if answer.action == "deny":
            raise _Failed(Outcome("failed", reason="mistake_limit_reached", message=guidance))
        state.mistakes = 0
        self._stuck_tool = None
        if answer.text:
            note = r.repetition_feedback(answer.text) if stuck else r.too_many_mistakes(answer.text)
            state.history[-1]["content"].insert(-1, m.text_block(note))
            state.mark_edited(len(state.history) - 1)
        await self._checkpoint()

    def _environment(self, *, first: bool = False) -> str:
        setup = self.setup
        return environment_details(
            datetime.now(UTC),
            self.mode,
            setup.model,
            self.state.usage.cost,
            setup.workspace.file_listing if first else None,
            todos=parse_todos(self.state.todos),
        )


@dataclass(frozen=True, slots=True)
class _Completion:
    result: str


def _spec(tool: Tool) -> ToolSpec:
    if tool.dynamic:  # built per run (an MCP server's tool): not kept beyond it
        return ToolSpec(tool.name, tool.description, tool.parameters_schema())
    return _static_spec(tool)


@functools.cache
def _static_spec(tool: Tool) -> ToolSpec:
    return ToolSpec(tool.name, tool.description, tool.parameters_schema())


# Roo's stand-in for an image sent to a model without vision (`maybeRemoveImageBlocks`)
IMAGE_PLACEHOLDER = "[Referenced image in conversation]"


def _without_images(block: Block) -> Block:
    """`block` with its images (its own, or those of a tool result) replaced by Roo's text."""
    kind = block.get("type")
    if kind == "image":
        return m.text_block(IMAGE_PLACEHOLDER)
    if kind == "tool_result" and isinstance(block.get("content"), list):
        if any(b.get("type") == "image" for b in block["content"]):
            return {**block, "content": [_without_images(b) for b in block["content"]]}
    return block


def _for_provider(history: Sequence[Message], *, images: bool = True) -> list[Message]:
    """The history as sent: role and content only (context marks stay home), reasoning blocks
    left out (kept for the record only; Anthropic's signed thinking blocks go on to the
    provider, which sends them back when thinking is on), consecutive user messages merged (Roo's
    `mergeConsecutiveApiMessages`). `images` false (a model without vision): image blocks
    become Roo's placeholder text, in the request only (the history keeps them)."""
    out: list[Message] = []
    for message in history:
        content = [b for b in message["content"] if b.get("type") != "reasoning"]
        if not images:
            content = [_without_images(b) for b in content]
        if not content:
            continue
        if out and out[-1]["role"] == "user" and message["role"] == "user":
            out[-1]["content"] = [*out[-1]["content"], *content]
        else:
            out.append({"role": message["role"], "content": content})
    return out
