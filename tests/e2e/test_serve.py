"""The real `roo serve` process over real sockets: probes, the OpenAPI document, the docs pages and
their assets, the embedded first start, request ids and log redaction."""

from __future__ import annotations

import re
import stat
import uuid
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import LiveServer, running_server

DOC_PAGES = ("/api/v1/docs", "/api/v1/redoc")
ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


class _AssetRefs(HTMLParser):
    """Collects every `<script src>` and `<link href>` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href"}.get(tag)
        for name, value in attrs:
            if name == wanted and value is not None:
                self.urls.append(value)


def asset_refs(html: str) -> list[str]:
    parser = _AssetRefs()
    parser.feed(html)
    parser.close()
    return parser.urls


def test_healthz_is_ok(http: httpx.Client) -> None:
    response = http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_with_the_configured_backends(
    http: httpx.Client, redis_url: str | None
) -> None:
    response = http.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == ("ok" if redis_url else "not configured")


def test_openapi_document_names_the_api_and_its_security_schemes(http: httpx.Client) -> None:
    response = http.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert document["info"]["title"] == "roo-core API"
    schemes = document["components"]["securitySchemes"]
    assert {"bearerAuth", "apiKeyAuth"} <= set(schemes)
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["apiKeyAuth"] == {**schemes["apiKeyAuth"], "in": "header", "name": "X-API-Key"}
    assert "get" in document["paths"]["/healthz"]
    assert "get" in document["paths"]["/api/v1/version"]


@pytest.mark.parametrize("page", DOC_PAGES)
def test_docs_page_references_only_local_assets(http: httpx.Client, page: str) -> None:
    response = http.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    refs = asset_refs(html)
    assert any(ref.endswith(".js") for ref in refs), refs
    off_host = [ref for ref in refs if not ref.startswith("/") or ref.startswith("//")]
    assert off_host == [], f"{page} loads assets from elsewhere: {off_host}"
    for marker in ("http://", "https://", "cdn"):
        assert marker not in html.lower(), f"{page} mentions {marker!r}:\n{html}"


@pytest.mark.parametrize("page", DOC_PAGES)
def test_docs_assets_are_served_with_their_types(http: httpx.Client, page: str) -> None:
    refs = asset_refs(http.get(page).text)
    assert refs
    for ref in refs:
        response = http.get(ref)
        assert response.status_code == 200, ref
        assert response.content, ref
        expected = ASSET_TYPES[Path(ref).suffix]
        assert expected in response.headers["content-type"], (ref, response.headers)


def test_fresh_embedded_start_creates_its_files_and_logs_where_it_runs(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh-data"
    assert not data_dir.exists()
    # No DATABASE_URL, no REDIS_URL: SQLite and a generated secret in ROO_DATA_DIR.
    with running_server(tmp_path / "work", data_dir=data_dir) as server:
        with httpx.Client(base_url=server.base_url, timeout=10.0, trust_env=False) as client:
            ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "redis": "not configured"}

        assert (data_dir / "roo.db").is_file()
        secret = data_dir / "jwt-secret"
        assert secret.is_file()
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert len(secret.read_text().strip()) >= 32

        server.wait_for_log_line(server.address)
        started = server.wait_for_log_line("app.started")
        assert "env=development" in started
        assert re.search(r"database='?sqlite \(", started), started
        assert str(data_dir / "roo.db") in started
        assert re.search(r"redis='?none \(in-process\)", started), started


def test_client_request_id_is_echoed_and_logged(
    http: httpx.Client, live_server: LiveServer
) -> None:
    request_id = f"e2e-{uuid.uuid4().hex}"
    response = http.get("/api/v1/version", headers={"X-Request-ID": request_id})
    assert response.status_code == 200
    assert response.json()["name"] == "roo-core"
    assert response.headers["X-Request-ID"] == request_id

    line = live_server.wait_for_log_line(f"request_id={request_id}")
    assert "path=/api/v1/version" in line
    assert "status=200" in line
    assert "roo.access" in line


@pytest.mark.parametrize("path", ["/api/v1/version", "/api/v1/no-such-route", "/readyz"])
def test_bearer_credentials_never_reach_the_log(
    http: httpx.Client, live_server: LiveServer, path: str
) -> None:
    secret = f"e2e-secret-{uuid.uuid4().hex}"
    request_id = f"e2e-{uuid.uuid4().hex}"
    headers = {"Authorization": f"Bearer {secret}", "X-Request-ID": request_id}
    response = http.get(path, headers=headers)
    assert response.status_code in (200, 404)
    # Whatever the server logs for this request has been written once its own line is there.
    if path != "/readyz":  # probes log at DEBUG only
        live_server.wait_for_log_line(f"request_id={request_id}")
    else:
        http.get("/api/v1/version", headers={"X-Request-ID": request_id})
        live_server.wait_for_log_line(f"request_id={request_id}")
    assert secret not in live_server.log_text()
    assert secret not in response.text


def test_bearer_credentials_never_reach_a_debug_log(
    database_url: str, redis_url: str | None, tmp_path: Path
) -> None:
    secret = f"e2e-secret-{uuid.uuid4().hex}"
    with running_server(
        tmp_path / "work",
        data_dir=tmp_path / "data",
        database_url=database_url,
        redis_url=redis_url,
        extra_env={"LOG_LEVEL": "DEBUG"},
    ) as server:
        with httpx.Client(base_url=server.base_url, timeout=10.0, trust_env=False) as client:
            for path in ("/healthz", "/api/v1/version", "/api/v1/nothing-here"):
                client.get(path, headers={"Authorization": f"Bearer {secret}"})
    # The process has exited: everything it would ever log about these requests is in the file.
    log = server.log_text()
    assert "path=/api/v1/version" in log
    assert "path=/api/v1/nothing-here" in log
    assert secret not in log
