"""Checkpoints: what a workspace snapshot costs per step on a 10,000-file workspace, next to the
engine's own step overhead.

    .venv/bin/python bench/checkpoints.py [--files 10000] [--steps 60] [--warmup 3]

In process, on uvloop, with the service's own pieces: the engine (`roo.agent.engine.Agent`, a
real `OpenAIProvider` against the project's fake LLM on loopback, `default_registry()`), and
for the checkpoints `roo.checkpoints.shadow.ShadowRepo` driven by the real `roo.sandbox.Sandbox`
(bubblewrap when it works here, as the service runs git) with the service's default limits.
The fake LLM serves from a thread of this process (its own event loop).

The workspace: --files source-like files (about 1 KiB each) in directories of 100, plus a few
files Roo's rules leave out (a log, an image, node_modules/). Each step of the task is one
model reply calling `write_to_file` on another file (content changes every step), auto-approved.

Two runs of --steps steps each (after --warmup steps not counted), measured the same way:

- `without`: no checkpoints (`AgentSetup.workspace_checkpoints` None): the engine's step
  (wall time from one `api.request` event to the next: model call, tool, events, state);
- `with`: a snapshot before each step's write (`ShadowRepo.save`: one sandboxed `sh -c` that
  refreshes the exclude rules, finds large files and nested repositories, `git add -A` and
  commits), its own wall time recorded per step.

Wall times depend on the machine's load (recorded: the 1-minute load average before and after);
CPU times (this process, the fake server's thread included, plus every finished child process:
bwrap, sh, git, find) much less.

Also: the first snapshot of the workspace (every file added: paid once per session), a
snapshot when nothing changed, a diff against the workspace, a restore, and the shadow
repository's size. Results: bench/results/checkpoints.json. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop
from common import RESULTS_DIR, BenchError, bench_parser, machine_info, source_revision
from common import write_report as write_json
from loadgen import percentile

from roo.agent.approval import ApprovalPolicy
from roo.agent.engine import Agent, AgentLimits, AgentSetup
from roo.agent.pricing import resolve_model_info
from roo.agent.providers.openai import OpenAIProvider
from roo.agent.state import Answer, Ask, EngineState
from roo.agent.tools.base import OnOutput, ToolContext
from roo.agent.tools.registry import default_registry, workspace_ignore_rules
from roo.checkpoints.shadow import ShadowRepo
from roo.sandbox import ProcessResult, Sandbox
from roo.sandbox.disk import workspace_usage_bytes
from roo.testing.fake_llm import FakeLLM, Reply, ToolCall, Usage

DEFAULT_OUTPUT = RESULTS_DIR / "checkpoints.json"
LLM_KEY = "sk-bench-fake-llm"
MODEL = "gpt-4o"
LINE = "def handler(request):  # a line of ordinary source code, about sixty bytes\n"


def build_workspace(root: Path, files: int) -> None:
    for n in range(files):
        directory = root / f"pkg{n // 100:03d}"
        directory.mkdir(exist_ok=True)
        (directory / f"mod{n % 100:03d}.py").write_text(f"# module {n}\n" + LINE * 16)
    (root / "build.log").write_text("noise\n" * 100)
    (root / "logo.png").write_bytes(b"\x89PNG" + b"\0" * 4096)
    (root / "node_modules" / "dep").mkdir(parents=True)
    (root / "node_modules" / "dep" / "index.js").write_text("module.exports = 1\n")


def dist(seconds: list[float]) -> dict[str, Any]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(ms[-1], 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


class Marks:
    """The event sink and state checkpoint: the start of every model request."""

    def __init__(self) -> None:
        self.starts: list[tuple[float, float]] = []  # (wall, CPU with children)

    async def sink(self, event: str, data: dict[str, Any]) -> None:
        if event == "api.request":
            self.starts.append((time.perf_counter(), cpu_now()))

    async def checkpoint(self, state: EngineState) -> None:
        return None


class NoQuestions:
    async def ask(self, question: Ask) -> Answer:
        raise BenchError(f"the engine asked a {question.kind} question ({question.tool})")

    def take_queued_messages(self) -> list[str]:
        return []

    def take_condense_request(self) -> bool:
        return False


def cpu_now() -> float:
    """CPU seconds of this process and of its finished children (bwrap, sh, git, find...)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class Snapshots:
    """The engine's WorkspaceCheckpoints: a real save per step, timed (wall and CPU)."""

    def __init__(self, repo: ShadowRepo) -> None:
        self.repo = repo
        self.seconds: list[float] = []
        self.cpu: list[float] = []

    async def before_write(self, step: int, position: int) -> None:
        started, cpu = time.perf_counter(), cpu_now()
        await self.repo.save(f"step {step}")
        self.seconds.append(time.perf_counter() - started)
        self.cpu.append(cpu_now() - cpu)


async def no_commands(*args: Any, **kwargs: Any) -> ProcessResult:
    raise RuntimeError("no command runs in bench/checkpoints.py")


