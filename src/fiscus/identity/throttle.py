"""Counters in the `limits` storage: login throttling, lockout and request rate limits.

Guesses (passwords, and second factors: TOTP and backup codes, wherever they are checked)
count per account AND per address (the email's look-up hash), whatever the tenant, so
guesses spread over the tenants where one address has an account share one counter.

Memory storage by default (one process); Redis when FISCUS_REDIS_URL is set, so every
API process shares one budget and one lockout state.
"""

from __future__ import annotations

import bisect
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from fiscus.identity.config import IdentityConfig
from fiscus.identity.errors import AccountLocked, LoginThrottled

IP_FAILURE_WINDOW_S = 15 * 60
# How long failures of a window without a record are remembered for the next record.
TALLY_KEPT_S = 24 * 3600
# What a failed guess was: a password, or a second factor (TOTP or backup code).
Kind = Literal["password", "mfa"]


def account_subject(tenant_id: uuid.UUID, user_id: uuid.UUID) -> str:
    """The throttle subject of one account (a user in one tenant)."""
    return f"acct:{tenant_id}:{user_id}"


def address_subject(email_hash: bytes) -> str:
    """The throttle subject of one email address in every tenant: its look-up hash, so no
    address is ever written to the counters' storage."""
    return f"addr:{email_hash.hex()}"


@dataclass(frozen=True, slots=True)
class Budget:
    """The state of one rate limit after a request: for the RateLimit-* headers."""

    limit: int
    remaining: int
    reset_s: int
    allowed: bool


class LocalStorage(MemoryStorage):
    """`limits`' in-process storage, with its expiry sweep made cheap.

    `MemoryStorage` starts a sweep of every key after each counted request, and hands each
    key's moving-window list to a thread (`asyncio.to_thread`) to find its expired
    entries: with a few dozen keys that is dozens of thread hand-overs per request, which
    took a quarter of a balance GET's time in the profile (bench/RESULTS.md, "Request
    path"). Expired entries only hold memory (the moving window reads the entry at the
    limit's index and its time, never relying on the sweep), so here the sweep runs at
    most once a second, inline: it is synchronous, so it never interleaves with the
    storage's own critical sections, which do not await inside their locks either.
    """

    SWEEP_INTERVAL_S = 1.0

    def __init__(self) -> None:
        super().__init__()
        self._next_sweep = 0.0

    # The base class calls this (name-mangled) hook after every write: see the docstring.
    async def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - the base's name
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_INTERVAL_S
            self.sweep()

    def sweep(self) -> None:
        """Drop expired moving-window entries and expired counters."""
        now = time.time()
        for key, entries in list(self.events.items()):
            # Newest first: the expired entries are the tail.
            del entries[bisect.bisect_left(entries, -now, key=lambda entry: -entry.expiry) :]
            if not entries:
                del self.events[key]
                self.locks.pop(key, None)
        for key, expires_at in list(self.expirations.items()):
            if expires_at <= now:
                self.storage.pop(key, None)
                del self.expirations[key]
                self.locks.pop(key, None)


def storage_for(redis_url: str | None) -> Storage:
    """Memory storage, or Redis storage (redis-py client) when a URL is configured."""
    if redis_url is None:
        return LocalStorage()
    uri = "async+" + redis_url if not redis_url.startswith("async+") else redis_url
    return RedisStorage(uri, implementation="redispy")


