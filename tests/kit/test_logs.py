"""Structured logs: JSON lines in production, secrets scrubbed whatever logged them."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime

import httpx
import pytest
import structlog

from roo.kit.logs import (
    ACCESS_LOG,
    LINES,
    REDACTED,
    BatchedLogger,
    configure_logging,
    flush_logs,
    get_logger,
    redact,
)
from roo.kit.request_context import bind_request_id, reset_request_id

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXRoYXQtaXMtc2VjcmV0"


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture(autouse=True)
def restore_logging() -> object:
    yield
    configure_logging("INFO", json=False)


def test_our_events_are_json_with_redacted_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    get_logger("roo.test").info(
        "login",
        password="hunter2-hunter2",
        headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"},
        api_key="roo_live_abcdefghijklmnopqrstuvwxyz",
        refreshToken="opaque-refresh-value",
        note=f"client sent Bearer {TOKEN}",
        dsn="postgresql://app:pa55word@db:5432/roo",
    )
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert "hunter2" not in err
    assert "opaque-refresh-value" not in err
    assert "abcdefghijklmnop" not in err
    assert "pa55word" not in err
    (event,) = json_lines(err)
    assert event["event"] == "login"
    assert event["logger"] == "roo.test"
    assert event["level"] == "info"
    assert event["password"] == REDACTED
    assert event["headers"] == {"Authorization": REDACTED, "Accept": "application/json"}
    assert event["note"] == f"client sent Bearer {REDACTED}"
    assert event["dsn"] == f"postgresql://app:{REDACTED}@db:5432/roo"


def test_standard_library_records_are_scrubbed_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    logging.getLogger("some.library").warning(
        "calling upstream with Authorization: Bearer %s", TOKEN, extra={"cookie": "sid=abc123"}
    )
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert "abc123" not in err
    (event,) = json_lines(err)
    assert event["logger"] == "some.library"
    assert event["cookie"] == REDACTED


def test_level_filters_our_events(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING", json=True)
    log = get_logger("roo.test")
    log.info("hidden")
    log.warning("shown")
    events = [e["event"] for e in json_lines(capsys.readouterr().err)]
    assert events == ["shown"]


def test_redact_walks_nested_structures_and_asgi_header_pairs() -> None:
    value = {
        "outer": [{"token": "t0p"}, ("x-api-key", "k3y")],
        "scope_headers": [(b"authorization", b"Bearer abc"), (b"accept", b"*/*")],
        "count": 3,
    }
    assert redact(value) == {
        "outer": [{"token": REDACTED}, ["x-api-key", REDACTED]],
        "scope_headers": [["authorization", REDACTED], ["accept", "*/*"]],
        "count": 3,
    }


async def test_request_with_authorization_logs_no_credential(
    capsys: pytest.CaptureFixture[str], client: httpx.AsyncClient
) -> None:
    configure_logging("DEBUG", json=True)
    response = await client.get(
        "/api/v1/version?access_token=" + TOKEN,
        headers={"Authorization": f"Bearer {TOKEN}", "Cookie": "session=s3cr3t-cookie"},
    )
    assert response.status_code == 200
    flush_logs()
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert "s3cr3t-cookie" not in err
    access = [e for e in json_lines(err) if e.get("logger") == "roo.access"]
    assert len(access) == 1
    line = access[0]
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/version"
    assert line["path"] == "/api/v1/version"  # no query string: it may carry credentials
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["request_id"] == response.headers["x-request-id"]


ACCESS_FIELDS: dict[str, object] = {
    "method": "GET",
    "path": '/api/v1/sessions/42/files/notes \u00e9"quoted".md',
    "route": "/api/v1/sessions/{session_id}/files/{path:path}",
    "status": 201,
    "duration_ms": 0.125,
    "client": "127.0.0.1",
}


def test_access_line_is_what_the_structlog_chain_writes(capsys: pytest.CaptureFixture[str]) -> None:
    # Without context variables bound, the JSON access line is rendered by hand for speed; it
    # must say exactly what structlog's chain would (this breaks if structlog's output changes).
    configure_logging("INFO", json=True)
    token = bind_request_id("trace-1")
    try:
        ACCESS_LOG.write(logging.INFO, **ACCESS_FIELDS)  # type: ignore[arg-type]
        get_logger("roo.access").info("request", **ACCESS_FIELDS)
        ACCESS_LOG.write(logging.ERROR, **{**ACCESS_FIELDS, "route": None, "client": None})  # type: ignore[arg-type]
        fields = {k: v for k, v in ACCESS_FIELDS.items() if k != "client"}
        get_logger("roo.access").error(
            "request", route=None, **{k: v for k, v in fields.items() if k != "route"}
        )
    finally:
        reset_request_id(token)
    fast, chain, fast_error, chain_error = json_lines(capsys.readouterr().err)
    for ours, theirs in ((fast, chain), (fast_error, chain_error)):
        assert datetime.fromisoformat(str(ours.pop("timestamp")))
        assert datetime.fromisoformat(str(theirs.pop("timestamp")))
        assert ours == theirs
    assert fast["request_id"] == "trace-1"
    assert fast["level"] == "info"
    assert fast_error["level"] == "error"
    assert "client" not in fast_error


def test_access_line_carries_structlog_context_variables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The access line goes through structlog's chain: what the request bound with
    # structlog.contextvars (and its request id) is on it, as on every other event.
    configure_logging("INFO", json=True)
    token = bind_request_id("trace-1")
    try:
        with structlog.contextvars.bound_contextvars(tenant="acme", job="j-7"):
            ACCESS_LOG.write(logging.INFO, **ACCESS_FIELDS)  # type: ignore[arg-type]
            get_logger("roo.test").info("other")
        ACCESS_LOG.write(logging.ERROR, **{**ACCESS_FIELDS, "route": None, "client": None})  # type: ignore[arg-type]
    finally:
        reset_request_id(token)
    flush_logs()
    access, other, error = json_lines(capsys.readouterr().err)
    assert datetime.fromisoformat(str(access.pop("timestamp")))
    assert access == {
        **ACCESS_FIELDS,
        "event": "request",
        "request_id": "trace-1",
        "tenant": "acme",
        "job": "j-7",
        "level": "info",
        "logger": "roo.access",
    }
    assert (other["tenant"], other["job"]) == ("acme", "j-7")
    assert error["level"] == "error"
    assert error["route"] is None
    assert "client" not in error
    assert "tenant" not in error


def test_access_line_scrubs_secrets_in_the_path(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    key = "roo_abcdefghijklmnopqrstuvwxyz012345"
    ACCESS_LOG.write(logging.INFO, **{**ACCESS_FIELDS, "path": f"/api/v1/x/{key}"})  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert key not in err
    (line,) = json_lines(err)
    assert line["path"] == f"/api/v1/x/{REDACTED}"


def test_access_lines_follow_the_level(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING", json=True)
    assert not ACCESS_LOG.enabled_for(logging.INFO)
    ACCESS_LOG.write(logging.INFO, **ACCESS_FIELDS)  # type: ignore[arg-type]
    ACCESS_LOG.write(logging.ERROR, **ACCESS_FIELDS)  # type: ignore[arg-type]
    assert [line["level"] for line in json_lines(capsys.readouterr().err)] == ["error"]


def test_access_lines_in_the_console_format(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=False)
    ACCESS_LOG.write(logging.INFO, **ACCESS_FIELDS)  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert "request" in err
    assert "route=/api/v1/sessions/{session_id}/files/{path:path}" in err
    assert not err.lstrip().startswith("{")


async def test_access_lines_of_one_loop_iteration_are_written_together(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", json=True)
    ACCESS_LOG.write(logging.INFO, **ACCESS_FIELDS)  # type: ignore[arg-type]
    ACCESS_LOG.write(logging.INFO, **{**ACCESS_FIELDS, "status": 204})  # type: ignore[arg-type]
    assert capsys.readouterr().err == ""  # waiting for the end of this iteration
    await asyncio.sleep(0)
    assert [line["status"] for line in json_lines(capsys.readouterr().err)] == [201, 204]


async def test_any_other_line_writes_the_waiting_access_lines_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", json=True)
    ACCESS_LOG.write(logging.INFO, **ACCESS_FIELDS)  # type: ignore[arg-type]
    get_logger("roo.test").warning("after")
    logging.getLogger("some.library").warning("later still")
    ACCESS_LOG.write(logging.INFO, **{**ACCESS_FIELDS, "status": 204})  # type: ignore[arg-type]
    logging.getLogger("some.library").warning("last")
    events = [(line["event"], line.get("status")) for line in json_lines(capsys.readouterr().err)]
    assert events == [
        ("request", 201),
        ("after", None),
        ("later still", None),
        ("request", 204),
        ("last", None),
    ]


async def test_a_full_batch_is_written_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    for _ in range(LINES.MAX_PENDING):
        ACCESS_LOG.write(logging.INFO, **ACCESS_FIELDS)  # type: ignore[arg-type]
    assert len(json_lines(capsys.readouterr().err)) == LINES.MAX_PENDING


async def test_a_batched_logger_line_waits_with_the_access_lines_in_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", json=True)
    audit_log = BatchedLogger("roo.test.batched")
    ACCESS_LOG.write(logging.INFO, **ACCESS_FIELDS)  # type: ignore[arg-type]
    audit_log.info("audit", action="tools.execute", token=TOKEN)
    ACCESS_LOG.write(logging.INFO, **{**ACCESS_FIELDS, "status": 204})  # type: ignore[arg-type]
    # neither written on its own nor writing the waiting access line: all at the iteration's end
    assert capsys.readouterr().err == ""
    await asyncio.sleep(0)
    lines = json_lines(capsys.readouterr().err)
    assert [(line["event"], line.get("status")) for line in lines] == [
        ("request", 201),
        ("audit", None),
        ("request", 204),
    ]
    assert lines[1]["logger"] == "roo.test.batched"
    assert lines[1]["action"] == "tools.execute"
    assert lines[1]["token"] == REDACTED  # the whole chain: secrets scrubbed


def test_a_batched_logger_follows_each_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    batched = BatchedLogger("roo.test.batched")  # made before logging is configured again
    configure_logging("WARNING", json=True)
    batched.info("hidden")
    batched.warning("shown")
    flush_logs()
    assert [line["event"] for line in json_lines(capsys.readouterr().err)] == ["shown"]
    configure_logging("INFO", json=False)
    batched.info("in the console format")
    flush_logs()
    err = capsys.readouterr().err
    assert "in the console format" in err
    assert not err.lstrip().startswith("{")
