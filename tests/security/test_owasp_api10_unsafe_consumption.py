"""OWASP API10:2023 Unsafe Consumption of APIs: what the model provider answers is input, not
trusted: unknown tools, arguments of the wrong type, a broken stream, upstream errors; each
ends as a tool error the model reads or a failed task, never a crash, never a 500 on a route.

Also covered elsewhere: tests/auth/test_oauth.py (identity providers: unverified emails never
link or create accounts, wrong nonce, state and PKCE verifier refused, provider errors
reported), tests/security/test_provider_ssrf.py::test_upstream_bodies_are_not_echoed (an
upstream's body never reaches the user), tests/agent (the engine's handling of each reply).
"""

from __future__ import annotations

from roo.testing.fake_llm import Failure, Reply, ToolCall
from tests.tasks.conftest import (
    Api,
    FakeLLM,
    api,
    auth,
    llm,
    make_api,
    make_user,
    resources,
    settings,
    sign_in,
    tool_results_of,
)

__all__ = ["api", "auth", "llm", "make_api", "make_user", "resources", "settings", "sign_in"]


async def test_unknown_tools_and_wrong_arguments_are_tool_errors(api: Api, llm: FakeLLM) -> None:
    session = await api.session()
    await api.write(session, "notes.txt", "hello\n")
    llm.script(
        Reply(tool_calls=[ToolCall("rm_rf_everything", {"path": "/"}, id="c1")]),
        Reply(tool_calls=[ToolCall("read_file", {"path": 12345, "extra": [1, 2]}, id="c2")]),
        Reply(tool_calls=[ToolCall("read_file", {"path": "../../../etc/passwd"}, id="c3")]),
        Reply(tool_calls=[ToolCall("attempt_completion", {"result": "done"})]),
    )
    task = await api.start(session)
    finished = await api.wait(session, task["id"], "completed", "failed", within=60)
    assert finished["state"] == "completed", finished
    results = [m["content"] for m in tool_results_of(llm, 3)]  # the last request has all three
    assert len(results) == 3
    for content in results:
        text = str(content)
        assert "error" in text.lower() or "not" in text.lower(), text
        assert "root:" not in text  # nothing outside the workspace was read
    assert await api.read(session, "notes.txt") == "hello\n"


async def test_a_broken_stream_and_upstream_errors_fail_the_task_cleanly(
    api: Api, llm: FakeLLM
) -> None:
    session = await api.session()
    upstream_body = "internal upstream detail 7f3a"
    llm.script(
        Failure(status=400, message=upstream_body),
    )
    task = await api.start(session)
    failed = await api.wait(session, task["id"], "failed", "awaiting_input", within=60)
    assert failed["state"] in ("failed", "awaiting_input")
    # the routes still answer: the task, its events, the session
    assert (await api.request("GET", f"/api/v1/sessions/{session}")).status_code == 200
    events = await api.events(session)
    assert events
    llm.script(Reply(text="partial answer that never ends", disconnect_after=2))
    second = await api.start(session)
    done = await api.wait(session, second["id"], "failed", "awaiting_input", "completed", within=60)
    assert done["state"] in ("failed", "awaiting_input", "completed")
    assert (await api.request("GET", f"/api/v1/sessions/{session}/tasks")).status_code == 200
