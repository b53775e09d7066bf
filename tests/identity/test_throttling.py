"""Brute-force lockout, back-off and request rate limits, with memory and with Redis storage."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from fiscus.access.schemas import TenantSettings
from fiscus.api import create_app
from fiscus.core.events import Event
from tests.conftest import make_settings
from tests.factories import PASSWORD, Principal, principal, tenant_settings_set

REDIS_URL = "redis://127.0.0.1:6379/0"


def _app(database_url: str, storage: str, prefix: str) -> FastAPI:
    settings = make_settings(database_url, redis_url=REDIS_URL if storage == "redis" else None)
    app = create_app(settings)
    config = app.state.identity.config
    config.rate_limit_prefix = prefix  # tests sharing one Redis must not share counters
    config.backoff_base_s = 0  # back-off has its own test
    return app


@pytest.fixture(params=["memory", "redis"])
async def throttled(
    request, clean_database: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = _app(clean_database, request.param, "test-" + secrets.token_hex(8))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield app, client


async def _login(client: httpx.AsyncClient, p: Principal, password: str) -> httpx.Response:
    return await client.post(
        "/v1/auth/login", json={"tenant": p.tenant_slug, "email": p.email, "password": password}
    )


async def test_ten_failures_lock_the_account_for_thirty_minutes(throttled) -> None:
    app, client = throttled
    p = await principal(app)
    for _ in range(10):
        assert (await _login(client, p, "wrong password")).status_code == 401
    locked = await _login(client, p, PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["type"].endswith("/account-locked")
    assert 1790 <= int(locked.headers["retry-after"]) <= 1800
    async with app.state.db.uow() as uow:
        events = (
            (await uow.session.execute(select(Event).where(Event.type == "user.locked_out")))
            .scalars()
            .all()
        )
    assert len(events) == 1
    assert events[0].payload["user_id"] == str(p.user_id)
    assert "password" not in str(events[0].payload)


async def test_a_success_resets_the_consecutive_failures(throttled) -> None:
    app, client = throttled
    p = await principal(app)
    for _ in range(9):
        await _login(client, p, "wrong password")
    assert (await _login(client, p, PASSWORD)).status_code == 200
    for _ in range(9):
        assert (await _login(client, p, "wrong password")).status_code == 401
    assert (await _login(client, p, PASSWORD)).status_code == 200


async def test_failures_back_off_increasingly_after_five(throttled) -> None:
    app, client = throttled
    app.state.identity.config.backoff_base_s = 5
    p = await principal(app)
    for _ in range(5):
        assert (await _login(client, p, "wrong password")).status_code == 401
    waiting = await _login(client, p, PASSWORD)
    assert waiting.status_code == 429
    assert waiting.json()["type"].endswith("/login-throttled")
    assert 1 <= int(waiting.headers["retry-after"]) <= 5


async def test_redis_shares_the_lockout_between_processes(clean_database: str) -> None:
    prefix = "shared-" + secrets.token_hex(8)
    first, second = _app(clean_database, "redis", prefix), _app(clean_database, "redis", prefix)
    async with LifespanManager(first), LifespanManager(second):
        a = httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://a")
        b = httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://b")
        async with a, b:
            p = await principal(first)
            for index in range(10):
                assert (await _login(a if index % 2 else b, p, "wrong password")).status_code == 401
            assert (await _login(a, p, PASSWORD)).status_code == 429
            assert (await _login(b, p, PASSWORD)).status_code == 429


async def test_every_response_carries_rate_limit_headers(throttled) -> None:
    app, client = throttled
    p = await principal(app)
    for response in (
        await client.get("/openapi.json"),
        await client.get("/v1/me", headers=p.headers),
        await client.get("/v1/me"),
    ):
        assert int(response.headers["ratelimit-limit"]) > 0
        assert int(response.headers["ratelimit-remaining"]) >= 0
        assert int(response.headers["ratelimit-reset"]) >= 0
    authed = await client.get("/v1/me", headers=p.headers)
    assert authed.headers["ratelimit-limit"] == "6000"  # the enterprise plan, not the IP budget


async def test_plan_budget_spent_is_429_with_retry_after(throttled) -> None:
    app, client = throttled
    app.state.identity.config.plan_limits["free"] = (3, 100)
    p = await principal(app)
    await tenant_settings_set(
        app.state.db, tenant_id=p.tenant_id, settings=TenantSettings(plan="free")
    )
    statuses = [(await client.get("/v1/me", headers=p.headers)) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429]
    assert statuses[2].headers["ratelimit-remaining"] == "0"
    assert int(statuses[3].headers["retry-after"]) >= 1
    assert statuses[3].json()["type"].endswith("/rate-limited")


async def test_per_address_budget_applies_before_authentication(throttled) -> None:
    app, client = throttled
    app.state.identity.config.ip_requests_per_minute = 5
    statuses = [(await client.get("/v1/me")).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    # Probes are exempt: a load balancer must never see a healthy node refuse them.
    assert (await client.get("/healthz")).status_code == 200
    assert "ratelimit-limit" not in (await client.get("/healthz")).headers
