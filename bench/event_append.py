"""What appending to a session's event log costs: `EventStore.append_many`, CPU per call.

    .venv/bin/python bench/event_append.py [--items 1,5] [--calls 300] [--rounds 5]
                                           [--database-url URL] [--label after] [--output FILE]

In process, with the service's own database code (`roo.db.engine.create_engine`, migrated by
`roo.db.migrate.upgrade`): embedded SQLite in a temporary directory (statements in the event
loop's thread, as the service runs them), then, with --database-url (or DATABASE_URL), a scratch
PostgreSQL database created on that server and dropped afterwards. One user and one session;
each call appends `items` events (a delta-sized payload each) in a unit of work of its own, as a
task run's event buffer does. After 50 calls of warm-up, --rounds rounds of --calls calls: this
process's CPU time per call (the median over rounds, and each round).

Every task step appends events, so this path runs several times per step of every task. To
compare two versions of the code, run it with the other checkout's `src` first on PYTHONPATH
and a --label (as bench/live_output.py): bench/results/event_append-before.json is the ORM
version (an ORM bulk UPDATE for the numbers, objects flushed by the unit of work), and
event_append.json the Core statements built once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import RESULTS_DIR, machine_info, source_revision, write_report
from sqlalchemy.ext.asyncio import async_sessionmaker

from roo.config import load_settings
from roo.db.engine import create_engine
from roo.db.migrate import upgrade
from roo.db.models import Session, User
from roo.db.types import utcnow
from roo.tasks.events import EventStore
from roo.testing.databases import scratch_database

WARMUP_CALLS = 50


async def measure(url: str | None, items: int, calls: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="roo-bench-") as tmp:
        overrides: dict[str, Any] = {"data_dir": Path(tmp)}
        if url:
            overrides["database_url"] = url
        engine = create_engine(load_settings(env="test", **overrides))
        try:
            await upgrade(engine)
            maker = async_sessionmaker(engine, expire_on_commit=False)
            user_id, session_id = uuid.uuid4(), uuid.uuid4()
            async with maker() as db:
                db.add(User(id=user_id, email=f"{user_id.hex}@example.com", roles=["member"]))
                await db.flush()
                db.add(
                    Session(
                        id=session_id,
                        user_id=user_id,
                        name="bench",
                        state="active",
                        config={},
                        workspace_dir=session_id.hex,
                    )
                )
                await db.commit()
            store = EventStore(maker)
            batch = [
                ("message.delta", {"text": "a delta of a model's reply", "n": i}, utcnow())
                for i in range(items)
            ]
            for _ in range(WARMUP_CALLS):
                await store.append_many(session_id, None, batch)
            per_call = []
            for _ in range(rounds):
                started = time.process_time()
                for _ in range(calls):
                    await store.append_many(session_id, None, batch)
                per_call.append((time.process_time() - started) / calls * 1e6)
        finally:
            await engine.dispose()
    return {
        "cpu_us_per_call": round(statistics.median(per_call), 1),
        "rounds": [round(value, 1) for value in per_call],
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", default="1,5", help="events per call (comma-separated)")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--label", default="after")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "event_append.json")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    counts = [int(value) for value in args.items.split(",")]
    results: dict[str, Any] = {"sqlite": {}}
    for items in counts:
        results["sqlite"][f"items_{items}"] = asyncio.run(
            measure(None, items, args.calls, args.rounds)
        )
    if args.database_url:
        results["postgresql"] = {}
        for items in counts:
            name = f"roo_bench_events_{uuid.uuid4().hex[:8]}"
            with (
                tempfile.TemporaryDirectory(prefix="roo-bench-") as tmp,
                scratch_database(args.database_url, Path(tmp), name) as url,
            ):
                results["postgresql"][f"items_{items}"] = asyncio.run(
                    measure(url, items, args.calls, args.rounds)
                )
    report = {
        "benchmark": "event_append",
        "label": args.label,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(),
        "source": source_revision(),
        "settings": {"items": counts, "calls": args.calls, "rounds": args.rounds},
        "results": results,
    }
    write_report(report, args.output)
    for backend, by_items in results.items():
        for key, value in by_items.items():
            print(f"{args.label} {backend} {key}: {value['cpu_us_per_call']} us CPU per call")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
