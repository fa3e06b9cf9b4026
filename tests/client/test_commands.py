"""The `roo` client commands (roo.client.commands) as a person and a script use them: the
installed `roo` console script against a live `roo serve` whose model is the fake LLM.
`roo task run` is driven in a pseudo-terminal (pexpect): the approval answered at the prompt,
Ctrl-C cancelling the task."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pexpect
import pytest

from roo.testing.fake_llm import Failure, FakeLLM, Reply, ToolCall, Usage
from tests.e2e.server import ROO, LiveServer, fake_llm_env, running_server
from tests.support.databases import is_postgres
from tests.tasks.conftest import LLM_KEY

PASSWORD = "correct horse battery staple"
TIMEOUT = 60  # seconds a step of a pseudo-terminal dialogue may take on a loaded machine


@dataclass
class Service:
    server: LiveServer
    llm: FakeLLM

    @property
    def url(self) -> str:
        return self.server.base_url


@pytest.fixture(scope="module")
def service(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One `roo serve` (registration open, the fake LLM as its OpenAI model) for the module."""
    work = tmp_path_factory.mktemp("commands")
    with FakeLLM(api_key=LLM_KEY) as llm:
        env = {
            "ROO_ALLOW_REGISTRATION": "true",
            **fake_llm_env(llm, LLM_KEY),
        }
        with running_server(
            work / "server", data_dir=work / "server" / "data",
            database_url=database_url if is_postgres(database_url) else None, extra_env=env,
        ) as server:  # fmt: skip
            yield Service(server, llm)


@dataclass
class User:
    """A registered account and a config directory of its own for the commands."""

    service: Service
    email: str
    config: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROO_")}
        env.update({"XDG_CONFIG_HOME": str(self.config), "COLUMNS": "200", **extra})
        return env

    def roo(
        self, *args: str, stdin: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ROO), *args], input=stdin, env=self.env(**env), text=True,
            capture_output=True, timeout=TIMEOUT, cwd=self.config,
        )  # fmt: skip

    def json(self, *args: str, stdin: str | None = None, **env: str) -> Any:
        done = self.roo(*args, "--json", stdin=stdin, **env)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def login(self) -> None:
        done = self.roo("login", "--url", self.service.url, "--email", self.email, "--stdin",
                        stdin=PASSWORD + "\n")  # fmt: skip
        assert done.returncode == 0, done.stderr

    def spawn(self, *args: str) -> pexpect.spawn:
        child = pexpect.spawn(
            str(ROO), list(args), env=self.env(TERM="xterm-256color"), encoding="utf-8",
            timeout=TIMEOUT, dimensions=(50, 200), cwd=str(self.config),
        )  # fmt: skip
        child.logfile_read = sys.stdout  # shown by pytest when the test fails
        return child

    @property
    def credentials(self) -> Path:
        return self.config / "roo" / "credentials.json"


@pytest.fixture
def user(service: Service, tmp_path: Path) -> User:
    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    answer = httpx.post(f"{service.url}/api/v1/auth/register",
                        json={"email": email, "password": PASSWORD}, trust_env=False)  # fmt: skip
    assert answer.status_code == 202, answer.text
    config = tmp_path / "config"
    config.mkdir()
    service.llm.reset()
    return User(service, email, config)


