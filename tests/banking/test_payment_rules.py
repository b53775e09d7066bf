"""Payments keep the rules transfers keep: the product's minimum balance, and outgoing
limits that a payment which did not leave (rejected or returned) gives back."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from fiscus.core.db import Database
from tests.banking.factories import account, customer, link, ok, product
from tests.banking.payment_factories import MakePrincipal, balance, pay, trial_balanced


async def _used(db: Database, customer_id: str) -> dict[str, int]:
    async with db.uow() as uow:
        rows = await uow.session.execute(
            text("SELECT period, used FROM banking_limit_usage WHERE customer_id = :c"),
            {"c": customer_id},
        )
        return dict(rows.all())


async def _limited(client: httpx.AsyncClient, make_principal: MakePrincipal) -> dict[str, Any]:
    staff = await make_principal(role="owner")
    alice = await customer(client, staff)
    current = await product(client, staff)
    mine = await account(client, staff, customer_id=alice["id"], product_id=current["id"],
                         deposit=100_000)  # fmt: skip
    owner = await make_principal(role="customer", tenant_id=staff.tenant_id)
    await link(client, staff, alice["id"], owner, "owner")
    limit = {"channel": "online", "currency": "EUR", "daily_limit": 5_000,
             "monthly_limit": 8_000}  # fmt: skip
    ok(await client.put(f"/v1/customers/{alice['id']}/limits", json=limit, headers=staff.headers))
    return {"staff": staff, "owner": owner, "alice": alice, "mine": mine}


async def _step(client: httpx.AsyncClient, staff: Any, payment: dict[str, Any], step: str,
                **body: Any) -> dict[str, Any]:  # fmt: skip
    response = await client.post(
        f"/v1/payments/{payment['id']}/{step}", json=body or None, headers=staff.headers
    )
    return ok(response)  # type: ignore[no-any-return]


async def test_a_rejected_or_returned_payment_gives_its_limits_back(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await _limited(client, make_principal)
    owner, staff, source = w["owner"], w["staff"], w["mine"]["id"]
    first = ok(await pay(client, owner, source, amount=4_000), 201)
    assert await _used(db, w["alice"]["id"]) == {"day": 4_000, "month": 4_000}
    over = await pay(client, owner, source, amount=2_000)
    assert over.status_code == 422 and over.json()["type"].endswith("/transfer-limit-exceeded")
    assert (await _step(client, staff, first, "reject"))["status"] == "rejected"
    assert await _used(db, w["alice"]["id"]) == {"day": 0, "month": 0}
    second = ok(await pay(client, owner, source, amount=3_000), 201)
    settled = ok(await pay(client, owner, source, amount=2_000), 201)
    assert (await pay(client, owner, source, amount=1)).status_code == 422
    await _step(client, staff, settled, "settle")
    await _step(client, staff, settled, "return", reason_code="AC04")
    await _step(client, staff, second, "return", reason_code="AM05")
    assert await _used(db, w["alice"]["id"]) == {"day": 0, "month": 0}
    assert (await balance(client, staff, source))["available"] == 100_000
    ok(await pay(client, owner, source, amount=5_000), 201)
    assert await trial_balanced(client, staff)


async def test_the_products_minimum_balance_applies_to_payments(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    staff = await make_principal(role="owner")
    alice = await customer(client, staff)
    keeps = await product(client, staff, minimum_balance=300)
    mine = await account(client, staff, customer_id=alice["id"], product_id=keeps["id"],
                         deposit=1_000)  # fmt: skip
    other = await account(client, staff, customer_id=alice["id"], product_id=keeps["id"])
    too_much = await pay(client, staff, mine["id"], amount=701)
    assert too_much.status_code == 422, too_much.text
    body = too_much.json()
    assert body["type"].endswith("/insufficient-funds") and body["minimum_balance"] == 300
    ok(await pay(client, staff, mine["id"], amount=700), 201)
    # The reservation counts: a transfer may not take the account below the minimum either.
    moved = await client.post(
        "/v1/transfers",
        json={"from_account_id": mine["id"], "to_account_id": other["id"], "amount": 1,
              "currency": "EUR"},
        headers={**staff.headers, "Idempotency-Key": "after-payment"},
    )  # fmt: skip
    assert moved.status_code == 422 and moved.json()["type"].endswith("/insufficient-funds")
    read = await balance(client, staff, mine["id"])
    assert (read["balance"], read["available"]) == (1_000, 300)
