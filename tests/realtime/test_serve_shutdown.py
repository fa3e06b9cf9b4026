"""`roo serve` stops on SIGTERM although an event stream is open (uvicorn would otherwise wait
for the stream to end, i.e. forever)."""

from __future__ import annotations

import contextlib
import signal
import time
import uuid
from pathlib import Path

import httpx

from roo.cli import SHUTDOWN_GRACE_SECONDS
from tests.e2e.server import running_server

PASSWORD = "correct horse battery staple"


def test_sigterm_ends_open_event_streams(tmp_path: Path) -> None:
    with running_server(
        tmp_path / "work",
        data_dir=tmp_path / "data",
        extra_env={"ROO_ALLOW_REGISTRATION": "true", "ROO_SSE_HEARTBEAT_SECONDS": "0.2"},
    ) as server:
        with httpx.Client(base_url=server.base_url, timeout=10.0, trust_env=False) as client:
            email = f"sse-{uuid.uuid4().hex[:8]}@example.com"
            body = {"email": email, "password": PASSWORD}
            assert client.post("/api/v1/auth/register", json=body).status_code == 202
            token = client.post("/api/v1/auth/login", json=body).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            created = client.post("/api/v1/sessions", json={"name": "s"}, headers=headers)
            assert created.status_code == 201, created.text
            url = f"/api/v1/sessions/{created.json()['id']}/events"
            with client.stream(
                "GET", url, headers={**headers, "Accept": "text/event-stream"}
            ) as stream:
                lines = stream.iter_lines()
                assert next(lines) == ": heartbeat"  # the stream is open
                server.process.send_signal(signal.SIGTERM)
                stopping = time.monotonic()
                with contextlib.suppress(httpx.RemoteProtocolError):  # cut off: expected
                    for _ in lines:  # heartbeats until the server closes the stream
                        assert time.monotonic() - stopping < SHUTDOWN_GRACE_SECONDS + 10, (
                            "the server kept the stream open"
                        )
            server.process.wait(timeout=SHUTDOWN_GRACE_SECONDS + 10)
            assert time.monotonic() - stopping < SHUTDOWN_GRACE_SECONDS + 10
        assert "app.stopped" in server.log_text()
