"""Rate limits on every request, with `RateLimit-*` headers on every response.

Before authentication only the client address is known, so the middleware spends from a
generous per-IP budget; the authenticator then spends from the caller's plan budget (per
API key or user) and leaves it in the request state, and the middleware reports the
tighter of the two in `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fiscus.core.admission import EXEMPT_PATHS
from fiscus.core.errors import RateLimited
from fiscus.core.http import render_error
from fiscus.core.logging import get_logger
from fiscus.identity.authn import STATE_BUDGET
from fiscus.identity.runtime import Identity
from fiscus.identity.throttle import Budget

log = get_logger("fiscus.ratelimit")
IP_BURST_PER_S = 200


def rate_limit_headers(budget: Budget) -> list[tuple[bytes, bytes]]:
    """The three RateLimit-* headers (IETF draft) for a budget."""
    return [
        (b"ratelimit-limit", str(budget.limit).encode()),
        (b"ratelimit-remaining", str(budget.remaining).encode()),
        (b"ratelimit-reset", str(budget.reset_s).encode()),
    ]


class RateLimitMiddleware:
    """Per-IP budget for every request; reports the caller's budget in the headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        identity: Identity | None = getattr(scope["app"].state, "identity", None)
        if identity is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        try:
            ip_budget: Budget | None = await identity.throttle.spend(
                identity=f"ip:{ip}",
                per_minute=identity.config.ip_requests_per_minute,
                burst_per_s=max(IP_BURST_PER_S, identity.config.ip_requests_per_minute // 6),
            )
        except Exception as outage:  # a limiter outage must not take the API down with it
            log.warning("rate_limit_storage_unavailable", error=type(outage).__name__)
            ip_budget = None
        if ip_budget is not None and not ip_budget.allowed:
            error = RateLimited(
                "Too many requests from this address; slow down.", retry_after_s=ip_budget.reset_s
            )
            response = render_error(error, instance=scope["path"])
            response.headers.update(
                {k.decode(): v.decode() for k, v in rate_limit_headers(ip_budget)}
            )
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state: dict[str, Any] = scope.get("state") or {}
                budget = state.get(STATE_BUDGET) or ip_budget
                if budget is not None:
                    headers = [
                        h
                        for h in message.get("headers", [])
                        if not h[0].lower().startswith(b"ratelimit-")
                    ]
                    message = {**message, "headers": headers + rate_limit_headers(budget)}
            await send(message)

        await self.app(scope, receive, send_with_headers)
