"""Outgoing payments: reserve, screen, settle or return; refusals leave nothing behind."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from sqlalchemy import text

from fiscus.core.db import Database
from fiscus.risk.service import sanctions_file_read, sanctions_list_load
from tests.banking.factories import ok
from tests.banking.payment_factories import (
    OUTSIDE_IBAN,
    MakePrincipal,
    balance,
    bank,
    pay,
    payee,
    payment_body,
    trial_balanced,
)

SANCTIONS = (
    "list_id,name,aliases,type,country,programme\n"
    "SDN-1,Ivan Petrovich SIDOROV,Ivan Sidorov,individual,RU,X\n"
)


async def _rows(db: Database, sql: str) -> list[Any]:
    async with db.uow() as uow:
        return list((await uow.session.execute(text(sql))).all())


async def _events(db: Database) -> list[str]:
    rows = await _rows(
        db, "SELECT type FROM events WHERE type LIKE 'banking.payment.%' ORDER BY id"
    )
    return [row[0] for row in rows]


async def _step(
    client: httpx.AsyncClient, w: dict[str, Any], payment: dict[str, Any], step: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/payments/{payment['id']}/{step}", json=body or None, headers=w["staff"].headers
    )


async def test_a_payment_reserves_its_amount_then_settles(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await bank(client, make_principal)
    mine = w["mine"]["id"]
    made = ok(await pay(client, w["staff"], mine, execute_on="2099-01-02"), 201)
    assert made["status"] == "pending_settlement" and made["screening_hits"] == 0
    assert made["creditor"] == {"name": "Grace Hopper", "iban": OUTSIDE_IBAN, "bic": "COBADEFFXXX"}
    assert made["execute_on"] == "2099-01-02" and made["channel"] == "branch"
    assert await balance(client, w["staff"], mine) == {
        "balance": 10_000,
        "available": 7_500,
        "currency": "EUR",
    }
    assert await trial_balanced(client, w["staff"])
    settled = ok(await _step(client, w, made, "settle"))
    assert settled["status"] == "settled"
    assert (await balance(client, w["staff"], mine))["balance"] == 7_500
    again = await _step(client, w, made, "settle")
    assert again.status_code == 409 and again.json()["type"].endswith("/payment-status-conflict")
    assert (await balance(client, w["staff"], mine))["balance"] == 7_500
    assert await trial_balanced(client, w["staff"])
    assert ok(await client.get(f"/v1/payments/{made['id']}", headers=w["staff"].headers)) == settled
    assert await _events(db) == ["banking.payment.created", "banking.payment.settled"]
    raw = await _rows(db, "SELECT creditor_name_sealed FROM banking_payments")
    assert b"Hopper" not in bytes(raw[0][0])


async def test_a_return_voids_the_reservation_or_reverses_the_settled_transfer(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await bank(client, make_principal)
    mine = w["mine"]["id"]
    early = ok(await pay(client, w["staff"], mine), 201)
    late = ok(await pay(client, w["staff"], mine), 201)
    ok(await _step(client, w, late, "settle"))
    unknown = await _step(client, w, early, "return", reason_code="XX99")
    assert unknown.status_code == 400
    assert (
        ok(await client.get(f"/v1/payments/{early['id']}", headers=w["staff"].headers))["status"]
        == "pending_settlement"
    )
    returned = ok(await _step(client, w, early, "return", reason_code="AC04"))
    assert returned["status"] == "returned" and returned["return_reason_code"] == "AC04"
    assert await balance(client, w["staff"], mine) == {
        "balance": 7_500,
        "available": 7_500,
        "currency": "EUR",
    }
    back = ok(await _step(client, w, late, "return", reason_code="AM04"))
    assert back["status"] == "returned"
    assert await balance(client, w["staff"], mine) == {
        "balance": 10_000,
        "available": 10_000,
        "currency": "EUR",
    }
    twice = await _step(client, w, late, "return", reason_code="AM04")
    assert twice.status_code == 409
    assert (await balance(client, w["staff"], mine))["balance"] == 10_000
    assert await trial_balanced(client, w["staff"])
    assert (await _events(db)).count("banking.payment.returned") == 2


async def test_a_sanctions_match_holds_the_payment_for_review(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    async with db.uow() as uow:
        await sanctions_list_load(
            uow, name="ofac-sdn", file=sanctions_file_read(SANCTIONS.encode(), source="sdn.csv")
        )
    w = await bank(client, make_principal)
    mine = w["mine"]["id"]
    creditor = {"name": "Ivan Sidorov", "iban": OUTSIDE_IBAN}
    held = ok(await pay(client, w["staff"], mine, creditor=creditor), 201)
    assert held["status"] == "held" and held["screening_hits"] == 1
    refused = await _step(client, w, held, "settle")
    assert refused.status_code == 409
    released = ok(await _step(client, w, held, "release"))
    assert released["status"] == "pending_settlement"
    other = ok(await pay(client, w["staff"], mine, creditor=creditor), 201)
    assert (await balance(client, w["staff"], mine))["available"] == 5_000
    rejected = ok(await _step(client, w, other, "reject"))
    assert rejected["status"] == "rejected"
    assert (await balance(client, w["staff"], mine))["available"] == 7_500
    assert (await _step(client, w, other, "release")).status_code == 409
    assert await trial_balanced(client, w["staff"])
    assert await _events(db) == [
        "banking.payment.created",
        "banking.payment.held",
        "banking.payment.released",
        "banking.payment.created",
        "banking.payment.held",
        "banking.payment.rejected",
    ]
    clean = ok(await pay(client, w["staff"], mine), 201)
    assert clean["status"] == "pending_settlement"


async def test_the_idempotency_key_is_required_and_replays(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await bank(client, make_principal)
    mine = w["mine"]["id"]
    body = payment_body(mine)
    missing = await client.post("/v1/payments", json=body, headers=w["staff"].headers)
    assert missing.status_code == 400
    assert missing.json()["type"].endswith("/idempotency-key-required")
    keyed = {**w["staff"].headers, "Idempotency-Key": secrets.token_hex(8)}
    first = await client.post("/v1/payments", json=body, headers=keyed)
    replay = await client.post("/v1/payments", json=body, headers=keyed)
    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json() == first.json()
    other = await client.post("/v1/payments", json={**body, "amount": 99}, headers=keyed)
    assert other.status_code == 409
    assert (await balance(client, w["staff"], mine))["available"] == 7_500
    assert len(await _rows(db, "SELECT id FROM banking_payments")) == 1


async def test_refusals_leave_the_bank_unchanged(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await bank(client, make_principal)
    staff, mine = w["staff"], w["mine"]["id"]
    bobs_payee = await payee(client, staff, w["bob"]["id"])
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"amount": 20_000}, 422, "insufficient-funds"),
        ({"currency": "USD"}, 422, "account-currency-mismatch"),
        ({"creditor": {"name": "X", "iban": "DE89370400440532013001"}}, 400, "iban-invalid"),
        ({"creditor": {"name": "X", "iban": OUTSIDE_IBAN, "bic": "COBAXXFF"}}, 400, "bic-invalid"),
        ({"payee_id": bobs_payee["id"], "creditor": None}, 404, "payee-not-found"),
        ({"payee_id": bobs_payee["id"]}, 400, "validation-error"),
        ({"execute_on": "2000-01-01"}, 400, "execution-date-invalid"),
        ({"charges": "ALL"}, 400, "validation-error"),
        ({"purpose": "salary"}, 400, "validation-error"),
        (
            {"from_account_id": "019a9f0e-3c1e-7f60-a1b2-6c0ffee00009"},
            404,
            "bank-account-not-found",
        ),
    ]
    for overrides, status, slug in cases:
        body = {k: v for k, v in {**payment_body(mine), **overrides}.items() if v is not None}
        response = await client.post(
            "/v1/payments",
            json=body,
            headers={**staff.headers, "Idempotency-Key": secrets.token_hex(8)},
        )
        assert response.status_code == status, (overrides, response.text)
        assert response.json()["type"].endswith("/" + slug), (overrides, response.text)
    bad = await client.post(
        "/v1/payments",
        json=payment_body(mine, creditor={"name": "X", "iban": "XX0012345"}),
        headers={**staff.headers, "Idempotency-Key": secrets.token_hex(8)},
    )
    assert bad.json()["errors"][0]["field"] == "creditor.iban"
    ok(
        await client.put(
            f"/v1/customers/{w['alice']['id']}/limits",
            json={
                "channel": "branch",
                "currency": "EUR",
                "daily_limit": 1000,
                "monthly_limit": 5000,
            },
            headers=staff.headers,
        )
    )
    limited = await pay(client, staff, mine)
    assert limited.status_code == 422 and limited.json()["type"].endswith(
        "/transfer-limit-exceeded"
    )
    ok(await client.post(f"/v1/accounts/{mine}/freeze", headers=staff.headers))
    frozen = await pay(client, staff, mine, amount=10)
    assert frozen.status_code == 422 and frozen.json()["type"].endswith("/account-frozen")
    assert await _rows(db, "SELECT id FROM banking_payments") == []
    assert await _rows(db, "SELECT used FROM banking_limit_usage") == []
    assert await balance(client, staff, mine) == {
        "balance": 10_000,
        "available": 0,
        "currency": "EUR",
    }
    assert await trial_balanced(client, staff)


async def test_paying_a_payee_records_its_first_payment(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await bank(client, make_principal)
    staff, mine = w["staff"], w["mine"]["id"]
    grace = await payee(client, staff, w["alice"]["id"])
    made = ok(await pay(client, staff, mine, payee_id=grace["id"], creditor=None), 201)
    assert made["payee_id"] == grace["id"] and made["creditor"]["name"] == "Grace Hopper"
    paid = ok(await client.get(f"/v1/payees/{grace['id']}", headers=staff.headers))
    assert paid["first_paid_at"] == made["created_at"]
    ok(await pay(client, staff, mine, payee_id=grace["id"], creditor=None), 201)
    later = ok(await client.get(f"/v1/payees/{grace['id']}", headers=staff.headers))
    assert later["first_paid_at"] == paid["first_paid_at"]
    assert (
        await client.delete(f"/v1/payees/{grace['id']}", headers=staff.headers)
    ).status_code == 204
    gone = await pay(client, staff, mine, payee_id=grace["id"], creditor=None)
    assert gone.status_code == 404


async def test_portal_users_roles_and_other_tenants(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await bank(client, make_principal)
    owner, viewer, staff = w["owner"], w["viewer"], w["staff"]
    mine = ok(await pay(client, owner, w["mine"]["id"]), 201)
    assert mine["channel"] == "online"
    bobs = ok(await pay(client, staff, w["theirs"]["id"]), 201)
    stolen = await pay(client, owner, w["theirs"]["id"])
    assert stolen.status_code == 404
    assert (await pay(client, viewer, w["mine"]["id"])).status_code == 403
    assert [
        p["id"] for p in ok(await client.get("/v1/payments", headers=owner.headers))["data"]
    ] == [mine["id"]]
    assert (
        ok(await client.get(f"/v1/payments/{mine['id']}", headers=viewer.headers))["id"]
        == mine["id"]
    )
    assert (
        await client.get(f"/v1/payments/{bobs['id']}", headers=owner.headers)
    ).status_code == 404
    for step in ("settle", "release", "reject"):
        response = await client.post(f"/v1/payments/{mine['id']}/{step}", headers=owner.headers)
        assert response.status_code == 403, step
    analyst = await make_principal(role="analyst", tenant_id=staff.tenant_id)
    assert ok(await client.get(f"/v1/payments/{bobs['id']}", headers=analyst.headers))
    assert (
        await client.post(f"/v1/payments/{bobs['id']}/settle", headers=analyst.headers)
    ).status_code == 403
    stranger = await make_principal(role="owner")
    assert (
        await client.get(f"/v1/payments/{bobs['id']}", headers=stranger.headers)
    ).status_code == 404
    assert (
        await client.post(f"/v1/payments/{bobs['id']}/settle", headers=stranger.headers)
    ).status_code == 404
    assert ok(await client.get("/v1/payments", headers=stranger.headers))["data"] == []
    foreign = await pay(client, stranger, w["mine"]["id"])
    assert foreign.status_code == 404
    listed = ok(
        await client.get(
            "/v1/payments", params={"status": "pending_settlement"}, headers=staff.headers
        )
    )
    assert {p["id"] for p in listed["data"]} == {mine["id"], bobs["id"]}
    assert (await balance(client, staff, w["mine"]["id"]))["available"] == 7_500
    assert await trial_balanced(client, staff)
