"""The web console: bundle size against its budget, and first-load time on loopback.

    .venv/bin/python bench/console.py [--loads 20] [--output FILE]

Sizes: every file the first load fetches (`/`, the JS bundle and the chunks it imports
statically, the style sheet), raw and gzipped (level 9, what a compressing proxy would send; the
service itself sends them uncompressed), against the budget below; the chunks imported
dynamically (the syntax highlighter, fetched when a file is first viewed) under `on_demand`.

Load time: one `roo serve` process (embedded SQLite, uvicorn, as `make run` starts it) and
Debian's Chromium, headless, driven by Playwright, on loopback. A **cold** load is a new browser
context (empty cache) opening `/` until the sign-in form is shown (the bundle fetched, parsed
and run, the first render done); a **warm** load is the same context opening it again (the page
revalidated, 304; the hashed assets from the cache without a request). Measured from the
navigation's start (the browser's Navigation Timing: `responseEnd`, `domContentLoadedEventEnd`,
`loadEventEnd`) and, for the form, the page's own clock when it appeared
(`performance.now()` read right after the wait). Median and p95 over --loads loads each.
Nothing asserts a timing: results go to bench/results/console.json.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import RESULTS_DIR, machine_info, running_server, source_revision, write_report
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The budget: what the page may cost a first visit, gzipped (tests/console/test_build.py holds
# the committed bundle to it as well).
BUDGET_GZIP_BYTES = 30 * 1024
FORM = "form[aria-label='Sign in'] button[type=submit]"
# Notes, in the page, when the sign-in form first appears (an init script runs before the page's
# own and is not subject to its Content-Security-Policy): no round trip to Playwright in it.
WATCH_FORM = f"""
new MutationObserver((_, observer) => {{
  if (document.querySelector("{FORM}")) {{
    window.__formAt = performance.now();
    observer.disconnect();
  }}
}}).observe(document, {{ subtree: true, childList: true }});
"""


def sizes(base_url: str) -> dict[str, Any]:
    import httpx

    def measured(body: bytes) -> dict[str, int]:
        return {"bytes": len(body), "gzip_bytes": len(gzip.compress(body, 9, mtime=0))}

    with httpx.Client(base_url=base_url, trust_env=False) as client:
        page = client.get("/")
        paths = ["/", *re.findall(r'(?:src|href)="(/assets/[^"]+)"', page.text)]
        files: dict[str, dict[str, int]] = {}
        on_demand: dict[str, dict[str, int]] = {}
        later: list[str] = []
        while paths:  # the page's files and the chunks their modules import statically
            path = paths.pop(0)
            if path in files:
                continue
            body = client.get(path).content
            files[path] = measured(body)
            if path.endswith(".js"):
                text = body.decode()
                static = re.findall(r'(?:import|from)\s*"\./([^"]+)"', text)
                paths += ["/assets/" + n for n in static]
                later += ["/assets/" + n for n in re.findall(r'import\("\./([^"]+)"\)', text)]
        for path in later:  # imported dynamically (the highlighter): fetched on demand only
            if path not in files:
                on_demand[path] = measured(client.get(path).content)
    total = sum(f["gzip_bytes"] for f in files.values())
    return {
        "files": files,
        "on_demand": on_demand,
        "total_bytes": sum(f["bytes"] for f in files.values()),
        "total_gzip_bytes": total,
        "budget_gzip_bytes": BUDGET_GZIP_BYTES,
        "within_budget": total <= BUDGET_GZIP_BYTES,
    }


def one_load(page: Page, url: str) -> dict[str, float]:
    page.goto(url, wait_until="commit")
    page.wait_for_selector(FORM, state="visible")
    form_ms = page.evaluate("window.__formAt")
    page.wait_for_load_state("load")
    nav = page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {response: n.responseEnd, dcl: n.domContentLoadedEventEnd,"
        " load: n.loadEventEnd, transfer: n.transferSize}; })()"
    )
    return {
        "response_end_ms": nav["response"],
        "dom_content_loaded_ms": nav["dcl"],
        "load_ms": nav["load"],
        "sign_in_form_ms": form_ms,
    }


def loads(browser: Browser, url: str, count: int) -> dict[str, list[dict[str, float]]]:
    cold, warm = [], []
    for _ in range(count):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(WATCH_FORM)
        page = context.new_page()
        cold.append(one_load(page, url))
        page.goto("about:blank")
        warm.append(one_load(page, url))
        context.close()
    return {"cold": cold, "warm": warm}


def summary(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    out = {}
    for key in runs[0]:
        values = sorted(r[key] for r in runs)
        p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
        out[key] = {"p50": round(statistics.median(values), 1), "p95": round(p95, 1)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "console.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        with running_server("roo", Path(tmp), "warning") as server:
            base = server.url("")
            measured_sizes = sizes(base)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                try:
                    warmup = browser.new_context()
                    warmup.add_init_script(WATCH_FORM)
                    one_load(warmup.new_page(), base + "/")  # the browser's own start-up
                    warmup.close()
                    load_before = os.getloadavg()[0]
                    started = time.perf_counter()
                    runs = loads(browser, base + "/", args.loads)
                    elapsed = time.perf_counter() - started
                finally:
                    browser.close()
    report = {
        "benchmark": "console",
        "source": source_revision(),
        "machine": machine_info(),
        "loads": args.loads,
        "seconds": round(elapsed, 1),
        # the machine is shared: its load says how much of the time is waiting for a core
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "sizes": measured_sizes,
        "cold": summary(runs["cold"]),
        "warm": summary(runs["warm"]),
    }
    write_report(report, args.output)
    print(
        f"console: {measured_sizes['total_gzip_bytes']} B gzipped "
        f"(budget {BUDGET_GZIP_BYTES}); cold sign-in form p50 "
        f"{report['cold']['sign_in_form_ms']['p50']} ms, warm "
        f"{report['warm']['sign_in_form_ms']['p50']} ms -> {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
