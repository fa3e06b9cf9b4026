"""What a bwrap-sandboxed command can see and touch: its workspace, and nothing else of value."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from roo.sandbox import Sandbox, SandboxPathError, bwrap, procs
from tests.sandbox.conftest import appears, go, marker


@pytest.fixture
def host(tmp_path: Path, workspace: Path) -> dict[str, Path]:
    """A sibling workspace and a fake service data dir next to the one under test."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "secret").write_text("other-users-secret")
    data = tmp_path / "data"
    data.mkdir()
    (data / "roo.db").write_text("sqlite-bytes")
    (data / "jwt-secret").write_text("service-jwt-secret")
    return {"other": other, "data": data}


async def test_runs_as_unprivileged_user_in_workspace(isolated: Sandbox, workspace: Path) -> None:
    r = await go(
        isolated,
        "id -u; id -g; pwd; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; echo hi > f",
        workspace=workspace,
    )
    assert r.ok, r.text()
    lines = r.stdout.decode().split()
    assert lines[:3] == ["65534", "65534", "/workspace"]
    assert "CapEff:\t0000000000000000" in r.stdout.decode()
    assert "NoNewPrivs:\t1" in r.stdout.decode()
    assert r.sandbox == "bwrap"
    # The file landed in the host workspace, owned by the service's own uid.
    assert (workspace / "f").read_text() == "hi\n"
    assert (workspace / "f").stat().st_uid == os.getuid()


async def test_cannot_read_shadow_or_host_directories(isolated: Sandbox, workspace: Path) -> None:
    r = await go(
        isolated,
        "cat /etc/shadow; ls /root /home /var /srv /opt /sys; ls /etc",
        workspace=workspace,
    )
    assert b"root:" not in r.stdout
    etc = set(r.stdout.decode().split())
    assert "shadow" not in etc
    assert "passwd" in etc
    assert b"cat: /etc/shadow: No such file or directory" in r.stderr
    for path in ("/root", "/home", "/var", "/sys"):
        assert f"'{path}': No such file or directory".encode() in r.stderr, path


async def test_cannot_see_other_workspaces_or_service_data(
    isolated: Sandbox, workspace: Path, host: dict[str, Path]
) -> None:
    other, data = host["other"], host["data"]
    r = await go(
        isolated,
        f"cat ../other/secret; cat {other}/secret; cat {data}/jwt-secret; cat {data}/roo.db;"
        f" ls {data.parent}; find / -name jwt-secret -o -name secret 2>/dev/null",
        workspace=workspace,
    )
    assert r.exit_code != 0
    assert b"other-users-secret" not in r.output
    assert b"service-jwt-secret" not in r.output
    assert b"sqlite-bytes" not in r.output
    assert b"No such file or directory" in r.stderr


async def test_service_environment_does_not_leak(
    isolated: Sandbox, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWT_SECRET", "jwt-value-never-inside")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:db-pass-never-inside@h/db")
    r = await go(isolated, "env", workspace=workspace, env={"GIVEN": "by-caller"})
    assert r.ok
    env = dict(line.split("=", 1) for line in r.stdout.decode().splitlines())
    assert "JWT_SECRET" not in env
    assert "DATABASE_URL" not in env
    assert b"never-inside" not in r.stdout
    assert env["GIVEN"] == "by-caller"
    assert env["HOME"] == "/tmp"
    assert env["LANG"] == "C.UTF-8"
    assert env["TERM"] == "dumb"


def _cmdlines_and_environs(mark: str) -> dict[int, tuple[bytes, bytes]]:
    return {
        pid: (Path(f"/proc/{pid}/cmdline").read_bytes(), Path(f"/proc/{pid}/environ").read_bytes())
        for pid in procs.processes_with(mark)
    }


async def test_caller_environment_reaches_only_the_command(
    isolated: Sandbox, workspace: Path
) -> None:
    # Host-side bwrap runs as the service: a caller's LD_PRELOAD there would run code as the
    # service, and values on its command line would show in the host's `ps`.
    mark = marker()
    task = asyncio.ensure_future(
        isolated.run(
            f"sleep {mark}",
            workspace=workspace,
            env={"LD_PRELOAD": "/workspace/evil.so", "API_TOKEN": "tok-never-on-host"},
            timeout=20,
        )
    )
    try:
        assert await appears(mark)
        for _ in range(100):  # until bwrap has started the command inside
            seen = await asyncio.to_thread(_cmdlines_and_environs, mark)
            if any(cmd.startswith(b"sleep") for cmd, _ in seen.values()):
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    outer = [env for cmd, env in seen.values() if cmd.startswith(bwrap.bwrap_path().encode())]
    inner = [env for cmd, env in seen.values() if cmd.startswith(b"sleep")]
    assert outer
    assert inner
    assert all(b"LD_PRELOAD" not in env and b"tok-never" not in env for env in outer)
    assert all(b"tok-never" not in cmd for cmd, _ in seen.values())
    assert all(b"API_TOKEN=tok-never-on-host" in env for env in inner)


