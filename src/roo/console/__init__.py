"""The web console: a browser client of the public API, served by the service at `/`.

Its sources live in the repository's `console/` folder (Preact + htm, bundled by esbuild); the
built files are committed here under `static/` (package data), so the service needs no Node at
run time. `make console` rebuilds them; `tests/console/test_build.py` checks that the committed
build is what the sources give. See `docs/console.md`.
"""

from roo.console.serve import CONSOLE_CSP, install_console

__all__ = ["CONSOLE_CSP", "install_console"]