class Throttle:
    """Login lockout and back-off, and request budgets, over one `limits` storage."""

    def __init__(self, storage: Storage, config: IdentityConfig) -> None:
        self.storage = storage
        self.config = config
        # A moving window: no burst of twice the limit around a window boundary.
        self.limiter = MovingWindowRateLimiter(storage)

    def _key(self, *parts: str) -> str:
        return ":".join((self.config.rate_limit_prefix, *parts))

    async def _remaining_s(self, key: str) -> int:
        if await self.storage.get(key) <= 0:
            return 0
        return max(1, int(await self.storage.get_expiry(key) - time.time() + 0.999))

    async def login_check(self, *, subjects: Sequence[str], ip: str) -> None:
        """Refuse a password or code guess while a subject is locked or backing off, or the
        address is noisy (subjects: `account_subject`, `address_subject`)."""
        for subject in subjects:
            locked = await self._remaining_s(self._key("lock", subject))
            if locked:
                raise AccountLocked(
                    "Too many failed attempts: this account is locked; try again later.",
                    retry_after_s=locked,
                )
        for subject in subjects:
            waiting = await self._remaining_s(self._key("backoff", subject))
            if waiting:
                raise LoginThrottled(
                    "Too many failed attempts in a row; wait before trying again.",
                    retry_after_s=waiting,
                )
        ip_key = self._key("ipfail", ip)
        if await self.storage.get(ip_key) >= self.config.ip_failures_per_15_min:
            raise LoginThrottled(
                "Too many failed logins from this address; try again later.",
                retry_after_s=await self._remaining_s(ip_key),
            )

    async def login_failed(self, *, subjects: Sequence[str], ip: str, kind: Kind) -> bool:
        """Count a failed guess of `kind` on every subject; True when one got locked.

        Passwords and second factors count separately (a correct password must not wipe
        the count of wrong codes) but lock the same way, with the same threshold.
        """
        config = self.config
        await self.storage.incr(self._key("ipfail", ip), IP_FAILURE_WINDOW_S)
        locked = False
        for subject in subjects:
            fail_key = self._key("fail", kind, subject)
            failures = await self.storage.incr(fail_key, config.lockout_s)
            if failures >= config.lockout_threshold:
                await self.storage.incr(self._key("lock", subject), config.lockout_s)
                await self.storage.clear(fail_key)
                locked = True
            elif failures >= config.backoff_after and config.backoff_base_s > 0:
                delay = config.backoff_base_s * 2 ** (failures - config.backoff_after)
                await self.storage.incr(
                    self._key("backoff", subject), max(1, int(min(delay, config.backoff_max_s)))
                )
        return locked

    async def login_succeeded(self, *, subject: str, kind: Kind) -> None:
        """Reset the consecutive failures of `kind` on one subject (an account: an address
        counter is never reset, or a success in one tenant would wipe guesses in another)."""
        await self.storage.clear(self._key("fail", kind, subject))
        await self.storage.clear(self._key("backoff", subject))

    async def unlock(self, *, subject: str) -> None:
        """Lift a lockout (administrators, tests)."""
        for key in ("lock", "backoff"):
            await self.storage.clear(self._key(key, subject))
        for kind in get_args(Kind):
            await self.storage.clear(self._key("fail", kind, subject))

    async def failure_tally(self, *, subject: str, window_s: int) -> int | None:
        """Count one failure of `subject`; at the first of each window, the failures since
        the previous first (this one included), else None (the window already has its say)."""
        tally_key = self._key("ftally", subject)
        tally = await self.storage.incr(tally_key, TALLY_KEPT_S)
        if await self.storage.incr(self._key("fwindow", subject), window_s) != 1:
            return None
        # Subtract rather than clear: a failure counted meanwhile by another process stays.
        await self.storage.incr(tally_key, TALLY_KEPT_S, amount=-tally)
        return tally

    async def requests_allowed(
        self, *, kind: str, limits: Sequence[tuple[str, int]], window_s: int
    ) -> bool:
        """Count one request of `kind` on each (subject, limit) if every subject has room in
        its moving window; otherwise count nothing and return False."""
        items = [
            (RateLimitItemPerSecond(limit, window_s, namespace=self._key("req", kind)), subject)
            for subject, limit in limits
        ]
        for item, subject in items:
            if not await self.limiter.test(item, subject):
                return False
        for item, subject in items:
            await self.limiter.hit(item, subject)
        return True

    async def spend(self, *, identity: str, per_minute: int, burst_per_s: int) -> Budget:
        """Take one request from the per-minute budget and the per-second burst allowance."""
        minute: RateLimitItem = RateLimitItemPerMinute(per_minute, namespace=self._key("rl"))
        second: RateLimitItem = RateLimitItemPerSecond(burst_per_s, namespace=self._key("rb"))
        burst_ok = await self.limiter.hit(second, identity)
        minute_ok = burst_ok and await self.limiter.hit(minute, identity)
        stats = await self.limiter.get_window_stats(minute, identity)
        reset_s = max(0, int(stats.reset_time - time.time() + 0.999))
        if not burst_ok:
            burst = await self.limiter.get_window_stats(second, identity)
            reset_s = max(1, int(burst.reset_time - time.time() + 0.999))
        return Budget(
            limit=per_minute,
            remaining=max(0, stats.remaining),
            reset_s=reset_s,
            allowed=burst_ok and minute_ok,
        )
