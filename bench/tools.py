"""Latency per call of the agent's tools, called in process as the tools API calls them.

    .venv/bin/python bench/tools.py [--calls 50] [--search-calls 20] [--startup-calls 50]

No HTTP: every tool comes from `default_registry()` and runs with the context that
`POST /api/v1/sessions/{id}/tools/{name}` builds, `ToolContext(workspace=ws,
run_command=functools.partial(Sandbox().run, workspace=ws, limits=<a default session's limits>),
ignore=RooIgnore.load(ws))`, on the event loop uvicorn would pick (uvloop when installed).
Fixtures live in a temporary directory: a 1 MB text file (read_file, whole and sliced), a tree
of 100 x 100 small files (search_files with ripgrep in the sandbox, list_files), a 5,000-line
Python file (apply_diff, 3 blocks with `:start_line:` hints, restored between calls) and
execute_command `true`. Each case gets a warm-up, then N timed calls.

Separately it measures sandbox start-up: `Sandbox().run(["true"])` as the service runs it
(bwrap + cgroups), without cgroups, with the plain backend, and a bare
`asyncio.create_subprocess_exec("true")`. The aim is a start-up under 20 ms.
Results go to bench/results/tools.json.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from common import (
    RESULTS_DIR,
    BenchError,
    bench_parser,
    exit_on_sigterm,
    latency_stats,
    machine_info,
    report_and_exit,
    require_at_least,
    source_revision,
)

from roo.agent.tools.base import Tool, ToolContext, ToolResult
from roo.agent.tools.registry import default_registry
from roo.agent.tools.rooignore import RooIgnore
from roo.kit.logs import configure_logging
from roo.sandbox import ProcessResult, ResourceLimits, Sandbox
from roo.sessions.quotas import DEFAULTS
from roo.sessions.service import DEFAULT_MAX_FILE_MB

DEFAULT_OUTPUT = RESULTS_DIR / "tools.json"
STARTUP_AIM_MS = 20.0
CALL_TIMEOUT = 30.0  # seconds; one call taking longer stops the benchmark

# Fixture sizes.
TEXT_BYTES = 1024 * 1024
TREE_DIRS = 100
TREE_FILES = 100
NEEDLE_FILE = 42  # file_042.txt of every directory holds the rare match
PY_LINES = 5000
DIFF_BLOCKS = 3

# What `SessionManager.sandbox_limits` gives a session created with the default config.
SESSION_LIMITS = ResourceLimits(
    max_memory_mb=DEFAULTS.max_memory_mb,
    max_cpu_percent=DEFAULTS.max_cpu_percent,
    max_disk_mb=DEFAULTS.max_disk_mb,
    max_execution_time=DEFAULTS.max_execution_time,
    max_concurrent_tasks=DEFAULTS.max_concurrent_tasks,
    max_processes=DEFAULTS.max_processes,
    max_output_bytes=DEFAULTS.max_output_bytes,
    max_file_mb=min(DEFAULTS.max_disk_mb, DEFAULT_MAX_FILE_MB),
)

Check = Callable[[ToolResult], str | None]  # None when the result is the expected one
T = TypeVar("T")


# -- fixtures ------------------------------------------------------------------------------------


@dataclass
class Fixtures:
    files: Path  # workspace: big.txt (1 MB), module.py (5,000 lines)
    tree: Path  # workspace: dir_000 ... dir_099, each with file_000.txt ... file_099.txt
    empty: Path  # workspace for the sandbox start-up
    text_lines: int
    module: bytes  # module.py as written, restored before every apply_diff call
    diff: str
    tree_files: int


def write_text_file(path: Path) -> int:
    """About TEXT_BYTES of numbered prose lines; returns the line count."""
    lines: list[str] = []
    size = 0
    while size < TEXT_BYTES:
        n = len(lines) + 1
        line = f"line {n:06d}: the quick brown fox jumps over the lazy dog, {n * 7919 % 100003}"
        lines.append(line)
        size += len(line) + 1
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def write_module(path: Path) -> tuple[bytes, str]:
    """A Python-like file of PY_LINES lines and a diff of DIFF_BLOCKS blocks spread over it."""
    lines = ['"""A generated module for bench/tools.py."""', ""]
    starts: list[int] = []  # 1-based line of each `def`
    n = 0
    while len(lines) < PY_LINES - 8:
        starts.append(len(lines) + 1)
        lines += [
            f"def function_{n:04d}(value: int) -> int:",
            f'    """Return value plus {n}, after a small loop."""',
            f"    total = value + {n}",
            f"    for step in range({n % 7 + 1}):",
            "        total += step",
            "    return total",
            "",
        ]
        n += 1
    while len(lines) < PY_LINES:
        lines.append(f"# padding {len(lines) + 1}")
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    blocks = []
    for k in range(DIFF_BLOCKS):
        index = (k + 1) * len(starts) // (DIFF_BLOCKS + 1)
        search = "\n".join(lines[starts[index] - 1 : starts[index] + 2])
        replace = (
            f"def function_{index:04d}(value: int) -> int:\n"
            f'    """Return twice value plus {index}."""\n'
            f"    total = 2 * value + {index}"
        )
        blocks.append(
            f"<<<<<<< SEARCH\n:start_line:{starts[index]}\n-------\n{search}\n"
            f"=======\n{replace}\n>>>>>>> REPLACE"
        )
    return text.encode(), "\n\n".join(blocks)


def write_tree(root: Path) -> int:
    for d in range(TREE_DIRS):
        directory = root / f"dir_{d:03d}"
        directory.mkdir()
        for f in range(TREE_FILES):
            needle = f"needle_{d:03d} = True\n" if f == NEEDLE_FILE else ""
            (directory / f"file_{f:03d}.txt").write_text(
                f"# dir {d} file {f}\nalpha = {d * f}\n{needle}beta = {d + f}\nend\n"
            )
    return TREE_DIRS * TREE_FILES


def build_fixtures(root: Path) -> Fixtures:
    files, tree, empty = root / "ws-files", root / "ws-tree", root / "ws-empty"
    for ws in (files, tree, empty):
        ws.mkdir()
    text_lines = write_text_file(files / "big.txt")
    module, diff = write_module(files / "module.py")
    tree_files = write_tree(tree)
    return Fixtures(files, tree, empty, text_lines, module, diff, tree_files)


# -- cases ---------------------------------------------------------------------------------------


@dataclass
class Case:
    key: str
    tool: str
    params: dict[str, Any]
    workspace: Path
    calls: int
    check: Check
    before: Callable[[], None] | None = None  # untimed, before every call (warm-up included)
    notes: str = ""


def expect_data(**expected: Any) -> Check:
    def check(result: ToolResult) -> str | None:
        if result.is_error:
            return f"tool error: {result.text_content[:300]}"
        for name, value in expected.items():
            if result.data.get(name) != value:
                return f"data[{name!r}] is {result.data.get(name)!r}, expected {value!r}"
        return None

    return check


def build_cases(fx: Fixtures, calls: int, search_calls: int) -> list[Case]:
    middle = fx.text_lines // 2
    last = fx.text_lines - 499

    def restore_module() -> None:
        (fx.files / "module.py").write_bytes(fx.module)

    return [
        Case(
            "read_file",
            "read_file",
            {"path": "big.txt"},
            fx.files,
            calls,
            expect_data(lines=[1, 2000], totalLines=fx.text_lines, truncated=True),
            notes="1 MB file, default limit (lines 1-2000)",
        ),
        Case(
            "read_file_slice_middle",
            "read_file",
            {"path": "big.txt", "offset": middle, "limit": 100},
            fx.files,
            calls,
            expect_data(lines=[middle, middle + 99], truncated=True),
            notes=f"offset {middle}, limit 100",
        ),
        Case(
            "read_file_slice_end",
            "read_file",
            {"path": "big.txt", "offset": last, "limit": 500},
            fx.files,
            calls,
            expect_data(lines=[last, fx.text_lines], truncated=False),
            notes=f"offset {last}, limit 500 (the last 500 lines)",
        ),
        Case(
            "search_files",
            "search_files",
            {"path": ".", "regex": r"needle_\d+"},
            fx.tree,
            search_calls,
            expect_data(results=TREE_DIRS, truncated=False),
            notes=f"{fx.tree_files} files, {TREE_DIRS} matches: full scan",
        ),
        Case(
            "search_files_capped",
            "search_files",
            {"path": ".", "regex": r"^alpha = "},
            fx.tree,
            search_calls,
            expect_data(truncated=True),
            notes="a match in every file: ripgrep stopped after 300 results",
        ),
        Case(
            "list_files",
            "list_files",
            {"path": ".", "recursive": False},
            fx.tree,
            calls,
            expect_data(count=TREE_DIRS, truncated=False),
            notes=f"top level: {TREE_DIRS} directories",
        ),
        Case(
            "list_files_recursive",
            "list_files",
            {"path": ".", "recursive": True},
            fx.tree,
            calls,
            expect_data(truncated=True),
            notes=f"{fx.tree_files} files, 200-entry cap",
        ),
        Case(
            "apply_diff",
            "apply_diff",
            {"path": "module.py", "diff": fx.diff},
            fx.files,
            calls,
            expect_data(applied=DIFF_BLOCKS, total=DIFF_BLOCKS),
            before=restore_module,
            notes=f"{PY_LINES}-line file, {DIFF_BLOCKS} blocks with :start_line:",
        ),
        Case(
            "execute_command",
            "execute_command",
            {"command": "true"},
            fx.files,
            calls,
            expect_data(exitCode=0, failed=False),
            notes="`true` in a 2-file workspace",
        ),
        Case(
            "execute_command_10k_files",
            "execute_command",
            {"command": "true"},
            fx.tree,
            calls,
            expect_data(exitCode=0, failed=False),
            notes=f"`true` in the {fx.tree_files}-file workspace (disk-watch baseline scan)",
        ),
    ]


# -- measurement ---------------------------------------------------------------------------------


@dataclass
class Budget:
    deadline: float

    def check(self, what: str) -> None:
        if time.monotonic() > self.deadline:
            raise BenchError(f"time budget exhausted before {what}; try fewer calls")


def call_stats(seconds: Sequence[float]) -> dict[str, Any]:
    """p50/p99 (nearest rank), mean, min and max in ms. With 50 calls p99 is the slowest one."""
    return {
        "calls": len(seconds),
        **latency_stats(seconds),
        "mean_ms": round(statistics.fmean(seconds) * 1000, 3),
        "min_ms": round(min(seconds) * 1000, 3),
    }


def tool_context(sandbox: Sandbox, ws: Path) -> ToolContext:
    """The context `roo.toolsapi.endpoints.run_tool` builds for a session's workspace."""
    return ToolContext(
        workspace=ws,
        run_command=functools.partial(sandbox.run, workspace=ws, limits=SESSION_LIMITS),
        ignore=RooIgnore.load(ws),
    )


