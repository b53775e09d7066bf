"""Rate-limit plans are the operator's configuration; the default plan does not throttle a
normal integration's bursts (the per-address abuse limits stay)."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from asgi_lifespan import LifespanManager

from fiscus.api import create_app
from fiscus.core.config import ConfigError, load_settings
from tests.conftest import TEST_SECRET, make_settings
from tests.factories import principal
from tests.live import fiscus_cli

CONCURRENT = 40


async def test_forty_concurrent_transfers_of_a_default_plan_tenant_pass(
    clean_database: str,
) -> None:
    # The tenant is made as an operator makes it: `fiscus admin create-tenant`, no --plan.
    env = {"FISCUS_DATABASE_URL": clean_database, "FISCUS_SECRET_KEY": TEST_SECRET}
    created = await asyncio.to_thread(
        fiscus_cli,
        "admin",
        "create-tenant",
        "acme",
        "--name",
        "Acme",
        env=env | {"FISCUS_ENV": "test"},
    )
    assert created.returncode == 0, created.stderr
    app = create_app(make_settings(clean_database))
    async with LifespanManager(app, startup_timeout=60):
        owner = await principal(app, role="owner", tenant_id=uuid.UUID(created.stdout.strip()))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            ids = []
            for kind, side in (("asset", "debit"), ("liability", "credit")):
                account = await client.post(
                    "/v1/ledger/accounts",
                    headers=owner.headers,
                    json={
                        "code": f"{kind}-1",
                        "name": kind,
                        "currency": "EUR",
                        "type": kind,
                        "normal_side": side,
                    },
                )
                assert account.status_code == 201, account.text
                ids.append(account.json()["id"])

            async def transfer() -> httpx.Response:
                return await client.post(
                    "/v1/ledger/transfers",
                    headers={**owner.headers, "Idempotency-Key": uuid.uuid4().hex},
                    json={
                        "debit_account_id": ids[0],
                        "credit_account_id": ids[1],
                        "amount": 100,
                        "currency": "EUR",
                    },
                )

            responses = await asyncio.gather(*(transfer() for _ in range(CONCURRENT)))
    assert [r.status_code for r in responses] == [201] * CONCURRENT
    config = app.state.identity.config
    limit = min(int(r.headers["ratelimit-limit"]) for r in responses)
    remaining = min(int(r.headers["ratelimit-remaining"]) for r in responses)
    # The caller's budget is above the per-address abuse limit, so the plan is never what
    # throttles one integration: it could repeat this burst as often as the address may.
    assert limit >= config.ip_requests_per_minute, limit
    assert remaining >= config.ip_requests_per_minute - CONCURRENT - 2, remaining


def test_plan_limits_and_the_default_plan_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plans = {
        "basic": {"per_minute": 60, "burst_per_s": 5},
        "pro": {"per_minute": 900, "burst_per_s": 90},
    }
    monkeypatch.setenv("FISCUS_PLAN_LIMITS", json.dumps(plans))
    monkeypatch.setenv("FISCUS_DEFAULT_PLAN", "pro")
    settings = load_settings()
    assert settings.default_plan == "pro"
    assert {name: limit.model_dump() for name, limit in settings.plan_limits.items()} == plans
    app = create_app(settings)
    config = app.state.identity.config
    assert config.plan_budget("basic") == (60, 5)
    # A tenant left on a plan the operator removed gets the default plan's budget.
    assert config.plan_budget("enterprise") == (900, 90)


@pytest.mark.parametrize(
    ("plans", "default", "message"),
    [
        ('{"basic": {"per_minute": 60}}', None, "burst_per_s"),
        ('{"basic": {"per_minute": 60, "burst_per_s": 0}}', None, "burst_per_s"),
        ('{"basic": {"per_minute": 6, "burst_per_s": 60}}', "basic", "more requests per second"),
        ('{"Basic Plan": {"per_minute": 60, "burst_per_s": 6}}', None, "not a plan name"),
        ("{}", None, "names no plan"),
        ("free=120", None, "plan_limits"),
        (None, "gold", "FISCUS_DEFAULT_PLAN is 'gold'"),
        ('{"basic": {"per_minute": 60, "burst_per_s": 6}}', None, "FISCUS_DEFAULT_PLAN"),
    ],
)
def test_bad_plan_settings_stop_the_start_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, plans: str | None, default: str | None, message: str
) -> None:
    if plans is not None:
        monkeypatch.setenv("FISCUS_PLAN_LIMITS", plans)
    if default is not None:
        monkeypatch.setenv("FISCUS_DEFAULT_PLAN", default)
    with pytest.raises(ConfigError, match=message):
        load_settings()
