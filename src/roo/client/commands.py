"""The `roo` client commands: `login`, `logout`, `sessions`, `task`, `files`, `tools`, `apikey`
(docs/client.md, "The `roo` client commands").

They talk to a roo-core service over its public API through `roo.client`, and import nothing of
the service (the import-linter contract of roo.client). `register(app)` adds them to the `roo`
typer app; this module imports only typer and the standard library at load time, the SDK and
rich when a command runs, so `roo serve` does not pay for them.

Credentials live in `$XDG_CONFIG_HOME/roo/credentials.json` (else `~/.config/roo/`; or in
`$ROO_CONFIG_DIR`), mode
0600 in a 0700 directory: the service's URL, the token pair (saved again whenever the client
refreshed it: refresh tokens rotate) or an API key, and the session the commands act on by
default (the last one created or used). `ROO_URL` and `ROO_API_KEY` override them.

Exit codes (`EXIT_CODES`): 0 done; 1 the task ended without completing (failed, cancelled
elsewhere, interrupted); 2 bad usage; 3 not signed in, or the credential was refused (401);
4 not permitted (403); 5 not found (404); 6 refused otherwise (409, 412, 413, 422, 429...);
7 the service cannot be reached or failed (connection error, 5xx); 130 cancelled with Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar
from uuid import UUID

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from roo.client.client import AsyncRooClient, RooClient
    from roo.client.models import SessionOut, TaskOut
    from roo.client.shared_tokens import TokenFile

T = TypeVar("T")

OK, TASK_NOT_COMPLETED, USAGE, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND = 0, 1, 2, 3, 4, 5
REFUSED, UNREACHABLE, CANCELLED = 6, 7, 130
EXIT_CODES = {
    OK: "done",
    TASK_NOT_COMPLETED: "the task ended without completing (failed, cancelled, interrupted)",
    USAGE: "bad usage (an unknown option, a missing argument, an invalid value)",
    UNAUTHENTICATED: "not signed in, or the credential was refused (401)",
    FORBIDDEN: "not permitted (403)",
    NOT_FOUND: "not found (404)",
    REFUSED: "the service refused the request (409, 412, 413, 422, 429...)",
    UNREACHABLE: "the service cannot be reached, or failed (5xx)",
    CANCELLED: "the task was cancelled with Ctrl-C",
}
DEFAULT_URL = "http://127.0.0.1:3000"
CREDENTIALS_FILE = "credentials.json"

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts)")]
SessionOpt = Annotated[
    str | None,
    typer.Option(
        "--session", "-s", help="Session id (or a unique prefix); default: the last one used"
    ),
]

# -- credentials ------------------------------------------------------------------------------


def config_dir() -> Path:
    """`$ROO_CONFIG_DIR`, else `$XDG_CONFIG_HOME/roo`, else `~/.config/roo` (a relative
    XDG_CONFIG_HOME is ignored, as the XDG specification says)."""
    if os.environ.get("ROO_CONFIG_DIR"):
        return Path(os.environ["ROO_CONFIG_DIR"]).absolute()
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "roo"


def credentials_path() -> Path:
    return config_dir() / CREDENTIALS_FILE


@dataclass
class Profile:
    """What `roo login` saves."""

    url: str
    email: str | None = None
    token: str | None = None
    refresh_token: str | None = None
    api_key: str | None = None
    session: str | None = None  # the session the commands use by default

    @classmethod
    def load(cls) -> Profile | None:
        path = credentials_path()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            fail(UNAUTHENTICATED, f"cannot read {path}: {exc}; sign in again with roo login")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known and isinstance(v, str)})

    def save(self) -> None:
        """Written whole to a new file (mode 0600, in a 0700 directory) renamed over the old."""
        directory = config_dir()
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            directory.chmod(0o700)
        path = directory / CREDENTIALS_FILE
        temporary = directory / f".{CREDENTIALS_FILE}.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump({k: v for k, v in asdict(self).items() if v is not None}, file, indent=2)
            file.write("\n")
        os.replace(temporary, path)


def fail(code: int, message: str) -> NoReturn:
    err_console().print(f"[red]roo:[/] {_escape(message)}")
    raise typer.Exit(code)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def emit_json(value: Any) -> None:
    """JSON on standard output: a model, a list of models, or plain data."""
    sys.stdout.write(json.dumps(_plain(value), indent=2) + "\n")


def _plain(value: Any) -> Any:
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, UUID):
        return str(value)
    return value


# -- the client and the errors ----------------------------------------------------------------


def current_profile() -> Profile:
    """The saved profile with the environment's overrides; exit 3 when there is no credential."""
    url = os.environ.get("ROO_URL")
    api_key = os.environ.get("ROO_API_KEY")
    profile = Profile.load()
    if api_key:
        saved = profile.session if profile and (not url or profile.url == url) else None
        return Profile(url=url or (profile.url if profile else DEFAULT_URL), api_key=api_key,
                       session=saved)  # fmt: skip
    if profile is None or not (profile.token or profile.api_key):
        fail(UNAUTHENTICATED, "not signed in: roo login --url URL")
    if url and url.rstrip("/") != profile.url.rstrip("/"):
        fail(UNAUTHENTICATED, f"signed in to {profile.url}, not {url}: roo login --url {url}")
    return profile