async def timed(make: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    started = time.perf_counter()
    value = await asyncio.wait_for(make(), CALL_TIMEOUT)
    return time.perf_counter() - started, value


async def measure_case(
    case: Case, tool: Tool, sandbox: Sandbox, warmup: int, budget: Budget
) -> dict[str, Any]:
    samples: list[float] = []
    sample: ToolResult | None = None
    for i in range(warmup + case.calls):
        budget.check(case.key)
        if case.before is not None:
            case.before()
        # A fresh context per call, as the service builds one per request (.rooignore read).
        elapsed, result = await timed(
            lambda: tool.run(case.params, tool_context(sandbox, case.workspace))
        )
        problem = case.check(result)
        if problem is not None:
            raise BenchError(f"{case.key}: unexpected result on call {i + 1}: {problem}")
        if i >= warmup:
            samples.append(elapsed)
        sample = result
    if sample is None:
        raise BenchError(f"{case.key}: no call made")
    return {
        "tool": case.tool,
        "params": {k: v if k != "diff" else f"<{len(v)} chars>" for k, v in case.params.items()},
        "notes": case.notes,
        "output_chars": len(sample.text_content),
        **call_stats(samples),
    }


@dataclass
class Variant:
    key: str
    description: str
    sandbox: Sandbox | None  # None: bare asyncio subprocess
    samples: list[float] = field(default_factory=list)
    inside: list[float] = field(default_factory=list)  # ProcessResult.duration
    backend: str | None = None
    cgroups: bool = False


async def bare_true() -> None:
    proc = await asyncio.create_subprocess_exec("true")
    if await proc.wait() != 0:
        raise BenchError("bare `true` failed")


async def startup_once(variant: Variant, ws: Path) -> tuple[float, ProcessResult | None]:
    sandbox = variant.sandbox
    if sandbox is None:
        elapsed, _ = await timed(bare_true)
        return elapsed, None
    elapsed, result = await timed(
        lambda: sandbox.run(["true"], workspace=ws, limits=SESSION_LIMITS)
    )
    if result.exit_code != 0 or result.killed_reason is not None:
        raise BenchError(
            f"sandbox start-up {variant.key}: `true` ended with {result.exit_code} "
            f"({result.killed_reason}): {result.stderr[:300]!r}"
        )
    return elapsed, result


def uses_cgroups(result: ProcessResult) -> bool:
    return any(str(v).startswith("cgroup") for v in result.enforcement.values())


async def measure_startup(
    ws: Path, service: Sandbox, calls: int, warmup: int, budget: Budget
) -> dict[str, Any]:
    variants = [
        Variant("bwrap_cgroups", "Sandbox() as the service builds it (auto backend)", service),
        Variant("bwrap_no_cgroups", "Sandbox(use_cgroups=False)", Sandbox(use_cgroups=False)),
        Variant("plain", 'Sandbox(backend="plain")', Sandbox(backend="plain")),
        Variant("bare_subprocess", 'asyncio.create_subprocess_exec("true")', None),
    ]
    # Interleaved (one call of each in turn) so that noise from other work hits all alike.
    for i in range(warmup + calls):
        budget.check("sandbox start-up")
        for variant in variants:
            elapsed, result = await startup_once(variant, ws)
            if result is not None:
                variant.backend = result.sandbox
                variant.cgroups = uses_cgroups(result)
            if i >= warmup:
                variant.samples.append(elapsed)
                if result is not None:
                    variant.inside.append(result.duration)
    out: dict[str, Any] = {}
    for v in variants:
        entry: dict[str, Any] = {
            "what": v.description,
            "backend": v.backend if v.sandbox is not None else "none",
            "cgroups": v.cgroups,
            **call_stats(v.samples),
        }
        if v.inside:
            entry["process_p50_ms"] = round(statistics.median(v.inside) * 1000, 3)
        out[v.key] = entry
    return out


async def run_benchmark(
    fx: Fixtures, args: argparse.Namespace, budget: Budget
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    registry = default_registry()
    sandbox = Sandbox()  # one per service, as in roo.app's lifespan
    backend = await sandbox.backend()
    cgroups = await sandbox.cgroups()
    env = {
        "backend": backend,
        "cgroups": cgroups.describe() if cgroups else None,
        "event_loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
    }
    print(
        f"sandbox: {backend}, {env['cgroups'] or 'no cgroups'}; loop: {env['event_loop']}",
        file=sys.stderr,
    )
    results: dict[str, Any] = {}
    for case in build_cases(fx, args.calls, args.search_calls):
        tool = registry.get(case.tool)
        if tool is None:
            raise BenchError(f"no tool {case.tool!r} in default_registry()")
        results[case.key] = await measure_case(case, tool, sandbox, args.warmup, budget)
        r = results[case.key]
        print(
            f"{case.key:<26} p50 {r['p50_ms']:8.2f} ms  p99 {r['p99_ms']:8.2f} ms  "
            f"({r['calls']} calls)",
            file=sys.stderr,
        )
    startup = await measure_startup(fx.empty, sandbox, args.startup_calls, args.warmup, budget)
    return env, results, startup


# -- report --------------------------------------------------------------------------------------


def build_report(
    args: argparse.Namespace,
    fx: Fixtures,
    env: dict[str, Any],
    results: dict[str, Any],
    startup: dict[str, Any],
    seconds: float,
) -> dict[str, Any]:
    service = startup["bwrap_cgroups"]
    bare = startup["bare_subprocess"]["p50_ms"]
    return {
        "benchmark": "tools",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "source": source_revision(),
        "settings": {
            "calls": args.calls,
            "search_calls": args.search_calls,
            "startup_calls": args.startup_calls,
            "warmup": args.warmup,
            "limits": {f.name: getattr(SESSION_LIMITS, f.name) for f in fields(SESSION_LIMITS)},
            **env,
            "fixtures": {
                "text_file": {"bytes": TEXT_BYTES, "lines": fx.text_lines},
                "tree": {"dirs": TREE_DIRS, "files": fx.tree_files},
                "module": {"lines": PY_LINES, "diff_blocks": DIFF_BLOCKS},
            },
            "duration_seconds": round(seconds, 1),
        },
        "results": results,
        "sandbox_startup": startup,
        "target": {
            "sandbox_startup_aim_ms": STARTUP_AIM_MS,
            "applies_to": "sandbox_startup.bwrap_cgroups",
            "p50_ms": service["p50_ms"],
            "p99_ms": service["p99_ms"],
            "met": service["p50_ms"] < STARTUP_AIM_MS,  # judged on p50
            "p99_met": service["p99_ms"] < STARTUP_AIM_MS,
            "over_bare_subprocess_p50_ms": round(service["p50_ms"] - bare, 3),
        },
    }


def print_summary(report: dict[str, Any], output: Path, out: IO[str] = sys.stdout) -> None:
    s = report["settings"]
    print(
        f"\ntools: in process, sandbox {s['backend']} ({s['cgroups'] or 'no cgroups'}), "
        f"loop {s['event_loop']}, warm-up {s['warmup']} calls",
        file=out,
    )
    header = f"{'case':<26}{'calls':>6}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'min ms':>9}"
    print(header + "  notes", file=out)
    for key, r in report["results"].items():
        print(
            f"{key:<26}{r['calls']:>6}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
            f"{r['mean_ms']:>9.2f}{r['min_ms']:>9.2f}  {r['notes']}",
            file=out,
        )
    print(f"\nsandbox start-up, `true`\n{header}  backend, cgroups", file=out)
    for key, r in report["sandbox_startup"].items():
        print(
            f"{key:<26}{r['calls']:>6}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
            f"{r['mean_ms']:>9.2f}{r['min_ms']:>9.2f}  {r['backend']}, "
            f"{'cgroups' if r['cgroups'] else 'no cgroups'}",
            file=out,
        )
    t = report["target"]
    verdict = "met" if t["met"] else "NOT met"
    print(
        f"sandbox start-up aim < {t['sandbox_startup_aim_ms']:g} ms (p50 of bwrap_cgroups, "
        f"{t['p50_ms']:.2f} ms): {verdict}; p99 {t['p99_ms']:.2f} ms "
        f"{'under' if t['p99_met'] else 'over'} it",
        file=out,
    )
    print(f"written to {output} ({s['duration_seconds']} s)", file=out)


# -- main ----------------------------------------------------------------------------------------


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvicorn's `--loop auto`: uvloop when it is installed, else asyncio's default loop."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise BenchError("uvloop is not installed") from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, DEFAULT_OUTPUT)
    parser.add_argument("--calls", type=int, default=50, help="timed calls per case (50)")
    parser.add_argument(
        "--search-calls", type=int, default=20, help="timed calls per search_files case (20)"
    )
    parser.add_argument(
        "--startup-calls", type=int, default=50, help="timed runs per start-up variant (50)"
    )
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls before each (3)")
    parser.add_argument(
        "--loop", choices=("auto", "asyncio", "uvloop"), default="auto", help="event loop (auto)"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=110.0, help="stop with an error past this (110)"
    )
    args = parser.parse_args(argv)
    require_at_least(parser, args, 1, "calls", "search_calls", "startup_calls")
    require_at_least(parser, args, 0, "warmup")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    # As deployed (LOG_LEVEL=INFO, JSON), to stderr: the sandbox logs once at start.
    configure_logging("INFO", json=True)
    started = time.monotonic()
    budget = Budget(started + args.max_seconds)

    def produce() -> dict[str, Any]:
        factory = loop_factory(args.loop)
        with tempfile.TemporaryDirectory(prefix="roo-bench-tools-") as tmp:
            fx = build_fixtures(Path(tmp))
            print(
                f"fixtures in {time.monotonic() - started:.1f} s: {fx.text_lines} lines of "
                f"text, {fx.tree_files} files, {PY_LINES}-line module",
                file=sys.stderr,
            )
            with asyncio.Runner(loop_factory=factory) as runner:
                env, results, startup = runner.run(run_benchmark(fx, args, budget))
            return build_report(args, fx, env, results, startup, time.monotonic() - started)

    return report_and_exit(
        "tools", produce, args.output, print_summary, "interrupted; temporary directory removed"
    )


if __name__ == "__main__":
    sys.exit(main())
