"""The service's CPU per load-test scenario, for two versions of the code side by side.

The load test (`loadtest.py`) reports the service's CPU over a phase, but with artillery on the
same two cores its figure moves by 10-20% between identical runs: too much to see a change of
that size. This benchmark measures what the service spends on one scenario, the load test's
token scenario (profile, create a session, start a task the fake LLM completes at once, 0.5 s
pause, read the task, delete the session), driven by a few client threads with no pacing, so
that nothing but the service's own work is counted:

- one `roo serve` per source tree (`--source NAME=PATH`, PATH a tree whose `src/` is put first
  on the service's PYTHONPATH, e.g. a `git worktree` of an older commit), each on its own scratch
  database (PostgreSQL with --database-url) and Redis prefix, all running at once;
- rounds taken in turn (A, B, A, B...), so both versions see the same machine;
- per round: the CPU seconds of the service's process tree (user + system, /proc) over the
  round and one second after it (the last runs' ends), divided by the scenarios it completed;
  the service's idle CPU over `--idle-seconds` after the rounds is reported beside it (sweeps,
  the audit sealer: about 1% of a core, a few tenths of a millisecond per scenario of a round).

Reported per version: the median CPU per scenario (ms) over the rounds, and each version's
ratio to the first one. JSON in bench/results/scenario_cpu.json.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import (
    RESULTS_DIR,
    BenchError,
    Client,
    User,
    add_backend_arguments,
    add_source_argument,
    backend_env,
    bench_email,
    bench_parser,
    check_backends,
    describe_backends,
    machine_info,
    redis_cleaned,
    report_and_exit,
    server_env,
    source_revision,
)
from loadtest import DONE_REPLY, Service, create_accounts, roo_serve, sign_in_all, tree_usage

from roo.testing.databases import scratch_database
from tasks import LLM_KEY, MODEL, PROVIDER, fake_llm

PAUSE_SECONDS = 0.5  # the scenario's think time, as in examples/load-test.yml


def scenario(client: Client, user: User) -> None:
    """The load test's token scenario, each answer checked."""
    auth = user.bearer
    client.expect("GET", "/api/v1/auth/profile", 200, headers=auth)
    session, _ = client.expect("POST", "/api/v1/sessions", 201, {"name": "cpu"}, headers=auth)
    base = f"/api/v1/sessions/{session['id']}"
    task, _ = client.expect("POST", f"{base}/tasks", 202, {"input": "do it"}, headers=auth)
    time.sleep(PAUSE_SECONDS)
    client.expect("GET", f"{base}/tasks/{task['id']}", 200, headers=auth)
    client.expect("DELETE", base, 204, headers=auth)


def run_round(service: Service, users: list[User], per_user: int) -> dict[str, float]:
    """`per_user` scenarios by each user's thread at once; the service's CPU per scenario."""
    errors: list[BaseException] = []

    def drive(user: User) -> None:
        client = Client(service.port, timeout=30)
        try:
            for _ in range(per_user):
                scenario(client, user)
        except BaseException as exc:  # reported after the round
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=drive, args=(user,)) for user in users]
    cpu_before = cpu_seconds(service)
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    time.sleep(1.0)  # the last runs' ends and the audit sealer's next pass land in this round
    cpu_after = cpu_seconds(service)
    if errors:
        raise BenchError(f"a scenario failed: {errors[0]}")
    scenarios = per_user * len(users)
    return {
        "scenarios": scenarios,
        "seconds": round(wall, 2),
        "cpu_ms_per_scenario": round(1000 * (cpu_after - cpu_before) / scenarios, 2),
    }


def cpu_seconds(service: Service) -> float:
    """CPU seconds the service's processes have used so far."""
    return tree_usage(service.process.pid)[0]


def idle_cpu_percent(service: Service, seconds: float) -> float:
    before = cpu_seconds(service)
    time.sleep(seconds)
    return round(100 * (cpu_seconds(service) - before) / seconds, 2)