def token_file(profile: Profile) -> TokenFile:
    """The saved pair as the clients share it between processes (roo.client.shared_tokens)."""
    from roo.client.shared_tokens import TokenFile

    def load() -> tuple[str | None, str | None]:
        saved = Profile.load()
        if saved is None or saved.url != profile.url or saved.email != profile.email:
            return None, None  # signed out, or into something else, meanwhile
        return saved.token, saved.refresh_token

    def save(token: str | None, refresh_token: str | None) -> None:
        profile.token, profile.refresh_token = token, refresh_token
        saved = Profile.load()
        if saved is not None and (saved.url, saved.email) == (profile.url, profile.email):
            saved.token, saved.refresh_token = token, refresh_token
            saved.save()

    return TokenFile(config_dir() / ".credentials.lock", load, save)


@contextlib.contextmanager
def errors() -> Iterator[None]:
    """The SDK's exceptions as a message on standard error and an exit code."""
    import httpx

    from roo.client.errors import RooApiError, RooError, StreamRefused

    try:
        yield
    except RooApiError as error:
        code = {401: UNAUTHENTICATED, 403: FORBIDDEN, 404: NOT_FOUND}.get(error.status)
        if code is None:
            code = UNREACHABLE if error.status >= 500 else REFUSED
        detail = error.detail or ""
        problems = error.problem.get("errors")
        if isinstance(problems, list) and problems:
            detail += " " + "; ".join(
                f"{'.'.join(str(p) for p in item.get('loc', [])[1:])}: {item.get('msg')}"
                for item in problems
                if isinstance(item, dict)
            )
        hint = " (sign in again: roo login)" if code == UNAUTHENTICATED else ""
        fail(code, f"{error.status} {error.title}: {detail.strip()}{hint}".replace(": ()", ""))
    except StreamRefused as refused:
        fail(UNAUTHENTICATED if refused.code == 4401 else REFUSED, f"event stream: {refused}")
    except httpx.TransportError as error:
        fail(UNREACHABLE, f"cannot reach the service: {error or type(error).__name__}")
    except RooError as error:
        fail(REFUSED, str(error))


@contextlib.contextmanager
def client(profile: Profile | None = None) -> Iterator[tuple[RooClient, Profile]]:
    """A signed-in `RooClient`; a refreshed token pair is saved at once (shared_tokens)."""
    from roo.client.client import RooClient
    from roo.client.shared_tokens import SharedRooClient

    profile = profile or current_profile()
    if profile.api_key:
        roo = RooClient(profile.url, api_key=profile.api_key)
    else:
        roo = SharedRooClient(profile.url, token_file(profile), token=profile.token,
                              refresh_token=profile.refresh_token)  # fmt: skip
    with errors(), roo:
        yield roo, profile


def run_async(profile: Profile, work: Callable[[AsyncRooClient], Any]) -> Any:
    """`work(roo)` with a signed-in `AsyncRooClient` (a refreshed pair saved at once)."""
    from roo.client.client import AsyncRooClient
    from roo.client.shared_tokens import SharedAsyncRooClient

    async def main() -> Any:
        if profile.api_key:
            roo = AsyncRooClient(profile.url, api_key=profile.api_key)
        else:
            roo = SharedAsyncRooClient(profile.url, token_file(profile), token=profile.token,
                                       refresh_token=profile.refresh_token)  # fmt: skip
        async with roo:
            return await work(roo)

    with errors():
        try:
            return asyncio.run(main())
        except KeyboardInterrupt:  # before the task was started (after, it is cancelled)
            fail(CANCELLED, "interrupted")


