"""Fees: a product's schedule charged by the close of business (maintenance waived above
a balance, per transaction type), once however often it runs; reversed by staff exactly
once, audited; who may see and reverse them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from fiscus.banking.fees.service import fees_charge
from fiscus.core import clock
from fiscus.core.context import Context
from fiscus.core.db import Database
from tests.banking.factories import account, customer, link, ok, product
from tests.factories import Principal

MakePrincipal = Callable[..., Awaitable[Principal]]
FEES = {"monthly_maintenance": 500, "maintenance_waived_from": 100_000,
        "per_transaction": {"transfer_out": 25}}  # fmt: skip


async def _balance(client: httpx.AsyncClient, who: Principal, account_id: str) -> int:
    got = ok(await client.get(f"/v1/accounts/{account_id}/balance", headers=who.headers))
    return int(got["balance"])


async def _charge(db: Database, staff: Principal, day: date) -> tuple[int, int]:
    now = clock.now()
    ctx = Context.system(staff.tenant_id, permissions=frozenset())
    return await fees_charge(db, ctx, day=day, since=now - timedelta(days=1), cutoff=now)


async def _world(client: httpx.AsyncClient, make_principal: MakePrincipal) -> dict[str, Any]:
    staff = await make_principal(role="owner")
    ok(
        await client.post(
            "/v1/banking/business-date", json={"business_date": "2027-01-31"},
            headers=staff.headers,
        )
    )  # fmt: skip
    made = await product(client, staff, name="Basic")
    ok(await client.put(f"/v1/products/{made['id']}/terms", json={"fees": FEES},
                        headers=staff.headers))  # fmt: skip
    holder = await customer(client, staff)
    poor, rich = [
        await account(client, staff, customer_id=holder["id"], product_id=made["id"],
                      deposit=amount)
        for amount in (50_000, 200_000)
    ]  # fmt: skip
    ok(
        await client.post(
            "/v1/transfers",
            json={"from_account_id": rich["id"], "to_account_id": poor["id"], "amount": 1000,
                  "currency": "EUR"},
            headers={**staff.headers, "Idempotency-Key": "fee-transfer"},
        ),
        201,
    )  # fmt: skip
    return {"staff": staff, "holder": holder, "poor": poor, "rich": rich}


async def test_fees_are_charged_once_waived_above_the_balance_and_per_transaction(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await _world(client, make_principal)
    staff, poor, rich = w["staff"], w["poor"], w["rich"]
    assert await _charge(db, staff, date(2027, 1, 31)) == (2, 0)
    assert await _charge(db, staff, date(2027, 1, 31)) == (0, 0)
    assert await _balance(client, staff, poor["id"]) == 51_000 - 500
    assert await _balance(client, staff, rich["id"]) == 199_000 - 25
    fees = ok(await client.get(f"/v1/fees?account_id={poor['id']}", headers=staff.headers))
    [fee] = fees["data"]
    assert (fee["kind"], fee["occasion"], fee["amount"], fee["status"]) == (
        "maintenance",
        "2027-01",
        500,
        "charged",
    )
    assert fee["description"] == "Monthly maintenance fee 2027-01"
    [per_transfer] = ok(
        await client.get(f"/v1/fees?account_id={rich['id']}", headers=staff.headers)
    )["data"]
    assert per_transfer["kind"] == "transaction" and per_transfer["amount"] == 25
    assert per_transfer["description"].startswith("Fee: outgoing transfer ")
    # Not a month end: only per-transaction fees, and there are no new transactions.
    assert await _charge(db, staff, date(2027, 2, 1)) == (0, 0)


async def test_a_fee_the_account_cannot_pay_is_refused_not_charged(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    staff = await make_principal(role="owner")
    made = await product(client, staff, name="Basic")
    terms = {"fees": {"monthly_maintenance": 500}}
    ok(await client.put(f"/v1/products/{made['id']}/terms", json=terms, headers=staff.headers))
    holder = await customer(client, staff)
    empty = await account(client, staff, customer_id=holder["id"], product_id=made["id"])
    assert await _charge(db, staff, date(2027, 1, 31)) == (0, 1)
    assert await _balance(client, staff, empty["id"]) == 0


async def test_staff_reverse_a_fee_exactly_once_and_it_is_audited(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await _world(client, make_principal)
    staff, poor = w["staff"], w["poor"]
    await _charge(db, staff, date(2027, 1, 31))
    [fee] = ok(await client.get(f"/v1/fees?account_id={poor['id']}", headers=staff.headers))["data"]
    path, body = f"/v1/fees/{fee['id']}/reverse", {"reason": "Goodwill"}
    keyless = await client.post(path, json=body, headers=staff.headers)
    assert keyless.status_code == 400, keyless.text
    portal = await make_principal(role="customer", tenant_id=staff.tenant_id)
    await link(client, staff, w["holder"]["id"], portal, "owner")
    as_portal = await client.post(
        path, json=body, headers={**portal.headers, "Idempotency-Key": "p-1"}
    )
    assert as_portal.status_code == 403
    seen = ok(await client.get("/v1/fees", headers=portal.headers))["data"]
    assert {f["account_id"] for f in seen} == {poor["id"], w["rich"]["id"]}
    reversed_ = ok(
        await client.post(path, json=body, headers={**staff.headers, "Idempotency-Key": "r-1"})
    )
    assert reversed_["status"] == "reversed" and reversed_["reversal_transfer_id"]
    assert await _balance(client, staff, poor["id"]) == 51_000
    replay = await client.post(path, json=body, headers={**staff.headers, "Idempotency-Key": "r-1"})
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    again = await client.post(path, json=body, headers={**staff.headers, "Idempotency-Key": "r-2"})
    assert again.status_code == 409 and again.json()["type"].endswith("/fee-already-reversed")
    assert await _balance(client, staff, poor["id"]) == 51_000
    async with db.uow() as uow:
        audited = (
            await uow.session.execute(
                text("SELECT count(*) FROM audit_events WHERE tenant_id = :t"
                     " AND action = 'banking.fee.reversed'"),
                {"t": staff.tenant_id},
            )
        ).scalar_one()  # fmt: skip
        events = (
            await uow.session.execute(
                text("SELECT count(*) FROM events WHERE tenant_id = :t"
                     " AND type IN ('banking.fee.charged', 'banking.fee.reversed')"),
                {"t": staff.tenant_id},
            )
        ).scalar_one()  # fmt: skip
    assert audited == 1 and events == 3
    missing = await client.post(
        "/v1/fees/0193a5a4-7a2c-7c4e-9a55-3b1f7d0e0001/reverse",
        json=body,
        headers={**staff.headers, "Idempotency-Key": "r-3"},
    )
    assert missing.status_code == 404 and missing.json()["type"].endswith("/fee-not-found")
