"""The web console in headless Chromium against a live `roo serve` and the fake LLM: what a
person does, end to end, through the public API only.

One long test walks the main path in order (each step needs the previous one's state): sign in,
a session, a task whose streamed text and tool calls show live, approvals answered in the page,
the WebSocket dropped while the task goes on (nothing missed or doubled after the reconnect), a
follow-up question answered with a suggestion, the completion, the edited file, an edit conflict
(412, shown and not overwritten), a reload that keeps the sign-in, and sign-out.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, WebSocketRoute, expect

from roo.testing.fake_llm import FakeLLM, Reply, ToolCall
from tests.console.conftest import EMAIL, PASSWORD
from tests.e2e.server import ROO, LiveServer, service_env
from tests.support.browser import TIMEOUT_MS

pytestmark = pytest.mark.browser

STREAMED = "I will write a small script, run it, and ask you before I finish."


class SocketGate:
    """Every WebSocket the page opens goes through here: passed on to the service, or, while
    `refusing`, closed at once as a restarting service would (1012). `drop()` cuts the open ones."""

    def __init__(self) -> None:
        self.open: list[tuple[WebSocketRoute, WebSocketRoute]] = []
        self.refusing = False
        self.opened = 0
        self.refused = 0

    def handle(self, ws: WebSocketRoute) -> None:
        if self.refusing:
            self.refused += 1
            ws.close(code=1012, reason="test: refused")
            return
        server = ws.connect_to_server()
        self.opened += 1
        self.open.append((ws, server))

    def drop(self) -> None:
        self.refusing = True
        for page_side, server_side in self.open:
            page_side.close(code=1012, reason="test: dropped")
            server_side.close()
        self.open.clear()


class Watched:
    """A page whose console errors and Content-Security-Policy violations are recorded."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))


@pytest.fixture
def watched(browser: Browser, server: LiveServer) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        yield Watched(page)
    finally:
        context.close()


