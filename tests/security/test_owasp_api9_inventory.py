"""OWASP API9:2023 Improper Inventory Management: the OpenAPI document is the inventory. Every
HTTP route the app serves is in it (or is a documentation page), every route of it declares who
may call it, nothing lives outside the known prefixes (no leftover `/v0`, `/debug`, `/test`),
and the only route the document cannot describe is the session WebSocket.

New routes without ids (a `/metrics`, say) pass as long as they are documented and declared.

Also covered elsewhere: tests/auth/test_rbac.py (every route declares exactly one permission or
`@public`; the public ones are the expected few), tests/api (the documentation pages).
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts

from tests.auth.test_rbac import DOCS

PREFIXES = re.compile(r"^(/healthz|/readyz|/metrics|/api/v1/)")
LEFTOVERS = re.compile(r"/(v0|v2|debug|test|internal|_|admin/debug)(/|$)")


def served(app: FastAPI) -> tuple[set[tuple[str, str]], set[str]]:
    http: set[tuple[str, str]] = set()
    sockets: set[str] = set()
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute):
            for method in route.methods - {"HEAD"}:
                http.add((method, route.path))
        elif isinstance(route, APIWebSocketRoute):
            sockets.add(route.path)
    return http, sockets


def test_every_served_route_is_documented(app: FastAPI) -> None:
    http, _ = served(app)
    documented = {
        (method.upper(), re.sub(r"\{([^}:]+)\}", r"{\1}", path))
        for path, item in app.openapi()["paths"].items()
        for method in item
    }
    # FastAPI documents `{path:path}` as `{path}`
    normalised = {(m, re.sub(r"\{([^}:]+):[^}]+\}", r"{\1}", p)) for m, p in http}
    undocumented = sorted(f"{m} {p}" for m, p in normalised - documented if not DOCS.match(p))
    assert undocumented == []
    assert documented <= normalised  # and the document names nothing that is not served


def test_nothing_outside_the_known_prefixes(app: FastAPI) -> None:
    http, sockets = served(app)
    paths = {p for _, p in http} | sockets
    assert sorted(p for p in paths if not PREFIXES.match(p)) == []
    assert sorted(p for p in paths if LEFTOVERS.search(p)) == []


def test_the_websocket_is_the_only_undocumented_kind_of_route(app: FastAPI) -> None:
    _, sockets = served(app)
    assert sockets == {"/api/v1/sessions/{session_id}/ws"}


def test_every_operation_has_a_summary_and_declares_its_errors(app: FastAPI) -> None:
    """A reader of the inventory knows what each operation is; schemathesis holds the declared
    status codes to the real answers (tests/security/test_schemathesis.py)."""
    for path, item in app.openapi()["paths"].items():
        for method, op in item.items():
            assert op.get("summary"), f"{method.upper()} {path}"
            assert op.get("responses"), f"{method.upper()} {path}"
