"""Debian's headless Chromium driven by Playwright, for the browser tests (the API docs pages,
the console). Needs the packages `chromium` and `chromium-driver` (.ci/run installs them);
Playwright's own browser downloads are not used."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


@contextmanager
def chromium() -> Iterator[Browser]:
    """A launched browser, closed on the way out. Without Chromium the test is skipped, and
    fails in CI (where .ci/run installs it)."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian packages chromium and chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, timeout=TIMEOUT_MS
        )
        try:
            yield browser
        finally:
            browser.close()
