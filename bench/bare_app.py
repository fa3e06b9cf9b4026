"""The baseline for `http_overhead.py`: a bare FastAPI hello-world, no middleware, no logging.

Served by `uvicorn bare_app:app --app-dir bench` with the same options as roo.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