@contextlib.contextmanager
def service_for(
    args: argparse.Namespace, name: str, tree: Path, workdir: Path, llm_url: str, users: list[User]
) -> Iterator[Service]:
    run_id = f"{args.run_id}{name}"
    with (
        redis_cleaned(args, run_id),
        scratch_database(args.database_url, workdir, f"roo_cpu_{run_id}") as database_url,
    ):
        extra = backend_env(database_url if args.database_url else None, args.redis, run_id) | {
            "OPENAI_BASE_URL": llm_url,
            "OPENAI_API_KEY": LLM_KEY,
            "ROO_DEFAULT_PROVIDER": PROVIDER,
            "ROO_DEFAULT_MODEL": MODEL,
            "ROO_TASK_CREATE_LIMIT": "1000000/minute",
            "PYTHONPATH": str(tree / "src"),
        }
        data_dir = workdir / "roo-data"
        data_dir.mkdir()
        env = server_env("roo", data_dir, args.log_level, extra)
        create_accounts(env, users)
        with roo_serve(workdir, env, 1) as service:
            sign_in_all(service.port, users)
            yield service


def run(args: argparse.Namespace) -> dict[str, Any]:
    check_backends(args)
    sources = [(name, Path(path).resolve()) for name, path in args.source]
    for name, tree in sources:
        if not (tree / "src" / "roo").is_dir():
            raise BenchError(f"--source {name}: {tree}/src/roo is not a directory")
    args.run_id = secrets.token_hex(3)
    measured: dict[str, list[dict[str, float]]] = {name: [] for name, _ in sources}
    idle: dict[str, float] = {}
    users_of: dict[str, list[User]] = {}
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roo-cpu-")))
        llm = stack.enter_context(fake_llm(tmp, default_reply=DONE_REPLY))
        services: dict[str, Service] = {}
        for name, tree in sources:
            users = [
                User(bench_email(f"cpu-{name}-{i}", args.run_id, False), f"pw-{i}-long-enough")
                for i in range(args.clients)
            ]
            workdir = tmp / name
            workdir.mkdir()
            service = stack.enter_context(
                service_for(args, name, tree, workdir, llm.base_url, users)
            )
            services[name], users_of[name] = service, users
            run_round(service, users, 2)  # warm-up: imports, caches, prepared statements
        for round_number in range(args.rounds):
            for name, _ in sources:
                figures = run_round(services[name], users_of[name], args.per_client)
                measured[name].append(figures)
                print(
                    f"round {round_number + 1} {name:<8} {figures['cpu_ms_per_scenario']:>7.2f} "
                    f"ms CPU/scenario ({figures['scenarios']} in {figures['seconds']} s)"
                )
        for name, _ in sources:
            idle[name] = idle_cpu_percent(services[name], args.idle_seconds)
    first = sources[0][0]
    medians = {
        name: statistics.median(r["cpu_ms_per_scenario"] for r in rounds)
        for name, rounds in measured.items()
    }
    return {
        "benchmark": "scenario_cpu",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(),
        "source": source_revision(),
        "settings": {
            "sources": {name: source_revision(tree) for name, tree in sources},
            "clients": args.clients,
            "scenarios_per_client_per_round": args.per_client,
            "rounds": args.rounds,
            **describe_backends(args),
        },
        "results": {
            name: {
                "cpu_ms_per_scenario_median": round(medians[name], 2),
                "ratio_to_" + first: round(medians[name] / medians[first], 3),
                "idle_cpu_percent": idle[name],
                "rounds": measured[name],
            }
            for name in measured
        },
    }


def print_summary(report: dict[str, Any], output: Path) -> None:
    first = next(iter(report["results"]))
    for name, figures in report["results"].items():
        print(
            f"{name:<10} {figures['cpu_ms_per_scenario_median']:>7.2f} ms CPU per scenario "
            f"(median), {figures['ratio_to_' + first]:.3f} of {first}; idle "
            f"{figures['idle_cpu_percent']}% of a core"
        )
    print(f"written to {output}")


def main() -> int:
    parser = bench_parser(__doc__, RESULTS_DIR / "scenario_cpu.json")
    add_backend_arguments(parser)
    add_source_argument(parser, required=True)
    parser.add_argument("--clients", type=int, default=6, help="client threads (one user each)")
    parser.add_argument("--per-client", type=int, default=10, help="scenarios per client a round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    return report_and_exit("scenario_cpu", lambda: run(args), args.output, print_summary)


if __name__ == "__main__":
    raise SystemExit(main())
