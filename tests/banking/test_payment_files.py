"""pain.001 exports of the payments pending settlement (XSD-valid, re-downloadable)."""

from __future__ import annotations

from typing import Any

import httpx
from lxml import etree

from fiscus.banking.iso20022 import PAIN001_NAMESPACE
from tests.banking.factories import ok
from tests.banking.payment_factories import MakePrincipal, bank, pay, trial_balanced
from tests.banking.test_iso20022 import SCHEMA

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
