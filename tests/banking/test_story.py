"""The "Done when" of the banking issue, as one story told through the HTTP API.

A customer is onboarded (KYC verified) and opens a current and a savings account (and a
dollar account to convert into); receives money (a cash deposit and a camt.054 credit);
pays a payee (settled by the rail); converts currency; sets up a standing order that the
standing-order job pays when the business date reaches it, and gets an alert. Then every
movement is in the ledger (each account's banking balance is its ledger balance; every
currency's debits equal its credits) and every change is in the audit trail. The one call
that is not HTTP is the standing-order job itself, as the worker runs it.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from fiscus.banking import service
from fiscus.core.db import Database
from tests.banking.factories import events_of, individual, ok
from tests.banking.payment_factories import MakePrincipal, payee_body
from tests.factories import Principal

CAMT = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">
 <BkToCstmrDbtCdtNtfctn>
  <GrpHdr><MsgId>STORY-{tag}</MsgId><CreDtTm>2026-12-01T06:15:00Z</CreDtTm></GrpHdr>
  <Ntfctn>
   <Id>NTF-{tag}</Id>
   <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>
   <Ntry>
    <Amt Ccy="EUR">120.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><Dt>2026-12-01</Dt></BookgDt><AcctSvcrRef>STORY-{tag}-1</AcctSvcrRef>
    <NtryDtls><TxDtls>
     <Refs><AcctSvcrRef>STORY-{tag}-TX</AcctSvcrRef><EndToEndId>SALARY-12</EndToEndId></Refs>
     <AmtDtls><TxAmt><Amt Ccy="EUR">120.00</Amt></TxAmt></AmtDtls>
     <RltdPties>
      <Dbtr><Nm>Employer GmbH</Nm></Dbtr>
      <CdtrAcct><Id><IBAN>{iban}</IBAN></Id></CdtrAcct>
     </RltdPties>
     <RmtInf><Ustrd>Salary</Ustrd></RmtInf>
    </TxDtls></NtryDtls>
   </Ntry>
  </Ntfctn>
 </BkToCstmrDbtCdtNtfctn>
</Document>
"""


def _keyed(who: Principal) -> dict[str, str]:
    return {**who.headers, "Idempotency-Key": secrets.token_hex(8)}


async def _open(
    client: httpx.AsyncClient, me: Principal, customer_id: str, product: dict[str, Any]
) -> dict[str, Any]:
    body = {"customer_id": customer_id, "product_id": product["id"], "nickname": product["name"]}
    return ok(await client.post("/v1/accounts", json=body, headers=me.headers), 201)  # type: ignore[no-any-return]


async def _audited(
    client: httpx.AsyncClient, staff: Principal, action: str, object_id: str | None = None
) -> list[Any]:
    params = {"action": action, **({"object_id": object_id} if object_id else {})}
    found = ok(await client.get("/v1/audit-events", params=params, headers=staff.headers))
    return found["data"]  # type: ignore[no-any-return]


async def _job(db: Database, staff: Principal) -> service.RunReport:
    """The standing-order job for the tenant, as the worker runs it every five minutes."""
    return await service.standing_orders_run(db, tenant_id=staff.tenant_id, on_date=None)


async def _onboard(client: httpx.AsyncClient, staff: Principal, me: Principal) -> str:
    made = ok(await client.post("/v1/customers", json=individual(), headers=staff.headers), 201)
    assert made["kyc"]["status"] == "pending"
    reviewed = ok(
        await client.post(
            f"/v1/customers/{made['id']}/kyc-review",
            json={"status": "verified", "notes": "passport seen"},
            headers=staff.headers,
        )
    )
    assert reviewed["kyc"]["status"] == "verified"
    ok(
        await client.put(
            f"/v1/customers/{made['id']}/users/{me.user_id}",
            json={"role": "owner"},
            headers=staff.headers,
        )
    )
    return str(made["id"])


