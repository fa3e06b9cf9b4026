"""Task state persistence: what a step's checkpoints cost at step 10 and at step 300, and the
event loop's longest stall while 50 long tasks save their steps.

    .venv/bin/python bench/task_state.py [--steps 10,300] [--measured-steps 5] [--result-kb 20]
                                         [--tasks 50] [--task-step 300] [--task-steps 2]
                                         [--database-url URL]

In process, on uvloop, with the service's own database code: `roo.db.engine.create_engine`
and `unit_of_work` on a database migrated by `roo.db.migrate.upgrade`, embedded SQLite in a
temporary directory (statements in the event loop's thread, as the service runs them), then a
scratch PostgreSQL database when --database-url (or DATABASE_URL) names a server: created on
it and dropped afterwards.

A task is simulated step by step as the engine saves it (`roo.agent.engine`): the model's
reply (a line of text and one `read_file` call) is appended, checkpoint; the tool's result
(--result-kb of numbered lines) joins the results of the step in progress, checkpoint; the next
user turn (that result and the environment details) is appended, checkpoint. Each checkpoint
runs as the runner runs it: `uninterrupted(save(state))`, one unit of work. Two ways to save,
measured in the same run:

- `before`: the checkpoint of the code before task_messages (revision 0006): one
  `UPDATE tasks SET engine_state = EngineState.to_dict()` (the whole conversation), mode,
  heartbeat_at, updated_at;
- `after`: the runner's checkpoint now, `roo.tasks.state_store.StateWriter.write`: the new
  messages as `task_messages` rows, the small rest of the state on the task row.

1. Per step: for each way and each N in --steps, a task is brought to step N (its state saved
   once, as it stands then: rows for `after`, the whole state for `before`), then
   --measured-steps more steps are saved. Per step (its three checkpoints): wall time, this
   process's CPU time, the bytes the statements carried (their parameters, JSON text included)
   and the number of statements; medians over the measured steps.
   Then the task row is read --measured-steps times (`session.get(Task, id)`, as the task
   list and the API load it; its `engine_state` held the whole conversation before).
2. Stall: --tasks tasks are brought to --task-step (not timed), then run together for
   --task-steps steps each: the model answers in 20 to 80 ms (a seeded random sleep), the tool
   in 5 ms. A probe sleeps 10 ms in a loop and records how late each wake-up is; the longest
   and p99 are reported, with the probe alone on an idle loop (1 s) as the floor, and the
   garbage collector's passes meanwhile (each one stalls the loop too, whatever the tasks do).
   Checkpoints that fail (e.g. no pooled connection within its timeout) are counted, not
   retried.

Results: bench/results/task_state.json. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import uvloop
from common import (
    RESULTS_DIR,
    bench_parser,
    exit_on_sigterm,
    machine_info,
    report_and_exit,
    require_at_least,
    source_revision,
)
from loadgen import percentile
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

# the test suite's scratch databases (created and dropped on the run's PostgreSQL server)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.databases import scratch_database

from roo.agent import messages as m
from roo.agent.messages import Block, Message
from roo.agent.pricing import Usage
from roo.agent.state import EngineState
from roo.config import load_settings
from roo.db import migrate
from roo.db.engine import create_engine, create_session_factory, uninterrupted, unit_of_work
from roo.db.models import Session, Task, User
from roo.db.types import utcnow
from roo.tasks.state_store import StateWriter

DEFAULT_OUTPUT = RESULTS_DIR / "task_state.json"
PROBE_SECONDS = 0.01
IDLE_PROBE_SECONDS = 1.0
MODEL_SECONDS = (0.02, 0.08)
TOOL_SECONDS = 0.005
ENVIRONMENT = (
    "<environment_details>\n# Current Time\nCurrent time in ISO 8601 UTC format: "
    "2026-12-05T10:00:00.000Z\nUser time zone: UTC, UTC+0:00\n\n# Current Cost\n$0.42\n\n"
    "# Current Mode\n<slug>code</slug>\n<name>Code</name>\n<model>gpt-4o</model>\n"
    "<tool_format>native</tool_format>\n</environment_details>"
)
STEP_USAGE = Usage(input_tokens=2_000, output_tokens=40, cost=0.0054)


# -- the simulated task --------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    reply: Message
    result: Block
    turn: Message


def make_steps(count: int, result_bytes: int) -> list[Step]:
    """Step n's messages (shared by every task: only their JSON is measured)."""
    steps = []
    for n in range(count):
        call = f"call_{n}"
        lines, size, number = [], 0, 1
        while size < result_bytes:
            line = f"{number:5} | step {n}: some source line of the file that was read\n"
            lines.append(line)
            size += len(line)
            number += 1
        text = "".join(lines)[:result_bytes]
        reply = m.assistant(
            m.text_block(f"Reading part {n} of the file."),
            m.tool_use_block(call, "read_file", {"path": "big.txt", "offset": n * 400 + 1}),
        )
        result = m.tool_result_block(call, [m.text_block(text)])
        steps.append(Step(reply, result, m.user(result, m.text_block(ENVIRONMENT))))
    return steps


