"""One child process from spawn to reaping: gate, output, watches, stop, and no survivors.

The child starts as `/bin/sh` waiting at a gate (a pipe on its stdin). While it waits, the
parent moves it into its cgroups and sets its rlimits, so nothing the command does escapes
them; then the gate opens and the shell `exec`s bwrap (or the plain command) with stdin from
/dev/null. The child leads a new session and process group. Stopping sends SIGTERM to the
command's processes, waits a grace period, then SIGKILLs the group, the cgroup and (for bwrap)
the sandbox itself, whose pid namespace takes every process inside with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from roo.kit.logs import get_logger
from roo.sandbox import procs, rlimits
from roo.sandbox.cgroups import CgroupRun
from roo.sandbox.disk import DiskWatch
from roo.sandbox.errors import SandboxError
from roo.sandbox.limits import ResourceLimits
from roo.sandbox.result import Backend, KilledReason, OutputCapture

log = get_logger("roo.sandbox")

OnOutput = Callable[[str, bytes], Awaitable[None]]

GATE = ["/bin/sh", "-c", 'read -r _ || exit 125; exec "$@" </dev/null', "roo-sandbox"]
# For a command that reads its stdin (`Launch.stdin`): the gate's pipe stays its stdin. `read`
# takes a pipe byte by byte, so nothing written after the gate line is lost to the shell.
GATE_STDIN = ["/bin/sh", "-c", 'read -r _ || exit 125; exec "$@"', "roo-sandbox"]
# A command writing more than this many times its output cap is in a loop: stop it.
SPEW_FACTOR = 50
WATCH_TICK = 0.1
DRAIN_SECONDS = 2.0
READ_CHUNK = 64 * 1024


@dataclass(slots=True)
class Launch:
    """What to start, and how it is bounded."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    fds: list[int]
    backend: Backend
    helpers: int  # sandbox processes around the command (bwrap and its pid-namespace init)
    limits: ResourceLimits
    wall: float
    rlimits: dict[int, tuple[int, int]]
    cgroup: CgroupRun | None
    disk: DiskWatch
    baseline: asyncio.Future[int]
    watch_processes: bool
    merge_stderr: bool
    on_output: OnOutput | None
    cancel: asyncio.Event | None
    kill_grace: float
    # A long-lived command talking over its stdin (an MCP server): its stdout is not judged by
    # the output-spew rule (it is traffic, not a log) and the pipe is handed to `stdin`.
    stdin: StdinPipe | None = None


