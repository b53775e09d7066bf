"""Brute-force lockout (passwords and second factors, per account and per address), back-off
and request rate limits, with memory and with Redis storage."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pyotp
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import select

from fiscus.access.schemas import TenantSettings
from fiscus.api import create_app
from fiscus.core import clock
from fiscus.core.events import Event
from fiscus.identity.throttle import address_subject
from tests.conftest import make_settings
from tests.factories import PASSWORD, Principal, principal, tenant_settings_set
from tests.identity.test_mfa import _enrol, _step_start


def _app(database_url: str, redis_url: str | None, prefix: str) -> FastAPI:
    settings = make_settings(database_url, redis_url=redis_url)
    app = create_app(settings)
    config = app.state.identity.config
    config.rate_limit_prefix = prefix  # tests sharing one Redis must not share counters
    config.backoff_base_s = 0  # back-off has its own test
    return app


@pytest.fixture(params=["memory", "redis"])
async def throttled(
    request, clean_database: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    app = _app(clean_database, redis_url, "test-" + secrets.token_hex(8))
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


async def test_a_success_resets_the_accounts_failures_but_not_the_addresss(throttled) -> None:
    app, client = throttled
    p = await principal(app)
    other = await principal(app)
    for _ in range(9):
        await _login(client, p, "wrong password")
    assert (await _login(client, p, PASSWORD)).status_code == 200
    # The address counts on: a success in one tenant must not wipe guesses made against
    # the same address in another (issue 10 item 11), so the tenth failure locks.
    assert (await _login(client, p, "wrong password")).status_code == 401
    assert (await _login(client, p, PASSWORD)).status_code == 429
    # Another account, another address: its own count, reset by its own success.
    for _ in range(9):
        await _login(client, other, "wrong password")
    assert (await _login(client, other, PASSWORD)).status_code == 200
    await app.state.identity.throttle.unlock(subject=address_subject(_hash(app, other.email)))
    for _ in range(9):
        assert (await _login(client, other, "wrong password")).status_code == 401
    assert (await _login(client, other, PASSWORD)).status_code == 200


def _hash(app: FastAPI, email: str) -> bytes:
    return bytes(app.state.keyring.lookup_hash(email, purpose="email"))


async def test_guesses_on_one_address_share_a_counter_across_tenants(throttled) -> None:
    app, client = throttled
    email = f"shared-{secrets.token_hex(4)}@example.com"
    in_a = await principal(app, email=email)
    in_b = await principal(app, email=email)  # another tenant: another account
    assert in_a.user_id != in_b.user_id
    for index in range(10):
        target = in_a if index % 2 else in_b
        assert (await _login(client, target, "wrong password")).status_code == 401
    for target in (in_a, in_b):
        locked = await _login(client, target, PASSWORD)
        assert locked.status_code == 429
        assert locked.json()["type"].endswith("/account-locked")
    # A third tenant where the address has no account at all counts against it too.
    stranger = await principal(app)
    unknown = await client.post(
        "/v1/auth/login",
        json={"tenant": stranger.tenant_slug, "email": email, "password": "wrong password"},
    )
    assert unknown.status_code == 429


async def test_the_counters_storage_never_holds_an_address(
    clean_database: str, redis_url: str
) -> None:
    prefix = "addr-" + secrets.token_hex(8)
    app = _app(clean_database, redis_url, prefix)
    async with LifespanManager(app):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        async with client:
            p = await principal(app)
            for _ in range(6):
                await _login(client, p, "wrong password")
        redis = Redis.from_url(redis_url)
        try:
            keys = [k.decode() for k in await redis.keys(f"*{prefix}*")]
        finally:
            await redis.aclose()
    assert any(_hash(app, p.email).hex() in k for k in keys), keys
    local = p.email.split("@")[0]
    assert not [k for k in keys if local in k or "@" in k], keys


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


async def test_redis_shares_the_lockout_between_processes(
    clean_database: str, redis_url: str
) -> None:
    prefix = "shared-" + secrets.token_hex(8)
    first, second = _app(clean_database, redis_url, prefix), _app(clean_database, redis_url, prefix)
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


def wrong_code(secret: str) -> str:
    """A six-digit code that is not valid for the current TOTP steps (drift included)."""
    totp = pyotp.TOTP(secret)
    now = clock.now().timestamp()
    valid = {totp.at(now + 30 * drift) for drift in (-1, 0, 1)}
    return next(c for c in (f"{n:06d}" for n in range(1000)) if c not in valid)


async def _verify(client: httpx.AsyncClient, token: str, code: str) -> httpx.Response:
    return await client.post("/v1/auth/mfa/verify", json={"mfa_token": token, "code": code})


async def test_wrong_codes_count_across_challenges_and_a_password_never_resets_them(
    throttled,
) -> None:
    # Issue 10 item 2: password + 4 wrong codes, repeated, gave unlimited code guesses.
    app, client = throttled
    threshold = app.state.identity.config.lockout_threshold
    p = await principal(app)
    with clock.frozen_clock(_step_start()) as frozen:
        secret, _ = await _enrol(client, p)
        frozen.advance(timedelta(seconds=30))
        bad = wrong_code(secret)
        evaluated, last_token = 0, ""
        for _ in range(6):
            login = await _login(client, p, PASSWORD)
            if login.status_code == 429:
                break
            assert login.status_code == 200 and login.json()["mfa_required"] is True
            last_token = login.json()["mfa_token"]
            for _ in range(4):
                guess = await _verify(client, last_token, bad)
                if guess.status_code == 429:
                    break
                assert guess.status_code == 422, guess.text
                evaluated += 1
        assert evaluated == threshold
        right = await _verify(client, last_token, pyotp.TOTP(secret).at(clock.now()))
        assert right.status_code == 429
        assert right.json()["type"].endswith("/account-locked")
        assert int(right.headers["retry-after"]) > 0
        assert (await _login(client, p, PASSWORD)).status_code == 429


async def test_reauthentication_guesses_count_towards_the_lockout(throttled) -> None:
    # A stolen session must not try passwords at /v1/me/reauthenticate without limit.
    app, client = throttled
    p = await principal(app)
    threshold = app.state.identity.config.lockout_threshold
    for _ in range(threshold):
        bad = await client.post(
            "/v1/me/reauthenticate", json={"password": "wrong password"}, headers=p.headers
        )
        assert bad.status_code == 401
    refused = await client.post(
        "/v1/me/reauthenticate", json={"password": PASSWORD}, headers=p.headers
    )
    assert refused.status_code == 429
    assert (await _login(client, p, PASSWORD)).status_code == 429
