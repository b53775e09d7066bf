"""pain.001 exports of pending payments (XSD-valid, re-downloadable); incoming credits
(camt.054 or JSON), each booked once."""

from __future__ import annotations

from typing import Any

import httpx
from lxml import etree
from sqlalchemy import text

from fiscus.banking.iso20022 import PAIN001_NAMESPACE
from fiscus.core.db import Database
from tests.banking.factories import ok
from tests.banking.payment_factories import MakePrincipal, balance, bank, pay, trial_balanced
from tests.banking.test_iso20022 import CAMT_02, SCHEMA

NS = {"p": PAIN001_NAMESPACE}


async def _status(client: httpx.AsyncClient, w: dict[str, Any], payment: dict[str, Any]) -> str:
    got = ok(await client.get(f"/v1/payments/{payment['id']}", headers=w["staff"].headers))
    return str(got["status"])


async def test_the_export_is_a_valid_pain001_of_the_pending_payments_once(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await bank(client, make_principal)
    staff = w["staff"]
    first = ok(await pay(client, staff, w["mine"]["id"], execute_on="2099-03-01"), 201)
    second = ok(await pay(client, staff, w["theirs"]["id"], amount=199, charges="OUR"), 201)
    settled = ok(await pay(client, staff, w["mine"]["id"]), 201)
    ok(await client.post(f"/v1/payments/{settled['id']}/settle", headers=staff.headers))
    response = await client.get(
        "/v1/payments/export.pain001",
        params={"status": "pending_settlement"},
        headers=staff.headers,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(response.content)
    SCHEMA.assertValid(root)
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "2"
    ends = [
        t.findtext("p:PmtId/p:EndToEndId", namespaces=NS)
        for t in root.findall(".//p:CdtTrfTxInf", NS)
    ]
    assert sorted(ends) == sorted(p["id"].replace("-", "") for p in (first, second))
    assert "2099-03-01" in [d.text for d in root.findall(".//p:ReqdExctnDt/p:Dt", NS)]
    assert [await _status(client, w, p) for p in (first, second, settled)] == [
        "exported",
        "exported",
        "settled",
    ]
    export_id = response.headers["X-Export-Id"]
    again = await client.get("/v1/payments/export.pain001", headers=staff.headers)
    assert again.status_code == 422 and again.json()["type"].endswith("/payment-export-empty")
    download = await client.get(f"/v1/payments/exports/{export_id}.pain001", headers=staff.headers)
    assert download.status_code == 200 and download.content == response.content
    ok(await client.post(f"/v1/payments/{first['id']}/settle", headers=staff.headers))
    returned = await client.post(
        f"/v1/payments/{second['id']}/return", json={"reason_code": "AC01"}, headers=staff.headers
    )
    assert returned.status_code == 200 and returned.json()["status"] == "returned"
    assert await trial_balanced(client, staff)


async def test_only_staff_of_the_tenant_export(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await bank(client, make_principal)
    ok(await pay(client, w["staff"], w["mine"]["id"]), 201)
    for who in (w["owner"], w["viewer"]):
        refused = await client.get("/v1/payments/export.pain001", headers=who.headers)
        assert refused.status_code == 403
    exported = await client.get("/v1/payments/export.pain001", headers=w["staff"].headers)
    assert exported.status_code == 200
    stranger = await make_principal(role="owner")
    path = f"/v1/payments/exports/{exported.headers['X-Export-Id']}.pain001"
    assert (await client.get(path, headers=stranger.headers)).status_code == 404
    empty = await client.get("/v1/payments/export.pain001", headers=stranger.headers)
    assert empty.status_code == 422
    bad = await client.get(
        "/v1/payments/export.pain001", params={"status": "settled"}, headers=w["staff"].headers
    )
    assert bad.status_code == 400


# --- incoming credits -------------------------------------------------------------------


def _camt(iban: str) -> bytes:
    """The camt.054.001.02 sample with its notified account made `iban`: two credits fall
    back to it, one names an outside IBAN, one debit and one pending entry are left out."""
    notified = "<Acct><Id><IBAN>DE89370400440532013000</IBAN>"
    assert notified in CAMT_02
    return CAMT_02.replace(notified, f"<Acct><Id><IBAN>{iban}</IBAN>").encode()


async def _incoming_rows(db: Database) -> int:
    async with db.uow() as uow:
        found = await uow.session.execute(text("SELECT count(*) FROM banking_incoming_credits"))
        return int(found.scalar_one())


async def test_a_camt054_file_books_each_credit_once(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await bank(client, make_principal)
    staff, mine = w["staff"], w["mine"]
    xml = {**staff.headers, "Content-Type": "application/xml"}
    result = ok(
        await client.post("/v1/incoming-payments", content=_camt(mine["iban"]), headers=xml)
    )
    assert sorted(c["amount"] for c in result["booked"]) == [1200, 5025]
    assert {c["account_id"] for c in result["booked"]} == {mine["id"]}
    assert [(c["amount"], c["creditor_iban"]) for c in result["suspense"]] == [
        (30000, "DE89370400440532013000")
    ]
    assert result["skipped"] == 2 and result["duplicates"] == 0
    assert (await balance(client, staff, mine["id"]))["balance"] == 10_000 + 6_225
    again = ok(await client.post("/v1/incoming-payments", content=_camt(mine["iban"]), headers=xml))
    assert again["booked"] == again["suspense"] == [] and again["duplicates"] == 3
    upload = await client.post(
        "/v1/incoming-payments",
        files={"file": ("camt.xml", _camt(mine["iban"]), "text/xml")},
        headers=staff.headers,
    )
    assert upload.status_code == 200 and upload.json()["duplicates"] == 3
    assert (await balance(client, staff, mine["id"]))["balance"] == 10_000 + 6_225
    assert await _incoming_rows(db) == 3
    assert await trial_balanced(client, staff)


async def test_one_credit_by_api_and_bad_input(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await bank(client, make_principal)
    staff, theirs = w["staff"], w["theirs"]
    credit = {
        "bank_reference": "RAIL-1",
        "end_to_end_id": "E2E-1",
        "creditor_iban": theirs["iban"],
        "amount": 700,
        "currency": "EUR",
    }
    booked = ok(await client.post("/v1/incoming-payments", json=credit, headers=staff.headers))
    assert [c["account_id"] for c in booked["booked"]] == [theirs["id"]]
    replay = ok(await client.post("/v1/incoming-payments", json=credit, headers=staff.headers))
    assert replay["duplicates"] == 1 and replay["booked"] == []
    for body, slug in (
        (
            {**credit, "bank_reference": "RAIL-2", "creditor_iban": "DE00370400440532013000"},
            "iban-invalid",
        ),
        ({**credit, "bank_reference": "RAIL-3", "amount": -5}, "validation-error"),
    ):
        refused = await client.post("/v1/incoming-payments", json=body, headers=staff.headers)
        assert refused.status_code == 400 and refused.json()["type"].endswith("/" + slug)
    broken = await client.post(
        "/v1/incoming-payments",
        content=b"<not-camt/>",
        headers={**staff.headers, "Content-Type": "application/xml"},
    )
    assert broken.status_code == 400 and broken.json()["type"].endswith("/camt-document-invalid")
    for who in (w["owner"], w["viewer"]):
        denied = await client.post(
            "/v1/incoming-payments", json={**credit, "bank_reference": "P"}, headers=who.headers
        )
        assert denied.status_code == 403
    stranger = await make_principal(role="owner")
    elsewhere = ok(
        await client.post(
            "/v1/incoming-payments",
            json={**credit, "bank_reference": "RAIL-9"},
            headers=stranger.headers,
        )
    )
    assert elsewhere["booked"] == [] and len(elsewhere["suspense"]) == 1
    assert (await balance(client, staff, theirs["id"]))["balance"] == 10_700
    assert await _incoming_rows(db) == 2
    assert await trial_balanced(client, staff)
