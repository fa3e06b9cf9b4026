"""A stand-in for GitHub's OAuth app endpoints and the two REST calls sign-in makes, on loopback.

It speaks GitHub's documented shapes (docs.github.com: "Authorizing OAuth apps", "REST API
endpoints for users" and "for emails"):

* `GET /login/oauth/authorize`: the user is already signed in at "GitHub" (`sign_in_as`) and has
  approved the app, so it redirects straight back to `redirect_uri` with `code` and `state`;
* `POST /login/oauth/access_token`: form body with client_id, client_secret, code, redirect_uri
  and code_verifier; answers JSON when `Accept: application/json`, else form-encoded, and like
  GitHub reports a bad code or verifier as HTTP 200 with `error=bad_verification_code`;
* `GET /user` and `GET /user/emails` with the access token.

Also `ThreadedServer`: any ASGI app served by uvicorn in a thread on a socket bound beforehand.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

HOST = "127.0.0.1"
T = TypeVar("T")


def bind_socket() -> socket.socket:
    """A listening-ready socket on a free loopback port (bound now, so no one else takes it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    return sock


class ThreadedServer:
    """Serve an ASGI app with uvicorn on its own event loop in a daemon thread."""

    def __init__(self, app: Any, sock: socket.socket | None = None) -> None:
        self.sock = sock or bind_socket()
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"
        config = uvicorn.Config(
            app,
            lifespan="on",
            log_config=None,
            access_log=False,
            ws="none",
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name=f"uvicorn-{self.port}", daemon=True)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        try:
            loop.run_until_complete(self.server.serve(sockets=[self.sock]))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def start(self, timeout: float = 20.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the server on {self.url} stopped while starting")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server on {self.url} did not start in {timeout:g}s")
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)
        self.sock.close()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run a coroutine on the server's loop (its database pool and Redis live there)."""
        if self.loop is None:
            coro.close()
            raise RuntimeError("the server is not running")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


@contextmanager
def serving(app: Any, sock: socket.socket | None = None) -> Iterator[ThreadedServer]:
    server = ThreadedServer(app, sock)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class GitHubUser:
    id: int
    login: str
    name: str | None
    # GitHub's /user/emails items: {"email", "primary", "verified", "visibility"}
    emails: list[dict[str, Any]]


@dataclass
class _Grant:
    user: GitHubUser
    client_id: str
    redirect_uri: str | None
    challenge: str | None
    method: str | None


@dataclass
class GitHubDouble:
    client_id: str
    client_secret: str
    current_user: GitHubUser | None = None
    token_requests: list[dict[str, str]] = field(default_factory=list)
    _codes: dict[str, _Grant] = field(default_factory=dict)
    _tokens: dict[str, GitHubUser] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def sign_in_as(self, user: GitHubUser) -> None:
        """The account the browser is signed in to at "GitHub" (it approves any app)."""
        self.current_user = user

    # -- endpoints -------------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != self.client_id:
            return PlainTextResponse("unknown client_id", status_code=404)
        redirect_uri = q.get("redirect_uri")
        if not redirect_uri:
            return PlainTextResponse("redirect_uri is required here", status_code=400)
        if self.current_user is None:
            return PlainTextResponse("nobody is signed in to the double", status_code=401)
        method = q.get("code_challenge_method")
        if q.get("code_challenge") and method != "S256":
            return RedirectResponse(
                redirect_uri + "?" + urlencode({"error": "invalid_request", "state": q["state"]})
            )
        code = secrets.token_hex(10)
        with self._lock:
            self._codes[code] = _Grant(
                self.current_user, self.client_id, redirect_uri, q.get("code_challenge"), method
            )
        params = {"code": code}
        if q.get("state"):
            params["state"] = q["state"]
        return RedirectResponse(redirect_uri + "?" + urlencode(params), status_code=302)

    async def access_token(self, request: Request) -> Response:
        # Parsed by hand: Starlette's form parser needs python-multipart, which roo does not use.
        form = dict(parse_qsl((await request.body()).decode()))
        self.token_requests.append(form)
        wants_json = "application/json" in request.headers.get("accept", "")

        def answer(values: dict[str, str]) -> Response:
            if wants_json:
                return JSONResponse(values)
            return PlainTextResponse(
                urlencode(values), media_type="application/x-www-form-urlencoded"
            )

        if form.get("client_id") != self.client_id:
            return answer({"error": "incorrect_client_credentials"})
        if not secrets.compare_digest(form.get("client_secret", ""), self.client_secret):
            return answer({"error": "incorrect_client_credentials"})
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)  # a code works once
        description = "The code passed is incorrect or expired."
        if grant is None:
            return answer({"error": "bad_verification_code", "error_description": description})
        if form.get("redirect_uri") and form["redirect_uri"] != grant.redirect_uri:
            return answer({"error": "redirect_uri_mismatch"})
        if grant.challenge is not None:
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if not secrets.compare_digest(expected, grant.challenge):
                return answer(
                    {"error": "bad_verification_code", "error_description": "PKCE failed"}
                )
        token = "gho_" + secrets.token_hex(18)
        with self._lock:
            self._tokens[token] = grant.user
        return answer(
            {"access_token": token, "scope": "read:user,user:email", "token_type": "bearer"}
        )

    def _user(self, request: Request) -> GitHubUser | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token"):
            return None
        return self._tokens.get(token.strip())

    async def user(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return JSONResponse({"message": "Requires authentication"}, status_code=401)
        primary = next((e["email"] for e in user.emails if e.get("primary")), None)
        return JSONResponse(
            {
                "login": user.login,
                "id": user.id,
                "node_id": f"U_{user.id}",
                "type": "User",
                "name": user.name,
                "email": primary,  # the public email; sign-in must not trust it
            }
        )

    async def user_emails(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return JSONResponse({"message": "Requires authentication"}, status_code=401)
        return JSONResponse(user.emails)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/login/oauth/authorize", self.authorize),
                Route("/login/oauth/access_token", self.access_token, methods=["POST"]),
                Route("/user", self.user),
                Route("/user/emails", self.user_emails),
            ]
        )
