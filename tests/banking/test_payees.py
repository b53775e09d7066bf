"""Payees: validated IBAN and BIC, sealed names, soft delete, portal and tenant boundaries."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from fiscus.core.db import Database
from tests.banking.factories import ok
from tests.banking.payment_factories import (
    OUTSIDE_IBAN,
    MakePrincipal,
    balance,
    bank,
    pay,
    payee,
    payee_body,
)


async def _count(db: Database) -> int:
    async with db.uow() as uow:
        return int(
            (await uow.session.execute(text("SELECT count(*) FROM banking_payees"))).scalar()
        )


async def test_staff_add_list_get_and_delete_a_payee(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await bank(client, make_principal)
    staff = w["staff"].headers
    made = await payee(
        client, w["staff"], w["alice"]["id"], iban="de89 3704 0044 0532 0130 00", bic="cobadeffxxx"
    )
    assert made["iban"] == OUTSIDE_IBAN and made["bic"] == "COBADEFFXXX"
    assert made["name"] == "Grace Hopper" and made["first_paid_at"] is None
    second = await payee(client, w["staff"], w["alice"]["id"], name="Alan Turing")
    await payee(client, w["staff"], w["bob"]["id"])
    page = ok(
        await client.get(
            "/v1/payees", params={"customer_id": w["alice"]["id"], "limit": 1}, headers=staff
        )
    )
    assert [p["id"] for p in page["data"]] == [made["id"]] and page["next_cursor"]
    rest = ok(
        await client.get(
            "/v1/payees",
            params={"customer_id": w["alice"]["id"], "cursor": page["next_cursor"]},
            headers=staff,
        )
    )
    assert [p["id"] for p in rest["data"]] == [second["id"]] and rest["next_cursor"] is None
    assert ok(await client.get(f"/v1/payees/{made['id']}", headers=staff)) == made
    assert (await client.delete(f"/v1/payees/{made['id']}", headers=staff)).status_code == 204
    assert (await client.get(f"/v1/payees/{made['id']}", headers=staff)).status_code == 404
    assert (await client.delete(f"/v1/payees/{made['id']}", headers=staff)).status_code == 404
    listed = ok(await client.get("/v1/payees", headers=staff))["data"]
    assert made["id"] not in {p["id"] for p in listed} and len(listed) == 2
    assert await _count(db) == 3, "a deleted payee is kept for the payments naming it"


async def test_the_payee_name_is_sealed_at_rest(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await bank(client, make_principal)
    await payee(client, w["staff"], w["alice"]["id"], name="Zebedee Quixotic")
    async with db.uow() as uow:
        raw = (await uow.session.execute(text("SELECT name_sealed FROM banking_payees"))).scalar()
    assert b"Zebedee" not in bytes(raw)


async def test_bad_iban_bic_or_customer_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await bank(client, make_principal)
    staff = w["staff"].headers
    alice = w["alice"]["id"]
    bad_iban = await client.post(
        "/v1/payees", json=payee_body(alice, iban="DE89370400440532013001"), headers=staff
    )
    assert bad_iban.status_code == 400, bad_iban.text
    assert bad_iban.headers["content-type"].startswith("application/problem+json")
    assert bad_iban.json()["type"].endswith("/iban-invalid")
    assert bad_iban.json()["errors"][0]["field"] == "iban"
    bad_bic = await client.post(
        "/v1/payees", json=payee_body(alice, bic="COBAXXFFXXX"), headers=staff
    )
    assert bad_bic.status_code == 400 and bad_bic.json()["type"].endswith("/bic-invalid")
    nobody = await client.post(
        "/v1/payees", json=payee_body("019a9f0e-3c1e-7f60-a1b2-6c0ffee00009"), headers=staff
    )
    assert nobody.status_code == 404 and nobody.json()["type"].endswith("/customer-not-found")
    unnamed = await client.post("/v1/payees", json=payee_body(alice, name=""), headers=staff)
    assert unnamed.status_code == 400
    assert await _count(db) == 0


async def test_portal_owner_manages_viewer_reads_and_others_are_hidden(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await bank(client, make_principal)
    owner, viewer = w["owner"], w["viewer"]
    mine = await payee(client, owner, w["alice"]["id"])
    bobs = await payee(client, w["staff"], w["bob"]["id"])
    for_bob = await client.post(
        "/v1/payees", json=payee_body(w["bob"]["id"]), headers=owner.headers
    )
    assert for_bob.status_code == 404
    assert [p["id"] for p in ok(await client.get("/v1/payees", headers=owner.headers))["data"]] == [
        mine["id"]
    ]
    assert (await client.get(f"/v1/payees/{bobs['id']}", headers=owner.headers)).status_code == 404
    gone = await client.delete(f"/v1/payees/{bobs['id']}", headers=owner.headers)
    assert gone.status_code == 404
    assert (
        ok(await client.get(f"/v1/payees/{mine['id']}", headers=viewer.headers))["id"] == mine["id"]
    )
    added = await client.post(
        "/v1/payees", json=payee_body(w["alice"]["id"]), headers=viewer.headers
    )
    assert added.status_code == 403
    deleted = await client.delete(f"/v1/payees/{mine['id']}", headers=viewer.headers)
    assert deleted.status_code == 403
    assert (
        ok(await client.get(f"/v1/payees/{mine['id']}", headers=owner.headers))["id"] == mine["id"]
    )
    assert ok(await client.get(f"/v1/payees/{bobs['id']}", headers=w["staff"].headers))


async def test_roles_and_tenants(client: httpx.AsyncClient, make_principal: MakePrincipal) -> None:
    w = await bank(client, make_principal)
    made = await payee(client, w["staff"], w["alice"]["id"])
    analyst = await make_principal(role="analyst", tenant_id=w["staff"].tenant_id)
    assert ok(await client.get(f"/v1/payees/{made['id']}", headers=analyst.headers))
    refused = await client.post(
        "/v1/payees", json=payee_body(w["alice"]["id"]), headers=analyst.headers
    )
    assert refused.status_code == 403
    operator = await make_principal(role="operator", tenant_id=w["staff"].tenant_id)
    await payee(client, operator, w["alice"]["id"])
    stranger = await make_principal(role="owner")
    assert (
        await client.get(f"/v1/payees/{made['id']}", headers=stranger.headers)
    ).status_code == 404
    assert (
        await client.delete(f"/v1/payees/{made['id']}", headers=stranger.headers)
    ).status_code == 404
    assert ok(await client.get("/v1/payees", headers=stranger.headers))["data"] == []
    foreign = await client.post(
        "/v1/payees", json=payee_body(w["alice"]["id"]), headers=stranger.headers
    )
    assert foreign.status_code == 404
    assert ok(await client.get(f"/v1/payees/{made['id']}", headers=w["staff"].headers))


async def test_the_first_payment_to_a_new_payee_needs_a_fresh_proof_with_mfa_on(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await bank(client, make_principal)
    owner = w["owner"]
    grace = await payee(client, owner, w["alice"]["id"])
    alan = await payee(client, owner, w["alice"]["id"], name="Alan Turing")
    async with db.uow() as uow:
        await uow.session.execute(
            text(
                "UPDATE users SET totp_enabled = true,"
                " password_changed_at = now() - interval '1 day' WHERE id = :u"
            ),
            {"u": owner.user_id},
        )
        await uow.session.execute(
            text(
                "UPDATE auth_sessions SET authenticated_at = now() - interval '20 minutes'"
                " WHERE id = :s"
            ),
            {"s": owner.session_id},
        )
    first = await pay(client, owner, w["mine"]["id"], payee_id=grace["id"], creditor=None)
    assert first.status_code == 403 and first.json()["type"].endswith("/step-up-required")
    assert (
        ok(await client.get(f"/v1/payees/{grace['id']}", headers=owner.headers))["first_paid_at"]
        is None
    )
    staff_paid = await pay(client, w["staff"], w["mine"]["id"], payee_id=alan["id"], creditor=None)
    assert staff_paid.status_code == 201, "staff are not asked for a step-up"
    again = await pay(client, owner, w["mine"]["id"], payee_id=alan["id"], creditor=None)
    assert again.status_code == 201, "a payee paid before needs no step-up"
    async with db.uow() as uow:
        await uow.session.execute(
            text("UPDATE auth_sessions SET authenticated_at = now() WHERE id = :s"),
            {"s": owner.session_id},
        )
    fresh = await pay(client, owner, w["mine"]["id"], payee_id=grace["id"], creditor=None)
    assert fresh.status_code == 201, fresh.text
    assert (await balance(client, w["staff"], w["mine"]["id"]))["available"] == 10_000 - 3 * 2_500
