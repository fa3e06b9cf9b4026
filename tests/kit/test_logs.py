"""Structured logs: JSON lines in production, secrets scrubbed whatever logged them."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from roo.kit.logs import REDACTED, configure_logging, get_logger, redact

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
