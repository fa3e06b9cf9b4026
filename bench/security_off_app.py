"""roo with its audit rows not written, for bench/security_overhead.py only (never deploy this).

    uvicorn --app-dir bench --factory security_off_app:create_app

The service has no switch to turn the audit trail off, on purpose; to measure what it costs,
this factory builds the same app and replaces, in every roo module that imported them,
`roo.security.audit.record` (a row added to the request's unit of work) and
`AuditWriter.write` (a row in a unit of work of its own) with functions that write nothing.
With `BENCH_AUDIT=on` in its environment the audit is left as it is (the benchmark's
"limits only" variant turns the rate limits on and keeps the audit off, its "audit only" variant
the reverse, through `ROO_RATE_LIMIT` and this). Everything else is the service as deployed.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from fastapi import FastAPI

import roo.app
from roo.security import audit


async def _no_record(*args: Any, **kwargs: Any) -> None:
    return None


async def _no_write(self: audit.AuditWriter, *args: Any, **kwargs: Any) -> None:
    return None


def create_app() -> FastAPI:
    app = roo.app.create_app()  # imports every route module: their `record` names exist now
    if os.environ.get("BENCH_AUDIT") == "on":
        return app
    original = audit.record
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("roo.") and (
            getattr(module, "record", None) is original
        ):
            module.record = _no_record  # type: ignore[attr-defined]
    audit.AuditWriter.write = _no_write  # type: ignore[method-assign]
    return app
