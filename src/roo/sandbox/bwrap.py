"""The bubblewrap backend: what a command sees, expressed as bwrap options.

bwrap isolates exactly what its options say, so this module is the security policy. Inside:
- a fresh root with read-only /usr (and the /bin, /lib*, /sbin links or binds of the host),
  a handful of /etc files that programs need (no shadow, no service config), a generated
  /etc/passwd and /etc/group, a private /proc (own pid namespace), a minimal /dev, size-bounded
  tmpfs /tmp and /dev/shm, and the session's workspace read-write at /workspace;
- new user, pid, ipc, uts, cgroup, mount and network namespaces (network shared on request);
- uid/gid 65534, no capabilities, no new privileges, no nested user namespaces, a new session
  (no TIOCSTI into a terminal), and death with the service.
The root, /dev and /etc stay read-only. The options travel through a pipe (`--args`), so the
environment given to the command never shows in the host's process list.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from roo.sandbox.errors import SandboxError

SANDBOX_UID = 65534
SANDBOX_GID = 65534
WORKSPACE = "/workspace"
# Paths inside the sandbox: each is a private, size-bounded tmpfs of its own.
TMP = "/tmp"  # noqa: S108
SHM = "/dev/shm"  # noqa: S108
HOSTNAME = "sandbox"

# Host /etc entries worth seeing: loader cache, alternatives links, CA certificates, name
# service and locale basics. Everything else of /etc (shadow, ssh keys, service config) is not.
ETC_ALWAYS = (
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/protocols",
    "/etc/services",
    "/etc/os-release",
    "/etc/mime.types",
    "/etc/ssl/certs",
    "/etc/ssl/openssl.cnf",
    "/etc/pki/tls/certs",
    "/etc/pki/ca-trust/extracted",
    "/etc/ca-certificates.conf",
)
ETC_NETWORK = ("/etc/resolv.conf", "/etc/gai.conf")
PROC_COVER = [
    arg for path in ("/proc/sys", "/proc/sysrq-trigger") for arg in ("--ro-bind-try", path, path)
]

PASSWD = (
    "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
    f"sandbox:x:{SANDBOX_UID}:{SANDBOX_GID}:sandbox:/tmp:/bin/sh\n"
)
GROUP = f"root:x:0:\nsandbox:x:{SANDBOX_GID}:\n"
HOSTS = f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{HOSTNAME}\n"


@dataclass(slots=True)
class Invocation:
    """argv for the host, and the pipe ends the child must inherit (closed after the spawn)."""

    argv: list[str]
    fds: list[int] = field(default_factory=list)

    def close(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()


def _data_pipe(data: bytes) -> int:
    """A pipe already holding `data`, write end closed: bwrap reads it to EOF."""
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        if len(data) > 60_000:
            # Never block on a full pipe: grow it to hold everything (or fail clearly).
            try:
                fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, len(data))
            except OSError as exc:
                raise SandboxError(f"sandbox arguments too large ({len(data)} bytes)") from exc
        view = memoryview(data)
        while view:
            view = view[os.write(w, view) :]
    except BaseException:
        os.close(r)
        raise
    finally:
        os.close(w)
    return r


def _root_dirs() -> Iterator[list[str]]:
    """/bin, /lib, /lib64, /sbin...: symlinks into /usr on merged-/usr hosts, binds otherwise."""
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            yield ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            yield ["--ro-bind", name, name]


def options(
    *,
    workspace: Path,
    chdir: str,
    env: Mapping[str, str],
    network: bool,
    tmp_bytes: int,
    ro_binds: Mapping[str, Path],
    rw_binds: Mapping[str, Path],
    data_fds: Mapping[str, int],
) -> list[str]:
    """The bwrap options (everything but the command) for one run."""
    opts = ["--unshare-all", "--unshare-user", "--disable-userns"]
    if network:
        opts.append("--share-net")
    # As root, bwrap runs privileged unless it enters a user namespace; with one the command is
    # uid 65534 there and holds no capability on the host.
    opts += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID), "--cap-drop", "ALL"]
    opts += ["--die-with-parent", "--new-session", "--hostname", HOSTNAME, "--clearenv"]
    for name, value in env.items():
        opts += ["--setenv", name, value]
    opts += ["--ro-bind", "/usr", "/usr"]
    for entry in _root_dirs():
        opts += entry
    for path in ETC_ALWAYS + (ETC_NETWORK if network else ()):
        opts += ["--ro-bind-try", path, path]
    for dest, fd in data_fds.items():
        opts += ["--perms", "0644", "--ro-bind-data", str(fd), dest]
    # The command's uid maps to the service's: when that is root, the kernel's DAC checks see
    # uid 0 and /proc/sys files (core_pattern...) would be writable without any capability.
    # bwrap's own cover of /proc/sys misses this case, so cover it here (read-only host view).
    opts += ["--proc", "/proc", *PROC_COVER, "--dev", "/dev"]
    opts += ["--size", str(tmp_bytes), "--tmpfs", TMP]
    opts += ["--size", str(tmp_bytes), "--tmpfs", SHM]
    opts += ["--bind", str(workspace), WORKSPACE]
    for dest, src in ro_binds.items():
        opts += ["--ro-bind", str(src), dest]
    for dest, src in rw_binds.items():
        opts += ["--bind", str(src), dest]
    opts += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", chdir]
    return opts


def invocation(
    bwrap: str,
    command: Sequence[str],
    *,
    workspace: Path,
    chdir: str,
    env: Mapping[str, str],
    network: bool,
    tmp_bytes: int,
    ro_binds: Mapping[str, Path] | None = None,
    rw_binds: Mapping[str, Path] | None = None,
) -> Invocation:
    """`bwrap --args FD -- command...` with the options and generated files in pipes."""
    inv = Invocation([])
    try:
        data = {"/etc/passwd": PASSWD, "/etc/group": GROUP, "/etc/hosts": HOSTS}
        data_fds = {dest: _data_pipe(text.encode()) for dest, text in data.items()}
        inv.fds.extend(data_fds.values())
        opts = options(
            workspace=workspace,
            chdir=chdir,
            env=env,
            network=network,
            tmp_bytes=tmp_bytes,
            ro_binds=ro_binds or {},
            rw_binds=rw_binds or {},
            data_fds=data_fds,
        )
        args_fd = _data_pipe(b"".join(o.encode() + b"\0" for o in opts))
        inv.fds.append(args_fd)
    except BaseException:
        inv.close()
        raise
    inv.argv = [bwrap, "--args", str(args_fd), "--", *command]
    return inv


@cache
def bwrap_problem() -> str | None:
    """None when bwrap can build our sandbox on this host, else why not (cached per process).

    Runs one real sandbox (`true` in an empty workspace): a bwrap binary that exists but cannot
    create user namespaces (sysctl, AppArmor) is as missing as no binary at all.
    """
    path = shutil.which("bwrap")
    if path is None:
        return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    with tempfile.TemporaryDirectory(prefix="roo-sandbox-probe-") as ws:
        inv = invocation(
            path,
            ["/bin/sh", "-c", "exit 0"],
            workspace=Path(ws),
            chdir=WORKSPACE,
            env={"PATH": "/usr/bin:/bin"},
            network=False,
            tmp_bytes=1024 * 1024,
        )
        try:
            done = subprocess.run(  # noqa: S603 - fixed argv, no shell
                inv.argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                pass_fds=inv.fds,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bwrap failed to start: {exc}"
        finally:
            inv.close()
    if done.returncode != 0:
        return f"bwrap cannot create a sandbox here: {done.stderr.decode(errors='replace').strip()}"
    return None


def bwrap_path() -> str:
    path = shutil.which("bwrap")
    if path is None:  # checked by bwrap_problem() first
        raise SandboxError("bwrap disappeared")
    return path