async def test_writes_outside_workspace_fail(isolated: Sandbox, workspace: Path) -> None:
    probe = f"roo-sandbox-probe-{os.getpid()}"
    r = await go(
        isolated,
        f"for d in / /usr /etc /dev /proc; do touch $d/{probe} && echo WROTE $d; done;"
        f" echo tmp > /tmp/{probe} && cat /tmp/{probe}",
        workspace=workspace,
    )
    assert b"WROTE" not in r.stdout, r.text()
    assert r.stdout.endswith(b"tmp\n")  # /tmp works, and it is private:
    assert not await asyncio.to_thread(os.path.exists, f"/tmp/{probe}")
    assert not await asyncio.to_thread(os.path.exists, f"/{probe}")


async def test_kernel_settings_are_read_only(isolated: Sandbox, workspace: Path) -> None:
    # When the service runs as root, the command's uid is root to the kernel's DAC checks:
    # a writable /proc/sys would let it set kernel.core_pattern and run code on the host.
    r = await go(
        isolated,
        "for f in /proc/sys/kernel/core_pattern /proc/sys/vm/drop_caches"
        " /proc/sys/kernel/modprobe /proc/sysrq-trigger; do"
        " [ -e $f ] && [ -w $f ] && echo WRITABLE $f; done; cat /proc/sys/kernel/ostype",
        workspace=workspace,
    )
    assert b"WRITABLE" not in r.stdout, r.text()
    assert r.stdout == b"Linux\n"  # still readable: programs read limits there


async def test_only_own_processes_visible(isolated: Sandbox, workspace: Path) -> None:
    r = await go(isolated, ["ps", "-e", "-o", "pid="], workspace=workspace)
    assert r.ok
    assert len(r.stdout.split()) <= 3  # bwrap's init, ps (and a shell at most)


async def test_no_nested_user_namespaces(isolated: Sandbox, workspace: Path) -> None:
    r = await go(isolated, "unshare -U true", workspace=workspace)
    assert r.exit_code != 0


async def _listener() -> tuple[asyncio.Server, int, list[bool]]:
    seen: list[bool] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(True)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, port, seen


CONNECT = (
    "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 3);"
    " print('connected')"
)


async def test_no_network_by_default(isolated: Sandbox, workspace: Path) -> None:
    server, port, seen = await _listener()
    async with server:
        r = await go(isolated, ["python3", "-c", CONNECT, str(port)], workspace=workspace)
        bash = await go(isolated, f"echo x > /dev/tcp/127.0.0.1/{port}", workspace=workspace)
    assert r.exit_code != 0
    assert b"connected" not in r.stdout
    assert b"ConnectionRefusedError" in r.stderr or b"OSError" in r.stderr
    assert bash.exit_code != 0
    assert not seen
    assert r.enforcement["network"] == "none"


async def test_network_when_asked(isolated: Sandbox, workspace: Path) -> None:
    server, port, seen = await _listener()
    async with server:
        r = await go(
            isolated, ["python3", "-c", CONNECT, str(port)], workspace=workspace, network=True
        )
        await asyncio.sleep(0.05)
    assert r.ok, r.text()
    assert seen


async def test_cwd_inside_workspace(isolated: Sandbox, workspace: Path) -> None:
    (workspace / "sub" / "deeper").mkdir(parents=True)
    r = await go(isolated, "pwd", workspace=workspace, cwd="sub/deeper")
    assert r.stdout == b"/workspace/sub/deeper\n"
    r = await go(isolated, "pwd", workspace=workspace, cwd="/workspace/sub")
    assert r.stdout == b"/workspace/sub\n"


@pytest.mark.parametrize("cwd", ["..", "../other", "/etc", "/workspace/../etc", "link", "nope"])
async def test_cwd_may_not_leave_workspace(
    isolated: Sandbox, workspace: Path, host: dict[str, Path], cwd: str
) -> None:
    (workspace / "link").symlink_to(host["other"])
    with pytest.raises(SandboxPathError):
        await isolated.run("pwd", workspace=workspace, cwd=cwd)


async def test_symlink_in_workspace_does_not_escape(
    isolated: Sandbox, workspace: Path, host: dict[str, Path]
) -> None:
    (workspace / "link").symlink_to(host["other"] / "secret")
    r = await go(isolated, "cat link", workspace=workspace)
    assert r.exit_code != 0
    assert b"other-users-secret" not in r.output


async def test_extra_read_only_bind(isolated: Sandbox, workspace: Path, tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "tool.txt").write_text("toolchain")
    r = await go(
        isolated,
        "cat /opt/tools/tool.txt; touch /opt/tools/x",
        workspace=workspace,
        ro_binds={"/opt/tools": tools},
    )
    assert r.stdout == b"toolchain"
    assert b"Read-only file system" in r.stderr
    with pytest.raises(SandboxPathError):
        await isolated.run("true", workspace=workspace, ro_binds={"/proc/x": tools})
