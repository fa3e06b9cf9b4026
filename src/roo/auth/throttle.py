"""Throttling failed logins per client IP and per account, and registrations per client IP
(the `limits` library).

Only failed logins count: a user who types the right password is never slowed down by the limit
of their own account, but an attacker guessing passwords is, whichever IP it uses; and one IP
spraying many accounts is stopped by the per-IP limit. Every registration attempt counts: its
answer does not tell a new address from a taken one, and the limit bounds how many addresses
one client can try that way (or create).
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from roo.config import Settings
from roo.kit.errors import TooManyRequests


def create_limit_storage(settings: Settings) -> Storage:
    """Redis when configured (shared by every process), process memory otherwise."""
    if settings.redis_url:
        uri = "async+" + settings.redis_url if "://" in settings.redis_url else settings.redis_url
        return RedisStorage(
            uri, implementation="redispy", key_prefix=settings.redis_prefix + "limits"
        )
    return MemoryStorage()


class LoginThrottled(TooManyRequests):
    slug, title = "login-throttled", "Too many failed sign-in attempts"


class LoginThrottle:
    def __init__(self, storage: Storage, settings: Settings) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        window = settings.login_failure_window_seconds
        self._per_ip = RateLimitItemPerSecond(settings.login_max_failures_per_ip, window)
        self._per_account = RateLimitItemPerSecond(settings.login_max_failures_per_account, window)

    async def check(self, ip: str, email: str) -> None:
        """Raise 429 with Retry-After when either budget of failures is spent."""
        for item, key in ((self._per_ip, f"ip:{ip}"), (self._per_account, f"acct:{email}")):
            if not await self._limiter.test(item, "login", key):
                stats = await self._limiter.get_window_stats(item, "login", key)
                retry = max(1, math.ceil(stats.reset_time - time.time()))
                raise LoginThrottled(
                    f"Too many failed sign-in attempts; try again in {retry} s",
                    headers={"Retry-After": str(retry)},
                )

    async def failed(self, ip: str, email: str) -> None:
        await self._limiter.hit(self._per_ip, "login", f"ip:{ip}")
        await self._limiter.hit(self._per_account, "login", f"acct:{email}")

    async def succeeded(self, email: str) -> None:
        await self._limiter.clear(self._per_account, "login", f"acct:{email}")


class RegistrationThrottled(TooManyRequests):
    slug, title = "registration-throttled", "Too many registrations"


class RegistrationThrottle:
    def __init__(self, storage: Storage, settings: Settings) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._per_ip = RateLimitItemPerSecond(
            settings.register_max_per_ip, settings.register_window_seconds
        )

    async def hit(self, ip: str) -> None:
        """Count one attempt from `ip`; raise 429 with Retry-After once its budget is spent."""
        key = f"ip:{ip}"
        if not await self._limiter.hit(self._per_ip, "register", key):
            stats = await self._limiter.get_window_stats(self._per_ip, "register", key)
            retry = max(1, math.ceil(stats.reset_time - time.time()))
            raise RegistrationThrottled(
                f"Too many registrations from this address; try again in {retry} s",
                headers={"Retry-After": str(retry)},
            )