def rest_events(api: httpx.Client, session: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        after = items[-1]["seq"] if items else 0
        page = api.get(f"/api/v1/sessions/{session}/events", params={"after": after, "limit": 1000})
        batch = page.json()["items"]
        if not batch:
            return items
        items += batch


def wait_for_state(api: httpx.Client, session: str, *states: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        tasks = api.get(f"/api/v1/sessions/{session}/tasks").json()["items"]
        if tasks and tasks[0]["state"] in states:
            return dict(tasks[0])
        assert time.monotonic() < deadline, tasks
        time.sleep(0.05)


def sign_in(page: Page, base_url: str, email: str = EMAIL) -> None:
    page.goto(base_url + "/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("[data-user]")).to_have_text(email)


def test_a_task_from_sign_in_to_sign_out(
    watched: Watched, server: LiveServer, llm: FakeLLM, api: httpx.Client, shots: Path
) -> None:
    page = watched.page
    llm.script(
        Reply(
            text=STREAMED,
            chunk_size=3,
            delay_per_chunk=0.01,
            tool_calls=[ToolCall("write_to_file", {"path": "hello.sh", "content": "echo hello\n"})],
        ),
        Reply(
            tool_calls=[
                ToolCall("update_todo_list", {"todos": "[x] write it\n[-] run it\n[ ] finish"})
            ]
        ),
        Reply(tool_calls=[ToolCall("execute_command", {"command": "sh hello.sh"})]),
        Reply(
            tool_calls=[
                ToolCall(
                    "ask_followup_question",
                    {
                        "question": "It printed hello. Shall I finish?",
                        "follow_up": [{"text": "Yes, finish"}, {"text": "No, keep going"}],
                    },
                )
            ]
        ),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "Printed hello."})]),
    )
    gate = SocketGate()
    page.route_web_socket(re.compile(r".*/api/v1/sessions/[^/]+/ws\?.*"), gate.handle)

    page.goto(server.base_url + "/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.screenshot(path=str(shots / "sign-in.png"))
    sign_in(page, server.base_url)

    # a session, created in the page
    page.get_by_label("New session name").fill("demo")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "live")
    session = re.search(r"#/s/([0-9a-f-]+)", page.url)
    assert session is not None
    session_id = session.group(1)

    # a task, with a mode from the session's modes
    page.get_by_role("textbox", name="What should the agent do?").fill(
        "Write a script that prints hello and run it"
    )
    page.get_by_label("Mode", exact=True).select_option("code")
    page.get_by_role("button", name="Start task").click()

    # the streamed text, then the write's approval with its parameters
    expect(page.locator(".assistant").first).to_have_text(STREAMED)
    ask = page.locator(".ask.open")
    expect(ask).to_contain_text("write_to_file")
    expect(ask).to_contain_text("echo hello")
    page.screenshot(path=str(shots / "approval.png"))
    ask.get_by_role("button", name="Approve").click()

    # the write's diff once it ran
    expect(page.locator(".tool .diff .add")).to_have_text(["+echo hello"])

    # the todo list, as the model set it
    expect(page.locator("[data-todo]")).to_have_text(["write it", "run it", "finish"])
    assert [t.get_attribute("data-todo") for t in page.locator("[data-todo]").all()] == [
        "completed",
        "in_progress",
        "pending",
    ]

    # the command's approval: the socket drops now, and stays away while the task goes on
    expect(page.locator(".ask.open pre.command")).to_have_text("sh hello.sh")
    opened_before = gate.opened
    gate.drop()
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "reconnecting")
    page.locator(".ask.open").get_by_role("button", name="Approve").click()  # over REST
    wait_for_state(api, session_id, "awaiting_input")  # output, end and the question: missed
    assert page.locator(".output").count() == 0
    gate.refusing = False

    # back: what happened meanwhile arrives once, in order
    expect(page.locator(".tool .output")).to_have_text("hello\n", timeout=30_000)
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "live")
    assert gate.opened > opened_before
    question = page.locator(".ask.open")
    expect(question).to_contain_text("It printed hello. Shall I finish?")
    page.screenshot(path=str(shots / "question.png"), full_page=True)
    question.get_by_role("button", name="Yes, finish").click()

    expect(page.locator(".complete")).to_contain_text("Printed hello.")
    expect(page.locator("[data-task-state]")).to_have_attribute("data-task-state", "completed")
    page.screenshot(path=str(shots / "task.png"), full_page=True)

    # nothing missing, nothing doubled: the page holds exactly the log's events
    events = rest_events(api, session_id)
    timeline = page.locator(".timeline")
    expect(timeline).to_have_attribute("data-last-seq", str(events[-1]["seq"]))
    assert timeline.get_attribute("data-event-count") == str(len(events))
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    expect(page.locator(".assistant")).to_have_count(1)
    calls = {e["data"]["callId"] for e in events if e["event"] == "tool.execution"}
    assert page.locator(".tool").count() == len(calls) == 2  # the write and the command
    assert page.locator(".tool .output").count() == 1
    assert page.locator(".complete").count() == 1

    # the file the agent wrote, then an edit that conflicts with a change made meanwhile
    page.get_by_role("tab", name="Files").click()
    page.locator("button.file[data-path='hello.sh']").click()
    # shown highlighted first (the highlighter's chunk, on demand), edited after "Edit"
    expect(page.locator("pre.code.view[data-language='bash'] .hljs-built_in")).to_have_text("echo")
    page.get_by_role("button", name="Edit").click()
    editor = page.get_by_label("File content", exact=True)
    expect(editor).to_have_value("echo hello\n")
    editor.fill("echo mine\n")
    changed = api.put(
        f"/api/v1/sessions/{session_id}/files/hello.sh",
        content=b"echo theirs\n",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert changed.status_code == 200, changed.text
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".conflict")).to_contain_text("changed since you opened it")
    page.screenshot(path=str(shots / "conflict.png"))
    assert api.get(f"/api/v1/sessions/{session_id}/files/hello.sh").text == "echo theirs\n"
    page.get_by_role("button", name="Load their version").click()
    expect(editor).to_have_value("echo theirs\n")
    editor.fill("echo both\n")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    assert api.get(f"/api/v1/sessions/{session_id}/files/hello.sh").text == "echo both\n"
    # a file from this computer
    page.get_by_label("Upload a file").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"uploaded\n"}]
    )
    expect(page.get_by_role("status")).to_have_text("Uploaded notes.txt.")
    expect(editor).to_have_value("uploaded\n")
    assert api.get(f"/api/v1/sessions/{session_id}/files/notes.txt").text == "uploaded\n"

    # a reload keeps the sign-in (the refresh token of this tab), then sign out
    page.reload()
    expect(page.locator("[data-user]")).to_have_text(EMAIL)
    assert page.evaluate("Object.keys(localStorage).length") == 0
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()

    # the browser logs the conflict's 412 as a failed load; nothing else went wrong
    assert [e for e in watched.errors if "status of 412" not in e] == []