async def test_a_customer_banks_end_to_end_with_every_movement_in_ledger_and_audit(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    staff = await make_principal(role="owner")
    me = await make_principal(role="customer", tenant_id=staff.tenant_id)
    customer_id = await _onboard(client, staff, me)
    products = [
        ok(await client.post("/v1/products", json=body, headers=staff.headers), 201)
        for body in (
            {"name": "Current", "type": "current", "currency": "EUR"},
            {"name": "Savings", "type": "savings", "currency": "EUR"},
            {"name": "Dollars", "type": "current", "currency": "USD"},
        )
    ]
    current, savings, dollars = [await _open(client, me, customer_id, p) for p in products]

    # Money in: cash at the branch, and a credit another bank reports in a camt.054 file.
    ok(
        await client.post(
            f"/v1/accounts/{current['id']}/deposits",
            json={"amount": 50_000, "currency": "EUR", "reference": "cash"},
            headers=_keyed(staff),
        ),
        201,
    )
    camt = CAMT.format(tag=secrets.token_hex(4), iban=current["iban"]).encode()
    imported = ok(
        await client.post(
            "/v1/incoming-payments",
            content=camt,
            headers={**staff.headers, "Content-Type": "application/xml"},
        )
    )
    assert [c["account_id"] for c in imported["booked"]] == [current["id"]]
    assert imported["booked"][0]["amount"] == 12_000

    # An alert on movements of 120.00 or more, then a payee paid (settled by the rail).
    alert = ok(
        await client.post(
            "/v1/alerts",
            json={"account_id": current["id"], "kind": "large_transaction", "threshold": 12_000},
            headers=me.headers,
        ),
        201,
    )
    payee = ok(
        await client.post("/v1/payees", json=payee_body(customer_id), headers=me.headers), 201
    )
    payment = ok(
        await client.post(
            "/v1/payments",
            json={
                "from_account_id": current["id"],
                "payee_id": payee["id"],
                "amount": 2_500,
                "currency": "EUR",
                "reference": "Invoice 42",
                "charges": "SHA",
            },
            headers=_keyed(me),
        ),
        201,
    )
    settled = ok(await client.post(f"/v1/payments/{payment['id']}/settle", headers=staff.headers))
    assert settled["status"] == "settled"

    # Currency converted at the tenant's rate, less the spread (booked to FX income).
    ok(
        await client.post(
            "/v1/fx/rates",
            json={"base": "EUR", "quote": "USD", "rate": "1.08", "spread": "0.005"},
            headers=staff.headers,
        ),
        201,
    )
    converted = ok(
        await client.post(
            "/v1/fx/conversions",
            json={
                "from_account_id": current["id"],
                "to_account_id": dollars["id"],
                "amount": 10_000,
                "currency": "EUR",
            },
            headers=_keyed(me),
        ),
        201,
    )
    bought = converted["buy"]["amount"]
    assert 0 < bought < 10_800

    # A standing order from tomorrow; the business date moves there and the job pays it.
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    order = ok(
        await client.post(
            "/v1/standing-orders",
            json={
                "from_account_id": current["id"],
                "to_account_id": savings["id"],
                "amount": 15_000,
                "currency": "EUR",
                "frequency": "monthly",
                "start_date": tomorrow,
                "reference": "Save",
            },
            headers=me.headers,
        ),
        201,
    )
    assert (
        await service.standing_orders_run(db, tenant_id=staff.tenant_id, on_date=None)
    ).paid == 0, "not due yet"
    ok(
        await client.post(
            "/v1/banking/business-date", json={"business_date": tomorrow}, headers=staff.headers
        )
    )
    assert (
        await service.standing_orders_run(db, tenant_id=staff.tenant_id, on_date=None)
    ).paid == 1
    executions = ok(
        await client.get(f"/v1/standing-orders/{order['id']}/executions", headers=me.headers)
    )["data"]
    assert [(e["due_date"], e["status"]) for e in executions] == [(tomorrow, "paid")]
    fired = [payload for _, payload in await events_of(db, staff, "banking.alert.triggered")]
    assert [(f["alert_id"], f["amount"]) for f in fired] == [(alert["id"], -15_000)]
    assert fired[0]["user_ids"] == [str(me.user_id)]

    # Every movement is in the ledger.
    expected = {
        current["id"]: 50_000 + 12_000 - 2_500 - 10_000 - 15_000,
        savings["id"]: 15_000,
        dollars["id"]: bought,
    }
    for account in (current, savings, dollars):
        banking = ok(await client.get(f"/v1/accounts/{account['id']}/balance", headers=me.headers))
        ledger = ok(
            await client.get(
                f"/v1/ledger/accounts/{account['ledger_account_id']}/balance", headers=staff.headers
            )
        )
        assert banking["balance"] == ledger["balance"] == expected[account["id"]], account
    trial = ok(await client.get("/v1/ledger/trial-balance", headers=staff.headers))
    assert trial["balanced"] and {line["currency"] for line in trial["currencies"]} >= {
        "EUR",
        "USD",
    }
    for line in trial["currencies"]:
        assert line["debits_posted"] == line["credits_posted"], line
    async with db.uow() as uow:
        sums = (
            await uow.session.execute(
                text(
                    "SELECT currency, sum(CASE WHEN direction = 'debit' THEN posted_amount"
                    " ELSE -posted_amount END) FROM ledger_entries WHERE tenant_id = :t"
                    " GROUP BY currency"
                ),
                {"t": staff.tenant_id},
            )
        ).all()
    assert sums and all(total == 0 for _, total in sums), sums

    # Every change is in the audit trail.
    for action, object_id in (
        ("banking.customer.created", customer_id),
        ("banking.customer.kyc_reviewed", customer_id),
        ("banking.customer.user_linked", None),
        *(("banking.product.created", p["id"]) for p in products),
        *(("banking.account.opened", a["id"]) for a in (current, savings, dollars)),
        ("banking.deposit.completed", None),
        ("banking.incoming.imported", None),
        ("banking.alert.created", alert["id"]),
        ("banking.payee.created", payee["id"]),
        ("banking.payment.created", payment["id"]),
        ("banking.payment.settled", payment["id"]),
        ("fx_rate.set", None),
        ("banking.fx_conversion.completed", None),
        ("banking.standing_order.created", order["id"]),
        ("banking.business_date.advanced", None),
        ("banking.standing_order.executed", order["id"]),
        ("banking.transfer.completed", None),
    ):
        assert len(await _audited(client, staff, action, object_id)) >= 1, (action, object_id)