def resolve_session(roo: RooClient, profile: Profile, given: str | None) -> UUID:
    """A session id from `--session` (a full id or a unique prefix), else the profile's."""
    value = given or profile.session
    if not value:
        fail(USAGE, "no session: give --session ID (roo sessions ls), or create one first")
    with contextlib.suppress(ValueError):
        return UUID(value)
    matches = [s.id for s in roo.iter_sessions() if str(s.id).startswith(value.lower())]
    return unique(matches, "session", value)


def unique(matches: Sequence[T], what: str, prefix: str) -> T:
    """The one match of an id prefix; exit 5 (none) or 2 (several)."""
    if not matches:
        fail(NOT_FOUND, f"no {what} whose id starts with {prefix}")
    if len(matches) > 1:
        fail(USAGE, f"more than one {what} whose id starts with {prefix}: give more of it")
    return matches[0]


def remember_session(profile: Profile, session_id: UUID) -> None:
    if profile.session != str(session_id) and not os.environ.get("ROO_API_KEY"):
        profile.session = str(session_id)
        profile.save()


def find_task(
    roo: RooClient, profile: Profile, task: str, session: str | None
) -> tuple[UUID, UUID]:
    """(session id, task id) of a task by id or unique prefix: in `--session`, else in the
    default session, else in any of yours."""
    from roo.client.errors import NotFound

    if session:
        candidates = [resolve_session(roo, profile, session)]
    else:
        candidates = [s.id for s in roo.iter_sessions()]
        if profile.session and UUID(profile.session) in candidates:
            candidates.remove(UUID(profile.session))
            candidates.insert(0, UUID(profile.session))
    with contextlib.suppress(ValueError):
        wanted = UUID(task)
        for session_id in candidates:
            with contextlib.suppress(NotFound):
                return session_id, roo.get_task(session_id, wanted).id
        fail(NOT_FOUND, f"no task {task}" + (f" in session {session}" if session else ""))
    matches = [
        (sid, t.id)
        for sid in candidates
        for t in roo.iter_tasks(sid)
        if str(t.id).startswith(task.lower())
    ]
    return unique(matches, "task", task)


def _when(value: Any) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value is not None else ""


def _short(text: str | None, width: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "..."


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        if column == "id":
            table.add_column(column, no_wrap=True)  # a whole id, to copy
        else:
            table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_escape(str(cell)) for cell in row))
    console().print(table)


