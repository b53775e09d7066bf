"""Per-customer outgoing limits: per channel and currency, daily and monthly, and never
passed by concurrent transfers (the counter is a conditional upsert in the transfer's
own transaction)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import text

from fiscus.core.db import Database
from tests.banking.factories import account, customer, ok, product
from tests.factories import Principal

MakePrincipal = Callable[..., Awaitable[Principal]]


async def _setup(
    client: httpx.AsyncClient, make_principal: MakePrincipal, *, daily: int, monthly: int,
    sources: int = 1,
) -> dict[str, Any]:  # fmt: skip
    staff = await make_principal(role="owner")
    alice, bob = await customer(client, staff), await customer(client, staff)
    current = await product(client, staff)
    mine = [
        await account(client, staff, customer_id=alice["id"], product_id=current["id"],
                      deposit=100_000)
        for _ in range(sources)
    ]  # fmt: skip
    target = await account(client, staff, customer_id=bob["id"], product_id=current["id"])
    portal = await make_principal(role="customer", tenant_id=staff.tenant_id)
    ok(await client.put(f"/v1/customers/{alice['id']}/users/{portal.user_id}",
                        json={"role": "owner"}, headers=staff.headers))  # fmt: skip
    limit = {"channel": "online", "currency": "EUR", "daily_limit": daily,
             "monthly_limit": monthly}  # fmt: skip
    set_ = ok(await client.put(f"/v1/customers/{alice['id']}/limits", json=limit,
                               headers=staff.headers))  # fmt: skip
    assert set_["daily_limit"] == daily and set_["customer_id"] == alice["id"]
    return {"staff": staff, "portal": portal, "mine": mine, "target": target, "alice": alice}


async def _pay(client: httpx.AsyncClient, who: Principal, source: dict[str, Any],
               target: dict[str, Any], amount: int) -> httpx.Response:  # fmt: skip
    return await client.post(
        "/v1/transfers",
        json={"from_account_id": source["id"], "to_account_id": target["id"], "amount": amount,
              "currency": "EUR"},
        headers={**who.headers, "Idempotency-Key": secrets.token_hex(8)},
    )  # fmt: skip


async def test_the_daily_and_monthly_limits_refuse_what_would_pass_them(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _setup(client, make_principal, daily=1000, monthly=1500)
    [mine] = w["mine"]
    assert (await _pay(client, w["portal"], mine, w["target"], 600)).status_code == 201
    over_day = await _pay(client, w["portal"], mine, w["target"], 401)
    assert over_day.status_code == 422
    assert over_day.json()["type"].endswith("/transfer-limit-exceeded")
    assert over_day.json()["period"] == "daily"
    assert (await _pay(client, w["portal"], mine, w["target"], 400)).status_code == 201
    # Staff at the branch are another channel, with no limit set for it.
    assert (await _pay(client, w["staff"], mine, w["target"], 5000)).status_code == 201
    listed = ok(await client.get(f"/v1/customers/{w['alice']['id']}/limits",
                                 headers=w["portal"].headers))  # fmt: skip
    assert [(x["channel"], x["monthly_limit"]) for x in listed["data"]] == [("online", 1500)]
    ok(await client.put(f"/v1/customers/{w['alice']['id']}/limits",
                        json={"channel": "online", "currency": "EUR", "daily_limit": 10_000,
                              "monthly_limit": 1500}, headers=w["staff"].headers))  # fmt: skip
    over_month = await _pay(client, w["portal"], mine, w["target"], 501)
    assert over_month.status_code == 422 and over_month.json()["period"] == "monthly"
    assert (await _pay(client, w["portal"], mine, w["target"], 500)).status_code == 201
    balance = ok(await client.get(f"/v1/accounts/{w['target']['id']}/balance",
                                  headers=w["staff"].headers))  # fmt: skip
    assert balance["balance"] == 600 + 400 + 5000 + 500


async def test_parallel_transfers_never_pass_the_limit(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    w = await _setup(client, make_principal, daily=1000, monthly=100_000, sources=4)
    sends = [_pay(client, w["portal"], w["mine"][i % 4], w["target"], 100) for i in range(24)]
    results = await asyncio.gather(*sends)
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] * 10 + [422] * 14, [r.text for r in results if r.status_code >= 500]
    assert all(r.json()["type"].endswith("/transfer-limit-exceeded")
               for r in results if r.status_code == 422)  # fmt: skip
    balance = ok(await client.get(f"/v1/accounts/{w['target']['id']}/balance",
                                  headers=w["staff"].headers))  # fmt: skip
    assert balance["balance"] == 1000
    async with db.uow() as uow:
        used = dict(
            (await uow.session.execute(text(
                "SELECT period, used FROM banking_limit_usage WHERE customer_id = :c"),
                {"c": w["alice"]["id"]})).all()
        )  # fmt: skip
    assert used == {"day": 1000, "month": 1000}
