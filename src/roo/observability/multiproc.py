"""prometheus-client's multiprocess mode, for `roo serve --workers N`.

Each uvicorn worker is a process of its own with its own counters; a scrape reaches one of them.
In multiprocess mode every process writes its metrics into memory-mapped files of one directory
(`PROMETHEUS_MULTIPROC_DIR`) and the scrape merges them all. The variable must be set before
any process imports prometheus-client, so the parent (`roo serve`) sets it and the workers
inherit it; the parent also empties the directory at start (files of earlier runs would be
counted again). A process that ends marks itself dead: its `livesum` gauges (requests in
flight, open streams) leave the sums, its counters stay.

One process (the default) needs none of this: the metrics live in its memory.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import multiprocess

from roo.observability.metrics import MULTIPROC_ENV, PROCESSES, multiprocess_dir


def use_directory(path: Path) -> None:
    """Turn multiprocess mode on for the processes started after this call, in `path`,
    emptied first. An operator's own `PROMETHEUS_MULTIPROC_DIR` is kept (and not emptied: it
    may be shared with processes this one did not start)."""
    if multiprocess_dir() is not None:
        return
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(path)


def process_started() -> None:
    PROCESSES.set(1)


def process_ended() -> None:
    PROCESSES.set(0)
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
