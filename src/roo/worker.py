"""`roo worker`: runs tasks taken from the job queue (`ROO_TASK_RUNNER=queue`).

A worker is the service without its HTTP API: the same lifespan builds the same resources
(database, Redis, the event bus, the sandbox, the tasks service and its runner with its
heartbeat and inbox wake-ups), and a procrastinate worker hands each job to
`TaskRunner.take`, which claims the task and runs it to its end. Its concurrency is
`ROO_MAX_RUNNING_TASKS` (per worker), or `--concurrency`.

SIGTERM or SIGINT: the worker takes no more jobs; its runs stop at their next checkpoint (a run
parked on a question at once) within `ROO_WORKER_SHUTDOWN_GRACE` seconds, stopped where they are
after that, and end `interrupted`: `resume` continues each, on any worker, from its last
checkpoint. Killed outright (SIGKILL), its tasks turn `interrupted` when the other processes'
sweep finds their heartbeat three beats old (`ROO_TASK_HEARTBEAT`, 30 s by default).

With `--health-port`, it serves `GET /healthz` and `GET /readyz` (database, Redis, and the
queue's own connection pool) for an orchestrator's probes, and `GET /metrics` (this worker's
Prometheus metrics, without a credential: the port is the probes', loopback by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator

import uvicorn
from fastapi import FastAPI
from procrastinate import App

from roo.api import health, metrics
from roo.app import create_app
from roo.config import Settings
from roo.kit.logs import get_logger
from roo.kit.loops import stop_loop, wait_or_stop
from roo.tasks import queue

log = get_logger("roo.worker")
# How often a worker looks for jobs that a dead worker took (procrastinate calls a worker dead
# 30 s after its last heartbeat)
STALLED_JOBS_SECONDS = 30.0


class _ProbeServer(uvicorn.Server):
    """uvicorn for the probes only: the worker handles its own signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def _probes(app: FastAPI, host: str, port: int | None) -> AsyncIterator[None]:
    if port is None:
        yield
        return
    probes = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    probes.include_router(health.router)
    probes.include_router(metrics.probe_router)  # on the probes' port: no credential
    probes.state.resources = app.state.resources
    probes.state.metrics_counts = app.state.metrics_counts
    server = _ProbeServer(
        uvicorn.Config(probes, host=host, port=port, log_config=None, access_log=False)
    )
    serving = asyncio.create_task(server.serve())
    try:
        yield
    finally:
        server.should_exit = True
        await serving


async def _retry_stalled_jobs(queue_app: App, queue_name: str, stop: asyncio.Event) -> None:
    """Put back the jobs of workers that died (procrastinate's own worker heartbeat stopped)
    between taking a job and claiming its task: such a task is queued with no runner, which no
    sweep touches, and would otherwise never run. A retried job whose task was claimed ends at
    once (`TaskRunner.take`); a claimed task's fate is the lease's (the sweep)."""
    while True:
        try:
            for job in await queue_app.job_manager.get_stalled_jobs(queue=queue_name):
                log.warning("worker.stalled_job_retried", job_id=job.id)
                await queue_app.job_manager.retry_job(job)
        except Exception as exc:  # the database may be away for a moment: next round
            log.warning("worker.stalled_jobs_failed", error=f"{type(exc).__name__}: {exc}")
        if await wait_or_stop(stop, STALLED_JOBS_SECONDS):
            return


async def _queue_ping(queue_app: App) -> None:
    await queue_app.connector.execute_query_one_async("SELECT 1 AS one")


@contextlib.asynccontextmanager
async def taking_jobs(app: FastAPI) -> AsyncIterator[App]:
    """Take jobs from the queue with the runner of `app` (its lifespan running) until the block
    ends; then take no more and hand the runs back (`TaskRunner.drain`). `roo worker` runs it
    until a signal; the test suite runs it beside the API in one process."""
    resources = app.state.resources
    settings: Settings = resources.settings
    runner = resources.tasks.runner
    await queue.ensure_schema(resources.engine)
    queue_app = queue.build_queue_app(settings, runner.take)
    async with queue_app.open_async():
        resources.queue_ping = lambda: _queue_ping(queue_app)
        working = asyncio.create_task(
            queue_app.run_worker_async(
                queues=[settings.task_queue],
                name=f"roo-{runner.runner_id[:12]}",
                concurrency=settings.max_running_tasks,
                install_signal_handlers=False,
                # the runs are handed back by `drain` within the grace; this is the backstop
                shutdown_graceful_timeout=settings.worker_shutdown_grace_seconds + 5,
                delete_jobs="successful",
            )
        )
        stop = asyncio.Event()
        retrying = asyncio.create_task(_retry_stalled_jobs(queue_app, settings.task_queue, stop))
        try:
            yield queue_app
        finally:
            await stop_loop(retrying, stop)
            log.info("worker.stopping", running=len(runner.running()))
            working.cancel()  # procrastinate: no more jobs, then waits for the running ones
            await asyncio.gather(
                runner.drain(settings.worker_shutdown_grace_seconds),
                working,
                return_exceptions=True,
            )
            resources.queue_ping = None


async def run_worker(settings: Settings, *, health_host: str, health_port: int | None) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with taking_jobs(app), _probes(app, health_host, health_port):
            log.info(
                "worker.started",
                runner_id=app.state.resources.tasks.runner.runner_id,
                concurrency=settings.max_running_tasks,
                queue=settings.task_queue,
                health_port=health_port,
            )
            await stop.wait()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("worker.stopped")
