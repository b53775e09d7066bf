"""Incoming credits no account took wait on suspense until staff book them on to an
account or return them; each resolution is a ledger transfer, audited, done once."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from fiscus.core.db import Database
from tests.banking.factories import account, customer, events_of, ok, product
from tests.banking.payment_factories import MakePrincipal, balance, trial_balanced
from tests.factories import Principal

UNKNOWN_IBAN = "GB33BUKB20201555555555"


async def _credit(client: httpx.AsyncClient, staff: Principal, amount: int) -> dict[str, Any]:
    booked = ok(
        await client.post(
            "/v1/incoming-payments",
            json={"bank_reference": f"RAIL-{secrets.token_hex(6)}", "amount": amount,
                  "currency": "EUR", "creditor_iban": UNKNOWN_IBAN, "remittance": "Rent"},
            headers=staff.headers,
        )
    )  # fmt: skip
    [item] = booked["suspense"]
    return item  # type: ignore[no-any-return]


async def _resolve(
    client: httpx.AsyncClient, who: Principal, credit_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        f"/v1/incoming-payments/{credit_id}/resolve", json=body, headers=who.headers
    )


async def test_staff_book_a_suspense_item_on_to_an_account_once(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    staff = await make_principal(role="owner")
    alice = await customer(client, staff)
    current = await product(client, staff)
    mine = await account(client, staff, customer_id=alice["id"], product_id=current["id"])
    item = await _credit(client, staff, 12_500)
    listed = ok(await client.get("/v1/incoming-payments/suspense", headers=staff.headers))
    assert [c["id"] for c in listed["data"]] == [item["id"]]
    booked = ok(await _resolve(client, staff, item["id"], {"action": "book",
                                                           "account_id": mine["id"]}))  # fmt: skip
    assert (booked["resolution"], booked["resolved_account_id"]) == ("booked", mine["id"])
    assert (await balance(client, staff, mine["id"]))["balance"] == 12_500
    again = await _resolve(client, staff, item["id"], {"action": "book", "account_id": mine["id"]})
    assert again.status_code == 409
    assert again.json()["type"].endswith("/incoming-credit-status-conflict")
    assert (await balance(client, staff, mine["id"]))["balance"] == 12_500
    assert ok(await client.get("/v1/incoming-payments/suspense", headers=staff.headers))[
        "data"] == []  # fmt: skip
    [audited] = ok(await client.get("/v1/audit-events", params={
        "action": "banking.suspense.resolved"}, headers=staff.headers))["data"]  # fmt: skip
    assert audited["object_id"] == item["id"]
    assert await trial_balanced(client, staff)


async def test_staff_return_a_suspense_item_or_are_refused_a_wrong_account(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    staff = await make_principal(role="owner")
    alice = await customer(client, staff)
    dollars = await product(client, staff, name="Dollars", currency="USD")
    usd = await account(client, staff, customer_id=alice["id"], product_id=dollars["id"])
    item = await _credit(client, staff, 4_000)
    wrong = await _resolve(client, staff, item["id"], {"action": "book", "account_id": usd["id"]})
    assert wrong.status_code == 422 and wrong.json()["type"].endswith("/account-currency-mismatch")
    unknown = await _resolve(client, staff, item["id"], {"action": "book",
                                                         "account_id": item["id"]})  # fmt: skip
    assert unknown.status_code == 404
    malformed = await _resolve(client, staff, item["id"], {"action": "return"})
    assert malformed.status_code == 400
    returned = ok(await _resolve(client, staff, item["id"], {"action": "return",
                                                             "reason_code": "AC01"}))  # fmt: skip
    assert (returned["resolution"], returned["return_reason_code"]) == ("returned", "AC01")
    [resolved] = await events_of(db, staff, "banking.suspense.resolved")
    assert resolved[1]["resolution"] == "returned"
    assert await trial_balanced(client, staff)
    portal = await make_principal(role="customer", tenant_id=staff.tenant_id)
    refused = await _resolve(client, portal, item["id"], {"action": "return",
                                                          "reason_code": "AC01"})  # fmt: skip
    assert refused.status_code == 403
    missing = await _resolve(client, staff, alice["id"], {"action": "return",
                                                          "reason_code": "AC01"})  # fmt: skip
    assert missing.status_code == 404
