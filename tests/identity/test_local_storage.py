"""The in-process rate-limit storage: `limits`' moving window, with a cheap expiry sweep."""

from __future__ import annotations

import asyncio
import threading

from limits import RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter

from fiscus.identity.throttle import LocalStorage


async def test_the_moving_window_still_refuses_past_the_limit_and_frees_after_it() -> None:
    storage = LocalStorage()
    limiter = MovingWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(3, 1, namespace="t")
    assert [await limiter.hit(item, "a") for _ in range(4)] == [True, True, True, False]
    assert await limiter.hit(item, "b")  # another subject has its own window
    stats = await limiter.get_window_stats(item, "a")
    assert stats.remaining == 0
    await asyncio.sleep(1.1)  # the window moves past the three hits
    assert await limiter.hit(item, "a")


async def test_the_sweep_drops_expired_keys_inline_without_threads() -> None:
    storage = LocalStorage()
    limiter = MovingWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(5, 1, namespace="t")
    for subject in ("a", "b", "c"):
        await limiter.hit(item, subject)
    await storage.incr("counter", 1)
    assert len(storage.events) == 3
    threads = threading.active_count()
    await asyncio.sleep(1.1)  # every entry and the counter expire; the next write sweeps
    storage._next_sweep = 0.0  # the sweep interval is a second: make this write sweep
    await limiter.hit(item, "d")
    assert list(storage.events) == [item.key_for("d")]
    assert "counter" not in storage.storage
    assert threading.active_count() == threads  # no thread was started for it
