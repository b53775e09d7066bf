"""Products and accounts over HTTP: IBANs, the general ledger, lifecycle, deposits, history."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

import httpx
from schwifty import IBAN
from sqlalchemy import text

from fiscus.core.db import Database
from tests.banking.factories import account, customer, ok, product
from tests.factories import Principal

MakePrincipal = Callable[..., Awaitable[Principal]]


def _key() -> dict[str, str]:
    return {"Idempotency-Key": secrets.token_hex(8)}


async def test_an_account_gets_a_valid_iban_and_a_ledger_account(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    owner = await make_principal(role="owner")
    staff = await make_principal(role="operator", tenant_id=owner.tenant_id)
    holder = await customer(client, staff)
    current = await product(client, owner, overdraft_limit=5000)
    first = await account(client, staff, customer_id=holder["id"], product_id=current["id"])
    second = await account(client, staff, customer_id=holder["id"], product_id=current["id"])
    for made in (first, second):
        iban = IBAN(made["iban"])
        assert iban.validate(validate_bban=True) and iban.country_code == "DE"
        assert made["status"] == "active" and made["currency"] == "EUR"
    assert first["iban"] != second["iban"]
    ledger = ok(
        await client.get(f"/v1/ledger/accounts/{first['ledger_account_id']}",
                         headers=owner.headers)
    )  # fmt: skip
    assert ledger["type"] == "liability" and ledger["normal_side"] == "credit"
    assert ledger["overdraft_limit"] == 5000
    assert "debits_must_not_exceed_credits" in ledger["flags"]
    codes = {a["code"] for a in ok(await client.get("/v1/ledger/accounts",
                                                    params={"limit": 200},
                                                    headers=owner.headers))["data"]}  # fmt: skip
    purposes = ("settlement", "fee_income", "interest_expense", "fx_position", "fx_income",
                "suspense")  # fmt: skip
    assert {f"banking:EUR:{p}" for p in purposes} <= codes
    # A second product in the currency creates no second general ledger.
    await product(client, owner, name="Savings", type="savings")
    again = ok(await client.get("/v1/ledger/accounts", params={"limit": 200},
                                headers=owner.headers))["data"]  # fmt: skip
    assert sum(a["code"] == "banking:EUR:settlement" for a in again) == 1

    settings = await client.put(
        "/v1/banking/settings", json={"iban_country": "GB", "bank_code": "NWBK601613"},
        headers=owner.headers,
    )  # fmt: skip
    assert ok(settings)["iban_country"] == "GB"
    british = await account(client, staff, customer_id=holder["id"], product_id=current["id"])
    assert IBAN(british["iban"]).validate(validate_bban=True)
    assert british["iban"].startswith("GB")
    bad = await client.put(
        "/v1/banking/settings", json={"iban_country": "DE", "bank_code": "ABCDEFGH"},
        headers=owner.headers,
    )  # fmt: skip
    assert bad.status_code == 400 and bad.json()["type"].endswith("/bank-settings-invalid")
    listed = ok(await client.get("/v1/accounts", params={"customer_id": holder["id"]},
                                 headers=staff.headers))  # fmt: skip
    assert [a["id"] for a in listed["data"]] == [first["id"], second["id"], british["id"]]


async def test_accounts_open_only_for_verified_customers(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    owner = await make_principal(role="owner")
    pending = await customer(client, owner, verified=False)
    current = await product(client, owner)
    refused = await client.post(
        "/v1/accounts", json={"customer_id": pending["id"], "product_id": current["id"]},
        headers=owner.headers,
    )  # fmt: skip
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("/customer-not-verified")
    verified = await customer(client, owner)
    missing = await client.post(
        "/v1/accounts", json={"customer_id": verified["id"], "product_id": pending["id"]},
        headers=owner.headers,
    )  # fmt: skip
    assert missing.status_code == 404 and missing.json()["type"].endswith("/product-not-found")


async def test_deposits_balance_history_and_idempotency(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    owner = await make_principal(role="owner")
    holder = await customer(client, owner)
    current = await product(client, owner, overdraft_limit=1000)
    made = await account(client, owner, customer_id=holder["id"], product_id=current["id"])
    url = f"/v1/accounts/{made['id']}/deposits"
    body = {"amount": 2500, "currency": "EUR", "reference": "cash in"}
    keyed = {**owner.headers, **_key()}
    first = await client.post(url, json=body, headers=keyed)
    assert first.status_code == 201, first.text
    replay = await client.post(url, json=body, headers=keyed)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    other = await client.post(url, json={**body, "amount": 1}, headers=keyed)
    assert other.status_code == 409 and other.json()["type"].endswith("/transfer-key-reused")
    unkeyed = await client.post(url, json=body, headers=owner.headers)
    assert unkeyed.status_code == 400
    wrong = await client.post(url, json={**body, "currency": "USD"}, headers={**owner.headers,
                                                                             **_key()})  # fmt: skip
    assert wrong.status_code == 422
    assert wrong.json()["type"].endswith("/account-currency-mismatch")

    balance = ok(await client.get(f"/v1/accounts/{made['id']}/balance", headers=owner.headers))
    assert balance == {"balance": 2500, "available": 3500, "currency": "EUR"}
    history = ok(await client.get(f"/v1/accounts/{made['id']}/transactions",
                                  headers=owner.headers))  # fmt: skip
    [entry] = history["data"]
    assert entry["amount"] == 2500 and entry["balance_after"] == 2500
    assert entry["transfer_id"] == first.json()["id"]
    assert first.json()["kind"] == "deposit" and first.json()["channel"] == "branch"
    later = ok(await client.get(f"/v1/accounts/{made['id']}/transactions",
                                params={"from": "2999-01-01T00:00:00Z"},
                                headers=owner.headers))  # fmt: skip
    assert later["data"] == []
    ledger_transfer = ok(await client.get(f"/v1/ledger/transfers/{entry['transfer_id']}",
                                          headers=owner.headers))  # fmt: skip
    assert {leg["direction"] for leg in ledger_transfer["legs"]} == {"debit", "credit"}


async def test_a_pending_account_activates_at_its_opening_balance(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    owner = await make_principal(role="owner")
    holder = await customer(client, owner)
    savings = await product(client, owner, type="savings", minimum_opening_balance=1000)
    made = await account(client, owner, customer_id=holder["id"], product_id=savings["id"])
    assert made["status"] == "pending"
    url = f"/v1/accounts/{made['id']}/deposits"
    await client.post(url, json={"amount": 600, "currency": "EUR", "reference": "a"},
                      headers={**owner.headers, **_key()})  # fmt: skip
    assert ok(await client.get(f"/v1/accounts/{made['id']}", headers=owner.headers))[
        "status"] == "pending"  # fmt: skip
    balance = ok(await client.get(f"/v1/accounts/{made['id']}/balance", headers=owner.headers))
    assert balance == {"balance": 600, "available": 0, "currency": "EUR"}
    await client.post(url, json={"amount": 400, "currency": "EUR", "reference": "b"},
                      headers={**owner.headers, **_key()})  # fmt: skip
    assert ok(await client.get(f"/v1/accounts/{made['id']}", headers=owner.headers))[
        "status"] == "active"  # fmt: skip


async def test_the_lifecycle_freeze_unfreeze_close(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    owner = await make_principal(role="owner")
    holder = await customer(client, owner)
    current = await product(client, owner)
    funded = await account(client, owner, customer_id=holder["id"], product_id=current["id"],
                           deposit=100)  # fmt: skip
    path = f"/v1/accounts/{funded['id']}"
    assert ok(await client.post(f"{path}/freeze", headers=owner.headers))["status"] == "frozen"
    twice = await client.post(f"{path}/freeze", headers=owner.headers)
    assert twice.status_code == 409 and twice.json()["type"].endswith("/account-status-conflict")
    assert ok(await client.post(f"{path}/unfreeze", headers=owner.headers))["status"] == "active"
    refused = await client.post(f"{path}/close", headers=owner.headers)
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("/account-balance-not-zero")
    empty = await account(client, owner, customer_id=holder["id"], product_id=current["id"])
    closed = ok(await client.post(f"/v1/accounts/{empty['id']}/close", headers=owner.headers))
    assert closed["status"] == "closed" and closed["closed_at"]
    ledger = ok(await client.get(f"/v1/ledger/accounts/{empty['ledger_account_id']}",
                                 headers=owner.headers))  # fmt: skip
    assert ledger["closed_at"] is not None
    deposit = await client.post(
        f"/v1/accounts/{empty['id']}/deposits",
        json={"amount": 1, "currency": "EUR", "reference": "late"},
        headers={**owner.headers, **_key()},
    )
    assert deposit.status_code == 422 and deposit.json()["type"].endswith("/account-closed")
    again = await client.post(f"/v1/accounts/{empty['id']}/unfreeze", headers=owner.headers)
    assert again.status_code == 409
    async with db.uow() as uow:
        emitted = {
            row[0]: row[1]
            for row in await uow.session.execute(
                text("SELECT type, payload FROM events WHERE tenant_id = :t AND subject = :s"),
                {"t": owner.tenant_id, "s": f"bank_account/{empty['id']}"},
            )
        }
    assert set(emitted) == {"banking.account.opened", "banking.account.closed"}
    assert emitted["banking.account.closed"]["previous_status"] == "active"
    async with db.uow() as uow:
        types = set(
            (await uow.session.execute(
                text("SELECT DISTINCT type FROM events WHERE tenant_id = :t"),
                {"t": owner.tenant_id})).scalars()
        )  # fmt: skip
    assert {"banking.customer.created", "banking.customer.kyc_reviewed",
            "banking.deposit.completed", "banking.account.frozen",
            "banking.account.unfrozen"} <= types  # fmt: skip
    audit = ok(await client.get("/v1/audit-events", params={"limit": 200},
                                headers=owner.headers))["data"]  # fmt: skip
    actions = {e["action"] for e in audit}
    assert {"banking.account.opened", "banking.account.frozen", "banking.account.unfrozen",
            "banking.account.closed", "banking.deposit.completed"} <= actions  # fmt: skip