def _fields(title: str, rows: Sequence[tuple[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, _escape("" if value is None else str(value)))
    console().print(table)


# -- login, logout ----------------------------------------------------------------------------


def login(
    url: Annotated[
        str | None,
        typer.Option(help="The service (default: ROO_URL, the saved one, or " + DEFAULT_URL + ")"),
    ] = None,
    email: Annotated[str | None, typer.Option(help="Sign in with this address (asked)")] = None,
    api_key: Annotated[
        bool, typer.Option("--api-key", help="Sign in with an API key instead (asked)")
    ] = False,
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the password or API key from standard input")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Sign in to a roo-core service, with a password or an API key, and save the credential."""
    from roo.client.client import RooClient
    from roo.client.errors import Forbidden

    saved = Profile.load()
    url = (url or os.environ.get("ROO_URL") or (saved.url if saved else DEFAULT_URL)).rstrip("/")
    if not url.startswith(("http://", "https://")):
        fail(USAGE, f"not an http(s) URL: {url}")
    if not api_key and not email:
        email = typer.prompt("Email", default=saved.email if saved and saved.email else None)
    label = "API key" if api_key else "Password"
    secret = sys.stdin.readline().rstrip("\r\n") if stdin else typer.prompt(label, hide_input=True)
    if not secret:
        fail(USAGE, f"no {label.lower()} given")
    profile = Profile(url=url, email=email)
    with errors(), RooClient(url, api_key=secret if api_key else None) as roo:
        if api_key:
            profile.api_key = secret
        else:
            pair = roo.login(email or "", secret)
            profile.token, profile.refresh_token = pair.token, pair.refresh_token
        try:
            me = roo.whoami()
            profile.email = me.email
        except Forbidden:  # a key without `profile:read`: it was accepted (not 401) all the same
            if not api_key:
                raise
            me = None
        profile.token = roo.credentials.access_token if not api_key else None
        profile.refresh_token = roo.credentials.refresh_token if not api_key else None
    if saved and saved.url == url and saved.email == profile.email:
        profile.session = saved.session
    profile.save()
    who = profile.email or "an API key without profile:read"
    if as_json:
        emit_json({"url": url, "email": profile.email, "via": me.via if me else "api_key",
                   "roles": me.roles if me else None,
                   "credentials": str(credentials_path())})  # fmt: skip
        return
    console().print(
        f"Signed in to [bold]{_escape(url)}[/] as [bold]{_escape(who)}[/] "
        f"({'API key' if api_key else 'password'}); credentials in {credentials_path()}"
    )


def logout(as_json: JsonOpt = False) -> None:
    """End the sign-in (its tokens are revoked) and forget the saved credential."""
    from roo.client.client import RooClient
    from roo.client.errors import RooApiError

    profile = Profile.load()
    revoked = False
    if profile and profile.token:
        import httpx

        with contextlib.suppress(RooApiError, httpx.TransportError), RooClient(
            profile.url, token=profile.token, refresh_token=profile.refresh_token
        ) as roo:  # fmt: skip
            roo.logout()
            revoked = True
    if profile:
        credentials_path().unlink(missing_ok=True)
    if as_json:
        emit_json({"signedOut": profile is not None, "revoked": revoked})
    elif profile is None:
        console().print("Not signed in.")
    else:
        note = "" if revoked or profile.api_key else " (the service could not be told)"
        kept = " The API key itself stays valid: roo apikey rm." if profile.api_key else ""
        console().print(f"Signed out of {_escape(profile.url)}{note}.{kept}")


# -- sessions ---------------------------------------------------------------------------------

sessions_app = typer.Typer(help="Your sessions (a workspace and its tasks).", no_args_is_help=True)


def _policy(groups: frozenset[str]) -> dict[str, bool]:
    return {
        "autoApproveRead": "read" in groups,
        "autoApproveWrite": "write" in groups,
        "autoApproveExecute": "commands" in groups,
    }


def _session_config(
    mode: str | None, provider: str | None, model: str | None, auto_approve: str | None
) -> dict[str, Any]:
    from roo.client.live import parse_groups

    config: dict[str, Any] = {}
    if mode:
        config["mode"] = mode
    if provider:
        config["provider"] = provider
    if model:
        config["model"] = model
    if auto_approve is not None:
        try:
            config["approvalPolicy"] = _policy(parse_groups(auto_approve))
        except ValueError as exc:
            fail(USAGE, str(exc))
    return config


ModeOpt = Annotated[str | None, typer.Option(help="Mode (code, architect, ask, debug...)")]
ProviderOpt = Annotated[str | None, typer.Option(help="Provider (anthropic, openai...)")]
ModelOpt = Annotated[str | None, typer.Option(help="Model id")]
AutoOpt = Annotated[
    str | None,
    typer.Option(
        "--auto-approve",
        help="Tool calls approved without asking: read,write,commands (or all, none)",
    ),
]


def _session_rows(items: Sequence[SessionOut]) -> list[list[Any]]:
    return [[s.id, s.name, s.state, s.config.mode, _when(s.last_active_at)] for s in items]


@sessions_app.command("ls")
def sessions_ls(
    state: Annotated[str | None, typer.Option(help="active, idle or archived")] = None,
    search: Annotated[str | None, typer.Option("--search", "-q", help="Name contains")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List your sessions, the most recently active first."""
    with client() as (roo, profile):
        items = list(roo.iter_sessions(state=state, q=search))
    if as_json:
        emit_json(items)
        return
    rows = [
        [("* " if str(s.id) == profile.session else "") + str(s.id), *row[1:]]
        for s, row in zip(items, _session_rows(items), strict=True)
    ]
    _table(f"{len(items)} sessions (* the default)", ["id", "name", "state", "mode", "active"],
           rows)  # fmt: skip


@sessions_app.command("new")
def sessions_new(
    name: Annotated[str | None, typer.Argument(help="A name")] = None,
    mode: ModeOpt = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    auto_approve: AutoOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a session (it becomes the default one)."""
    config = _session_config(mode, provider, model, auto_approve)
    with client() as (roo, profile):
        session = roo.create_session(name, config=config or None)
        remember_session(profile, session.id)
    if as_json:
        emit_json(session)
        return
    console().print(f"Created session [bold]{session.id}[/] ({_escape(session.name)})")


@sessions_app.command("show")
def sessions_show(session: Annotated[str | None, typer.Argument(help="Id or prefix; default: "
                                                                "the last one used")] = None,
                  as_json: JsonOpt = False) -> None:  # fmt: skip
    """A session's settings and its tasks."""
    with client() as (roo, profile):
        found = roo.get_session(resolve_session(roo, profile, session))
        tasks = list(roo.iter_tasks(found.id))
    if as_json:
        emit_json({"session": found, "tasks": tasks})
        return
    config = found.config
    policy = config.model_dump(by_alias=True).get("approvalPolicy") or {}
    auto = [g for g, key in (("read", "autoApproveRead"), ("write", "autoApproveWrite"),
                             ("commands", "autoApproveExecute")) if policy.get(key)]  # fmt: skip
    _fields("session", [
        ("id", found.id), ("name", found.name), ("state", found.state), ("mode", config.mode),
        ("provider", getattr(config, "provider", None) or "(the service's default)"),
        ("model", getattr(config, "model", None) or "(the service's default)"),
        ("auto-approve", ",".join(auto) or "none"), ("created", _when(found.created_at)),
        ("last active", _when(found.last_active_at)),
    ])  # fmt: skip
    _task_table(tasks)


@sessions_app.command("rm")
def sessions_rm(
    session: Annotated[str, typer.Argument(help="Id or unique prefix")],
    as_json: JsonOpt = False,
) -> None:
    """Delete a session, its workspace and its tasks."""
    with client() as (roo, profile):
        session_id = resolve_session(roo, profile, session)
        roo.delete_session(session_id)
        if profile.session == str(session_id):
            profile.session = None
            if not os.environ.get("ROO_API_KEY"):
                profile.save()
    if as_json:
        emit_json({"deleted": str(session_id)})
        return
    console().print(f"Deleted session {session_id}")


# -- tasks ------------------------------------------------------------------------------------

task_app = typer.Typer(help="Run and manage tasks.", no_args_is_help=True)


def _task_table(tasks: Sequence[TaskOut]) -> None:
    rows = []
    for t in tasks:
        cost = "" if t.usage.cost is None else f"${t.usage.cost:.4f}"
        rows.append([t.id, t.state, t.mode, t.model, _short(t.input, 50), cost,
                     _when(t.created_at)])  # fmt: skip
    _table(f"{len(tasks)} tasks", ["id", "state", "mode", "model", "input", "cost", "created"],
           rows)  # fmt: skip


def _stream(
    profile: Profile,
    session_id: UUID,
    start: Callable[[AsyncRooClient], Any],
    *,
    auto: frozenset[str],
    as_json: bool,
) -> int:
    """Start a run (`start(roo)` returns its TaskOut) and show it live until it ends."""
    from rich.console import Console

    from roo.client.live import Asker, Keyboard, TaskView, interruptible, last_seq

    async def work(roo: AsyncRooClient) -> int:
        after = await last_seq(roo, session_id)
        task = await start(roo)
        view = TaskView(Console(highlight=False), as_json=as_json)
        asker = Asker(roo, session_id, view, Keyboard(), auto=auto,
                      prompt_console=err_console() if as_json else None)  # fmt: skip
        if not as_json:
            view.line(f"[dim]task {task.id} in session {session_id} ({task.mode}, "
                      f"{task.provider}/{task.model}); Ctrl-C cancels it[/]")  # fmt: skip

        async def cancel() -> None:
            await roo.cancel(session_id, task.id)

        outcome = await interruptible(
            lambda: _watch(roo, session_id, task.id, after, view, asker), cancel
        )
        if as_json:  # the last line after the events' lines: {"outcome": ...}
            summary = {"taskId": str(task.id), "sessionId": str(session_id),
                       "state": outcome.state, "result": outcome.result,
                       "message": outcome.message}  # fmt: skip
            sys.stdout.write(json.dumps({"outcome": summary}) + "\n")
        elif outcome.state == "cancelled" and outcome.code == CANCELLED:
            view.line("[red]cancelled[/] (Ctrl-C)")
        return outcome.code

    return int(run_async(profile, work))


async def _watch(roo: Any, session_id: UUID, task_id: UUID, after: int, view: Any,
                 asker: Any) -> Any:  # fmt: skip
    from roo.client.live import watch

    return await watch(roo, session_id, task_id, after=after, view=view, asker=asker)


@task_app.command("run")
def task_run(
    prompt: Annotated[str, typer.Argument(help="What the agent is asked to do")],
    session: SessionOpt = None,
    new_session: Annotated[
        bool, typer.Option("--new", help="Run in a new session even if one is the default")
    ] = False,
    mode: ModeOpt = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    auto_approve: AutoOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a task and follow it live: text as it comes, tool calls, command output, progress;
    approvals are asked here (Ctrl-C cancels the task).

    Without --session it runs in a new session (which becomes the default one), whose policy
    is --auto-approve; in an existing session the --auto-approve groups are approved by this
    command on top of the session's own policy.
    """
    from roo.client.live import parse_groups

    try:
        auto = parse_groups(auto_approve)
    except ValueError as exc:
        fail(USAGE, str(exc))
    profile = current_profile()
    with client(profile) as (roo, profile):
        if session and not new_session:
            session_id = resolve_session(roo, profile, session)
        else:
            config = _session_config(None, None, None, auto_approve)
            created = roo.create_session(_short(prompt, 60), config=config or None)
            session_id = created.id
        remember_session(profile, session_id)
    code = _stream(
        profile,
        session_id,
        lambda roo: roo.create_task(
            session_id, prompt, mode=mode, provider=provider, model_name=model
        ),
        auto=auto,
        as_json=as_json,
    )
    raise typer.Exit(code)


@task_app.command("ls")
def task_ls(
    session: SessionOpt = None,
    state: Annotated[str | None, typer.Option(help="Only tasks in this state")] = None,
    all_sessions: Annotated[bool, typer.Option("--all", help="Tasks of every session")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List the tasks of a session (the default one), or of all with --all."""
    with client() as (roo, profile):
        if all_sessions:
            tasks = [t for s in roo.iter_sessions() for t in roo.iter_tasks(s.id, state=state)]
        else:
            tasks = list(roo.iter_tasks(resolve_session(roo, profile, session), state=state))
    if as_json:
        emit_json(tasks)
        return
    _task_table(tasks)


@task_app.command("show")
def task_show(
    task: Annotated[str, typer.Argument(help="Task id or unique prefix")],
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A task: its state, input, result or failure, usage and cost."""
    with client() as (roo, profile):
        detail = roo.get_task(*find_task(roo, profile, task, session))
    if as_json:
        emit_json(detail)
        return
    usage = detail.usage
    cost = "unknown" if usage.cost is None else f"${usage.cost:.4f}"
    failure = f"{detail.failure.reason}: {detail.failure.message or ''}" if detail.failure else None
    _fields("task", [
        ("id", detail.id), ("session", detail.session_id), ("state", detail.state),
        ("mode", detail.mode),
        ("model", f"{detail.provider}/{detail.model}"), ("input", detail.input),
        ("result", detail.result), ("failure", failure),
        ("usage", f"{usage.requests} requests, {usage.input_tokens:,} in / "
                  f"{usage.output_tokens:,} out, {cost}"),
        ("messages", len(detail.messages)), ("created", _when(detail.created_at)),
        ("finished", _when(detail.finished_at)),
    ])  # fmt: skip


@task_app.command("resume")
def task_resume(
    task: Annotated[str, typer.Argument(help="Task id or unique prefix")],
    message: Annotated[str | None, typer.Option(help="Say this as it resumes")] = None,
    session: SessionOpt = None,
    auto_approve: AutoOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Resume an interrupted (or failed, or cancelled) task and follow it live."""
    from roo.client.live import parse_groups

    try:
        auto = parse_groups(auto_approve)
    except ValueError as exc:
        fail(USAGE, str(exc))
    profile = current_profile()
    with client(profile) as (roo, profile):
        session_id, task_id = find_task(roo, profile, task, session)
    code = _stream(
        profile, session_id,
        lambda roo: roo.resume(session_id, task_id, message),
        auto=auto, as_json=as_json,
    )  # fmt: skip
    raise typer.Exit(code)


@task_app.command("cancel")
def task_cancel(
    task: Annotated[str, typer.Argument(help="Task id or unique prefix")],
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a running task (a finished one is deleted)."""
    with client() as (roo, profile):
        session_id, task_id = find_task(roo, profile, task, session)
        answer = roo.cancel(session_id, task_id)
    if as_json:
        emit_json({"taskId": str(task_id), "deleted": answer is None, "task": answer})
        return
    console().print(f"{'Deleted' if answer is None else 'Cancelled'} task {task_id}")


# -- files ------------------------------------------------------------------------------------

files_app = typer.Typer(help="The files of a session's workspace.", no_args_is_help=True)


@files_app.command("ls")
def files_ls(
    path: Annotated[str, typer.Argument(help="A directory of the workspace")] = "",
    recursive: Annotated[bool, typer.Option("--recursive", "-r")] = False,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a directory of the workspace (its root by default)."""
    with client() as (roo, profile):
        session_id = resolve_session(roo, profile, session)
        path = path.strip("/")
        listing = (
            roo.list_directory(session_id, path, recursive=recursive or None)
            if path
            else roo.list_files(session_id, recursive=recursive or None)
        )
    if as_json:
        emit_json(listing)
        return
    rows = [
        [e.name + ("/" if e.type == "dir" else ""), e.type, "" if e.size is None else e.size,
         _when(e.mtime)]
        for e in listing.entries
    ]  # fmt: skip
    more = " (truncated)" if listing.truncated else ""
    _table(f"/{listing.path.strip('/')}{more}", ["name", "type", "bytes", "modified"], rows)


@files_app.command("get")
def files_get(
    path: Annotated[str, typer.Argument(help="A file of the workspace")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write it here ('-': standard output)")
    ] = None,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Download a file (to its name in the current directory by default)."""
    with client() as (roo, profile):
        session_id = resolve_session(roo, profile, session)
        download = roo.download_file(session_id, path.strip("/"))
    if output is not None and str(output) == "-":
        sys.stdout.buffer.write(download.content)
        sys.stdout.flush()
        return
    target = output or Path(Path(path).name)
    target.write_bytes(download.content)
    if as_json:
        emit_json({"path": path, "output": str(target), "bytes": len(download.content),
                   "etag": download.etag})  # fmt: skip
        return
    console().print(f"Downloaded {_escape(path)} to {_escape(str(target))} "
                    f"({len(download.content)} bytes)")  # fmt: skip


@files_app.command("put")
def files_put(
    local: Annotated[Path, typer.Argument(help="A local file", exists=True, dir_okay=False)],
    path: Annotated[
        str | None, typer.Argument(help="Where in the workspace (default: its name)")
    ] = None,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload a file (creating its directories)."""
    content = local.read_bytes()
    with client() as (roo, profile):
        session_id = resolve_session(roo, profile, session)
        info = roo.upload_file(session_id, (path or local.name).strip("/"), content, parents=True)
    if as_json:
        emit_json(info)
        return
    console().print(f"{'Created' if info.created else 'Replaced'} {_escape(info.path)} "
                    f"({info.size} bytes)")  # fmt: skip


@files_app.command("rm")
def files_rm(
    path: Annotated[str, typer.Argument(help="A file or directory of the workspace")],
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="A directory too")] = False,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a file (or a directory with -r)."""
    with client() as (roo, profile):
        session_id = resolve_session(roo, profile, session)
        roo.delete_file(session_id, path.strip("/"), recursive=recursive or None)
    if as_json:
        emit_json({"deleted": path})
        return
    console().print(f"Deleted {_escape(path)}")


# -- tools ------------------------------------------------------------------------------------

tools_app = typer.Typer(help="The agent's tools, run directly.", no_args_is_help=True)


@tools_app.command("ls")
def tools_ls(as_json: JsonOpt = False) -> None:
    """List the tools (those marked direct can be run with roo tools run)."""
    with client() as (roo, _):
        tools = roo.list_tools()
    if as_json:
        emit_json(tools)
        return
    _table(f"{len(tools)} tools", ["name", "category", "direct", "description"], [
        [t.name, t.category, "yes" if t.directly_executable else "", _short(t.description, 70)]
        for t in tools
    ])  # fmt: skip


@tools_app.command("run")
def tools_run(
    tool: Annotated[str, typer.Argument(help="The tool's name")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="NAME=VALUE (repeat); VALUE as JSON when it parses"),
    ] = None,
    params_json: Annotated[
        str | None, typer.Option("--params", help="All the parameters as a JSON object")
    ] = None,
    session: SessionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a tool in a session's workspace, as the agent would."""
    params: dict[str, Any] = {}
    if params_json:
        try:
            loaded = json.loads(params_json)
        except ValueError as exc:
            fail(USAGE, f"--params is not JSON: {exc}")
        if not isinstance(loaded, dict):
            fail(USAGE, "--params must be a JSON object")
        params.update(loaded)
    for item in param or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            fail(USAGE, f"--param {item!r}: use NAME=VALUE")
        try:
            params[name] = json.loads(value)
        except ValueError:
            params[name] = value
    with client() as (roo, profile):
        session_id = resolve_session(roo, profile, session)
        result = roo.run_tool(session_id, tool, params)
    if as_json:
        emit_json(result)
    else:
        text = "\n".join(block.text or "" for block in result.content if block.type == "text")
        (err_console() if result.is_error else console()).print(_escape(text))
    if result.is_error:
        raise typer.Exit(REFUSED)


# -- API keys ---------------------------------------------------------------------------------

apikey_app = typer.Typer(help="Your API keys.", no_args_is_help=True)


@apikey_app.command("new")
def apikey_new(
    name: Annotated[str, typer.Argument(help="A name to know it by")],
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="A permission (repeat); default: all of yours"),
    ] = None,
    expires: Annotated[
        str | None, typer.Option(help="Expiry, ISO 8601 with a time zone (default: never)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key; its secret is shown once."""
    with client() as (roo, _):
        scopes = scope or roo.whoami().permissions
        created = roo.create_api_key(name, scopes, expires_at=expires)
    if as_json:
        emit_json(created)
        return
    console().print(f"Created API key [bold]{_escape(created.name)}[/] ({created.id}), "
                    f"scopes {', '.join(created.scopes)}. Its secret, shown only now:")  # fmt: skip
    sys.stdout.write(created.key + "\n")


@apikey_app.command("ls")
def apikey_ls(as_json: JsonOpt = False) -> None:
    """List your API keys (not their secrets)."""
    with client() as (roo, _):
        keys = roo.list_api_keys()
    if as_json:
        emit_json(keys)
        return
    _table(f"{len(keys)} API keys", ["id", "name", "prefix", "scopes", "expires", "last used",
                                      "revoked"], [
        [k.id, k.name, k.prefix, ", ".join(k.scopes), _when(k.expires_at), _when(k.last_used_at),
         _when(k.revoked_at)] for k in keys
    ])  # fmt: skip


@apikey_app.command("rm")
def apikey_rm(
    key: Annotated[str, typer.Argument(help="The key's id (or unique prefix)")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke an API key."""
    with client() as (roo, _):
        keys = [k for k in roo.list_api_keys() if str(k.id).startswith(key.lower())]
        unique(keys, "API key", key)
        roo.revoke_api_key(keys[0].id)
    if as_json:
        emit_json({"revoked": str(keys[0].id)})
        return
    console().print(f"Revoked API key {keys[0].name} ({keys[0].id})")


# -- registration on the `roo` app ------------------------------------------------------------


COMMANDS = ("login", "logout", "sessions", "task", "files", "tools", "apikey")


def register(app: typer.Typer) -> None:
    """Add the client commands to a typer app."""
    app.command(rich_help_panel="Client")(login)
    app.command(rich_help_panel="Client")(logout)
    for sub, name in ((sessions_app, "sessions"), (task_app, "task"), (files_app, "files"),
                      (tools_app, "tools"), (apikey_app, "apikey")):  # fmt: skip
        app.add_typer(sub, name=name, rich_help_panel="Client")


@functools.cache
def click_group() -> Any:
    """The client commands as one group, whose commands `roo` (roo.cli.RooGroup) hands on."""
    client_app = typer.Typer()
    register(client_app)
    return typer.main.get_group(client_app)
