"""A portal user (role `customer`) sees and acts only for the customers it is linked to.

Route by route: an owner link reads and pays, a viewer link only reads, and another
customer's objects answer 404 exactly like objects that do not exist. Staff-only routes
answer 403 to every portal user.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI

from tests.access.test_matrix import operations
from tests.banking.factories import account, customer, ok, product
from tests.banking.factories import link as _link
from tests.factories import Principal

MakePrincipal = Callable[..., Awaitable[Principal]]


async def _world(client: httpx.AsyncClient, make_principal: MakePrincipal) -> dict[str, Any]:
    staff = await make_principal(role="owner")
    alice, bob = await customer(client, staff), await customer(client, staff)
    current = await product(client, staff)
    mine = await account(client, staff, customer_id=alice["id"], product_id=current["id"],
                         deposit=5000)  # fmt: skip
    theirs = await account(client, staff, customer_id=bob["id"], product_id=current["id"],
                           deposit=5000)  # fmt: skip
    spare = await account(client, staff, customer_id=bob["id"], product_id=current["id"])
    bobs_transfer = ok(
        await client.post(
            "/v1/transfers",
            json={"from_account_id": theirs["id"], "to_account_id": spare["id"], "amount": 10,
                  "currency": "EUR"},
            headers={**staff.headers, "Idempotency-Key": secrets.token_hex(8)},
        ),
        201,
    )  # fmt: skip
    owner = await make_principal(role="customer", tenant_id=staff.tenant_id)
    viewer = await make_principal(role="customer", tenant_id=staff.tenant_id)
    await _link(client, staff, alice["id"], owner, "owner")
    await _link(client, staff, alice["id"], viewer, "viewer")
    return {
        "staff": staff, "owner": owner, "viewer": viewer, "alice": alice, "bob": bob,
        "product": current, "mine": mine, "theirs": theirs, "spare": spare,
        "bobs_transfer": bobs_transfer,
    }  # fmt: skip


def _pay(w: dict[str, Any], source: str, **more: Any) -> dict[str, Any]:
    return {"from_account_id": w[source]["id"], "to_iban": w["spare"]["iban"], "amount": 100,
            "currency": "EUR", **more}  # fmt: skip


async def test_an_owner_reads_and_pays_only_for_its_customer(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    me = w["owner"].headers
    mine, theirs = w["mine"]["id"], w["theirs"]["id"]
    listed = ok(await client.get("/v1/accounts", headers=me))
    assert [a["id"] for a in listed["data"]] == [mine]
    for path in ("", "/balance", "/transactions"):
        assert (await client.get(f"/v1/accounts/{mine}{path}", headers=me)).status_code == 200
        hidden = await client.get(f"/v1/accounts/{theirs}{path}", headers=me)
        assert hidden.status_code == 404, path
    filtered = ok(await client.get("/v1/accounts", params={"customer_id": w["bob"]["id"]},
                                   headers=me))  # fmt: skip
    assert filtered["data"] == []
    assert (await client.get(f"/v1/customers/{w['bob']['id']}", headers=me)).status_code == 404
    assert (await client.get(f"/v1/customers/{w['bob']['id']}/limits",
                             headers=me)).status_code == 404  # fmt: skip
    assert ok(await client.get(f"/v1/customers/{w['alice']['id']}/limits", headers=me)) == {
        "data": []}  # fmt: skip
    assert ok(await client.get("/v1/products", headers=me))["data"][0]["id"] == w["product"]["id"]

    keyed = {**me, "Idempotency-Key": secrets.token_hex(8)}
    paid = await client.post("/v1/transfers", json=_pay(w, "mine"), headers=keyed)
    assert paid.status_code == 201, paid.text
    assert paid.json()["channel"] == "online"
    assert ok(await client.get(f"/v1/transfers/{paid.json()['id']}", headers=me))["amount"] == 100
    stolen = await client.post("/v1/transfers", json=_pay(w, "theirs"),
                               headers={**me, "Idempotency-Key": secrets.token_hex(8)})  # fmt: skip
    assert stolen.status_code == 404
    foreign = await client.get(f"/v1/transfers/{w['bobs_transfer']['id']}", headers=me)
    assert foreign.status_code == 404
    opened = await client.post(
        "/v1/accounts", json={"customer_id": w["alice"]["id"], "product_id": w["product"]["id"]},
        headers=me,
    )  # fmt: skip
    assert opened.status_code == 201, opened.text
    for_bob = await client.post(
        "/v1/accounts", json={"customer_id": w["bob"]["id"], "product_id": w["product"]["id"]},
        headers=me,
    )  # fmt: skip
    assert for_bob.status_code == 404
    balance = ok(await client.get(f"/v1/accounts/{theirs}/balance", headers=w["staff"].headers))
    assert balance["balance"] == 4990, "nothing left Bob's account"


async def test_a_viewer_reads_but_cannot_pay_or_open(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    me = w["viewer"].headers
    assert ok(await client.get(f"/v1/accounts/{w['mine']['id']}/balance", headers=me))[
        "balance"] == 5000  # fmt: skip
    keyed = {**me, "Idempotency-Key": secrets.token_hex(8)}
    refused = await client.post("/v1/transfers", json=_pay(w, "mine"), headers=keyed)
    assert refused.status_code == 403, refused.text
    opened = await client.post(
        "/v1/accounts", json={"customer_id": w["alice"]["id"], "product_id": w["product"]["id"]},
        headers=me,
    )  # fmt: skip
    assert opened.status_code == 403
    assert ok(await client.get(f"/v1/accounts/{w['mine']['id']}/balance", headers=me))[
        "balance"] == 5000  # fmt: skip


async def test_staff_routes_refuse_every_portal_user(
    app: FastAPI, client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    ids = {"customer_id": w["alice"]["id"], "account_id": w["mine"]["id"],
           "product_id": w["product"]["id"], "user_id": str(w["owner"].user_id),
           "transfer_id": w["bobs_transfer"]["id"]}  # fmt: skip
    portal = {"customers:read", "bank_products:read", "bank_accounts:read", "bank_accounts:open",
              "bank_transfers:read", "bank_transfers:create", "bank_statements:read",
              "bank_insights:read", "bank_insights:categorise"}  # fmt: skip
    checked = 0
    for method, path, permission in operations(app):
        banking = path.startswith(("/v1/customers", "/v1/accounts", "/v1/products",
                                   "/v1/transfers", "/v1/banking"))  # fmt: skip
        if not banking or permission in portal:
            continue
        url = path.format(**{k: ids.get(k, str(uuid.uuid4())) for k in ids})
        response = await client.request(method, url, json={}, headers=w["owner"].headers)
        assert response.status_code == 403, (method, path, response.text)
        checked += 1
    assert checked >= 12
