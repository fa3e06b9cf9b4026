"""Budgets of a session's tool calls and commands, and of a user's WebSocket connects (issue #16).

The HTTP rate limiter (`roo.security.rate_limits`) counts requests; these count what a request
or a task's agent *does*, per session, whoever does it:

- **session-tools**: every tool call in a session, the agent's (any tool) and the tools API's
  (`POST /sessions/{id}/tools/{name}`), `ROO_RATE_LIMIT_SESSION_TOOLS`;
- **session-commands**: every command the service starts in a session's sandbox (the agent's
  `execute_command` and `search_files`, the tools API's, a clone), counted where every command
  goes through (`SessionManager.run_command`), `ROO_RATE_LIMIT_SESSION_COMMANDS`;
- **ws-connect**: WebSocket connections a user (or an API key) opens, counted once the socket's
  credential is known, `ROO_RATE_LIMIT_WS_CONNECT`;
- **ws-attempts**: WebSocket connection attempts per client address, counted before anything
  else (no ticket redeemed, no credential read or waited for), `ROO_RATE_LIMIT_WS_ATTEMPTS`.

Sliding windows of the `limits` library in the rate limiter's storage (process memory, or Redis
with `REDIS_URL`: shared by every process). A request refused answers 429 problem+json with
`Retry-After` and the IETF `RateLimit-Policy` / `RateLimit` headers of the budget; a call refused
to a task's agent is a tool error the model reads; a WebSocket refused is closed with 4429.
When the store fails (Redis away) nothing is refused: the call goes on, with a logged warning.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass

from limits import parse
from limits.aio.storage import Storage

from roo.config import Settings
from roo.kit.errors import TooManyRequests
from roo.kit.logs import get_logger
from roo.observability.metrics import RATE_LIMITED
from roo.sandbox.errors import SandboxError
from roo.security.rate_limits import Policy
from roo.security.sliding_window import SlidingWindowCounter

log = get_logger("roo.security")

NAMESPACE = "budget"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One hit's answer: allowed or not, what is left, and when the window frees calls."""

    policy: Policy
    allowed: bool
    remaining: int
    reset: int

    @property
    def retry_after(self) -> int:
        return max(1, self.reset)

    @property
    def headers(self) -> dict[str, str]:
        """`RateLimit-Policy` and `RateLimit` (and `Retry-After` when refused)."""
        headers = {
            "RateLimit-Policy": self.policy.header.decode(),
            "RateLimit": f'"{self.policy.name}";r={self.remaining};t={self.reset}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class SessionRateLimited(TooManyRequests):
    """A request refused by a session's budget (tools API, clone)."""

    slug, title = "session-rate-limited", "The session's budget is spent"

    @classmethod
    def of(cls, verdict: Verdict, what: str) -> SessionRateLimited:
        return cls(
            f"This session used its budget of {what} ('{verdict.policy.name}': "
            f"{verdict.policy.item.amount} per {verdict.policy.item.get_expiry()} s); try "
            f"again in {verdict.retry_after} s",
            headers=verdict.headers,
            policy=verdict.policy.name,
        )


class CommandBudgetSpent(SandboxError):
    """A command not started: its session's `session-commands` budget is spent. A
    `SandboxError`, so an agent's tool reports it as a command that could not start."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        item = verdict.policy.item
        super().__init__(
            f"this session already started {item.amount} commands in the last "
            f"{item.get_expiry()} s, the most its budget allows; wait {verdict.retry_after} s "
            "before the next one (do not retry at once)"
        )


def tool_refusal(verdict: Verdict) -> str:
    """What the model reads when a tool call is refused by the session's tool budget."""
    item = verdict.policy.item
    return (
        f"The tool was not run: this session already made {item.amount} tool calls in the last "
        f"{item.get_expiry()} s, the most its budget allows. Wait about {verdict.retry_after} s "
        "before the next tool call, and make fewer, larger calls."
    )


class Budgets:
    """The budgets above, counted in `storage`. `enabled=False` counts nothing."""

    def __init__(
        self,
        storage: Storage,
        *,
        tools: str,
        commands: str,
        ws_connect: str,
        ws_attempts: str,
        enabled: bool = True,
    ) -> None:
        self.storage = storage
        self.enabled = enabled
        self.tools = Policy("session-tools", parse(tools))
        self.commands = Policy("session-commands", parse(commands))
        self.ws_connect = Policy("ws-connect", parse(ws_connect))
        self.ws_attempts = Policy("ws-attempts", parse(ws_attempts))
        self._counter = SlidingWindowCounter(storage)

    @classmethod
    def from_settings(cls, settings: Settings, storage: Storage) -> Budgets:
        return cls(
            storage,
            tools=settings.rate_limit_session_tools,
            commands=settings.rate_limit_session_commands,
            ws_connect=settings.rate_limit_ws_connect,
            ws_attempts=settings.rate_limit_ws_attempts,
            enabled=settings.rate_limit_enabled,
        )

    async def hit(self, policy: Policy, key: str) -> Verdict | None:
        """Count one call against `policy` for `key`; None when nothing was counted (budgets
        off, or the store failed: fail open, logged)."""
        if not self.enabled:
            return None
        try:
            allowed, stats = await self._counter.hit(policy.item, NAMESPACE, policy.name, key)
        except Exception as exc:  # the store is away: the call goes on, uncounted
            log.warning(
                "rate_limit.store_failed", policy=policy.name, error=f"{type(exc).__name__}: {exc}"
            )
            return None
        verdict = Verdict(
            policy=policy,
            allowed=allowed,
            remaining=max(stats.remaining, 0),
            reset=max(0, math.ceil(stats.reset_time - time.time())),
        )
        if not allowed:
            RATE_LIMITED.labels(policy.name).inc()
            log.info("rate_limit.refused", policy=policy.name, key=key)
        return verdict

    async def tool_call(self, session_id: uuid.UUID) -> Verdict | None:
        return await self.hit(self.tools, str(session_id))

    async def command(self, session_id: uuid.UUID) -> Verdict | None:
        return await self.hit(self.commands, str(session_id))

    async def connect(self, caller: str) -> Verdict | None:
        return await self.hit(self.ws_connect, caller)

    async def attempt(self, address: str) -> Verdict | None:
        return await self.hit(self.ws_attempts, address)