def test_task_run_streams_live_and_asks_approval_at_the_prompt(user: User, tmp_path: Path) -> None:
    user.login()
    session = user.json("sessions", "new", "pty", "--auto-approve", "read")["id"]
    notes = tmp_path / "notes.txt"
    notes.write_text("the notes say hello\n")
    assert user.json("files", "put", str(notes))["path"] == "notes.txt"  # the default session
    user.service.llm.script(
        Reply(text="Reading the notes first.", usage=Usage(input_tokens=1200, output_tokens=30),
              tool_calls=[ToolCall("read_file", {"path": "notes.txt"})]),
        Reply(tool_calls=[ToolCall("execute_command", {"command": "echo from-the-command"})]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "The notes greet."})]),
    )  # fmt: skip
    child = user.spawn("task", "run", "Summarise notes.txt", "--session", session[:8])
    child.expect("Reading the notes first.")
    child.expect(r"step 1 \| tokens 1,200 in / 30 out \| \$")  # the progress line
    child.expect(r"> read_file")  # auto-approved by the session's policy: no question
    child.expect(r"approve execute_command echo from-the-command")
    child.expect(r"\[y\]es, \[n\]o, \[a\]lways")
    child.sendline("y")
    child.expect("approved")
    child.expect("from-the-command")  # the command's output, live
    child.expect("completed")
    child.expect("The notes greet.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    requests = user.service.llm.requests
    assert "the notes say hello" in json.dumps(requests[1].messages)
    assert "from-the-command" in json.dumps(requests[2].messages)  # it ran: it was approved
    tasks = user.json("task", "ls")
    assert [t["state"] for t in tasks] == ["completed"]
    shown = user.json("task", "show", tasks[0]["id"][:6])
    assert shown["result"] == "The notes greet."
    assert shown["usage"]["inputTokens"] >= 1200


def test_a_refusal_typed_at_the_prompt_reaches_the_model(user: User) -> None:
    user.login()
    user.service.llm.script(
        Reply(tool_calls=[ToolCall("write_to_file", {"path": "a.txt", "content": "x\n"})]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Left it alone."})]),
    )
    child = user.spawn("task", "run", "Write a.txt")  # a new session: writes ask
    child.expect(r"approve write_to_file a.txt")
    child.expect(r"a reason to refuse: ")
    child.sendline("not today")
    child.expect("denied, with your reason")
    child.expect("Left it alone.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "not today" in json.dumps(user.service.llm.requests[1].messages)
    assert user.roo("files", "get", "a.txt").returncode == 5  # not written


def test_a_task_paused_by_its_request_limit_goes_on_when_told_at_the_prompt(
    user: User,
) -> None:
    """Roo's allowedMaxRequests pauses the task with a yes/no ask (not a question in words)."""
    user.login()
    token = json.loads(user.credentials.read_text())["token"]
    made = httpx.post(
        f"{user.service.url}/api/v1/sessions", trust_env=False,
        headers={"Authorization": f"Bearer {token}"},
        json={"name": "limited", "config": {"approvalPolicy": {"allowedMaxRequests": 1}}},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    user.service.llm.script(
        Reply(text="First look.", tool_calls=[ToolCall("list_files", {"path": "."})]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Went on."})]),
    )
    child = user.spawn("task", "run", "Look around", "--session", made.json()["id"])
    child.expect(r"paused:")
    child.expect(r"Go on\? \[y/n\]")
    child.sendline("y")
    child.expect("Went on.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert len(user.service.llm.requests) == 2


def test_ctrl_c_cancels_the_task(user: User) -> None:
    user.login()
    llm = user.service.llm
    llm.script(Reply(text="Thinking about it " * 20, chunk_size=10, hold_after=2))
    child = user.spawn("task", "run", "Take your time")
    child.expect(r"task ([0-9a-f-]{36}) in session")
    task_id = child.match.group(1)
    child.expect("Thinking about it")
    child.sendintr()
    child.expect(r"cancelled")
    child.expect(pexpect.EOF)
    child.close()
    llm.release()
    assert child.exitstatus == 130
    assert user.json("task", "show", task_id)["state"] == "cancelled"


def test_a_question_answered_by_number_then_ctrl_c_at_a_prompt(user: User) -> None:
    user.login()
    question = {"question": "Which greeting?", "follow_up": [{"text": "hello"}, {"text": "hi"}]}
    user.service.llm.script(
        Reply(tool_calls=[ToolCall("ask_followup_question", question)]),
        Reply(tool_calls=[ToolCall("execute_command", {"command": "echo hi"})]),
    )
    child = user.spawn("task", "run", "Greet")
    child.expect(r"task ([0-9a-f-]{36}) in session")
    task_id = child.match.group(1)
    child.expect("Which greeting?")
    child.expect(r"hello.*hi")  # the suggestions, numbered
    child.expect(r"a number or words")
    child.sendline("2")  # the second suggestion
    child.expect(r"approve execute_command echo hi")
    child.expect(r"a reason to refuse: ")
    child.sendintr()  # at the prompt: the task is cancelled all the same
    child.expect("cancelled")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert "<user_message>\\nhi\\n</user_message>" in json.dumps(
        user.service.llm.requests[1].body["messages"]
    )
    assert user.json("task", "show", task_id)["state"] == "cancelled"


def test_task_run_json_lines_and_exit_codes(user: User) -> None:
    user.login()
    user.service.llm.script(
        Reply(text="Done quickly.",
              tool_calls=[ToolCall("attempt_completion", {"result": "Quick."})]),
        Failure(400, "the fake model refuses this one"),
    )  # fmt: skip
    done = user.roo("task", "run", "Be quick", "--json", "--auto-approve", "all")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    events = [line["event"] for line in lines[:-1]]
    assert "message" in events
    assert "task.progress" in events
    assert events[-1] == "task.complete"
    assert lines[-1]["outcome"]["state"] == "completed"
    assert lines[-1]["outcome"]["result"] == "Quick."
    session = lines[-1]["outcome"]["sessionId"]

    failed = user.roo("task", "run", "Fail", "--json", "--session", session)
    assert failed.returncode == 1, failed.stdout  # the task did not complete
    assert json.loads(failed.stdout.splitlines()[-1])["outcome"]["state"] == "failed"
    states = sorted(t["state"] for t in user.json("task", "ls", "--session", session))
    assert states == ["completed", "failed"]

    # resumed, it goes on from its last step and completes this time
    failed_id = json.loads(failed.stdout.splitlines()[-1])["outcome"]["taskId"]
    user.service.llm.script(
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Recovered."})])
    )
    resumed = user.roo("task", "resume", failed_id[:8], "--json", "--message", "Try again")
    assert resumed.returncode == 0, resumed.stderr
    outcome = json.loads(resumed.stdout.splitlines()[-1])["outcome"]
    assert outcome == {**outcome, "taskId": failed_id, "state": "completed", "result": "Recovered."}
    assert "Try again" in json.dumps(user.service.llm.requests[-1].messages)

    # nobody at the keyboard (standard input at its end): an approval is denied, with a reason
    user.service.llm.script(
        Reply(tool_calls=[ToolCall("write_to_file", {"path": "b.txt", "content": "b\n"})]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Did not write."})]),
    )
    unattended = user.roo("task", "run", "Write b.txt", "--json", "--new", stdin="")
    assert unattended.returncode == 0, unattended.stderr
    assert "no answer (end of input): denied" in unattended.stderr
    assert "No one answered the approval." in json.dumps(user.service.llm.requests[-1].messages)

    bad = user.roo("task", "run", "x", "--auto-approve", "everything")
    assert bad.returncode == 2
    assert "unknown auto-approval group everything" in bad.stderr


def test_login_saves_credentials_0600_and_logout_forgets_them(user: User) -> None:
    assert user.roo("sessions", "ls").returncode == 3  # not signed in
    assert "roo login" in user.roo("sessions", "ls").stderr
    wrong = user.roo("login", "--url", user.service.url, "--email", user.email, "--stdin",
                     stdin="not the password\n")  # fmt: skip
    assert wrong.returncode == 3
    assert not user.credentials.exists()

    user.login()
    assert stat.S_IMODE(user.credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(user.credentials.parent.stat().st_mode) == 0o700
    saved = json.loads(user.credentials.read_text())
    assert saved["url"] == user.service.url
    assert saved["email"] == user.email
    assert saved["token"]
    assert saved["refresh_token"]
    assert user.json("sessions", "ls") == []

    out = user.json("logout")
    assert out == {"signedOut": True, "revoked": True}
    assert not user.credentials.exists()
    assert user.roo("sessions", "ls").returncode == 3
    # the sign-in was ended on the service too: its refresh token is refused
    refused = httpx.post(f"{user.service.url}/api/v1/auth/refresh", trust_env=False,
                         json={"refreshToken": saved["refresh_token"]})  # fmt: skip
    assert refused.status_code == 401


def test_concurrent_commands_refresh_an_expired_token_once(user: User) -> None:
    """Refresh tokens rotate, and a reused one ends the sign-in: four commands started at once
    with an expired access token refresh once between them (the credentials file's lock)."""
    user.login()
    saved = json.loads(user.credentials.read_text())
    header, payload, signature = saved["token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] = 1  # long expired: each command refreshes before its first request
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    user.credentials.write_text(json.dumps({**saved, "token": f"{header}.{forged}.{signature}"}))
    commands = [
        subprocess.Popen([str(ROO), "sessions", "ls", "--json"], env=user.env(), text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]  # fmt: skip
    results = [(*command.communicate(timeout=TIMEOUT), command.returncode) for command in commands]
    assert [code for *_, code in results] == [0, 0, 0, 0], results
    renewed = json.loads(user.credentials.read_text())
    assert renewed["refresh_token"] != saved["refresh_token"]
    assert stat.S_IMODE(user.credentials.stat().st_mode) == 0o600
    assert user.json("sessions", "ls") == []  # the pair saved last is the live one


def test_sessions_files_and_tools(user: User, tmp_path: Path) -> None:
    user.login()
    made = user.json("sessions", "new", "files", "--mode", "architect")
    assert made["config"]["mode"] == "architect"
    assert [s["id"] for s in user.json("sessions", "ls")] == [made["id"]]
    listed = user.roo("sessions", "ls")  # for a person: a table, the default session marked
    assert listed.returncode == 0
    assert f"* {made['id']}" in listed.stdout

    local = tmp_path / "hello.py"
    local.write_text("print('hello')\n")
    put = user.json("files", "put", str(local), "src/hello.py")
    assert put["path"] == "src/hello.py"
    assert put["created"] is True
    names = [e["name"] for e in user.json("files", "ls", "src")["entries"]]
    assert names == ["hello.py"]
    got = user.roo("files", "get", "src/hello.py", "-o", "-")
    assert got.returncode == 0
    assert got.stdout == "print('hello')\n"
    user.json("files", "get", "src/hello.py", "-o", str(tmp_path / "copy.py"))
    assert (tmp_path / "copy.py").read_text() == "print('hello')\n"

    tools = {t["name"]: t for t in user.json("tools", "ls")}
    assert tools["read_file"]["directlyExecutable"] is True
    ran = user.json("tools", "run", "read_file", "-p", "path=src/hello.py")
    assert ran["isError"] is False
    assert "print('hello')" in ran["content"][0]["text"]
    missing = user.roo("tools", "run", "read_file", "-p", "path=nope.txt")
    assert missing.returncode == 6  # the tool failed

    assert user.json("files", "rm", "src", "--recursive") == {"deleted": "src"}
    assert user.roo("files", "get", "src/hello.py").returncode == 5  # not found
    shown = user.json("sessions", "show", made["id"][:8])
    assert shown["session"]["id"] == made["id"]
    assert shown["tasks"] == []
    assert user.json("sessions", "rm", made["id"]) == {"deleted": made["id"]}
    assert user.roo("sessions", "show", made["id"]).returncode == 5
    assert user.roo("files", "ls").returncode == 2  # no default session any more


def test_api_keys(user: User) -> None:
    user.login()
    created = user.json("apikey", "new", "ci", "--scope", "sessions:read")
    assert created["scopes"] == ["sessions:read"]
    assert created["key"]
    assert [k["name"] for k in user.json("apikey", "ls")] == ["ci"]
    # a script uses the key from the environment...
    assert user.json("sessions", "ls", ROO_API_KEY=created["key"], ROO_URL=user.service.url) == []
    # ...whose scope does not cover creating a session: 403
    denied = user.roo("sessions", "new", ROO_API_KEY=created["key"], ROO_URL=user.service.url)
    assert denied.returncode == 4, denied.stderr
    # or signs in with it
    other = user.config / "key-login"
    other.mkdir()
    login = user.roo("login", "--url", user.service.url, "--api-key", "--stdin",
                     stdin=created["key"] + "\n", XDG_CONFIG_HOME=str(other))  # fmt: skip
    assert login.returncode == 0, login.stderr
    saved = json.loads((other / "roo" / "credentials.json").read_text())
    assert saved["api_key"] == created["key"]
    assert "token" not in saved

    assert user.json("apikey", "rm", created["id"][:8]) == {"revoked": created["id"]}
    revoked = user.roo("sessions", "ls", ROO_API_KEY=created["key"], ROO_URL=user.service.url)
    assert revoked.returncode == 3
    assert user.roo("apikey", "rm", "ffffffff").returncode == 5


def test_the_server_commands_do_not_load_the_client() -> None:
    from roo.cli import CLIENT_COMMANDS
    from roo.client.commands import COMMANDS, EXIT_CODES

    assert CLIENT_COMMANDS == COMMANDS
    assert sorted(EXIT_CODES) == [0, 1, 2, 3, 4, 5, 6, 7, 130]
    probe = (
        "import sys, roo.cli; print(sorted(m for m in sys.modules if m.startswith('roo.client')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
