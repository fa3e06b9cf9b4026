"""Runs tasks in the background of this process and joins the engine to the rest.

Each run is an asyncio task owned by this `TaskRunner` (its `runner_id` and a heartbeat are on
the task row; `roo.tasks.liveness` keeps them fresh and reads the runs' inboxes). The run's sink
stores every event in the session's event log (`roo.tasks.run.EventBuffer`); its checkpoint
saves what changed in the engine state after every step and tool result
(`roo.tasks.state_store`); its interaction (`roo.tasks.run.Run`) parks the task in
`awaiting_approval`/`awaiting_input` with a `pending` question until an answer arrives
(`roo.tasks.control`), or the wait times out (the task is then cancelled cleanly). How a run
ends is mapped to a state and events by `roo.tasks.states`.

A task whose runner stops beating (the process crashed or was stopped) is marked `interrupted`
by whichever runner sweeps next; `resume` continues it from its last saved step. A clean shutdown
marks this runner's tasks `interrupted` at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roo.agent import messages as m
from roo.agent.approval import ApprovalPolicy
from roo.agent.context import ContextSettings
from roo.agent.engine import Agent, AgentLimits, AgentSetup
from roo.agent.messages import Block
from roo.agent.pricing import ModelInfo, default_model_info, model_info
from roo.agent.prompts import WorkspaceFacts
from roo.agent.providers.base import Provider
from roo.agent.rules import load_rules
from roo.agent.state import Answer, EngineState, SubtaskFailed, has_run
from roo.agent.tools.base import IgnoreRules, OnOutput, RunCommand, ToolContext
from roo.agent.tools.execute_command import BackgroundCommands
from roo.agent.tools.list_files import list_workspace
from roo.agent.tools.read_command_output import CommandOutputs
from roo.agent.tools.registry import ToolRegistry
from roo.checkpoints.service import CheckpointService
from roo.config import Settings
from roo.db.engine import background_work, uninterrupted, unit_of_work
from roo.db.models import Session, Task
from roo.db.types import utcnow
from roo.kit.request_context import bind_credential
from roo.mcp.service import McpService
from roo.pathguard import PathRejected
from roo.sandbox import ProcessResult, SandboxError
from roo.security.audit import AuditWriter, audit_command
from roo.security.session_limits import tool_refusal
from roo.sessions.modes import session_modes
from roo.sessions.service import SessionManager
from roo.tasks import llm_metrics, repository, states
from roo.tasks.events import EventStore, SessionGone
from roo.tasks.inbox import Inbox
from roo.tasks.liveness import Liveness
from roo.tasks.llm import ModelResolver
from roo.tasks.modes import WorkspaceSetup
from roo.tasks.run import EventBuffer, Run, WaitTimedOut
from roo.tasks.schemas import ACTIVE_STATES
from roo.tasks.state_store import StateWriter, load_state

log = structlog.get_logger(__name__)


class LeaseLost(asyncio.CancelledError):
    """This process no longer holds the task's lease: the run stops, writing nothing more.
    A cancellation (not an Exception): nothing on the way catches it as a failure."""


def image_blocks(images: Sequence[str]) -> list[Block]:
    """Data URLs (validated by the API) as image blocks."""
    blocks: list[Block] = []
    for url in images:
        header, _, data = url.partition(",")
        media_type = header.removeprefix("data:").split(";")[0]
        blocks.append(m.image_block(media_type, "".join(data.split())))
    return blocks


# How long a run start waits for the provider's model listing (an unknown model's window)
MODEL_LISTING_TIMEOUT = 10.0


async def unknown_model(
    provider: Provider, provider_name: str, model: str
) -> tuple[ModelInfo, dict[str, Any]]:
    """The facts a run assumes of a model the price table does not know, and its
    `task.warning` event: Roo's defaults, with the context window of the provider's model
    listing when it gives one. The model asked for runs: nothing falls back to another."""
    window: int | None = None
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(MODEL_LISTING_TIMEOUT):
            window = await provider.context_window(model)
    info = default_model_info(provider_name, model, context_window=window)
    warning = {
        "code": "unknown_model",
        "message": (
            f"The model {model!r} is not in the service's model table: it runs with default "
            f"model info (a {info.context_window:,}-token context window"
            f"{' from the provider' if window else ''}, {info.max_tokens:,} output tokens, no "
            "images) and its cost is unknown (null)."
        ),
        "model": model,
        "provider": provider_name,
        "contextWindow": info.context_window,
        "contextWindowSource": "provider" if window else "default",
        "maxTokens": info.max_tokens,
        "supportsImages": info.supports_images,
        "supportsTemperature": info.supports_temperature,
    }
    return info, warning


def _child_options(parent_state: dict[str, Any] | None) -> dict[str, Any]:
    options = (parent_state or {}).get("options")
    return {"options": dict(options)} if options else {}


def _reasoning_effort(options: dict[str, Any]) -> str | None:
    value = options.get("reasoning_effort")
    return value if isinstance(value, str) else None


def _reasoning_budget(options: dict[str, Any]) -> int | None:
    value = options.get("reasoning_budget")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _temperature(options: dict[str, Any]) -> float:
    value = options.get("temperature")
    return float(value) if isinstance(value, int | float) else 0.0


def workspace_listing(workspace: Path, ignore: IgnoreRules) -> str:
    """The first request's file list (as a recursive list_files shows it); a workspace that
    cannot be listed is said so, not a failed task."""
    try:
        return list_workspace(workspace, ignore)
    except (OSError, PathRejected) as exc:
        return f"(the workspace could not be listed: {type(exc).__name__})"


class TaskRunner:
    def __init__(
        self,
        settings: Settings,
        db_sessions: async_sessionmaker[AsyncSession],
        events: EventStore,
        manager: SessionManager,
        registry: ToolRegistry,
        ignore_rules: Callable[[Path], IgnoreRules],
        model_resolver: ModelResolver,
        mcp: McpService | None = None,
        checkpoints: CheckpointService | None = None,
    ) -> None:
        self.settings = settings
        # The sessions' MCP servers (None: tasks get none)
        self.mcp = mcp
        self.checkpoints = checkpoints
        self.db_sessions = db_sessions
        self.events = events
        self.manager = manager
        self.registry = registry
        self.ignore_rules = ignore_rules
        self.model_resolver = model_resolver
        self.runner_id = uuid.uuid4().hex
        self._runs: dict[uuid.UUID, Run] = {}
        # Tasks running at once in this process (the rest wait, `queued`): the API shares the
        # event loop and must stay responsive. Subtasks run in their parent's slot.
        self._slots = asyncio.Semaphore(settings.max_running_tasks)
        # Set by `drain`: each run stops at its next checkpoint, to be resumed elsewhere
        self._draining = False
        self.liveness = Liveness(
            db_sessions=db_sessions,
            events=events,
            runner_id=self.runner_id,
            heartbeat_seconds=settings.task_heartbeat_seconds,
            running=self.running,
            receive=self.receive,
            inbox_poll_seconds=settings.task_inbox_poll_seconds,
            lost=self.lose,
            background_wait=settings.db_background_wait,
        )

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self.liveness.start()

    async def drain(self, grace: float) -> None:
        """Hand this process's runs back, resumable: each stops at its next checkpoint (one
        parked on a question stops now: its state is saved), ends `interrupted`, and `resume`
        continues it from there; runs still going after `grace` seconds are stopped where they
        are (their current step is done again on resume)."""
        self._draining = True
        for run in list(self._runs.values()):
            if run.parent_id is None and run.waiting:
                run.cancel(by_user=False)
        tasks = [r.asyncio_task for r in self._runs.values() if r.asyncio_task is not None]
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    def _hand_back(self, run: Run) -> None:
        """Draining: stop `run` now that its state is saved (a subtask through its parent,
        which stops its child)."""
        top = run
        while top.parent_id is not None and top.parent_id in self._runs:
            top = self._runs[top.parent_id]
        top.cancel(by_user=False)

    def lose(self, task_ids: Collection[uuid.UUID]) -> None:
        """The lease of these tasks was lost (the liveness beat found them swept or taken
        over): their runs stop and record nothing more."""
        for task_id in task_ids:
            run = self._runs.get(task_id)
            if run is None or run.asyncio_task is None or run.asyncio_task.done():
                continue
            log.warning("tasks.lease_lost", task_id=str(task_id))
            run.lost = True
            if run.parent_id is None:  # a subtask stops with its parent
                run.cancel(by_user=False)

    async def stop(self) -> None:
        """Shut down: this process's runs end as `interrupted` (resumable)."""
        await self.liveness.stop()  # its current round finishes first
        tasks = [r.asyncio_task for r in self._runs.values() if r.asyncio_task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.model_resolver.aclose()

    # -- this process's runs --------------------------------------------------------------------

    def running(self) -> Collection[uuid.UUID]:
        """The tasks this process runs (a run stays a moment after its task ended)."""
        return self._runs.keys()

    def runs_here(self, task_id: uuid.UUID) -> bool:
        return task_id in self._runs

    def run(self, task_id: uuid.UUID) -> Run | None:
        return self._runs.get(task_id)

    def receive(self, task_id: uuid.UUID, box: Inbox) -> None:
        """Mail another process left for one of this process's runs (`Liveness`)."""
        run = self._runs.get(task_id)
        if run is None:
            return
        for text in box.messages:
            run.queue(text)
        if box.condense:
            run.request_condense()
        # an answer can only be written once its question is pending (and the run knows the
        # question before it is stored): any other one is stale
        given = box.answer_to(run.question_id)
        if given is not None:
            run.deliver(given.approval_id, Answer(given.action, given.text))
        if box.cancel:
            run.cancel()

    def cancel_session(self, session_id: uuid.UUID) -> list[asyncio.Task[None]]:
        """Ask every run of a session in this process to stop; the runs to wait for."""
        stopping = [
            run.cancel()
            for run in list(self._runs.values())
            if run.session_id == session_id and run.parent_id is None
        ]
        return [task for task in stopping if task is not None]

    # -- running --------------------------------------------------------------------------------

    async def take(self, task_id: uuid.UUID, text: str | None = None) -> None:
        """Run a task taken from the job queue (`roo.tasks.queue`) to its end: claim it (this
        runner's id and a heartbeat on the row: the lease) unless it is no longer queued
        (cancelled or deleted meanwhile) or another runner claimed it (a job delivered twice)."""
        # (taken while draining: it runs until its first checkpoint, then is handed back
        # `interrupted` like the others; refusing it would leave the task queued with no job)
        background_work(self.settings.db_background_wait)  # a failed job would strand the task
        async with unit_of_work(self.db_sessions, writes=True) as db:
            task = await repository.lock(db, task_id)
            if task is None or task.state != "queued" or task.runner_id is not None:
                log.info("tasks.job_skipped", task_id=str(task_id))
                return
            task.runner_id, task.heartbeat_at = self.runner_id, utcnow()
        log.info("tasks.taken", task_id=str(task_id), runner_id=self.runner_id)
        run = self.launch(task, text)
        if run.asyncio_task is not None:
            await asyncio.wait([run.asyncio_task])

    def launch(self, task: Task, text: str | None = None) -> Run:
        """Start (or continue, with the user's `text`) a task in the background."""
        run = Run(
            task.id,
            task.session_id,
            parent_id=task.parent_id,
            park=lambda state, pending: uninterrupted(self._park(run, state, pending)),
            wait_timeout=self.settings.task_wait_timeout_seconds,
            auto_answer=lambda pending_id, text: uninterrupted(
                self._auto_answer(run, pending_id, text)
            ),
        )
        self._runs[task.id] = run
        run.asyncio_task = asyncio.create_task(
            self._run(run, text, task.credential), name=f"task-{task.id}"
        )
        return run

    async def _run(self, run: Run, text: str | None, credential: str | None) -> None:
        background_work(self.settings.db_background_wait)  # no request waits on it
        # the audit rows of the run (its commands, MCP calls) carry the credential the task was
        # created with, whichever request (or worker) started this run
        bind_credential(credential)
        try:
            await self._execute(run, text)
        except Exception:
            # The end could not be recorded (the database is down or overloaded): the task
            # stays active without heartbeats, and the next sweep marks it interrupted.
            log.exception("tasks.end_not_recorded", task_id=str(run.task_id))
        finally:
            self._runs.pop(run.task_id, None)

    async def _execute(self, run: Run, text: str | None) -> None:
        """Prepare, run and record one run. Whatever happens, the task leaves `running`:
        completed, failed, cancelled, or (on shutdown) interrupted."""
        try:
            async with contextlib.AsyncExitStack() as stack:
                if run.parent_id is None:  # a subtask runs in its parent's slot
                    await stack.enter_async_context(self._slots)
                # long command outputs for read_command_output: gone when the run ends
                outputs = None
                if self.settings.task_command_output_bytes:
                    outputs = CommandOutputs(self.settings.task_command_output_bytes)
                    stack.callback(outputs.close)
                # commands left running after the model's timeout: killed when the run ends
                background = BackgroundCommands()
                stack.push_async_callback(background.aclose)
                prepared = await self._prepare(run, text, outputs, background)
                if prepared is None:
                    return
                agent, message, images = prepared
                outcome = await agent.run(message, images)
        except asyncio.CancelledError:
            if run.lost:  # another process holds the task now: nothing more is written
                raise
            await asyncio.shield(self._finish(run, states.cancelled_end(run.cancel_requested)))
            raise
        except SessionGone:
            return  # deleted while it ran: its task went with it
        except WaitTimedOut:
            await self._finish(
                run, states.wait_timeout_end(self.settings.task_wait_timeout_seconds)
            )
            return
        except Exception as exc:
            log.exception("tasks.run_failed", task_id=str(run.task_id))
            await self._finish(run, states.failed_end(exc))
            return
        await self._finish(run, states.outcome_end(outcome, agent.state.usage.to_dict()))

    async def _held_task(self, db: AsyncSession, run: Run) -> Task:
        """The run's task, its row locked until the unit of work ends; `LeaseLost` (and the
        run marked lost) when this runner no longer holds it."""
        task = await repository.lock(db, run.task_id)
        if task is None:
            raise LookupError(run.task_id)
        if task.runner_id != self.runner_id or task.state not in ACTIVE_STATES:
            run.lost = True
            raise LeaseLost(run.task_id)
        return task

    async def _park(self, run: Run, state: str, pending: dict[str, Any]) -> None:
        """Store the question the run waits for: the task `awaiting_*` with it pending, and
        `approval.required`, with the events emitted before it."""
        async with (
            self._buffer_held(run) as flush,
            unit_of_work(self.db_sessions, writes=True) as db,
        ):
            task = await self._held_task(db, run)
            await flush(db)
            required = {
                "approvalId": pending["id"],
                "kind": pending["kind"],
                "tool": pending["tool"],
                "params": dict(pending["params"]),
                "text": pending["text"],
                "suggestions": pending["suggestions"],
                **({"autoAnswer": pending["autoAnswer"]} if "autoAnswer" in pending else {}),
            }
            await states.transition(
                self.events,
                db,
                task,
                state,
                pending=pending,
                then=[("approval.required", required)],
            )

    async def _auto_answer(self, run: Run, pending_id: str, text: str) -> bool:
        """Answer the follow-up question `pending_id` with `text` for the user (Roo's follow-up
        auto-approval after its timeout), as the API's answer does: the task `running` again
        and `approval.resolved` (`auto: true`). False when the question is no longer pending
        (the user's answer came first; it is on its way to the run)."""
        async with (
            self._buffer_held(run) as flush,
            unit_of_work(self.db_sessions, writes=True) as db,
        ):
            task = await self._held_task(db, run)
            if task.state != "awaiting_input" or (task.pending or {}).get("id") != pending_id:
                return False
            await flush(db)
            resolved = {"approvalId": pending_id, "action": "answer", "text": text, "auto": True}
            await states.transition(
                self.events, db, task, "running", then=[("approval.resolved", resolved)]
            )
        return True

    @staticmethod
    def _buffer_held(
        run: Run,
    ) -> contextlib.AbstractAsyncContextManager[Callable[[AsyncSession], Awaitable[None]]]:
        """The run's event buffer held for a unit of work that locks the task's row
        (`EventBuffer.held`); a run without one yet (it ends before it started) flushes
        nothing."""
        if run.buffer is not None:
            return run.buffer.held()

        async def nothing(db: AsyncSession) -> None:
            return None

        return contextlib.nullcontext(nothing)

    async def _workspace_setup(self, run: Run) -> tuple[WorkspaceSetup, Session] | None:
        """What the workspace says before the task starts: the modes a task there can use and
        the rules files of the task's mode (read with no connection held), and the session's
        row; None when the task or its session is gone."""
        async with unit_of_work(self.db_sessions) as db:
            found = (
                await db.execute(
                    select(Task.mode, Session)
                    .join(Session, Session.id == Task.session_id)
                    .where(Task.id == run.task_id)
                )
            ).first()
            if found is None:
                return None
            mode, session = found
            workspace = self.manager.workspaces.path(session.workspace_dir)
            config = dict(session.config or {})
        modes = await session_modes(workspace, config)
        loader = functools.partial(
            load_rules, workspace, max_bytes=self.settings.task_rules_max_bytes
        )
        rules = await asyncio.to_thread(loader, mode)
        return WorkspaceSetup(modes, loader, {mode: rules}), session

    async def _start(self, run: Run, found: WorkspaceSetup) -> tuple[Task, Any] | None:
        """Mark the task running: its row and its model endpoint; None when it must not run
        (deleted, with its session or alone, or no longer queued: cancelled before it
        started). One UPDATE of the row and one append of both events."""
        async with unit_of_work(self.db_sessions, writes=True) as db:
            task = await repository.lock(db, run.task_id)
            if task is None or task.state != "queued":
                return None
            endpoint = await self.model_resolver.endpoint(db, task.user_id, task.provider)
            started = {
                "mode": task.mode,
                "provider": task.provider,
                "model": task.model,
                # false: a model the price table does not know (see `task.warning`)
                "modelKnown": model_info(task.provider, task.model) is not None,
                "resumed": has_run(task.engine_state),
                "parentId": str(task.parent_id) if task.parent_id else None,
                "rules": found.rules[task.mode].to_dicts() if task.mode in found.rules else [],
                "rulesTruncated": any(r.truncated for r in found.rules.values()),
            }
            task.runner_id, task.heartbeat_at = self.runner_id, utcnow()
            await states.transition(
                self.events, db, task, "running", then=[("task.started", started)]
            )
        return task, endpoint

    async def _prepare(
        self,
        run: Run,
        text: str | None,
        outputs: CommandOutputs | None = None,
        background: BackgroundCommands | None = None,
    ) -> tuple[Agent, str | None, list[Block]] | None:
        """Mark the task running and build its engine; None when it must not run (deleted,
        or no longer queued: cancelled before it started)."""
        settings = self.settings
        workspace_setup = await self._workspace_setup(run)
        if workspace_setup is None:
            return None
        found, session = workspace_setup
        # The session as read just before: a session deleted since takes its task with it
        # (the task's row is gone, and `_start` says so).
        started = await uninterrupted(self._start(run, found))
        if started is None:
            return None
        task, endpoint = started
        problem = found.problem(task.mode)
        if problem is not None:
            await self._finish(run, problem)
            return None
        first_run = not has_run(task.engine_state)
        if first_run:
            options = dict((task.engine_state or {}).get("options") or {})
            state = EngineState(mode=task.mode, options=options)
        else:  # the run owns the task now: nothing else writes its state
            async with unit_of_work(self.db_sessions) as db:
                state = await load_state(db, task)
        workspace = self.manager.workspaces.path(session.workspace_dir)
        ignore = self.ignore_rules(workspace)
        config = session.config or {}
        provider = self.model_resolver.build(task.provider, endpoint)
        info = model_info(task.provider, task.model)
        warning: dict[str, Any] | None = None
        if info is None:
            info, warning = await unknown_model(provider, task.provider, task.model)

        async def held(db: AsyncSession) -> bool:
            return await repository.holds(db, run.task_id, self.runner_id)

        buffer = run.buffer = EventBuffer(self.events, run.session_id, run.task_id, held)
        writer = StateWriter(run.task_id, state)
        # The session's MCP servers, started now (no connection held): their tools are offered
        registry, mcp = self.registry, None
        if self.mcp is not None:
            mcp, registry, servers = await self.mcp.for_run(session, registry, task.user_id)
            for server in servers:
                if server.status == "failed":
                    await buffer(
                        "mcp.server",
                        {"server": server.name, "status": server.status, "error": server.error},
                    )

        async def save(snapshot: EngineState) -> None:
            async with buffer.held() as flush, unit_of_work(self.db_sessions, writes=True) as db:
                # the task's row first, where the lease is still this run's (the row stays
                # locked until the writes commit): a run that lost it (paused past the sweep,
                # the task resumed elsewhere) writes nothing
                now = utcnow()
                written = await writer.write(
                    db,
                    snapshot,
                    lease=self.runner_id,
                    mode=snapshot.mode,
                    heartbeat_at=now,
                    updated_at=now,
                )
                if written is None:
                    run.lost = True
                    raise LeaseLost(run.task_id)
                await flush(db)

        async def checkpoint(snapshot: EngineState) -> None:
            await uninterrupted(save(snapshot))
            if self._draining:  # saved: a safe point to hand the task back
                self._hand_back(run)

        async def save_policy(policy: ApprovalPolicy) -> None:
            async with unit_of_work(self.db_sessions, writes=True) as db:
                row = await db.get(Session, run.session_id, with_for_update=True)
                if row is not None:
                    row.config = {**row.config, "approvalPolicy": policy.to_mapping(by_alias=True)}

        async def on_policy_change(policy: ApprovalPolicy) -> None:
            await uninterrupted(save_policy(policy))

        run_command = self._audited_commands(session, task.user_id, run.task_id)

        def tool_context(on_output: OnOutput) -> ToolContext:
            return ToolContext(
                workspace=workspace,
                run_command=run_command,
                ignore=self.ignore_rules(workspace),
                on_output=on_output,
                supports_images=info.supports_images,
                command_outputs=outputs,
                background=background,
                mcp=mcp,
            )

        budgets = self.manager.budgets

        async def tool_gate(tool: str) -> str | None:
            """The session's tool budget (roo.security.session_limits): a refusal is the
            tool's error, which the model reads."""
            verdict = await budgets.tool_call(run.session_id) if budgets is not None else None
            return tool_refusal(verdict) if verdict is not None and not verdict.allowed else None

        async def spawn(mode: str, message: str, todos: str | None) -> tuple[str, str]:
            return await self._subtask(run, mode, message, todos)

        setup = AgentSetup(
            provider=provider,
            model=task.model,
            model_info=info,
            registry=registry,
            tool_context=tool_context,
            sink=buffer,
            interaction=run,
            checkpoint=checkpoint,
            policy=ApprovalPolicy.from_mapping(config.get("approvalPolicy") or {}),
            on_policy_change=on_policy_change,
            spawn_subtask=spawn,
            is_subtask=task.parent_id is not None,
            limits=AgentLimits(
                max_requests=settings.task_max_requests,
                max_cost=settings.task_max_cost,
                max_wall_seconds=settings.task_max_wall_seconds,
                mistake_limit=settings.task_mistake_limit,
                retry_attempts=settings.llm_retry_attempts,
                retry_base_delay=settings.llm_retry_base_delay,
                # Events keep at most what the model gets of a command's output, or less.
                output_event_bytes=min(
                    settings.task_output_event_bytes,
                    self.manager.limits(session).max_output_bytes,
                ),
            ),
            custom_instructions=config.get("customInstructions"),
            modes=found.modes.table,
            rules_loader=found.loader,
            rules=dict(found.rules),
            context=ContextSettings(
                auto_condense=settings.task_auto_condense,
                condense_percent=settings.task_auto_condense_percent,
            ),
            temperature=_temperature(state.options),
            reasoning_effort=_reasoning_effort(state.options),
            reasoning_budget=_reasoning_budget(state.options),
            background=background,
            mcp=mcp,
            workspace_checkpoints=self.checkpoints.recorder(session, task.id, buffer)
            if self.checkpoints is not None
            else None,
            tool_gate=tool_gate,
            on_model_call=llm_metrics.observe,
            workspace=WorkspaceFacts(
                file_listing=await asyncio.to_thread(workspace_listing, workspace, ignore)
                if first_run
                else ""
            ),
        )
        agent = Agent(setup, state)
        if warning is not None:
            await buffer("task.warning", warning)
        if first_run:
            return agent, task.input, image_blocks(task.images or [])
        return agent, text, []

    def _audited_commands(
        self, session: Session, user_id: uuid.UUID, task_id: uuid.UUID
    ) -> RunCommand:
        """The session's `run_command` for a task's agent, each command audited
        (`commands.execute`: its text bounded and redacted, its exit code, or `denied` when it
        could not start) in a short unit of work of its own once it ended; no connection is
        held while it runs."""
        audit = AuditWriter(self.db_sessions)

        async def run_command(command: str | Sequence[str], **options: Any) -> ProcessResult:
            facts: dict[str, Any] = {"task_id": str(task_id), "command": audit_command(command)}
            try:
                result = await self.manager.run_command(session, command, **options)
            except SandboxError as refused:
                await audit.write(
                    "commands.execute",
                    actor_id=user_id,
                    target=f"session:{session.id}",
                    outcome="denied",
                    reason=type(refused).__name__,
                    **facts,
                )
                raise
            await audit.write(
                "commands.execute",
                actor_id=user_id,
                target=f"session:{session.id}",
                outcome="success" if result.exit_code == 0 else "failure",
                exit_code=result.exit_code,
                killed_reason=result.killed_reason,
                **facts,
            )
            return result

        return run_command

    async def _finish(self, run: Run, end: states.End) -> None:
        """Record the run's end (with the events it emitted before)."""
        with contextlib.suppress(SessionGone):  # deleted meanwhile: nothing left to record
            async with (
                self._buffer_held(run) as flush,
                unit_of_work(self.db_sessions, writes=True) as db,
            ):
                task = await repository.lock(db, run.task_id)
                if task is None:  # deleted
                    return
                if task.runner_id != self.runner_id:  # taken over: not this run's to record
                    log.warning("tasks.lease_lost", task_id=str(run.task_id))
                    return
                await flush(db)
                await states.record_end(self.events, db, task, end)

    async def _subtask(
        self, parent: Run, mode: str, message: str, todos: str | None
    ) -> tuple[str, str]:
        """Create a child task in the same session and run it to its end inside the parent's
        run (cancelling the parent cancels the child)."""
        async with unit_of_work(self.db_sessions, writes=True) as db:
            if parent.buffer is not None:
                await parent.buffer.flush(db)
            row = await repository.get(db, parent.task_id)
            if row is None:
                raise SubtaskFailed("the parent task is gone")
            child = Task(
                session_id=row.session_id,
                user_id=row.user_id,
                credential=row.credential,
                parent_id=row.id,
                state="queued",
                mode=mode,
                provider=row.provider,
                model=row.model,
                input=message if not todos else f"{message}\n\nTodo list:\n{todos}",
                images=[],
                # the parent's own settings (temperature...) carry over, as its model does
                engine_state=_child_options(row.engine_state),
                heartbeat_at=utcnow(),
                runner_id=self.runner_id,
            )
            db.add(child)
            await db.flush()
            await self.events.append(
                row.session_id,
                child.id,
                "task.created",
                {"parentId": str(row.id), "mode": mode, "input": child.input},
                db=db,
            )
            await self.events.append(
                row.session_id, row.id, "task.delegated", {"childId": str(child.id)}, db=db
            )
        run = self.launch(child)
        if run.asyncio_task is None:
            raise SubtaskFailed("the subtask could not start")
        try:
            # wait() does not raise the child's CancelledError: a cancelled child is a failed
            # subtask for the parent; a cancelled parent cancels its child.
            await asyncio.wait([run.asyncio_task])
        except asyncio.CancelledError:
            run.cancel(by_user=parent.cancel_requested)
            await asyncio.wait([run.asyncio_task])
            raise
        async with unit_of_work(self.db_sessions) as db:
            done = await repository.get(db, child.id)
        if done is None or done.state != "completed":
            state = done.state if done else "deleted"
            detail = f": {done.failure_message}" if done and done.failure_message else ""
            raise SubtaskFailed(f"Subtask {child.id} ended {state}{detail}")
        return str(child.id), done.result or ""
