"""Admission control: a bounded number of requests in progress per process, and a bounded
wait for a place, so that overload turns into quick 503s instead of a queue that grows.

Without it a burst past capacity is accepted whole: every request waits for a database
connection, the clients give up after their timeout while the server still finishes the
work they abandoned, and the server spends all its capacity on answers nobody reads (the
30-minute soak in bench/RESULTS.md shows that collapse when other processes took half the
machine). With it, a request that cannot start within `wait_s` is refused at once with
503 `server-busy` and `Retry-After`, and the requests admitted finish in their usual time.
Health, readiness and metrics are never refused: a busy node is not a dead one.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

from fiscus.core.errors import ServerBusy
from fiscus.core.http import render_error
from fiscus.core.logging import get_logger

log = get_logger("fiscus.admission")
# Probes and scrapes come from load balancers and Prometheus, many times a minute from one
# address; refusing or rate-limiting them would take a healthy node out of rotation.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class AdmissionMiddleware:
    """At most `limit` requests in progress; a request waits at most `wait_s` to start."""

    def __init__(self, app: ASGIApp, *, limit: int, wait_s: float) -> None:
        self.app = app
        self.limit = limit
        self.wait_s = wait_s
        self.places = asyncio.Semaphore(limit)
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            async with asyncio.timeout(self.wait_s):
                await self.places.acquire()
        except TimeoutError:
            self.refused += 1
            if self.refused == 1 or self.refused % 100 == 0:
                log.warning("requests_refused_busy", refused=self.refused, limit=self.limit)
            error = ServerBusy(
                "The server is at capacity; retry after the number of seconds in Retry-After."
            )
            await render_error(error, instance=scope["path"])(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.places.release()