def test_cancel_a_running_task_and_delete_the_session(
    watched: Watched, server: LiveServer, llm: FakeLLM, api: httpx.Client, shots: Path
) -> None:
    page = watched.page
    llm.reset()
    # the model's stream stops after a few words and waits: the task stays running
    llm.script(Reply(text="Reading the whole repository first, " * 4, chunk_size=6, hold_after=3))
    sign_in(page, server.base_url)
    page.get_by_label("New session name").fill("to cancel")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "live")
    session = re.search(r"#/s/([0-9a-f-]+)", page.url)
    assert session is not None
    page.get_by_role("textbox", name="What should the agent do?").fill("Read everything")
    page.get_by_role("button", name="Start task").click()
    expect(page.locator(".assistant")).to_contain_text("Reading the whole")
    expect(page.locator("[data-task-state]")).to_have_attribute("data-task-state", "running")
    assert page.get_by_role("button", name="Start task").is_disabled()  # one task at a time

    page.get_by_role("button", name="Cancel task").click()
    expect(page.locator("[data-task-state]")).to_have_attribute("data-task-state", "cancelled")
    expect(page.locator(".note").last).to_contain_text("Cancelled")
    assert wait_for_state(api, session.group(1), "cancelled")["state"] == "cancelled"
    llm.release()  # the held stream may end now; nobody reads it
    expect(page.get_by_role("button", name="Resume")).to_be_visible()

    # at phone width the same screen stacks
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(shots / "phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # the session's use of resources, and archive / restore
    expect(page.locator("[data-resources]")).to_contain_text("disk")
    page.get_by_role("button", name="Archive").click()
    expect(page.locator("[data-session-state]")).to_have_text("archived")
    assert api.get(f"/api/v1/sessions/{session.group(1)}").json()["state"] == "archived"
    page.get_by_role("button", name="Restore").click()
    expect(page.locator("[data-session-state]")).to_have_text("active")
    assert api.get(f"/api/v1/sessions/{session.group(1)}").json()["state"] == "active"

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete to cancel").click()
    expect(page.get_by_role("link", name="to cancel")).to_have_count(0)
    assert api.get(f"/api/v1/sessions/{session.group(1)}").status_code == 404
    assert watched.errors == []


def test_api_keys_and_users(
    watched: Watched, server: LiveServer, database_url: str, shots: Path
) -> None:
    page = watched.page
    admin = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    env = {"DATABASE_URL": database_url, "ROO_DATA_DIR": str(server.data_dir)}
    created = subprocess.run(
        [ROO, "user", "create", "--email", admin, "--role", "admin", "--password-stdin"],
        env=service_env({**env, "ROO_ENV": "development"}),
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    sign_in(page, server.base_url, admin)
    page.locator("[data-user]").click()
    expect(page.get_by_role("heading", name="Account")).to_be_visible()

    # the profile and an own model provider key (never shown back: its last four characters)
    page.get_by_label("Display name").fill("The Admin")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_have_text("Profile saved.")
    openai = page.locator("form[data-provider='openai']")
    openai.get_by_label("openai API key").fill("sk-own-provider-key-7Qa9")
    openai.get_by_role("button", name="Save").click()
    expect(openai).to_contain_text("key …7Qa9")
    assert "sk-own-provider-key" not in page.content()

    # an API key: its secret shown once, working, then revoked
    page.get_by_label("Name", exact=True).fill("ci")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("[data-secret]").inner_text()
    assert secret.startswith("roo_")
    with httpx.Client(base_url=server.base_url, timeout=10.0, trust_env=False) as client:
        assert client.get("/api/v1/sessions", headers={"X-API-Key": secret}).status_code == 200
        # the default scopes are the reading ones
        denied = client.post("/api/v1/sessions", json={}, headers={"X-API-Key": secret})
        assert denied.status_code == 403
        expect(page.locator("tr[data-key='ci']")).to_contain_text("sessions:read")
        page.get_by_role("button", name="Done").click()
        expect(page.locator("[data-secret]")).to_have_count(0)
        assert secret not in page.content()

        # the users, as an admin: a role changed from the page (paged: the run's database
        # holds every test's users, so this one may be on a later page)
        row = page.locator(f"tr[data-user-row='{EMAIL}']")
        expect(page.locator("tr[data-user-row]").first).to_be_visible()
        for _ in range(100):
            if row.count():
                break
            page.get_by_role("button", name="Next users").click()
            page.wait_for_timeout(100)
        row.get_by_label(f"Role of {EMAIL}").select_option("viewer")
        token = client.post(
            "/api/v1/auth/login", json={"email": admin, "password": PASSWORD}
        ).json()["token"]

        headers = {"Authorization": f"Bearer {token}"}
        profile = client.get("/api/v1/auth/profile", headers=headers).json()
        assert profile["displayName"] == "The Admin"
        stored = client.get("/api/v1/auth/providers", headers=headers).json()
        assert [(p["provider"], p["keyHint"]) for p in stored] == [("openai", "…7Qa9")]

        def roles() -> list[str]:
            offset = 0
            while True:
                page_of_users = client.get(
                    "/api/v1/users", params={"limit": 200, "offset": offset}, headers=headers
                ).json()
                for user in page_of_users["items"]:
                    if user["email"] == EMAIL:
                        return list(user["roles"])
                offset += 200
                assert offset < page_of_users["total"], f"{EMAIL} is not listed"

        deadline = time.monotonic() + 10
        while roles() != ["viewer"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        page.screenshot(path=str(shots / "account.png"), full_page=True)
        row.get_by_label(f"Role of {EMAIL}").select_option("member")
        expect(row.get_by_label(f"Role of {EMAIL}")).to_have_value("member")
        deadline = time.monotonic() + 10
        while roles() != ["member"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)

        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Revoke ci").click()
        expect(page.locator("tr[data-key='ci']")).to_contain_text("revoked")
        assert client.get("/api/v1/sessions", headers={"X-API-Key": secret}).status_code == 401
    assert watched.errors == []


def test_oauth_buttons_and_the_sign_in_handed_over_in_the_fragment(
    watched: Watched, server: LiveServer
) -> None:
    page = watched.page
    page.goto(server.base_url + "/")
    button = page.get_by_role("link", name="Sign in with GitHub")
    expect(button).to_have_attribute("href", "/api/v1/auth/oauth/github/authorize")
    # What the callback does with ROO_OAUTH_FRONTEND_REDIRECT set (tests/auth/test_oauth.py):
    # a fresh pair in the fragment of a redirect to the console.
    with httpx.Client(base_url=server.base_url, timeout=10.0, trust_env=False) as client:
        pair = client.post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}).json()
    page.goto("about:blank")
    page.goto(
        f"{server.base_url}/#token={pair['token']}&refreshToken={pair['refreshToken']}"
        "&expiresIn=3600&refreshExpiresIn=604800&tokenType=Bearer&provider=github"
    )
    expect(page.locator("[data-user]")).to_have_text(EMAIL)
    assert page.url == server.base_url + "/"  # the tokens left the address bar
    assert page.evaluate("sessionStorage.getItem('roo.console.refresh')") == pair["refreshToken"]
    page.go_back()
    assert "token=" not in page.url  # and the history
    assert watched.errors == []


def tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


APP_PY = b'def greet(name):\n    return "<b>not bold</b> " + name  # markup stays text\n'


def test_session_limits_an_archive_and_the_highlighted_viewer(
    watched: Watched, server: LiveServer, api: httpx.Client, shots: Path
) -> None:
    page = watched.page
    chunks: list[str] = []
    page.on("request", lambda r: chunks.append(r.url) if "/assets/highlight-" in r.url else None)
    sign_in(page, server.base_url)
    create = page.get_by_role("form", name="Create a session")
    create.get_by_text("Limits and archive").click()
    memory = create.get_by_label("Memory (MB)")
    expect(memory).to_have_attribute("placeholder", "512")  # the default

    # over the member's quota (2048 MB): the API's 422 in the form, nothing created
    name = f"limited {uuid.uuid4().hex[:6]}"
    create.get_by_label("New session name").fill(name)
    memory.fill("999999")
    create.get_by_role("button", name="Create").click()
    field = page.locator(".sessions .error [data-field='body.config.limits.maxMemoryMB']")
    expect(field).to_have_text("maxMemoryMB: at most 2048 for your role")
    expect(page.locator(".sessions .error")).to_contain_text("exceed your role's quota")
    page.screenshot(path=str(shots / "limits.png"))
    names = [s["name"] for s in api.get("/api/v1/sessions").json()["items"]]
    assert name not in names

    # within it, and started from an archive: created, imported, its files shown
    memory.fill("1024")
    create.get_by_label("Tasks at once").fill("2")
    archive = tar_gz({"src/app.py": APP_PY, "README.md": b"# A project\n"})
    create.get_by_label("Start from an archive").set_input_files(
        files=[{"name": "project.tar.gz", "mimeType": "application/gzip", "buffer": archive}]
    )
    create.get_by_role("button", name="Create").click()
    expect(page.locator("[data-import='done']")).to_contain_text("Imported project.tar.gz: 2 files")
    expect(page.locator(".sessions .error")).to_have_count(0)
    expect(page.locator("button.file[data-path='src/app.py']")).to_be_visible()
    expect(page.locator("button.file[data-path='README.md']")).to_be_visible()
    session = next(s for s in api.get("/api/v1/sessions").json()["items"] if s["name"] == name)
    assert page.url.endswith(f"#/s/{session['id']}/files")
    limits = session["config"]["limits"]
    assert (limits["maxMemoryMB"], limits["maxConcurrentTasks"]) == (1024, 2)
    assert limits["maxDiskMB"] == 1024  # the default, as nothing was asked
    files = f"/api/v1/sessions/{session['id']}/files"
    assert api.get(f"{files}/src/app.py").content == APP_PY

    # the viewer: the highlighter is fetched the first time a file is viewed, not before
    assert chunks == []
    page.locator("button.file[data-path='src/app.py']").click()
    view = page.locator("pre.code.view[data-language='python']")
    expect(view.locator(".hljs-keyword").first).to_have_text("def")
    expect(view.locator(".hljs-string").first).to_have_text('"<b>not bold</b> "')
    assert view.locator("b").count() == 0  # the file's markup is text, never HTML
    assert view.text_content() == APP_PY.decode()
    assert len(chunks) == 1
    page.screenshot(path=str(shots / "highlight.png"))
    page.locator("button.file[data-path='README.md']").click()
    expect(page.locator("pre.code.view[data-language='markdown']")).to_contain_text("# A project")
    page.get_by_role("button", name="Edit").click()
    expect(page.get_by_label("File content", exact=True)).to_have_value("# A project\n")
    assert len(chunks) == 1

    # an archive the service refuses: the session exists (empty) and the error says so
    broken = f"broken {uuid.uuid4().hex[:6]}"
    create.get_by_label("New session name").fill(broken)
    create.get_by_label("Start from an archive").set_input_files(
        files=[{"name": "broken.zip", "mimeType": "application/zip", "buffer": b"not a zip"}]
    )
    create.get_by_role("button", name="Create").click()
    expect(page.locator(".sessions .error")).to_contain_text(
        f'Session "{broken}" created, but its archive was not imported'
    )
    made = next(s for s in api.get("/api/v1/sessions").json()["items"] if s["name"] == broken)
    assert api.get(f"/api/v1/sessions/{made['id']}/files").json()["entries"] == []
    expect(page.locator(".files")).to_contain_text("Pick a file.")

    # the browser logs the refused requests as failed loads; nothing else went wrong
    refused = ("status of 422", "status of 400")
    assert [e for e in watched.errors if not any(r in e for r in refused)] == []