def state_at(steps: Sequence[Step], n: int) -> EngineState:
    """The engine's state after n steps."""
    history = [m.user(m.text_block("<user_message>Read big.txt</user_message>"))]
    for step in steps[:n]:
        history += [step.reply, step.turn]
    usage = Usage()
    for _ in range(n):
        usage = usage + STEP_USAGE
    return EngineState(history=history, step=n, requests=n, usage=usage, context_tokens=2_040)


Save = Callable[[EngineState], Awaitable[None]]


def saver(way: str, db_sessions: async_sessionmaker[AsyncSession], task_id: uuid.UUID) -> Save:
    """A run's checkpoint, `before` or `after` this change (module docstring)."""
    writer = StateWriter(task_id, EngineState())  # a state brought to step N is saved whole once

    async def before(state: EngineState) -> None:
        async with unit_of_work(db_sessions) as db:
            now = utcnow()
            await db.execute(
                update(Task)
                .where(Task.id == task_id)
                .values(engine_state=state.to_dict(), mode=state.mode, heartbeat_at=now)
                .values(updated_at=now)
            )

    async def after(state: EngineState) -> None:
        async with unit_of_work(db_sessions) as db:
            now = utcnow()
            await writer.write(db, state, mode=state.mode, heartbeat_at=now, updated_at=now)

    work = before if way == "before" else after

    async def checkpoint(state: EngineState) -> None:
        await uninterrupted(work(state))
        state.edited.clear()  # as the engine does once a checkpoint returns

    return checkpoint


async def run_step(
    state: EngineState, step: Step, save: Save, rng: random.Random | None = None
) -> list[float]:
    """One step as the engine saves it; the wall time of each of its three checkpoints."""
    times: list[float] = []

    async def timed() -> None:
        started = time.perf_counter()
        await save(state)
        times.append(time.perf_counter() - started)

    if rng is not None:
        await asyncio.sleep(rng.uniform(*MODEL_SECONDS))
    state.requests += 1
    state.usage = state.usage + STEP_USAGE
    state.history.append(step.reply)
    state.pending_results = []
    await timed()
    if rng is not None:
        await asyncio.sleep(TOOL_SECONDS)
    state.pending_results.append(step.result)
    await timed()
    state.history.append(step.turn)
    state.pending_results = []
    state.step += 1
    await timed()
    return times


# -- database ------------------------------------------------------------------------------------


@dataclass
class Counter:
    """What the statements writing task state carry, as the database receives them."""

    bytes: int = 0
    statements: int = 0

    def reset(self) -> tuple[int, int]:
        taken = (self.bytes, self.statements)
        self.bytes = self.statements = 0
        return taken


def _size(value: Any) -> int:
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, list | tuple):
        return sum(_size(v) for v in value)
    if isinstance(value, dict):
        return sum(_size(v) for v in value.values())
    return 0