class StdinPipe:
    """The write end of an interactive command's stdin (`Sandbox.run(stdin=...)`).

    `started` is set once the command runs past the gate (or failed to start); `write` then
    sends bytes to it, `close` ends its input. Writes after the command ended raise
    ConnectionError (BrokenPipeError)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None

    def _attach(self, writer: asyncio.StreamWriter | None) -> None:
        self._writer = writer
        self.started.set()

    async def write(self, data: bytes) -> None:
        if self._writer is None or self._writer.is_closing():
            raise BrokenPipeError("the command's stdin is closed")
        self._writer.write(data)
        await self._writer.drain()

    def close(self) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.close()


@dataclass(slots=True)
class Exit:
    """How a supervised command ended, before `runner` turns it into a `ProcessResult`."""

    returncode: int
    reason: KilledReason | None
    oom_killed: bool
    stdout: OutputCapture
    stderr: OutputCapture
    duration: float


@dataclass(slots=True)
class Supervisor:
    launch: Launch
    stdout: OutputCapture = field(init=False)
    stderr: OutputCapture = field(init=False)
    reason: KilledReason | None = None
    callback_error: Exception | None = None
    _requested: asyncio.Event = field(default_factory=asyncio.Event)
    _proc: asyncio.subprocess.Process | None = None
    _transports: list[asyncio.BaseTransport] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stdout = OutputCapture(self.launch.limits.max_output_bytes)
        self.stderr = OutputCapture(self.launch.limits.max_output_bytes)

    def request(self, reason: KilledReason) -> None:
        """Ask for the command to be stopped; the first reason given is the one reported."""
        if self.reason is None:
            self.reason = reason
            log.info("sandbox.stop_requested", reason=reason, pid=self._pid)
        self._requested.set()

    @property
    def _pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def run(self) -> Exit:
        readers = await self._spawn()
        proc = self._proc
        assert proc is not None  # noqa: S101 - set by _spawn
        started = time.monotonic()
        exit_task = asyncio.ensure_future(proc.wait())
        pumps = [asyncio.ensure_future(self._pump(r, n, c)) for r, n, c in readers]
        watch = asyncio.ensure_future(self._watch())
        try:
            reason = await self._wait_end(exit_task, started)
            if not exit_task.done():
                self.request(reason or "timeout")
                await self._stop(exit_task)
            returncode = await exit_task
            duration = time.monotonic() - started
            await self._kill_all()  # what it left behind (background jobs of a plain command)
            await self._drain(pumps)
        except BaseException:
            # Cancelled (or failed) while the command runs: nothing may outlive us.
            try:
                await self._kill_all()
            finally:
                await asyncio.shield(self._abort_cleanup(exit_task, pumps))
            raise
        finally:
            watch.cancel()
        if self.callback_error is not None:
            raise self.callback_error
        oom = self.launch.cgroup.oom_killed() if self.launch.cgroup else False
        return Exit(returncode, self.reason, oom, self.stdout, self.stderr, duration)

    async def _spawn(self) -> list[tuple[asyncio.StreamReader, str, OutputCapture]]:
        la = self.launch
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = (None, None) if la.merge_stderr else os.pipe2(os.O_CLOEXEC)
        gate_r, gate_w = os.pipe2(os.O_CLOEXEC)
        ours = [fd for fd in (out_r, err_r, gate_w) if fd is not None]  # closed here on failure
        try:
            try:
                self._proc = await asyncio.create_subprocess_exec(
                    *(GATE if la.stdin is None else GATE_STDIN),
                    *la.argv,
                    stdin=gate_r,
                    stdout=out_w,
                    stderr=asyncio.subprocess.STDOUT if err_w is None else err_w,
                    env=la.env,
                    cwd=la.cwd,
                    start_new_session=True,
                    pass_fds=la.fds,
                )
            finally:
                # The child holds its own copies now. `la.fds` is cleared in place so that no
                # one closes these numbers again (by then they may be another run's pipes).
                for fd in (out_w, err_w, gate_r, *la.fds):
                    if fd is not None:
                        os.close(fd)
                la.fds.clear()
            # The child waits at the gate: nothing of the command runs before this is done.
            if la.cgroup is not None:
                la.cgroup.add(self._proc.pid)
            rlimits.apply(self._proc.pid, la.rlimits)
            os.write(gate_w, b"go\n")
            ours.remove(gate_w)
            if la.stdin is None:
                os.close(gate_w)
            else:  # the gate's pipe goes on as the command's stdin
                la.stdin._attach(await self._writer(gate_w))
            readers = [(await self._reader(out_r, ours), "stdout", self.stdout)]
            if err_r is not None:
                readers.append((await self._reader(err_r, ours), "stderr", self.stderr))
        except BaseException as exc:
            # Failed or cancelled before supervision began: the command must not run loose.
            try:
                await self._kill_all()
            finally:
                for fd in ours:
                    os.close(fd)
                self._close_transports()
            if self._proc is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(self._proc.wait())
            if isinstance(exc, OSError):
                raise SandboxError(f"cannot start or confine the sandbox: {exc}") from exc
            raise
        return readers

    async def _writer(self, fd: int) -> asyncio.StreamWriter:
        """A stream writer over the write end `fd`, whose ownership passes to the transport."""
        loop = asyncio.get_running_loop()
        pipe = os.fdopen(fd, "wb", buffering=0)
        try:
            transport, protocol = await loop.connect_write_pipe(
                asyncio.streams.FlowControlMixin, pipe
            )
        except BaseException:
            pipe.close()
            raise
        self._transports.append(transport)
        return asyncio.StreamWriter(transport, protocol, None, loop)

    async def _reader(self, fd: int, ours: list[int]) -> asyncio.StreamReader:
        """A stream over the read end `fd`, whose ownership passes to the transport."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=4 * READ_CHUNK)
        pipe = os.fdopen(fd, "rb", buffering=0)
        ours.remove(fd)
        try:
            transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), pipe
            )
        except BaseException:
            pipe.close()
            raise
        self._transports.append(transport)
        return reader

    async def _pump(self, reader: asyncio.StreamReader, name: str, capture: OutputCapture) -> None:
        spew = self.launch.limits.max_output_bytes * SPEW_FACTOR
        on_output = self.launch.on_output
        judged = self.launch.stdin is None or name != "stdout"
        while chunk := await reader.read(READ_CHUNK):
            capture.feed(chunk)
            if judged and capture.total > spew:
                self.request("output")
            if on_output is not None and self.callback_error is None:
                try:
                    await on_output(name, chunk)
                except Exception as exc:  # the caller's sink failed: stop, then re-raise it
                    self.callback_error = exc
                    self.request("cancelled")

    async def _watch(self) -> None:
        la = self.launch
        await la.baseline
        procs_at = time.monotonic() + WATCH_TICK
        while True:
            wake = min(la.disk.next_at, procs_at) if la.watch_processes else la.disk.next_at
            await asyncio.sleep(max(0.0, wake - time.monotonic()))
            if la.disk.due():
                await la.disk.measure()
                if la.disk.exceeded:
                    self.request("disk")
                    return
            if la.watch_processes and time.monotonic() >= procs_at:
                procs_at = time.monotonic() + WATCH_TICK
                count = await asyncio.to_thread(self._tree_size)
                if count > la.limits.max_processes + la.helpers:
                    self.request("processes")
                    return

    def _tree_size(self) -> int:
        pid = self._pid
        if pid is None:
            return 0
        tree = procs.descendants(pid, procs.process_table())
        return procs.task_count(pid) + sum(procs.task_count(p) for p in tree)

    async def _wait_end(
        self, exit_task: asyncio.Future[int], started: float
    ) -> KilledReason | None:
        la = self.launch
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._requested.wait())]
        if la.cancel is not None:
            waits.append(asyncio.ensure_future(la.cancel.wait()))
        try:
            remaining = max(0.0, started + la.wall - time.monotonic())
            await asyncio.wait(
                [exit_task, *waits], timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for w in waits:
                w.cancel()
        if exit_task.done():
            return self.reason
        if self.reason is not None:
            return self.reason
        if la.cancel is not None and la.cancel.is_set():
            return "cancelled"
        return "timeout"

    def _term_targets(self) -> list[int]:
        """The command's processes, without bwrap and its init (whose death kills the rest)."""
        pid = self._pid
        if pid is None:
            return []
        table = procs.process_table()
        tree = procs.descendants(pid, table)
        helpers = {pid}
        if self.launch.backend == "bwrap":
            helpers |= {p for p in tree if table.get(p) == pid}
        members = set(tree) | (self.launch.cgroup.members() if self.launch.cgroup else set())
        if self.launch.backend == "plain":
            members.add(pid)
            helpers.discard(pid)
        return sorted(members - helpers)

    async def _stop(self, exit_task: asyncio.Future[int]) -> None:
        """SIGTERM, a grace period to exit cleanly, then SIGKILL for everything."""
        procs.send(await asyncio.to_thread(self._term_targets), signal.SIGTERM)
        if self.launch.backend == "plain" and self._pid is not None:
            procs.send_group(self._pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(exit_task), self.launch.kill_grace)
        await self._kill_all()

    async def _kill_all(self) -> None:
        """SIGKILL the sandbox, its process group and its cgroup members, now."""
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.returncode is None and self.launch.cgroup is None:
                # Without a cgroup, sweep the whole tree first (bwrap: see kill_tree_frozen).
                await asyncio.shield(asyncio.to_thread(procs.kill_tree_frozen, proc.pid))
        finally:
            if proc.returncode is None:
                # Not proc.kill(): Popen polls first and may reap the child behind asyncio's
                # watcher, which then reports exit status 255.
                procs.send([proc.pid], signal.SIGKILL)
            procs.send_group(proc.pid, signal.SIGKILL)
            if self.launch.cgroup is not None:
                self.launch.cgroup.kill()

    async def _drain(self, pumps: Sequence[asyncio.Future[None]]) -> None:
        """Read what the pipes still hold; a writer that escaped (plain backend) cannot stall us."""
        _, pending = await asyncio.wait(pumps, timeout=DRAIN_SECONDS)
        for p in pending:
            p.cancel()
        for p in pumps:
            if p.done() and not p.cancelled() and p.exception() is not None:
                raise SandboxError("reading the command's output failed") from p.exception()
        self._close_transports()

    def _close_transports(self) -> None:
        for t in self._transports:
            t.close()
        self._transports.clear()

    async def _abort_cleanup(
        self, exit_task: asyncio.Future[int], pumps: Sequence[asyncio.Future[None]]
    ) -> None:
        for p in pumps:
            p.cancel()
        self._close_transports()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(exit_task), 5.0)
