"""Receipts, tax summaries and monthly statements (with their email through messaging)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from fiscus.banking.statements._documents import FEES, INTEREST, TAX, _classify, _Year
from fiscus.banking.statements._monthly import (
    previous_month,
    statements_month_close,
)
from fiscus.core.db import Database
from fiscus.core.events import Event, events_relay_batch
from fiscus.events.catalogue import StatementReadyPayload
from fiscus.messaging._directory import IdentityDirectory
from fiscus.messaging._recipients import install_directory
from fiscus.messaging.dispatch import messages_dispatch
from fiscus.worker import install_event_subscribers
from tests.banking.factories import ok
from tests.banking.payment_factories import MakePrincipal, bank
from tests.banking.statement_parsers import parse_csv, pdf_text
from tests.conftest import make_settings
from tests.factories import Principal, keyring_for

# The messaging tests' real SMTP server (aiosmtpd) and the settings that send email to it.
from tests.messaging.conftest import Inbox, settings, smtp  # noqa: F401


@pytest.fixture
async def identity_directory(db: Database) -> AsyncIterator[None]:
    """Messaging reads users from identity, as in the worker."""
    install_directory(IdentityDirectory(db, await keyring_for(db, make_settings(None))))
    yield
    install_directory(None)


def _key() -> dict[str, str]:
    return {"Idempotency-Key": secrets.token_hex(8)}


async def test_a_receipt_shows_the_transfer_and_is_scoped(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await bank(client, make_principal)
    staff = w["staff"]
    ok(await client.put("/v1/tenant/settings", json={"brand_colour": "#0B5FFF"},
                        headers=staff.headers))  # fmt: skip
    tenant = ok(await client.get("/v1/tenant", headers=staff.headers))
    body = {"from_account_id": w["theirs"]["id"], "to_account_id": w["mine"]["id"],
            "amount": 2_575, "currency": "EUR", "reference": "Rückzahlung März"}  # fmt: skip
    made = ok(await client.post("/v1/transfers", json=body, headers={**staff.headers, **_key()}),
              201)  # fmt: skip
    path = f"/v1/transfers/{made['id']}/receipt.pdf"
    response = await client.get(path, headers=w["owner"].headers)  # to their account
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert f'filename="receipt-{made["id"]}.pdf"' in response.headers["content-disposition"]
    [page] = pdf_text(response.content)
    for expected in ("Transfer receipt", "25.75 EUR", w["theirs"]["iban"], w["mine"]["iban"],
                     "Rückzahlung März", made["id"], tenant["name"], "Page 1 of 1"):  # fmt: skip
        assert expected in page, expected
    # Bob's own transfer is not Alice's users' to see.
    bobs = ok(
        await client.post(
            f"/v1/accounts/{w['theirs']['id']}/deposits",
            json={"amount": 100, "currency": "EUR", "reference": "cash"},
            headers={**staff.headers, **_key()},
        ),
        201,
    )
    hidden = await client.get(f"/v1/transfers/{bobs['id']}/receipt.pdf", headers=w["owner"].headers)
    assert hidden.status_code == 404 and hidden.json()["type"].endswith("/bank-transfer-not-found")
    missing = await client.get(f"/v1/transfers/{uuid.uuid4()}/receipt.pdf", headers=staff.headers)
    assert missing.status_code == 404


async def _gl(client: httpx.AsyncClient, staff: Principal) -> dict[str, str]:
    listed = ok(await client.get("/v1/ledger/accounts", params={"limit": 200},
                                 headers=staff.headers))["data"]  # fmt: skip
    return {
        a["code"].rsplit(":", 1)[-1]: a["id"]
        for a in listed
        if a["code"].startswith("banking:EUR:")
    }


async def _post(
    client: httpx.AsyncClient, staff: Principal, debit: str, credit: str, amount: int
) -> None:
    body = {"debit_account_id": debit, "credit_account_id": credit, "amount": amount,
            "currency": "EUR", "description": "posted by the test"}  # fmt: skip
    ok(await client.post("/v1/ledger/transfers", json=body, headers={**staff.headers, **_key()}),
       201)  # fmt: skip


async def test_the_tax_summary_sums_interest_and_fees_by_the_other_side(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await bank(client, make_principal)
    staff, mine = w["staff"], w["mine"]["ledger_account_id"]
    gl = await _gl(client, staff)
    await _post(client, staff, gl["interest_expense"], mine, 1_234)  # interest credited
    await _post(client, staff, gl["interest_expense"], mine, 66)
    await _post(client, staff, mine, gl["fee_income"], 500)  # a fee
    await _post(client, staff, gl["fee_income"], mine, 200)  # part of it refunded
    await _post(client, staff, gl["settlement"], mine, 9_999)  # a deposit: neither
    year = datetime.now(UTC).year
    path = f"/v1/customers/{w['alice']['id']}/tax-summary"
    summary = ok(await client.get(path, params={"year": year}, headers=w["viewer"].headers))
    [line] = summary["accounts"]
    assert line["account_id"] == w["mine"]["id"] and line["iban"] == w["mine"]["iban"]
    assert line["interest_earned"] == {"amount": 1_300, "currency": "EUR"}
    assert line["fees_paid"] == {"amount": 300, "currency": "EUR"}
    # The tenant has no tax-payable account (the interest module adds it): zero.
    assert line["tax_withheld"] == {"amount": 0, "currency": "EUR"}
    assert summary["totals"] == [{"currency": "EUR", "interest_earned": 1_300,
                                  "tax_withheld": 0, "fees_paid": 300}]  # fmt: skip
    last_year = ok(await client.get(path, params={"year": year - 1}, headers=staff.headers))
    assert last_year["totals"][0]["interest_earned"] == 0
    pdf = await client.get(path, params={"year": year, "format": "pdf"}, headers=staff.headers)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    [page] = pdf_text(pdf.content)
    assert f"Tax summary {year}" in page and w["alice"]["name"] in page
    assert f"{w['mine']['iban']} EUR 13.00 0.00 3.00" in page
    bob = await client.get(f"/v1/customers/{w['bob']['id']}/tax-summary",
                           headers=w["owner"].headers)  # fmt: skip
    assert bob.status_code == 404 and bob.json()["type"].endswith("/customer-not-found")
    assert (await client.get(path, params={"year": 1999}, headers=staff.headers)).status_code == 400


def test_withholding_refunds_and_interest_reversals_are_classified() -> None:
    year = _Year()
    _classify(year, 1_000, {INTEREST})  # gross interest
    _classify(year, 1_000, {INTEREST, TAX})  # gross leg of a transfer that also withholds
    _classify(year, -250, {INTEREST, TAX})  # the withholding leg of that transfer
    _classify(year, 40, {TAX})  # withholding refunded
    _classify(year, -100, {INTEREST})  # interest taken back
    _classify(year, -30, {FEES})
    assert (year.interest, year.tax, year.fees) == (1_900, 210, 30)


def test_previous_month_handles_year_ends_and_leap_years() -> None:
    assert previous_month(date(2026, 1, 15)) == (date(2025, 12, 1), date(2025, 12, 31))
    assert previous_month(date(2028, 3, 1)) == (date(2028, 2, 1), date(2028, 2, 29))


async def _ready(db: Database, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    async with db.uow(tenant_id=tenant_id) as uow:
        rows = await uow.session.execute(
            select(Event.payload).where(Event.type == "banking.statement.ready").order_by(Event.id)
        )
        return [dict(p) for p in rows.scalars()]


@pytest.mark.usefixtures("identity_directory")
async def test_monthly_statements_are_kept_once_and_emailed_by_preference(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    make_principal: MakePrincipal,
    smtp: tuple[Inbox, int],  # noqa: F811
) -> None:
    w = await bank(client, make_principal)
    staff, owner, viewer = w["staff"], w["owner"], w["viewer"]
    ok(await client.put("/v1/me/message-preferences",
                        json={"category": "transactions", "channels": ["in_app"]},
                        headers=viewer.headers))  # fmt: skip
    # Accounts opened this month have no statement for last month.
    report = await statements_month_close(db, tenant_id=staff.tenant_id)
    assert (report.accounts, report.created) == (0, 0)
    month = datetime.now(UTC).date().replace(day=1)
    report = await statements_month_close(db, tenant_id=staff.tenant_id, month_start=month)
    assert (report.accounts, report.created) == (2, 2)
    again = await statements_month_close(db, tenant_id=staff.tenant_id, month_start=month)
    assert (again.accounts, again.created) == (2, 0)
    [statement] = ok(await client.get(f"/v1/accounts/{w['mine']['id']}/statements",
                                      headers=owner.headers))["data"]  # fmt: skip
    assert statement["period_start"] == month.isoformat()
    totals = (statement["opening"], statement["money_in"], statement["closing"])
    assert totals == (0, 10_000, 10_000)
    # The file behind the record shows the record's numbers.
    got = parse_csv((await client.get(statement["download"].replace("format=pdf", "format=csv"),
                                      headers=owner.headers)).content)  # fmt: skip
    assert (got.opening, got.money_in, got.money_out, got.closing) == (
        statement["opening"],
        statement["money_in"],
        statement["money_out"],
        statement["closing"],
    )
    events = await _ready(db, staff.tenant_id)
    assert len(events) == 2
    for payload in events:
        StatementReadyPayload.model_validate(payload)
    mine_event = next(p for p in events if p["account_id"] == w["mine"]["id"])
    assert sorted(mine_event["user_ids"]) == sorted([str(owner.user_id), str(viewer.user_id)])
    # Messaging: email to the owner (default), in-app only for the viewer (their choice).
    install_event_subscribers()
    while await events_relay_batch(db, keyring=app.state.keyring):
        pass
    await messages_dispatch(db, settings=app.state.settings, keyring=app.state.keyring)
    inbox, _ = smtp
    mails = [m for m in inbox.messages if "Your statement for" in str(m["Subject"])]
    assert [m["To"] for m in mails] == [owner.email]
    body = mails[0].get_body(("plain",))
    assert body is not None and statement["download"] in body.get_content()
    in_app = ok(await client.get("/v1/me/messages", headers=viewer.headers))["data"]
    assert [m["subject"] for m in in_app].count("Statement ready") == 1
    # Another tenant's staff cannot list them.
    stranger = await make_principal(role="owner")
    hidden = await client.get(f"/v1/accounts/{w['mine']['id']}/statements",
                              headers=stranger.headers)  # fmt: skip
    assert hidden.status_code == 404
