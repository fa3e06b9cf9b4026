"""API rate limits (the `limits` library): a budget per caller, IETF headers on every answer.

Every HTTP request but the health probes and the metrics scrape falls under exactly one policy
(`Policies`):

- **user**: a request with a valid credential counts against its user (an access token) or its
  API key (each key a budget of its own), whatever address it comes from;
- **auth**: sign-in, registration, refresh and the start of an OAuth sign-in, per client address
  (stricter: these are what password guessing and account farming use);
- **anonymous**: any other request without a valid credential, per client address (a request
  whose credential is refused counts here too: made-up credentials buy no budget).

The client address is the socket's, or, behind a proxy listed in `TRUSTED_PROXIES`, the one that
proxy reports (uvicorn's proxy-header handling, configured from the same setting by
`roo serve`). Budgets are sliding windows kept in process memory, or in Redis with `REDIS_URL`
(shared by every process). Every answer carries the policy and what is left of it
(draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: "user";q=1200;w=60` and
`RateLimit: "user";r=1187;t=41`); past the budget the answer is 429 problem+json with
`Retry-After`, and the request does not reach the application.

The caller is resolved here, once, and left in the request's scope for the route's permission
check (`roo.auth.deps.Authorize` reads it): resolving costs nothing more than before.

When the store fails (Redis away), requests are let through with a logged warning, except on
the `auth` routes, which answer 503: a sign-in that cannot be counted is not attempted.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roo.api.problems import problem_response
from roo.auth.deps import PRINCIPAL_SCOPE_KEY, Authorize
from roo.auth.identity import Principal
from roo.config import Settings
from roo.kit.errors import AppError
from roo.kit.logs import get_logger
from roo.observability.metrics import RATE_LIMITED
from roo.security.sliding_window import SlidingWindowCounter

log = get_logger("roo.security")

# Never limited: the probes of an orchestrator (a busy process is alive and ready) and the
# metrics scrape (it needs an admin credential; an overload is when it matters most).
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
AUTH_PATHS = frozenset({"/api/v1/auth/login", "/api/v1/auth/register", "/api/v1/auth/refresh"})
OAUTH_START = ("/api/v1/auth/oauth/", "/authorize")


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    item: RateLimitItem

    @property
    def header(self) -> bytes:
        seconds = self.item.get_expiry()
        return f'"{self.name}";q={self.item.amount};w={seconds}'.encode()


@dataclass(frozen=True, slots=True)
class Policies:
    user: Policy
    auth: Policy
    anonymous: Policy

    @classmethod
    def from_settings(cls, settings: Settings) -> Policies:
        return cls(
            user=Policy("user", parse(settings.rate_limit_user)),
            auth=Policy("auth", parse(settings.rate_limit_auth)),
            anonymous=Policy("anonymous", parse(settings.rate_limit_anonymous)),
        )


class RateLimited(AppError):
    status, slug, title = 429, "rate-limited", "Too Many Requests"


class RateLimitMiddleware:
    """Counts each HTTP request against its policy; see the module's docstring. The storage and
    the identity resolver come from the app's resources once its lifespan started."""

    def __init__(self, app: ASGIApp, *, policies: Policies, enabled: bool = True) -> None:
        self.app = app
        self.policies = policies
        self.enabled = enabled
        self._counter: SlidingWindowCounter | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.enabled or scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        resources = getattr(scope["app"].state, "resources", None)
        if resources is None:  # no lifespan (a bare test app): nothing to count with
            await self.app(scope, receive, send)
            return
        policy, key = await self._classify(scope)
        counter = self._counter_for(resources.limit_storage)
        try:
            allowed, stats = await counter.hit(policy.item, "api", policy.name, key)
        except Exception as exc:  # the store is away: serve (but never an uncounted sign-in)
            log.warning("rate_limit.store_failed", error=f"{type(exc).__name__}: {exc}")
            if policy.name == "auth":
                response = problem_response(
                    503,
                    detail="Sign-in is unavailable for a moment; try again shortly",
                    instance=scope["path"],
                    headers={"Retry-After": "5"},
                )
                await response(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        headers = [
            (b"ratelimit-policy", policy.header),
            (b"ratelimit", f'"{policy.name}";r={max(stats.remaining, 0)};t={reset}'.encode()),
        ]
        if not allowed:
            retry = max(1, reset)
            log.info("rate_limit.refused", policy=policy.name, path=scope["path"])
            RATE_LIMITED.labels(policy.name).inc()
            response = problem_response(
                429,
                slug=RateLimited.slug,
                title=RateLimited.title,
                detail=f"Rate limit '{policy.name}' reached; try again in {retry} s",
                instance=scope["path"],
                headers={"Retry-After": str(retry)},
            )
            response.raw_headers.extend(headers)
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _counter_for(self, storage: Storage) -> SlidingWindowCounter:
        if self._counter is None or self._counter.storage is not storage:
            self._counter = SlidingWindowCounter(storage)
        return self._counter

    async def _classify(self, scope: Scope) -> tuple[Policy, str]:
        path: str = scope["path"]
        address = scope["client"][0] if scope.get("client") else "unknown"
        if path in AUTH_PATHS or (
            path.startswith(OAUTH_START[0]) and path.endswith(OAUTH_START[1])
        ):
            return self.policies.auth, address
        principal = await _caller(scope)
        if principal is None:
            return self.policies.anonymous, address
        if principal.api_key_id is not None:
            return self.policies.user, f"key:{principal.api_key_id}"
        return self.policies.user, f"user:{principal.user_id}"


async def _caller(scope: Scope) -> Principal | None:
    """The request's caller if its credential is valid (kept in the scope for the route's
    permission check), else None (the route refuses it in its own words)."""
    try:
        principal = await _RESOLVE(Request(scope))
    except AppError:  # none, malformed or refused: the route answers 401
        return None
    except Exception as exc:  # a cache or database failure: the route's own check answers it
        log.warning("rate_limit.identity_failed", error=f"{type(exc).__name__}: {exc}")
        return None
    scope[PRINCIPAL_SCOPE_KEY] = principal
    return principal


_RESOLVE = Authorize(None)._resolve  # the same resolution as every route's check
