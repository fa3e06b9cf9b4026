"""What rate limiting and the audit trail cost, in instructions: security_overhead.py's servers
under callgrind, each given the same fixed number of requests.

    .venv/bin/python bench/security_instructions.py [--mixes 25] [--connections 8]
        [--variants off,on,limits_only,audit_only] [--database-url postgresql://...]
        [--redis redis://...]

security_overhead.py measures requests per second, which this shared machine moves by 2x within
minutes; its concurrent mode resolves a point or two, and says how much, not where.
`valgrind --tool=callgrind` counts the instructions a process executes, which the machine's load
does not change: the same server given the same requests counts the same within about 1% (hash
seed fixed; what varies is the interleaving of the connections' requests: how many share a
batch, a loop iteration), so a change of a few percent shows, run after run.
What it does not see: cache misses, system time, waiting; and it is slow (a request costs about
40 ms under it, ~50x).

Each variant (`security_overhead.SERVERS`: `off`, `on`, `limits_only`, `audit_only`) is started
under callgrind with `PYTHONHASHSEED=0`, on SQLite in a directory of its own (or on
`--database-url` and `--redis`, as security_overhead.py), signed in with a session and a file,
and warmed up (5 rounds of the mix per connection); its counters are zeroed
(`callgrind_control --zero`), then each of `--connections` keep-alive connections (a thread
each) makes `--mixes` rounds of security_overhead.py's mix, a request after the other; the
counters are dumped. The audit's sealer runs hourly in every variant here (at callgrind's speed
a sealing every second would be charged to 50x fewer requests than in service): sealing is not
in these counts. Result: instructions per request of each variant, and each one's difference
from `off`, to bench/results/security_instructions.json (-postgres with --database-url).
Needs valgrind (`apt-get install -y valgrind`).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import (
    RESULTS_DIR,
    BenchError,
    Client,
    Server,
    add_backend_arguments,
    add_log_level_argument,
    backend_bench_main,
    backend_env,
    bench_email,
    bench_parser,
    create_user,
    describe_backends,
    machine_info,
    require_at_least,
    running_server,
    server_command,
    server_env,
    source_revision,
)
from security_overhead import SERVERS, mix, off_command, prepare

DEFAULT_OUTPUT = RESULTS_DIR / "security_instructions.json"
DEFAULT_VARIANTS = ("off", "on", "limits_only", "audit_only")
WARMUP_MIXES = 5
# Python under callgrind starts in a minute or two (imports, the app's start-up)
READY_TIMEOUT = 900.0
HOURLY_SEALS = {"ROO_AUDIT_SEAL_INTERVAL": "3600"}


def measure(args: argparse.Namespace, run_id: str, variant: str) -> dict[str, Any]:
    """One variant under callgrind: its instructions for the measured requests."""
    settings, off_app = SERVERS[variant]
    extra = settings | HOURLY_SEALS | backend_env(args.database_url, args.redis, run_id)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roo-bench-")))
        data_dir = workdir / f"{variant}-data"
        data_dir.mkdir()
        env = server_env("roo", data_dir, args.roo_log_level, extra) | {"PYTHONHASHSEED": "0"}
        email = bench_email(f"instr-{variant.replace('_', '-')}", run_id, bool(args.database_url))
        password = secrets.token_urlsafe(18)
        create_user(env, email, "member", password)
        out = workdir / "callgrind.out"

        def command(port: int) -> list[str]:
            served = off_command(port) if off_app else server_command("roo", port)
            return [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                "--dump-instr=no",
                *served,
            ]

        server = stack.enter_context(
            running_server(
                "roo",
                workdir,
                args.roo_log_level,
                extra_env=extra | {"PYTHONHASHSEED": "0"},
                label=variant,
                command=command,
                ready_timeout=READY_TIMEOUT,
            )
        )
        token, sid = prepare(server, email, password)
        load(server, token, sid, args.connections, WARMUP_MIXES)
        callgrind_control("--zero", server)
        started = time.monotonic()
        requests = load(server, token, sid, args.connections, args.mixes)
        callgrind_control("--dump=measured", server)
        seconds = time.monotonic() - started
        instructions = measured_instructions(out)
    print(
        f"{variant:<12} {instructions / requests:>12,.0f} instructions per request "
        f"({requests} requests, {seconds:.0f} s under callgrind)"
    )
    return {
        "requests": requests,
        "instructions": instructions,
        "instructions_per_request": round(instructions / requests),
        "seconds": round(seconds, 1),
    }


def load(server: Server, token: str, sid: str, connections: int, mixes: int) -> int:
    """`mixes` rounds of the mix on each of `connections` connections at once: requests made."""
    bearer = {"Authorization": f"Bearer {token}"}
    failures: list[BaseException] = []

    def connection() -> None:
        client = Client(server.port, timeout=600)
        try:
            for _ in range(mixes):
                for method, path, body in mix(sid):
                    client.expect(method, path, 200, body, bearer)
        except BaseException as exc:  # reported by the caller
            failures.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=connection) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise BenchError(f"{len(failures)} connection(s) failed: {failures[0]}")
    return connections * mixes * len(mix(sid))


def callgrind_control(option: str, server: Server) -> None:
    done = subprocess.run(
        ["callgrind_control", option, str(server.process.pid)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"callgrind_control {option} failed: {done.stderr[-500:]}")


def measured_instructions(out: Path) -> int:
    """The instructions of the dump `callgrind_control --dump=measured` asked for (its
    `summary`, what callgrind_annotate calls the program's totals)."""
    for dump in sorted(out.parent.glob(out.name + "*")):
        text = dump.read_text(errors="replace")
        summary = re.search(r"^summary: (\d+)", text, re.MULTILINE)
        if summary and re.search(r"^desc: Trigger: dump measured$", text, re.MULTILINE):
            return int(summary.group(1))
    raise BenchError(f"no measured callgrind dump next to {out}")


def run(args: argparse.Namespace, run_id: str) -> dict[str, Any]:
    results = {variant: measure(args, run_id, variant) for variant in args.variants}
    off = results.get("off")
    deltas = {}
    if off is not None:
        base = off["instructions_per_request"]
        for variant, result in results.items():
            if variant != "off":
                extra = result["instructions_per_request"] - base
                deltas[variant] = {"per_request": extra, "fraction_of_off": round(extra / base, 4)}
    return {
        "benchmark": "security_instructions",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "source": source_revision(),
        "tool": valgrind_version(),
        "settings": {
            "mixes": args.mixes,
            "connections": args.connections,
            "warmup_mixes": WARMUP_MIXES,
            "roo_log_level": args.roo_log_level,
            "mix": [f"{m} {p.replace('{sid}', '{id}')}" for m, p, _ in mix("{id}")],
            "servers": {v: SERVERS[v][0] | HOURLY_SEALS for v in args.variants},
            "backends": describe_backends(args),
        },
        "results": results,
        "over_off": deltas,
    }


def valgrind_version() -> str:
    done = subprocess.run(["valgrind", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def print_summary(report: dict[str, Any], output: Path) -> None:
    print()
    print(
        f"security_instructions: callgrind, {report['settings']['connections']} connections x "
        f"{report['settings']['mixes']} mixes of 4 authenticated requests"
    )
    for variant, result in report["results"].items():
        extra = report["over_off"].get(variant)
        more = (
            f"  {extra['per_request']:+,} ({extra['fraction_of_off']:+.1%}) over off"
            if extra
            else ""
        )
        print(f"{variant:<12} {result['instructions_per_request']:>12,} per request{more}")
    print(f"written to {output}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__, DEFAULT_OUTPUT)
    parser.add_argument("--mixes", type=int, default=25, help="mixes per connection (25)")
    parser.add_argument("--connections", type=int, default=8, help="connections at once (8)")
    parser.add_argument(
        "--variants",
        default=",".join(DEFAULT_VARIANTS),
        help=f"comma-separated, of {', '.join(DEFAULT_VARIANTS)} ({','.join(DEFAULT_VARIANTS)})",
    )
    add_log_level_argument(parser)
    add_backend_arguments(parser)
    args = parser.parse_args(argv)
    require_at_least(parser, args, 1, "mixes", "connections")
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in args.variants if v not in DEFAULT_VARIANTS]
    if unknown or not args.variants:
        parser.error(f"--variants: unknown {', '.join(unknown) or '(none given)'}")
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        parser.error("needs valgrind and callgrind_control (apt-get install -y valgrind)")
    if args.output == DEFAULT_OUTPUT and args.database_url:
        args.output = RESULTS_DIR / "security_instructions-postgres.json"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return backend_bench_main("security_instructions", parse_args(argv), run, print_summary)


if __name__ == "__main__":
    sys.exit(main())
