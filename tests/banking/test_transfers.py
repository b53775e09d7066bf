"""Internal transfers over HTTP: by id and IBAN, idempotency, and every refusal's type."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from fiscus.banking.service import account_mark_dormant
from fiscus.core.context import Context
from fiscus.core.db import Database
from tests.banking.factories import account, customer, ok, product
from tests.factories import Principal

MakePrincipal = Callable[..., Awaitable[Principal]]


def _keyed(who: Principal, key: str | None = None) -> dict[str, str]:
    return {**who.headers, "Idempotency-Key": key or secrets.token_hex(8)}


async def _send(
    client: httpx.AsyncClient, who: Principal, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    return await client.post("/v1/transfers", json=body, headers=_keyed(who, key))


async def _balance(client: httpx.AsyncClient, who: Principal, account_id: str) -> int:
    got = ok(await client.get(f"/v1/accounts/{account_id}/balance", headers=who.headers))
    return int(got["balance"])


async def test_money_moves_by_id_and_by_iban_exactly_once(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    owner = await make_principal(role="owner")
    alice, bob = await customer(client, owner), await customer(client, owner)
    current = await product(client, owner)
    a = await account(client, owner, customer_id=alice["id"], product_id=current["id"],
                      deposit=10_000)  # fmt: skip
    b = await account(client, owner, customer_id=bob["id"], product_id=current["id"])
    body = {"from_account_id": a["id"], "to_account_id": b["id"], "amount": 1250,
            "currency": "EUR", "reference": "Rent"}  # fmt: skip
    key = secrets.token_hex(8)
    first = await _send(client, owner, body, key)
    assert first.status_code == 201, first.text
    made = first.json()
    assert made["kind"] == "internal" and made["status"] == "completed"
    assert made["to_account_id"] == b["id"] and made["amount"] == 1250
    again = await _send(client, owner, body, key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == made
    changed = await _send(client, owner, {**body, "amount": 1}, key)
    assert changed.status_code == 409
    by_iban = await _send(
        client, owner, {"from_account_id": a["id"], "to_iban": b["iban"].lower(), "amount": 250,
                        "currency": "EUR"},
    )  # fmt: skip
    assert by_iban.status_code == 201, by_iban.text
    assert by_iban.json()["to_account_id"] == b["id"]
    assert await _balance(client, owner, a["id"]) == 10_000 - 1500
    assert await _balance(client, owner, b["id"]) == 1500
    got = ok(await client.get(f"/v1/transfers/{made['id']}", headers=owner.headers))
    assert got == made
    history = ok(await client.get(f"/v1/accounts/{a['id']}/transactions", headers=owner.headers))
    assert [t["amount"] for t in history["data"]] == [-250, -1250, 10_000]
    assert [t["balance_after"] for t in history["data"]] == [8500, 8750, 10_000]


async def test_each_refusal_has_its_own_problem_type_and_moves_nothing(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    owner = await make_principal(role="owner")
    alice, bob = await customer(client, owner), await customer(client, owner)
    current = await product(client, owner, overdraft_limit=500)
    dollars = await product(client, owner, currency="USD")
    receive_only = await product(client, owner, allowed_operations=["deposit", "transfer_in"])
    a = await account(client, owner, customer_id=alice["id"], product_id=current["id"],
                      deposit=1000)  # fmt: skip
    b = await account(client, owner, customer_id=bob["id"], product_id=current["id"],
                      deposit=1000)  # fmt: skip
    usd = await account(client, owner, customer_id=bob["id"], product_id=dollars["id"])
    locked = await account(client, owner, customer_id=alice["id"],
                           product_id=receive_only["id"], deposit=100)  # fmt: skip

    def body(**changes: Any) -> dict[str, Any]:
        return {"from_account_id": a["id"], "to_account_id": b["id"], "amount": 100,
                "currency": "EUR", **changes}  # fmt: skip

    async def refused(expected: str, status: int = 422, **changes: Any) -> None:
        response = await _send(client, owner, body(**changes))
        assert response.status_code == status, response.text
        assert response.json()["type"].endswith("/" + expected), response.text

    await refused("insufficient-funds", amount=1501)
    await refused("account-currency-mismatch", currency="USD")
    await refused("account-currency-mismatch", to_account_id=usd["id"])
    await refused("operation-not-allowed", from_account_id=locked["id"])
    await refused("transfer-same-account", status=400, to_account_id=a["id"])
    await refused("bank-account-not-found", status=404, to_account_id=alice["id"])
    await refused("iban-invalid", status=400, to_account_id=None, to_iban="DE00123")
    await refused("bank-account-not-found", status=404, to_account_id=None,
                  to_iban="GB33BUKB20201555555555")  # fmt: skip
    # 1500 is exactly balance plus overdraft: allowed, and `available` says so.
    assert ok(await client.get(f"/v1/accounts/{a['id']}/balance", headers=owner.headers))[
        "available"] == 1500  # fmt: skip

    ok(await client.post(f"/v1/accounts/{a['id']}/freeze", headers=owner.headers))
    await refused("account-frozen")
    into_frozen = await _send(client, owner, body(from_account_id=b["id"], to_account_id=a["id"]))
    assert into_frozen.status_code == 201, "a frozen account still receives"
    assert ok(await client.get(f"/v1/accounts/{a['id']}/balance", headers=owner.headers))[
        "available"] == 0  # fmt: skip
    ok(await client.post(f"/v1/accounts/{a['id']}/unfreeze", headers=owner.headers))

    ctx = Context(tenant_id=owner.tenant_id, actor_type="system", actor_id=None, role="system",
                  permissions=frozenset())  # fmt: skip
    await account_mark_dormant(db, ctx, account_id=a["id"])
    await refused("account-dormant")
    assert (await _send(client, owner, body(from_account_id=b["id"], to_account_id=a["id"]))
            ).status_code == 201  # fmt: skip
    ok(await client.post(f"/v1/accounts/{a['id']}/unfreeze", headers=owner.headers))

    empty = await account(client, owner, customer_id=bob["id"], product_id=current["id"])
    ok(await client.post(f"/v1/accounts/{empty['id']}/close", headers=owner.headers))
    await refused("account-closed", to_account_id=empty["id"])
    await refused("account-closed", from_account_id=empty["id"])
    assert await _balance(client, owner, a["id"]) == 1200
    assert await _balance(client, owner, b["id"]) == 800


async def test_a_minimum_balance_is_kept(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    owner = await make_principal(role="owner")
    alice = await customer(client, owner)
    savings = await product(client, owner, type="savings", minimum_balance=300)
    current = await product(client, owner)
    a = await account(client, owner, customer_id=alice["id"], product_id=savings["id"],
                      deposit=1000)  # fmt: skip
    b = await account(client, owner, customer_id=alice["id"], product_id=current["id"])
    body = {"from_account_id": a["id"], "to_account_id": b["id"], "currency": "EUR"}
    too_much = await _send(client, owner, {**body, "amount": 701})
    assert too_much.status_code == 422
    assert too_much.json()["type"].endswith("/insufficient-funds")
    assert (await _send(client, owner, {**body, "amount": 700})).status_code == 201
    assert await _balance(client, owner, a["id"]) == 300
