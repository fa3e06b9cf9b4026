"""What an audit row written by `AuditWriter.write` costs, alone and with other writers at once,
for one or more versions of the code side by side.

    .venv/bin/python bench/audit_writes.py [--source NAME=PATH ...] [--rows 2000]
        [--concurrency 1,8,32] [--rounds 3] [--database-url postgresql://...]

`AuditWriter.write` is how a tool or command run, a failed sign-in and a refused refresh are
audited: a unit of work of its own after the work is done, committed before the call returns.
Each `--source` (a tree whose `src/` is imported, e.g. a `git worktree` of an older commit; by
default this tree) is measured in a process of its own on a scratch database of its own (SQLite
in a temporary directory, or PostgreSQL with --database-url), rounds taken in turn (A, B, A,
B...). A round writes `--rows` rows at each `--concurrency` (that many writers at once, each
writing its share one row after the other) and reports per row: the writing process's CPU (us;
PostgreSQL's own CPU is not in it), the wall time, and how many transactions wrote them. Medians
over the rounds, and each version's CPU ratio to the first one, go to
bench/results/audit_writes.json (audit_writes-postgres.json with --database-url).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import (
    BENCH_DIR,
    RESULTS_DIR,
    BenchError,
    add_source_argument,
    bench_parser,
    check_backends,
    machine_info,
    report_and_exit,
    source_revision,
)

DEFAULT_OUTPUT = RESULTS_DIR / "audit_writes.json"


async def measure(url: str, rows: int, concurrency: list[int]) -> dict[str, Any]:
    """One round in this process: the roo imported is the --source's."""
    from sqlalchemy import event

    from roo.config import load_settings
    from roo.db import migrate
    from roo.db.engine import create_engine, create_session_factory
    from roo.security.audit import AuditWriter, ClientInfo

    engine = create_engine(load_settings(env="test", database_url=url))
    await migrate.upgrade(engine)
    transactions = 0

    def on_commit(_conn: Any) -> None:
        nonlocal transactions
        transactions += 1

    event.listen(engine.sync_engine, "commit", on_commit)
    writer = AuditWriter(create_session_factory(engine))
    client = ClientInfo("192.0.2.10", "bench/audit_writes")
    result: dict[str, Any] = {}
    try:
        for n in concurrency:

            async def one_writer(k: int, share: int, n: int = n) -> None:
                for i in range(share):
                    await writer.write(
                        "bench.tool",
                        target=f"session:{k}",
                        client=client,
                        tool="read_file",
                        n=n,
                        i=i,
                    )

            await one_writer(-1, 20)  # warm-up: connections open, statements compiled
            transactions = 0
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(one_writer(k, rows // n) for k in range(n)))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            written = (rows // n) * n
            result[str(n)] = {
                "cpu_us_per_row": round(cpu / written * 1e6, 1),
                "wall_us_per_row": round(wall / written * 1e6, 1),
                "rows_per_transaction": round(written / max(transactions, 1), 2),
            }
    finally:
        await engine.dispose()
    return result


def run_round(source: Path, url: str, rows: int, concurrency: list[int]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source / "src"), str(BENCH_DIR)])}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            url,
            "--rows",
            str(rows),
            "--concurrency",
            ",".join(map(str, concurrency)),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise BenchError(f"{source}: {done.stderr.strip().splitlines()[-1:]}")
    got: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return got


def produce(args: argparse.Namespace) -> dict[str, Any]:
    from roo.testing.databases import scratch_database

    sources = args.source or [("this", str(BENCH_DIR.parent))]
    concurrency = [int(c) for c in args.concurrency.split(",")]
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in sources}
    with tempfile.TemporaryDirectory() as tmp:
        with contextlib.ExitStack() as stack:
            urls = {
                name: stack.enter_context(
                    scratch_database(
                        args.database_url, Path(tmp), f"roo_bench_audit_{os.getpid()}_{i}"
                    )
                )
                for i, (name, _) in enumerate(sources)
            }
            for r in range(args.rounds):
                for name, path in sources:
                    got = run_round(Path(path), urls[name], args.rows, concurrency)
                    rounds[name].append(got)
                    print(f"round {r + 1}/{args.rounds} {name}: {json.dumps(got)}", flush=True)
    versions: dict[str, Any] = {}
    first = sources[0][0]
    for name, path in sources:
        versions[name] = {"source": source_revision(Path(path)), "by_concurrency": {}}
        for n in map(str, concurrency):
            cells = [got[n] for got in rounds[name]]
            versions[name]["by_concurrency"][n] = {
                key: statistics.median(c[key] for c in cells) for key in cells[0]
            } | {"rounds": cells}
    for name in versions:
        for n, cell in versions[name]["by_concurrency"].items():
            base = versions[first]["by_concurrency"][n]["cpu_us_per_row"]
            cell["cpu_ratio_to_" + first] = round(cell["cpu_us_per_row"] / base, 3)
    return {
        "benchmark": "audit_writes",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "settings": {
            "rows": args.rows,
            "concurrency": concurrency,
            "rounds": args.rounds,
            "database": "postgresql (loopback)" if args.database_url else "sqlite (temporary)",
        },
        "versions": versions,
    }


def print_summary(report: dict[str, Any], output: Path) -> None:
    print(f"audit_writes ({report['settings']['database']}), medians over rounds:")
    for name, version in report["versions"].items():
        for n, cell in version["by_concurrency"].items():
            ratio = next(v for k, v in cell.items() if k.startswith("cpu_ratio_to_"))
            print(
                f"  {name:10s} {n:>3s} writers: {cell['cpu_us_per_row']:8.1f} us CPU/row "
                f"{cell['wall_us_per_row']:8.1f} us wall/row "
                f"{cell['rows_per_transaction']:6.2f} rows/transaction  CPU x{ratio}"
            )
    print(f"written to {output}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        child = argparse.ArgumentParser()
        child.add_argument("url")
        child.add_argument("--rows", type=int)
        child.add_argument("--concurrency")
        a = child.parse_args(argv[1:])
        got = asyncio.run(measure(a.url, a.rows, [int(c) for c in a.concurrency.split(",")]))
        print(json.dumps(got))
        return 0
    parser = bench_parser(__doc__, DEFAULT_OUTPUT)
    add_source_argument(parser, required=False)  # default: this tree
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", metavar="URL", help="PostgreSQL (loopback)")
    args = parser.parse_args(argv)
    args.redis = None
    check_backends(args)
    if args.database_url and args.output == DEFAULT_OUTPUT:
        args.output = RESULTS_DIR / "audit_writes-postgres.json"
    return report_and_exit("audit_writes", lambda: produce(args), args.output, print_summary)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
