"""Hardening headers on every HTTP answer (a pure ASGI middleware: streams and WebSockets pass
through untouched; only the `http.response.start` message is read and extended).

- `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`: always.
- `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'` unless the response set
  its own (the docs pages, file downloads): an API answer is data, never a page that may load,
  run or be framed.
- `Cache-Control: no-store` on every `/api` answer that did not set its own caching: tokens
  (sign-in, refresh, OAuth callback, ws-ticket), API keys and private data must not be kept by
  a browser or a shared cache. Listing which routes carry secrets would be a list to forget to
  update; a route that wants caching says so itself (the docs' static assets are left to
  revalidation).
- `Strict-Transport-Security` with `ROO_HSTS`, only on answers served over TLS: the request's
  scheme is `https`, which uvicorn also sets from `X-Forwarded-Proto` when the request came
  through a proxy in `TRUSTED_PROXIES` (`roo serve` configures both from that setting), never
  from a header sent by anyone else.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = b"default-src 'none'; frame-ancestors 'none'"
NO_STORE = b"no-store"


class SecurityHeadersMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts: str | None = None,
        api_prefix: str = "/api",
        cacheable_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.hsts = hsts.encode("latin-1") if hsts else None
        self.api_prefix = api_prefix
        self.cacheable_prefixes = cacheable_prefixes
        self._always: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        no_store = path.startswith(self.api_prefix) and not path.startswith(self.cacheable_prefixes)
        hsts = self.hsts if self.hsts and scope.get("scheme") == "https" else None

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                for name, value in self._always:
                    if name not in present:
                        headers.append((name, value))
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", API_CSP))
                if no_store and b"cache-control" not in present:
                    headers.append((b"cache-control", NO_STORE))
                if hsts is not None and b"strict-transport-security" not in present:
                    headers.append((b"strict-transport-security", hsts))
                message["headers"] = headers  # a new list: a response may reuse its own
            await send(message)

        await self.app(scope, receive, send_with_headers)
