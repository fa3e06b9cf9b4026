"""The committed console bundle (src/roo/console/static) is exactly what its sources build to,
and the service serves it as the page at `/` with hashed, long-cached assets and a strict
Content-Security-Policy."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from roo.console.serve import CONSOLE_CSP, static_dir
from tests.e2e.server import LiveServer

NAMES_NOT_LOADED = ("http://www.w3.org/", "https://github.com/highlightjs/highlight.js/")
ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "console"


def files_under(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_the_committed_build_is_current(tmp_path: Path) -> None:
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        reason = "Node.js and npm are needed to rebuild the console (apt-get install nodejs npm)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=SOURCES,
        check=True,
        timeout=300,
    )
    out = tmp_path / "static"
    subprocess.run([node, "build.mjs", "--outdir", str(out)], cwd=SOURCES, check=True, timeout=120)
    built, committed = files_under(out), files_under(static_dir())
    assert sorted(built) == sorted(committed), "run `make console` and commit the result"
    stale = [name for name in built if built[name] != committed[name]]
    assert stale == [], "run `make console` and commit the result"


def test_the_page_and_its_assets(server: LiveServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10.0, trust_env=False) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"] == CONSOLE_CSP
        assert "'unsafe-inline'" not in CONSOLE_CSP
        assert "'unsafe-eval'" not in CONSOLE_CSP
        assert page.headers["cache-control"] == "no-cache"
        assert page.headers["x-content-type-options"] == "nosniff"
        # no inline script or style: the policy would refuse them anyway
        assert "<style" not in page.text
        assert re.search(r"<script(?![^>]*\bsrc=)", page.text) is None
        again = client.get("/", headers={"If-None-Match": page.headers["etag"]})
        assert again.status_code == 304

        assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', page.text)
        assert {a.rsplit(".", 1)[1] for a in assets} == {"js", "css"}
        for asset in assets:
            assert re.fullmatch(r"/assets/[a-z]+-[A-Z0-9]{8}\.(js|css)", asset), asset
            response = client.get(asset)
            assert response.status_code == 200
            assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        # every asset, the chunks loaded on demand too: hashed, long-cached, no other host named
        # (XML namespaces are names; the highlighter's warnings name its own pages: text in a
        # console message, never loaded, and the policy's connect-src 'self' would refuse it)
        names = sorted(p.name for p in (static_dir() / "assets").iterdir())
        assert {f"/assets/{n}" for n in names} >= set(assets)
        for name in names:
            assert re.fullmatch(r"[a-z]+-[A-Z0-9]{8}\.(js|css)", name), name
            response = client.get(f"/assets/{name}")
            assert response.status_code == 200
            assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert response.headers["content-security-policy"] == CONSOLE_CSP
            urls = re.findall(r"https?://[^\s\"'`)]+", response.text)
            named = [u for u in urls if not u.startswith(NAMES_NOT_LOADED)]
            assert named == [], name
        assert client.get("/assets/app-NOSUCHONE.js").status_code == 404
        # the API's own answers keep their policy; the docs keep theirs
        assert client.get("/api/v1/version").headers["content-security-policy"] == (
            "default-src 'none'; frame-ancestors 'none'"
        )
        assert client.get("/api/v1/docs").status_code == 200


# The bundle's budget (bench/console.py records the same figure with the load times): what the
# first load fetches (the page, the assets it names and the chunks they import statically).
# Chunks imported dynamically (the syntax highlighter) are fetched on demand and held to a
# budget of their own.
BUDGET_GZIP_BYTES = 30 * 1024
ON_DEMAND_BUDGET_GZIP_BYTES = 20 * 1024


def first_load_and_on_demand() -> tuple[set[str], set[str]]:
    root = static_dir()
    page = (root / "index.html").read_text()
    first = {"index.html"} | {
        "assets/" + n for n in re.findall(r'(?:src|href)="/assets/([^"]+)"', page)
    }
    todo = [n for n in first if n.endswith(".js")]
    while todo:  # static imports: `import"./x.js"` and `from"./x.js"`
        text = (root / todo.pop()).read_text()
        for name in re.findall(r'(?:import|from)\s*"\./([^"]+\.js)"', text):
            if "assets/" + name not in first:
                first.add("assets/" + name)
                todo.append("assets/" + name)
    every = set(files_under(root))
    return first, every - first


def test_the_bundle_stays_within_its_budget() -> None:
    committed = files_under(static_dir())
    first, on_demand = first_load_and_on_demand()
    assert on_demand, "the highlighter is a chunk of its own"
    assert all(re.fullmatch(r"assets/highlight-[A-Z0-9]{8}\.js", n) for n in on_demand)

    def gzipped(names: set[str]) -> int:
        return sum(len(gzip.compress(committed[n], 9, mtime=0)) for n in names)

    assert gzipped(first) <= BUDGET_GZIP_BYTES, f"{gzipped(first)} B gzipped: over the budget"
    assert gzipped(on_demand) <= ON_DEMAND_BUDGET_GZIP_BYTES, f"{gzipped(on_demand)} B gzipped"
