"""Throttling failed sign-ins so that an attacker cannot turn it against the victim, and
registrations per client address (the `limits` library's storage: process memory, or Redis with
`REDIS_URL`, shared by every process).

A sign-in that failed counts against three things, each remembered for the failure window
(`ROO_LOGIN_FAILURE_WINDOW`, a moving window):

- **the (account, address) pair**: from its `ROO_LOGIN_MAX_FAILURES_PER_PAIR`-th failure on,
  each failure makes that pair wait a growing delay (`ROO_LOGIN_BACKOFF_BASE`, doubled at each
  further failure, at most `ROO_LOGIN_BACKOFF_MAX`) before it may try again. This is what slows
  down a guesser aimed at one account from one address; nobody else is refused by it.
- **the address**: from its `ROO_LOGIN_MAX_FAILURES_PER_IP`-th failure on any accounts, the
  address waits growing delays as well (one address spraying many accounts). Accounts that already
  signed in successfully from that address (within `ROO_LOGIN_KNOWN_ADDRESS_TTL`) are exempt:
  the people behind a shared address (an office NAT) keep signing in while a colleague's
  malware sprays, still bound by their own pair's delays.
- **the account**, all addresses together: past `ROO_LOGIN_MAX_FAILURES_PER_ACCOUNT` failures
  the account is under a distributed attack, and a pair loses its free failures: every address
  that fails on the account waits from its first failure on it. An address with no failure of its
  own on the account is never refused, so the owner signing in from a clean address is never
  locked out however many addresses guess (OWASP Authentication Cheat Sheet: a lockout an
  attacker can trigger is a denial of service; slow the guesser, not the account).

A right password clears its pair's failures and marks the pair known. A refused attempt
(429 with `Retry-After`) checks no password and counts nothing more. `roo user unlock` clears
an account's state (every pair of it, by moving the account to a new generation of keys) or an
address's.

When the store fails (Redis away), sign-in answers 503: an attempt that cannot be counted is
not made (fail closed).

Keys carry a hash of the account's address, never the address itself.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from roo.config import Settings
from roo.kit.errors import ServiceUnavailable, TooManyRequests
from roo.kit.logs import get_logger

log = get_logger("roo.auth")

NAMESPACE = "login"
# An account's key generation lives far longer than any failure it can hide (see `unlock`).
GENERATION_SECONDS = 10 * 365 * 86400
# Failures counted beyond a threshold: enough for any delay to reach its cap.
_COUNTED_BEYOND_THRESHOLD = 64


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


class LoginUnavailable(ServiceUnavailable):
    slug, title = "login-unavailable", "Sign-in is unavailable"


def account_key(email: str) -> str:
    """What keys say of an account: a hash of its (normalised) address."""
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def backoff_delay(failures: int, threshold: int, base: int, cap: int) -> int:
    """Seconds to wait after the `failures`-th failure when waiting starts at `threshold`:
    0, ..., 0, base (the threshold-th), 2 base, 4 base, ... at most `cap`."""
    beyond = failures - threshold
    if beyond < 0:
        return 0
    return min(cap, base * (1 << min(beyond, 40)))


@dataclass(frozen=True, slots=True)
class _Keys:
    """Storage keys of one (account, address) attempt."""

    account_hash: str
    generation: int
    ip: str

    @property
    def account(self) -> str:
        return f"{self.account_hash}.{self.generation}"

    @property
    def pair(self) -> str:
        return f"{self.account}/{self.ip}"

    @property
    def pair_lock(self) -> str:
        return f"{NAMESPACE}/lock/pair/{self.pair}"

    @property
    def ip_lock(self) -> str:
        return f"{NAMESPACE}/lock/ip/{self.ip}"

    @property
    def known(self) -> str:
        # not per generation: an unlock forgets failures, not where the owner signed in from
        return f"{NAMESPACE}/known/{self.account_hash}/{self.ip}"


class LoginThrottle:
    """See the module's docstring. One per process; its state lives in `storage`."""

    def __init__(self, storage: Storage, settings: Settings) -> None:
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        window = settings.login_failure_window_seconds
        self._pair_threshold = settings.login_max_failures_per_pair
        self._ip_threshold = settings.login_max_failures_per_ip
        self._per_pair = RateLimitItemPerSecond(
            self._pair_threshold + _COUNTED_BEYOND_THRESHOLD, window
        )
        self._per_ip = RateLimitItemPerSecond(
            self._ip_threshold + _COUNTED_BEYOND_THRESHOLD, window
        )
        self._per_account = RateLimitItemPerSecond(settings.login_max_failures_per_account, window)
        self._base = settings.login_backoff_base_seconds
        self._cap = settings.login_backoff_max_seconds
        self._known_seconds = settings.login_known_address_seconds

    # -- the sign-in path ------------------------------------------------------------------

    async def check(self, ip: str, email: str) -> None:
        """Raise 429 with Retry-After while this pair, or this address (for an account not
        known there), must wait; 503 when the store cannot say."""
        try:
            keys = await self._keys(ip, email)
            wait = await self._remaining(keys.pair_lock)
            if not wait:
                ip_wait = await self._remaining(keys.ip_lock)
                if ip_wait and not await self._storage.get(keys.known):
                    wait = ip_wait
        except Exception as exc:
            raise self._unavailable(exc) from exc
        if wait:
            raise LoginThrottled(
                f"Too many failed sign-in attempts; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )

    async def failed(self, ip: str, email: str) -> int:
        """Count one failure; return the delay it imposes on this pair (0: none yet)."""
        try:
            keys = await self._keys(ip, email)
            on_pair = await self._count(self._per_pair, "pair", keys.pair)
            on_ip = await self._count(self._per_ip, "ip", keys.ip)
            # the account-wide guard: full once the account is under a distributed attack
            guard_full = not await self._limiter.hit(self._per_account, NAMESPACE, keys.account)
            threshold = 1 if guard_full else self._pair_threshold
            pair_delay = backoff_delay(on_pair, threshold, self._base, self._cap)
            ip_delay = backoff_delay(on_ip, self._ip_threshold, self._base, self._cap)
            if pair_delay:
                await self._lock(keys.pair_lock, pair_delay)
            if ip_delay:
                await self._lock(keys.ip_lock, ip_delay)
        except Exception as exc:
            raise self._unavailable(exc) from exc
        if pair_delay or ip_delay:
            log.info(
                "auth.login_delayed",
                ip=ip,
                pair_delay=pair_delay,
                ip_delay=ip_delay,
                account_guard=guard_full,
            )
        return pair_delay

    async def succeeded(self, ip: str, email: str) -> None:
        """The right password: the pair's failures are forgotten and the pair is known."""
        try:
            keys = await self._keys(ip, email)
            await self._limiter.clear(self._per_pair, NAMESPACE, "pair", keys.pair)
            await self._storage.clear(keys.pair_lock)
            if self._known_seconds and not await self._storage.get(keys.known):
                await self._storage.incr(keys.known, self._known_seconds)
        except Exception as exc:  # signed in already; only the bookkeeping is lost
            log.warning("auth.login_bookkeeping_failed", error=f"{type(exc).__name__}: {exc}")

    # -- administration ----------------------------------------------------------------------

    async def unlock_account(self, email: str) -> None:
        """Forget every failure on the account, from every address: its keys move to a new
        generation (pairs cannot be listed in a key-value store; the old keys expire)."""
        await self._storage.incr(f"{NAMESPACE}/generation/{account_key(email)}", GENERATION_SECONDS)

    async def unlock_address(self, ip: str) -> None:
        """Forget the failures of one address (on any account) and its delay."""
        await self._limiter.clear(self._per_ip, NAMESPACE, "ip", ip)
        await self._storage.clear(_Keys("", 0, ip).ip_lock)

    # -- internals ----------------------------------------------------------------------------

    async def _keys(self, ip: str, email: str) -> _Keys:
        account_hash = account_key(email)
        generation = await self._storage.get(f"{NAMESPACE}/generation/{account_hash}")
        return _Keys(account_hash, generation, ip)

    async def _count(self, item: RateLimitItem, kind: str, key: str) -> int:
        """Add one failure to a moving window; return how many it now holds."""
        await self._limiter.hit(item, NAMESPACE, kind, key)
        stats = await self._limiter.get_window_stats(item, NAMESPACE, kind, key)
        return item.amount - stats.remaining

    async def _lock(self, key: str, seconds: int) -> None:
        # A fresh key (its attempt passed `check`): it lives exactly `seconds`.
        await self._storage.clear(key)
        await self._storage.incr(key, seconds)

    async def _remaining(self, key: str) -> int:
        """Whole seconds until a lock ends (0: not locked)."""
        if not await self._storage.get(key):
            return 0
        return max(1, math.ceil(await self._storage.get_expiry(key) - time.time()))

    @staticmethod
    def _unavailable(exc: Exception) -> LoginUnavailable:
        log.warning("auth.login_throttle_store_failed", error=f"{type(exc).__name__}: {exc}")
        return LoginUnavailable(
            "Sign-in is unavailable for a moment; try again shortly",
            headers={"Retry-After": "5"},
        )


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
