"""Conversions between one customer's accounts: value conserved per currency, the spread in
FX income, idempotent, refused across customers, tenants and roles."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from sqlalchemy import text

from fiscus.core.db import Database
from fiscus.ledger import queries as ledger_queries
from tests.banking.factories import account, customer, ok, product
from tests.banking.test_portal_access import MakePrincipal, _link
from tests.factories import Principal
from tests.ledger.factories import ledger_context


async def _bank(client: httpx.AsyncClient, make_principal: MakePrincipal) -> dict[str, Any]:
    staff = await make_principal(role="owner")
    ok(
        await client.post(
            "/v1/fx/rates",
            json={"base": "EUR", "quote": "USD", "rate": "1.0842", "spread": "0.005"},
            headers=staff.headers,
        ),
        201,
    )
    alice, bob = await customer(client, staff), await customer(client, staff)
    eur = await product(client, staff)
    usd = await product(client, staff, name="Dollar current", currency="USD")
    return {
        "staff": staff,
        "alice": alice,
        "eur": await account(
            client, staff, customer_id=alice["id"], product_id=eur["id"], deposit=50_000
        ),
        "usd": await account(client, staff, customer_id=alice["id"], product_id=usd["id"]),
        "bobs_usd": await account(client, staff, customer_id=bob["id"], product_id=usd["id"]),
    }


async def _convert(
    client: httpx.AsyncClient, who: Principal, key: str | None = None, **body: Any
) -> httpx.Response:
    headers = {**who.headers, "Idempotency-Key": key or secrets.token_hex(8)}
    return await client.post("/v1/fx/conversions", json=body, headers=headers)


async def _balance(client: httpx.AsyncClient, who: Principal, account_id: str) -> int:
    read = ok(await client.get(f"/v1/accounts/{account_id}/balance", headers=who.headers))
    return int(read["balance"]["amount"] if isinstance(read["balance"], dict) else read["balance"])


async def test_a_conversion_conserves_value_and_books_the_spread(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await _bank(client, make_principal)
    staff = w["staff"]
    body = {
        "from_account_id": w["eur"]["id"],
        "to_account_id": w["usd"]["id"],
        "amount": 10_000,
        "currency": "EUR",
    }
    made = ok(await _convert(client, staff, key="conv-1", **body), 201)
    # 100.00 EUR at 1.0842 less 0.5 %: 107.8779 -> 107.88 USD; 0.54 USD is FX income.
    assert made["sell"] == {"amount": 10_000, "currency": "EUR"}
    assert made["buy"] == {"amount": 10_788, "currency": "USD"}
    assert made["fee"] == {"amount": 54, "currency": "USD"}
    assert (made["rate"], made["mid_rate"], made["spread"]) == ("1.078779", "1.0842", "0.005")
    assert await _balance(client, staff, w["eur"]["id"]) == 40_000
    assert await _balance(client, staff, w["usd"]["id"]) == 10_788
    # The same key and body: the first conversion again, nothing moves twice.
    again = await _convert(client, staff, key="conv-1", **body)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == made["id"]
    assert await _balance(client, staff, w["usd"]["id"]) == 10_788
    # The same key with another body is refused.
    reused = await _convert(client, staff, key="conv-1", **{**body, "amount": 5})
    assert reused.status_code == 409
    # Per currency the ledger balances; FX income holds the spread.
    async with db.uow(tenant_id=staff.tenant_id) as uow:
        income = (
            await uow.session.execute(
                text(
                    "SELECT a.credits_posted - a.debits_posted FROM banking_ledger_accounts b"
                    " JOIN ledger_accounts a ON a.tenant_id = b.tenant_id"
                    " AND a.id = b.ledger_account_id"
                    " WHERE b.tenant_id = :t AND b.currency = 'USD' AND b.purpose = 'fx_income'"
                ),
                {"t": staff.tenant_id},
            )
        ).scalar_one()
    tb = await ledger_queries.trial_balance(db=db, ctx=ledger_context(staff.tenant_id))
    assert tb.balanced and [line.currency for line in tb.currencies] == ["EUR", "USD"]
    assert income == 54
    fetched = ok(await client.get(f"/v1/fx/conversions/{made['id']}", headers=staff.headers))
    assert fetched == made
    audit = ok(
        await client.get(
            "/v1/audit-events",
            params={"action": "banking.fx_conversion.completed"},
            headers=staff.headers,
        )
    )
    assert len(audit["data"]) == 1


async def test_refusals_are_precise_and_move_nothing(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _bank(client, make_principal)
    staff = w["staff"]
    base = {"from_account_id": w["eur"]["id"], "to_account_id": w["usd"]["id"], "currency": "EUR"}
    cases = [
        ({**base, "amount": 10_000_000}, 422, "insufficient-funds"),
        ({**base, "to_account_id": w["bobs_usd"]["id"], "amount": 100}, 422,
         "fx-conversion-not-allowed"),
        ({**base, "currency": "USD", "amount": 100}, 422, "account-currency-mismatch"),
        ({**base, "amount": 0}, 400, "validation-error"),
        ({**base, "amount": 1.5}, 400, "validation-error"),
        ({**base, "to_account_id": w["eur"]["id"], "amount": 100}, 422,
         "fx-conversion-not-allowed"),
    ]  # fmt: skip
    for body, status, slug in cases:
        response = await _convert(client, staff, **body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["type"].endswith("/" + slug), response.text
    # No rate for the pair: a CHF account of the same customer.
    chf = await product(client, staff, name="Franc current", currency="CHF")
    chf_account = await account(client, staff, customer_id=w["alice"]["id"], product_id=chf["id"])
    no_rate = await _convert(client, staff, **{**base, "to_account_id": chf_account["id"],
                                               "amount": 100})  # fmt: skip
    assert no_rate.status_code == 422
    assert no_rate.json()["type"].endswith("/fx-rate-unavailable")
    # A frozen source cannot sell.
    ok(await client.post(f"/v1/accounts/{w['eur']['id']}/freeze", headers=staff.headers))
    frozen = await _convert(client, staff, **{**base, "amount": 100})
    assert frozen.json()["type"].endswith("/account-frozen")
    ok(await client.post(f"/v1/accounts/{w['eur']['id']}/unfreeze", headers=staff.headers))
    assert await _balance(client, staff, w["eur"]["id"]) == 50_000
    assert await _balance(client, staff, w["usd"]["id"]) == 0
    # Without an Idempotency-Key nothing moves either.
    keyless = await client.post(
        "/v1/fx/conversions", json={**base, "amount": 100}, headers=staff.headers
    )
    assert keyless.status_code == 400
    assert keyless.json()["type"].endswith("/idempotency-key-required")


async def test_portal_users_tenants_and_roles(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _bank(client, make_principal)
    staff = w["staff"]
    owner = await make_principal(role="customer", tenant_id=staff.tenant_id)
    viewer = await make_principal(role="customer", tenant_id=staff.tenant_id)
    stranger = await make_principal(role="customer", tenant_id=staff.tenant_id)
    analyst = await make_principal(role="analyst", tenant_id=staff.tenant_id)
    other_bank = await make_principal(role="owner")
    await _link(client, staff, w["alice"]["id"], owner, "owner")
    await _link(client, staff, w["alice"]["id"], viewer, "viewer")
    body = {
        "from_account_id": w["eur"]["id"],
        "to_account_id": w["usd"]["id"],
        "amount": 1_000,
        "currency": "EUR",
    }
    made = ok(await _convert(client, owner, **body), 201)
    assert made["channel"] == "online"
    assert (await _convert(client, viewer, **body)).status_code == 403
    assert (await _convert(client, stranger, **body)).status_code == 404
    assert (await _convert(client, analyst, **body)).status_code == 403
    assert (await _convert(client, other_bank, **body)).status_code == 404
    path = f"/v1/fx/conversions/{made['id']}"
    assert (await client.get(path, headers=viewer.headers)).status_code == 200
    assert (await client.get(path, headers=stranger.headers)).status_code == 404
    assert (await client.get(path, headers=other_bank.headers)).status_code == 404
    assert await _balance(client, staff, w["eur"]["id"]) == 49_000