@contextlib.contextmanager
def counting(engine: AsyncEngine) -> Iterator[Counter]:
    counter = Counter()

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        head = statement.lstrip()[:30].upper()
        if head.startswith(("UPDATE TASKS", "INSERT INTO TASK_MESSAGES", "UPDATE TASK_MESSAGES")):
            counter.bytes += _size(parameters)
            counter.statements += 1

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield counter
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@dataclass
class Database:
    engine: AsyncEngine
    db_sessions: async_sessionmaker[AsyncSession]
    user_id: uuid.UUID = field(default_factory=uuid.uuid4)
    session_id: uuid.UUID = field(default_factory=uuid.uuid4)

    async def prepare(self) -> None:
        await migrate.upgrade(self.engine)
        async with unit_of_work(self.db_sessions) as db:
            db.add(User(id=self.user_id, email=f"bench-{self.user_id.hex[:8]}@example.com"))
            await db.flush()
            db.add(
                Session(
                    id=self.session_id,
                    user_id=self.user_id,
                    name="task state",
                    workspace_dir=self.session_id.hex,
                )
            )

    async def new_task(self) -> uuid.UUID:
        async with unit_of_work(self.db_sessions) as db:
            task = Task(
                session_id=self.session_id,
                user_id=self.user_id,
                state="running",
                mode="code",
                provider="openai",
                model="gpt-4o",
                input="Read big.txt",
                images=[],
                engine_state={},
            )
            db.add(task)
        return task.id


# -- measurements --------------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


async def per_step(
    db: Database, steps: Sequence[Step], way: str, at: int, measured: int
) -> dict[str, Any]:
    task_id = await db.new_task()
    save = saver(way, db.db_sessions, task_id)
    state = state_at(steps, at)
    await save(state)  # the task as it stands at step `at`
    walls, cpus, sizes, statements, checkpoints = [], [], [], [], []
    with counting(db.engine) as counter:
        for n in range(at, at + measured):
            counter.reset()
            cpu, wall = time.process_time(), time.perf_counter()
            times = await run_step(state, steps[n], save)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            size, count = counter.reset()
            sizes.append(size)
            statements.append(count)
            checkpoints.append(times)
    reads = []
    for _ in range(measured):  # the task row, as the task list and the API's reads load it
        async with unit_of_work(db.db_sessions) as session:
            started = time.perf_counter()
            await session.get(Task, task_id)
            reads.append(time.perf_counter() - started)
    return {
        "step": at,
        "state_json_bytes": len(json.dumps(state_at(steps, at).to_dict())),
        "task_row_read_ms": ms(statistics.median(reads)),
        "wall_ms": ms(statistics.median(walls)),
        "cpu_ms": ms(statistics.median(cpus)),
        "bytes_written": int(statistics.median(sizes)),
        "statements": int(statistics.median(statements)),
        "checkpoint_wall_ms": [ms(statistics.median(c)) for c in zip(*checkpoints, strict=True)],
        "steps_measured": measured,
    }