async def run_task(
    llm: FakeLLM, ws: Path, steps: int, tag: str, snapshots: Snapshots | None
) -> tuple[list[float], list[float]]:
    """One task of `steps` writing steps then a completion; the wall and CPU time of each
    step (the CPU of this process, the fake server's thread included, and of children)."""
    llm.reset()
    llm.script(
        *(
            Reply(
                tool_calls=[
                    ToolCall(
                        "write_to_file",
                        {
                            "path": f"pkg{n % 100:03d}/mod{n % 100:03d}.py",
                            "content": f"# {tag} step {n}\n" + LINE * 16,
                        },
                    )
                ],
                usage=Usage(2000, 40),
                chunk_size=4096,
            )
            for n in range(steps)
        ),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "done"})]),
    )
    provider = OpenAIProvider(LLM_KEY, llm.openai_base_url, timeout=30)
    marks = Marks()

    def tool_context(on_output: OnOutput) -> ToolContext:
        return ToolContext(
            workspace=ws,
            run_command=no_commands,
            ignore=workspace_ignore_rules(ws),
            on_output=on_output,
        )

    setup = AgentSetup(
        provider=provider,
        model=MODEL,
        model_info=resolve_model_info("openai", MODEL),
        registry=default_registry(),
        tool_context=tool_context,
        sink=marks.sink,
        interaction=NoQuestions(),
        checkpoint=marks.checkpoint,
        policy=ApprovalPolicy.from_mapping({"autoApproveWrite": True}),
        limits=AgentLimits(max_wall_seconds=600, retry_attempts=0, mistake_limit=0),
        workspace_checkpoints=snapshots,
    )
    state = EngineState()
    try:
        outcome = await Agent(setup, state).run("Edit the modules.")
    finally:
        end = (time.perf_counter(), cpu_now())
        await provider.aclose()
    if outcome.status != "completed":
        raise BenchError(f"task {tag}: {outcome.status} ({outcome.reason}: {outcome.message})")
    starts = [*marks.starts, end]
    pairs = list(itertools.pairwise(starts))[:steps]
    return [b[0] - a[0] for a, b in pairs], [b[1] - a[1] for a, b in pairs]


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="roo-bench-checkpoints-") as tmp:
        root = Path(tmp)
        ws = root / "workspace"
        ws.mkdir()
        build_workspace(ws, args.files)
        sandbox = Sandbox()
        backend = await sandbox.backend()
        run = functools.partial(sandbox.run, workspace=ws)
        repo = ShadowRepo(
            run,
            root / "shadow",
            ws,
            isolated=backend == "bwrap",
            file_max_bytes=5 * 1024 * 1024,
            timeout=120,
        )
        started = time.perf_counter()
        first = await repo.save("first")
        first_seconds = time.perf_counter() - started
        started = time.perf_counter()
        await repo.save("unchanged")
        unchanged_seconds = time.perf_counter() - started

        # the fake server in a thread of its own: its streaming is not the engine's cost
        load_before = os.getloadavg()
        with FakeLLM(api_key=LLM_KEY) as llm:
            await run_task(llm, ws, args.warmup, "warm-up", None)
            without, without_cpu = await run_task(llm, ws, args.steps, "without", None)
            snapshots = Snapshots(repo)
            await run_task(llm, ws, args.warmup, "warm-up-with", Snapshots(repo))
            with_steps, with_cpu = await run_task(llm, ws, args.steps, "with", snapshots)
        load_after = os.getloadavg()

        started = time.perf_counter()
        diff = await repo.diff(first.commit, None)
        diff_seconds = time.perf_counter() - started
        started = time.perf_counter()
        await repo.restore(first.commit)
        restore_seconds = time.perf_counter() - started
        shadow_bytes = workspace_usage_bytes(root / "shadow")
        workspace_bytes = workspace_usage_bytes(ws)

    save = dist(snapshots.seconds)
    engine = dist(without)
    return {
        "benchmark": "checkpoints",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "source": source_revision(),
        "settings": {
            "files": args.files,
            "steps": args.steps,
            "warmup": args.warmup,
            "sandbox": backend,
            "event_loop": "uvloop",
            "step": "one write_to_file of a ~1 KiB file, auto-approved, fake LLM on loopback",
        },
        "first_snapshot": {
            "ms": round(first_seconds * 1000, 1),
            "files_added": first.files_changed,
        },
        "snapshot_unchanged_ms": round(unchanged_seconds * 1000, 1),
        "load_average_1m": {"before": load_before[0], "after": load_after[0]},
        "checkpoint_per_step": save,
        "checkpoint_per_step_cpu": dist(snapshots.cpu),
        "engine_step_without_checkpoints": engine,
        "engine_step_without_checkpoints_cpu": dist(without_cpu),
        "engine_step_with_checkpoints": dist(with_steps),
        "engine_step_with_checkpoints_cpu": dist(with_cpu),
        "checkpoint_over_engine_step_p50": round(save["p50_ms"] / engine["p50_ms"], 2),
        "diff_to_current_ms": round(diff_seconds * 1000, 1),
        "diff_bytes": len(diff.text),
        "restore_ms": round(restore_seconds * 1000, 1),
        "shadow_repository_bytes": shadow_bytes,
        "workspace_bytes": workspace_bytes,
    }


def summary(report: dict[str, Any], output: Path) -> None:
    save, engine = report["checkpoint_per_step"], report["engine_step_without_checkpoints"]
    print(
        f"{report['settings']['files']} files ({report['settings']['sandbox']}): first snapshot "
        f"{report['first_snapshot']['ms']} ms; per step p50 {save['p50_ms']} ms, "
        f"p99 {save['p99_ms']} ms (CPU p50 {report['checkpoint_per_step_cpu']['p50_ms']} ms); "
        f"engine step p50 {engine['p50_ms']} ms, "
        f"p99 {engine['p99_ms']} ms; restore {report['restore_ms']} ms -> {output}"
    )


def main() -> int:
    parser = bench_parser(__doc__, DEFAULT_OUTPUT)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    report = uvloop.run(measure(args))
    write_json(report, args.output)
    summary(report, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
