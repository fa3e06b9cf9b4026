"""`Sandbox.run`: one command for one session's workspace, isolated and limited.

    result = await sandbox.run("pytest -q", workspace=ws, limits=limits, timeout=120)

The command's failure, timeout or limit hit comes back as data (`ProcessResult`); only faults
of the machinery raise (`SandboxUnavailable`, `SandboxError`, `SandboxPathError` for a bad path).
Isolation is bubblewrap when it works on the host, else a plain process group with the same
limits and a clean environment (`docs/sandbox.md`).
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Literal

from roo.kit.logs import get_logger
from roo.observability.metrics import SANDBOX_KILLS
from roo.sandbox import bwrap, inputs, rlimits
from roo.sandbox.cgroups import CgroupRun, CgroupSupport, RunUsage, detect_cgroups
from roo.sandbox.disk import DiskWatch
from roo.sandbox.errors import SandboxUnavailable
from roo.sandbox.limits import MIB, ResourceLimits
from roo.sandbox.result import Backend, ProcessResult, signal_name
from roo.sandbox.slots import CommandSlots
from roo.sandbox.supervise import Exit, Launch, OnOutput, StdinPipe, Supervisor

log = get_logger("roo.sandbox")

BackendChoice = Literal["auto", "bwrap", "plain"]

DEFAULT_LIMITS = ResourceLimits()
DEFAULT_KILL_GRACE = 1.0
# How long a run waits for the first workspace measurement before starting; when it arrives in
# time, single files are also bounded by the space left (RLIMIT_FSIZE), not only the watch.
BASELINE_WAIT = 0.05
_warned: set[str] = set()


def _warn_once(event: str, **fields: object) -> None:
    if event not in _warned:
        _warned.add(event)
        log.warning(event, **fields)


def detect_backend() -> Backend:
    """`bwrap` when bubblewrap can build a sandbox on this host, else `plain` (cached)."""
    return "bwrap" if bwrap.bwrap_problem() is None else "plain"


@cache
def _cgroups_for(parent: Path | None) -> CgroupSupport | None:
    support = detect_cgroups(parent)
    if support is None:
        _warn_once(
            "sandbox.no_cgroups",
            detail="cgroups are not writable; memory, processes and CPU are bounded by rlimits "
            "and watches only (see docs/sandbox.md)",
        )
    else:
        log.info("sandbox.cgroups", support=support.describe())
    return support


class Sandbox:
    """Runs commands in sessions' workspaces. Build one per service (in its lifespan).

    backend: `auto` takes bwrap when it works here, else plain; `bwrap` requires it.
    require_isolation: refuse to run without bwrap (production).
    use_cgroups: False bounds commands with rlimits only (tests of the fallback use it).
    cgroup_parent: a cgroup v2 directory delegated to the service for its sandboxes.
    ro_binds: host paths shown read-only in every sandbox (sandbox path -> host path), e.g.
    a toolchain under /opt.
    slots_dir: where the slots of groups (`run(group=...)`) are kept, shared by every process
    given the same directory; None: counted in this process only.
    slot_wait: seconds a command of a group at its bound waits for a slot before SandboxBusy.
    """

    def __init__(
        self,
        *,
        backend: BackendChoice = "auto",
        require_isolation: bool = False,
        use_cgroups: bool = True,
        cgroup_parent: Path | None = None,
        kill_grace: float = DEFAULT_KILL_GRACE,
        ro_binds: Mapping[str, Path] | None = None,
        slots_dir: Path | None = None,
        slot_wait: float = 0.0,
    ) -> None:
        if backend not in ("auto", "bwrap", "plain"):
            raise ValueError(f"unknown sandbox backend {backend!r}")
        if backend == "plain" and require_isolation:
            raise ValueError("require_isolation needs the bwrap backend")
        self.choice = backend
        self.require_isolation = require_isolation
        self.use_cgroups = use_cgroups
        self.cgroup_parent = cgroup_parent
        self.kill_grace = kill_grace
        self.ro_binds = dict(ro_binds or {})
        self.slots = CommandSlots(slots_dir)
        self.slot_wait = slot_wait
        self._backend: Backend | None = None
        # The cgroups of the runs in progress, by workspace (for `usage`).
        self._active: dict[Path, list[CgroupRun]] = {}

    async def backend(self) -> Backend:
        """The backend this sandbox uses; raises SandboxUnavailable when bwrap is required."""
        if self._backend is None and self.choice == "plain":
            self._backend = "plain"
        if self._backend is None:
            problem = await asyncio.to_thread(bwrap.bwrap_problem)
            if problem is None:
                self._backend = "bwrap"
            elif self.choice == "bwrap" or self.require_isolation:
                raise SandboxUnavailable(problem)
            else:
                _warn_once("sandbox.no_isolation", reason=problem)
                self._backend = "plain"
        return self._backend

    async def usage(self, workspace: Path) -> RunUsage | None:
        """What the commands running in `workspace` use now, summed over their cgroups; None
        when none runs there with cgroups (usage is then unknown or nothing)."""
        runs = list(self._active.get(await asyncio.to_thread(workspace.resolve), ()))
        if not runs:
            return None
        each = await asyncio.to_thread(lambda: [run.usage() for run in runs])
        memory = [u.memory_bytes for u in each]
        cpu = [u.cpu_seconds for u in each]
        return RunUsage(
            memory_bytes=None if None in memory else sum(m or 0 for m in memory),
            cpu_seconds=None if None in cpu else sum(c or 0.0 for c in cpu),
            processes=sum(u.processes for u in each),
        )

    async def cgroups(self) -> CgroupSupport | None:
        if not self.use_cgroups:
            return None
        return await asyncio.to_thread(_cgroups_for, self.cgroup_parent)

    async def run(
        self,
        command: str | Sequence[str],
        *,
        workspace: Path,
        limits: ResourceLimits = DEFAULT_LIMITS,
        cwd: str = ".",
        env: Mapping[str, str] | None = None,
        network: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - the command's limit, not ours
        on_output: OnOutput | None = None,
        merge_stderr: bool = False,
        ro_binds: Mapping[str, Path] | None = None,
        rw_binds: Mapping[str, Path] | None = None,
        cancel: asyncio.Event | None = None,
        require_isolation: bool = False,
        group: str | None = None,
        stdin: StdinPipe | None = None,
        use_slot: bool = True,
    ) -> ProcessResult:
        """Run `command` (a shell string or an argv) with `workspace` as its /workspace.

        cwd: relative to the workspace (or absolute under /workspace); it may not leave it.
        env: added to the sandbox's own minimal environment; nothing of the service's leaks.
        timeout: wall-clock seconds, at most `limits.max_execution_time` (the default).
        on_output: awaited with ("stdout" | "stderr", chunk) as output arrives.
        merge_stderr: one stream, interleaved as a terminal shows it (in `stdout`).
        cancel: when set, the command is stopped and the result says `cancelled`.
        Cancelling the awaiting task kills the command too, then re-raises CancelledError.
        group: the key of the session the command belongs to. Its memory, CPU and process
        limits then bound all the group's commands together (one cgroup), and at most
        `limits.max_concurrent_tasks` of them run at once: beyond that a command waits up to
        `slot_wait` seconds for one to end, then SandboxBusy is raised.
        stdin: a pipe the caller writes the command's stdin through (a long-lived command that
        talks over stdin and stdout, such as an MCP server; its stdout comes via `on_output`).
        use_slot: False: a command of a group shares the group's cgroup (its limits) but does
        not take one of its `max_concurrent_tasks` slots (a server the agent's commands must
        not wait for).
        """
        try:
            return await self._run(
                command,
                workspace=workspace,
                limits=limits,
                cwd=cwd,
                env=env,
                network=network,
                timeout=timeout,
                on_output=on_output,
                merge_stderr=merge_stderr,
                ro_binds=ro_binds,
                rw_binds=rw_binds,
                cancel=cancel,
                require_isolation=require_isolation,
                group=group,
                stdin=stdin,
                use_slot=use_slot,
            )
        finally:
            if stdin is not None and not stdin.started.is_set():
                stdin._attach(None)  # never started: a waiting writer learns it at once

    async def _run(
        self,
        command: str | Sequence[str],
        *,
        workspace: Path,
        limits: ResourceLimits,
        cwd: str,
        env: Mapping[str, str] | None,
        network: bool,
        timeout: float | None,  # noqa: ASYNC109 - the command's limit, not ours
        on_output: OnOutput | None,
        merge_stderr: bool,
        ro_binds: Mapping[str, Path] | None,
        rw_binds: Mapping[str, Path] | None,
        cancel: asyncio.Event | None,
        require_isolation: bool,
        group: str | None,
        stdin: StdinPipe | None,
        use_slot: bool,
    ) -> ProcessResult:
        argv = inputs.argv(command)
        key = inputs.group(group)
        ws = inputs.workspace(workspace)
        host_cwd, rel = inputs.resolve_cwd(ws, cwd)
        wall = inputs.wall(timeout, limits)
        extra_env = inputs.checked_env(env)
        ro = inputs.checked_binds({**self.ro_binds, **(ro_binds or {})})
        rw = inputs.checked_binds(dict(rw_binds or {}))
        backend = await self.backend()
        if backend == "plain" and require_isolation:
            raise SandboxUnavailable(bwrap.bwrap_problem() or "plain backend configured")
        slot: contextlib.AbstractAsyncContextManager[None] = contextlib.nullcontext()
        if key is not None and use_slot:
            slot = self.slots.slot(key, limits.max_concurrent_tasks, self.slot_wait)
        async with slot:
            support = await self.cgroups()
            helpers = 2 if backend == "bwrap" else 0
            disk = DiskWatch(ws, limits.disk_bytes, limits.max_files)
            baseline = asyncio.ensure_future(disk.measure())
            cgroup: CgroupRun | None = None
            home: str | None = None
            inv: bwrap.Invocation | None = None
            try:
                await asyncio.wait([baseline], timeout=BASELINE_WAIT)
                fsize = limits.file_bytes
                if baseline.done():
                    fsize = min(fsize, max(limits.disk_bytes - baseline.result(), MIB))
                if support is not None:
                    try:
                        cgroup = support.create(limits, helpers, key)
                        self._active.setdefault(ws, []).append(cgroup)
                    except OSError as exc:
                        log.warning("sandbox.cgroup_failed", error=str(exc))
                controllers = set(cgroup.dirs) if cgroup else set()
                rl, how = await asyncio.to_thread(
                    rlimits.plan,
                    limits,
                    wall_seconds=wall,
                    fsize_bytes=fsize,
                    cgroup_memory="memory" in controllers,
                    cgroup_pids="pids" in controllers,
                    cgroup_cpu="cpu" in controllers,
                    helpers=helpers,
                )
                grace = self.kill_grace
                enforcement = {
                    "isolation": backend,
                    "time": f"wall clock {wall:g}s, then SIGTERM, SIGKILL after {grace:g}s",
                    "disk": (
                        f"watch: workspace > {limits.disk_bytes} bytes, > {limits.max_files} files"
                    ),
                    "network": "none" if backend == "bwrap" and not network else "host network",
                    **how,
                    **(cgroup.enforcement if cgroup else {}),
                }
                if backend == "bwrap":
                    inv = bwrap.invocation(
                        bwrap.bwrap_path(),
                        argv,
                        workspace=ws,
                        chdir=bwrap.WORKSPACE
                        if rel == "."
                        else posixpath.join(bwrap.WORKSPACE, rel),
                        env=inputs.environment(extra_env, home=bwrap.TMP, tmp=bwrap.TMP),
                        network=network,
                        tmp_bytes=limits.memory_bytes,
                        ro_binds=ro,
                        rw_binds=rw,
                    )
                    # The host side of bwrap sees no caller variable (LD_PRELOAD would run as us).
                    outer_env, spawn_argv, spawn_cwd, fds = _OUTER_ENV, inv.argv, "/", inv.fds
                else:
                    home = await asyncio.to_thread(tempfile.mkdtemp, prefix="roo-sandbox-home-")
                    outer_env = inputs.environment(extra_env, home=home, tmp=home)
                    spawn_argv, spawn_cwd, fds = argv, str(host_cwd), []
                launch = Launch(
                    argv=spawn_argv,
                    env=outer_env,
                    cwd=spawn_cwd,
                    fds=fds,
                    backend=backend,
                    helpers=helpers,
                    limits=limits,
                    wall=wall,
                    rlimits=rl,
                    cgroup=cgroup,
                    disk=disk,
                    baseline=baseline,
                    watch_processes="pids" not in controllers,
                    merge_stderr=merge_stderr,
                    on_output=on_output,
                    cancel=cancel,
                    kill_grace=self.kill_grace,
                    stdin=stdin,
                )
                outcome = await Supervisor(launch).run()
            finally:
                baseline.cancel()
                if cgroup is not None:
                    runs = self._active.get(ws, [])
                    if cgroup in runs:
                        runs.remove(cgroup)
                    if not runs:
                        self._active.pop(ws, None)
                await asyncio.shield(_cleanup(inv, cgroup, home))
            result = _result(outcome, backend, enforcement)
            log.debug(
                "sandbox.finished",
                exit_code=result.exit_code,
                signal=result.signal,
                killed_reason=result.killed_reason,
                duration=round(result.duration, 3),
                sandbox=backend,
            )
            return result


_OUTER_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


async def _cleanup(
    inv: bwrap.Invocation | None, cgroup: CgroupRun | None, home: str | None
) -> None:
    if inv is not None:
        inv.close()
    if cgroup is not None:
        # Members may still be exiting (v1 has no atomic kill): kill and retry for a while.
        delay, waited = 0.001, 0.0
        while not cgroup.remove():
            if waited > 3.0:
                log.warning("sandbox.cgroup_left", dirs=[str(d) for d in cgroup.dirs.values()])
                break
            cgroup.kill()
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.05)
    if home is not None:
        await asyncio.to_thread(shutil.rmtree, home, True)


def _result(outcome: Exit, backend: Backend, enforcement: dict[str, str]) -> ProcessResult:
    rc = outcome.returncode
    signo: int | None = None
    if rc < 0:
        signo, rc = -rc, 128 - rc
    elif 128 < rc <= 128 + 64 and signal_name(rc - 128):
        # bwrap's init (and shells) report a child killed by signal N as 128 + N.
        signo = rc - 128
    name = signal_name(signo) if signo else None
    reason = outcome.reason
    if reason is None:
        if outcome.oom_killed:
            reason = "memory"
        elif name == "SIGXFSZ":
            reason = "disk"
        elif name == "SIGXCPU":
            reason = "cpu"
    if reason is not None:
        SANDBOX_KILLS.labels(reason).inc()
    return ProcessResult(
        exit_code=rc,
        signal=name,
        timed_out=outcome.reason == "timeout",
        killed_reason=reason,
        stdout=outcome.stdout.value(),
        stderr=outcome.stderr.value(),
        stdout_omitted=outcome.stdout.omitted,
        stderr_omitted=outcome.stderr.omitted,
        duration=outcome.duration,
        sandbox=backend,
        enforcement=enforcement,
    )