async def probe(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(PROBE_SECONDS)
        lags.append(max(0.0, time.perf_counter() - started - PROBE_SECONDS))


@contextlib.contextmanager
def collections() -> Iterator[list[tuple[int, float]]]:
    """The garbage collector's passes meanwhile: (generation, seconds), each a loop stall."""
    pauses: list[tuple[int, float]] = []
    started = [0.0]

    def watch(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append((info["generation"], time.perf_counter() - started[0]))

    gc.callbacks.append(watch)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(watch)


def lag_stats(lags: Sequence[float]) -> dict[str, Any]:
    ordered = sorted(lags)
    return {
        "samples": len(ordered),
        "max_ms": ms(ordered[-1]) if ordered else 0.0,
        "p99_ms": ms(percentile(ordered, 99)),
        "p50_ms": ms(percentile(ordered, 50)),
    }


async def idle_lag() -> dict[str, Any]:
    stop, lags = asyncio.Event(), list[float]()
    watcher = asyncio.create_task(probe(stop, lags))
    await asyncio.sleep(IDLE_PROBE_SECONDS)
    stop.set()
    await watcher
    return lag_stats(lags)


async def stall(
    db: Database, steps: Sequence[Step], way: str, tasks: int, at: int, count: int
) -> dict[str, Any]:
    runs = []
    for _ in range(tasks):  # brought to step `at` one by one, before the probe starts
        task_id = await db.new_task()
        save = saver(way, db.db_sessions, task_id)
        state = state_at(steps, at)
        await save(state)
        runs.append((state, save))
    failures: list[str] = []
    checkpoint_times: list[float] = []

    async def one(index: int, state: EngineState, save: Save) -> None:
        rng = random.Random(index)  # noqa: S311 - timing jitter, not a secret
        try:
            for n in range(at, at + count):
                checkpoint_times.extend(await run_step(state, steps[n], save, rng))
        except Exception as exc:  # a failed checkpoint ends that task's run, as in the runner
            failures.append(type(exc).__name__)

    stop, lags = asyncio.Event(), list[float]()
    watcher = asyncio.create_task(probe(stop, lags))
    cpu, wall = time.process_time(), time.perf_counter()
    with collections() as pauses:
        await asyncio.gather(*(one(i, state, save) for i, (state, save) in enumerate(runs)))
    elapsed, cpu_used = time.perf_counter() - wall, time.process_time() - cpu
    stop.set()
    await watcher
    ordered = sorted(checkpoint_times)
    return {
        "tasks": tasks,
        "from_step": at,
        "steps_each": count,
        "loop_lag": lag_stats(lags),
        "wall_s": round(elapsed, 2),
        "cpu_s": round(cpu_used, 2),
        "checkpoints": len(ordered),
        "checkpoint_p50_ms": ms(percentile(ordered, 50)) if ordered else None,
        "checkpoint_max_ms": ms(ordered[-1]) if ordered else None,
        "failed_tasks": len(failures),
        "failures": sorted(set(failures)),
        "gc": {
            "collections": len(pauses),
            "full": sum(1 for generation, _ in pauses if generation == 2),
            "longest_ms": ms(max((pause for _, pause in pauses), default=0.0)),
        },
    }


async def measure(url: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    settings = load_settings(database_url=url, data_dir=workdir / "var")
    engine = create_engine(settings)
    try:
        db = Database(engine, create_session_factory(engine))
        await db.prepare()
        last = max([*args.steps, args.task_step]) + max(args.measured_steps, args.task_steps)
        steps = make_steps(last, args.result_kb * 1000)
        result: dict[str, Any] = {"per_step": {}, "stall": {}}
        for way in ("before", "after"):
            result["per_step"][way] = {}
            for at in args.steps:
                entry = await per_step(db, steps, way, at, args.measured_steps)
                result["per_step"][way][str(at)] = entry
                print(
                    f"  {way} step {at}: {entry['wall_ms']:.2f} ms, {entry['bytes_written']} bytes",
                    file=sys.stderr,
                )
        result["stall"]["idle"] = await idle_lag()
        for way in ("before", "after"):
            entry = await stall(db, steps, way, args.tasks, args.task_step, args.task_steps)
            result["stall"][way] = entry
            print(
                f"  {way} stall, {args.tasks} tasks: longest {entry['loop_lag']['max_ms']:.1f} ms",
                file=sys.stderr,
            )
        result["pool"] = {"max": settings.db_pool_max, "timeout_s": settings.db_pool_timeout}
        return result
    finally:
        await engine.dispose()


# -- main ----------------------------------------------------------------------------------------


def run(args: argparse.Namespace, run_id: str) -> dict[str, Any]:
    started = time.monotonic()
    backends: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roo-bench-")))
        targets = [("sqlite", f"sqlite+aiosqlite:///{workdir / 'roo.db'}")]
        if args.database_url:
            pg = workdir / "pg"
            pg.mkdir()
            name = f"roo_bench_task_state_{run_id}"
            targets.append(
                ("postgresql", stack.enter_context(scratch_database(args.database_url, pg, name)))
            )
        for label, url in targets:
            print(f"{label}:", file=sys.stderr)
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                backends[label] = runner.run(measure(url, workdir, args))
    return {
        "benchmark": "task_state",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "source": source_revision(),
        "settings": {
            "steps": args.steps,
            "measured_steps": args.measured_steps,
            "result_bytes": args.result_kb * 1000,
            "tasks": args.tasks,
            "task_step": args.task_step,
            "task_steps": args.task_steps,
            "model_seconds": MODEL_SECONDS,
            "tool_seconds": TOOL_SECONDS,
            "probe_seconds": PROBE_SECONDS,
            "event_loop": "uvloop",
            "before": "UPDATE tasks SET engine_state = EngineState.to_dict() (revision 0006)",
            "after": "roo.tasks.state_store.StateWriter.write",
            "seconds": round(time.monotonic() - started, 1),
        },
        "backends": backends,
    }


def print_summary(report: dict[str, Any], output: Path, out: IO[str] = sys.stdout) -> None:
    for label, result in report["backends"].items():
        print(f"{label}: per step (3 checkpoints), median", file=out)
        for way, entries in result["per_step"].items():
            for at, entry in entries.items():
                print(
                    f"  {way:6} step {at:>4}: {entry['wall_ms']:8.2f} ms wall "
                    f"{entry['cpu_ms']:8.2f} ms CPU {entry['bytes_written']:>10} bytes; "
                    f"task row read {entry['task_row_read_ms']:.2f} ms",
                    file=out,
                )
        idle = result["stall"]["idle"]["max_ms"]
        print(f"  event loop, longest stall (idle: {idle:.1f} ms):", file=out)
        for way in ("before", "after"):
            entry = result["stall"][way]
            lag = entry["loop_lag"]
            print(
                f"  {way:6} {entry['tasks']} tasks from step {entry['from_step']}: "
                f"{lag['max_ms']:.1f} ms (p99 {lag['p99_ms']:.1f} ms), "
                f"{entry['failed_tasks']} failed; "
                f"longest GC pass {entry['gc']['longest_ms']:.1f} ms",
                file=out,
            )
    print(f"written to {output}", file=out)


def steps_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of step numbers") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("step numbers start at 1")
    return values


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, DEFAULT_OUTPUT)
    parser.add_argument(
        "--steps", type=steps_list, default=[10, 300], help="steps measured (10,300)"
    )
    parser.add_argument("--measured-steps", type=int, default=5, help="steps timed at each (5)")
    parser.add_argument("--result-kb", type=int, default=20, help="tool result size (20)")
    parser.add_argument("--tasks", type=int, default=50, help="tasks run together (50)")
    parser.add_argument("--task-step", type=int, default=300, help="where they start (300)")
    parser.add_argument("--task-steps", type=int, default=2, help="steps each runs (2)")
    parser.add_argument(
        "--database-url",
        metavar="URL",
        default=os.environ.get("DATABASE_URL"),
        help="a PostgreSQL server (loopback) on which to create, use and drop a scratch "
        "database for a second run (default: DATABASE_URL)",
    )
    args = parser.parse_args(argv)
    require_at_least(parser, args, 1, "measured_steps", "result_kb", "tasks", "task_steps")
    require_at_least(parser, args, 0, "task_step")
    if args.database_url and urlsplit(args.database_url).scheme.startswith("sqlite"):
        args.database_url = None
    if args.database_url and urlsplit(args.database_url).hostname not in {
        "127.0.0.1",
        "localhost",
        "::1",
    }:
        parser.error("--database-url must point at loopback")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    run_id = secrets.token_hex(4)
    return report_and_exit("task_state", lambda: run(args, run_id), args.output, print_summary)


if __name__ == "__main__":
    sys.exit(main())
