"""The API docs pages in headless Chromium: they render from the service alone, with every
request to any other host blocked and recorded.

Needs the Debian packages `chromium` and `chromium-driver` (.ci/run installs them); Playwright's own
browser downloads are not used.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, Route

from tests.e2e.server import LiveServer
from tests.support.browser import TIMEOUT_MS, chromium

pytestmark = pytest.mark.browser

# Schemes that never leave the page (inline images, blobs for ReDoc's worker).
LOCAL_SCHEMES = frozenset({"data", "blob", "about"})


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


class GuardedPage:
    """A page whose requests to anywhere but the live server are aborted and recorded."""

    def __init__(self, browser: Browser, server: LiveServer) -> None:
        self.origin = server.base_url
        self.off_host: list[str] = []
        # Off-host loads the page's Content-Security-Policy stopped inside the browser: they
        # never reached the network (Playwright still reports them as requests).
        self.csp_blocked: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.route("**/*", self._guard)
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        # Requests that bypass routing (none expected) are still seen here.
        self.page.on("request", lambda request: self._check(request.url))
        self.page.on("requestfailed", self._failed)

    def _failed(self, request: Request) -> None:
        if request.failure == "csp" and request.url in self.off_host:
            self.off_host.remove(request.url)
            self.csp_blocked.append(request.url)

    def _is_local(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme in LOCAL_SCHEMES:
            return True
        return f"{parts.scheme}://{parts.netloc}" == self.origin

    def _check(self, url: str) -> bool:
        local = self._is_local(url)
        if not local and url not in self.off_host:
            self.off_host.append(url)
        return local

    def _guard(self, route: Route) -> None:
        if self._check(route.request.url):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def guarded(browser: Browser, live_server: LiveServer) -> Iterator[GuardedPage]:
    page = GuardedPage(browser, live_server)
    try:
        yield page
    finally:
        page.close()


def test_swagger_ui_renders_the_operations_without_leaving_the_host(
    guarded: GuardedPage, live_server: LiveServer, tmp_path: Path
) -> None:
    page = guarded.page
    response = page.goto(f"{live_server.base_url}/api/v1/docs", wait_until="load")
    assert response is not None
    assert response.status == 200
    page.wait_for_selector(".opblock .opblock-summary-path[data-path='/api/v1/version']")

    operations = set()
    for block in page.locator(".opblock").all():
        method = block.locator(".opblock-summary-method").inner_text().strip().upper()
        path = block.locator(".opblock-summary-path").inner_text().replace("\u200b", "").strip()
        operations.add(f"{method} {path}")
    assert {"GET /healthz", "GET /api/v1/version"} <= operations, operations

    screenshot = tmp_path / "swagger-ui.png"
    page.screenshot(path=str(screenshot), full_page=True)
    png = screenshot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 1000

    page.wait_for_load_state("networkidle")
    assert guarded.off_host == []


def open_redoc(guarded: GuardedPage, live_server: LiveServer) -> Page:
    page = guarded.page
    response = page.goto(f"{live_server.base_url}/api/v1/redoc", wait_until="load")
    assert response is not None
    assert response.status == 200
    # The operation's heading in the main pane (the sidebar entry may sit in a collapsed group).
    page.locator("h2", has_text="Service name and version").first.wait_for()
    page.wait_for_load_state("networkidle")
    return page


def test_redoc_renders_the_operations(guarded: GuardedPage, live_server: LiveServer) -> None:
    text = open_redoc(guarded, live_server).inner_text("body")
    assert "Service name and version" in text
    assert "roo-core API" in text
    assert guarded.off_host == []


def test_redoc_makes_no_request_off_the_host(guarded: GuardedPage, live_server: LiveServer) -> None:
    open_redoc(guarded, live_server)
    assert guarded.off_host == []
    # The bundled ReDoc wants its footer logo from a CDN; the page's CSP stops it in the browser.
    assert all(urlsplit(url).hostname == "cdn.redoc.ly" for url in guarded.csp_blocked)
