"""Counters in the `limits` storage: login throttling, lockout and request rate limits.

Memory storage by default (one process); Redis when FISCUS_REDIS_URL is set, so every
API process shares one budget and one lockout state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from fiscus.identity.config import IdentityConfig
from fiscus.identity.errors import AccountLocked, LoginThrottled

IP_FAILURE_WINDOW_S = 15 * 60


@dataclass(frozen=True, slots=True)
class Budget:
    """The state of one rate limit after a request: for the RateLimit-* headers."""

    limit: int
    remaining: int
    reset_s: int
    allowed: bool


def storage_for(redis_url: str | None) -> Storage:
    """Memory storage, or Redis storage (redis-py client) when a URL is configured."""
    if redis_url is None:
        return MemoryStorage()
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

    async def login_check(self, *, account: str, ip: str) -> None:
        """Refuse the attempt when the account is locked, backing off, or the IP is noisy."""
        locked = await self._remaining_s(self._key("lock", account))
        if locked:
            raise AccountLocked(
                "Too many failed logins: this account is locked; try again later.",
                retry_after_s=locked,
            )
        waiting = await self._remaining_s(self._key("backoff", account))
        if waiting:
            raise LoginThrottled(
                "Too many failed logins in a row; wait before trying again.",
                retry_after_s=waiting,
            )
        ip_key = self._key("ipfail", ip)
        if await self.storage.get(ip_key) >= self.config.ip_failures_per_15_min:
            raise LoginThrottled(
                "Too many failed logins from this address; try again later.",
                retry_after_s=await self._remaining_s(ip_key),
            )

    async def login_failed(self, *, account: str, ip: str) -> bool:
        """Count a failure; True when this failure locked the account."""
        config = self.config
        await self.storage.incr(self._key("ipfail", ip), IP_FAILURE_WINDOW_S)
        failures = await self.storage.incr(self._key("fail", account), config.lockout_s)
        if failures >= config.lockout_threshold:
            await self.storage.incr(self._key("lock", account), config.lockout_s)
            await self.storage.clear(self._key("fail", account))
            return True
        if failures >= config.backoff_after and config.backoff_base_s > 0:
            delay = config.backoff_base_s * 2 ** (failures - config.backoff_after)
            await self.storage.incr(
                self._key("backoff", account), max(1, int(min(delay, config.backoff_max_s)))
            )
        return False

    async def login_succeeded(self, *, account: str) -> None:
        """Reset the consecutive-failure count of the account."""
        await self.storage.clear(self._key("fail", account))
        await self.storage.clear(self._key("backoff", account))

    async def unlock(self, *, account: str) -> None:
        """Lift a lockout (administrators, tests)."""
        for kind in ("lock", "fail", "backoff"):
            await self.storage.clear(self._key(kind, account))

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
