"""One-off documents: a transfer's PDF receipt and a customer's year-end tax summary.

The tax summary reads the ledger: each posted entry on the customer's accounts in the
year is classified by the general-ledger account on the other side of its transfer
(`banking_ledger_accounts.purpose`): money in from `interest_expense` is interest earned,
money out to `tax_payable` is tax withheld, money out to `fee_income` is a fee (and money
back from it a refund, which lowers the fees paid). A purpose the tenant has no account
for counts as zero.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from fiscus.access.context import Context
from fiscus.banking.models import BankAccount, BankLedgerAccount
from fiscus.banking.queries import customer_get, customer_read, transfer_get
from fiscus.banking.statements._source import branding_of, period_bounds
from fiscus.banking.statements.schemas import (
    TaxSummaryAccount,
    TaxSummaryRead,
    TaxSummaryTotal,
)
from fiscus.core.db import Database
from fiscus.core.errors import ValidationProblem
from fiscus.core.keyring import KeyRing
from fiscus.core.money import MoneyModel
from fiscus.ledger.periods import MAX_PAGE, period_entries, period_summary
from fiscus.ledger.queries import transfer_get as ledger_transfer_get
from fiscus.reports import Column, PdfDocument, money_text

INTEREST, TAX, FEES = "interest_expense", "tax_payable", "fee_income"
MAX_ACCOUNTS = 1_000  # a customer's accounts in one summary
FIRST_YEAR, LAST_YEAR = 2000, 2200


async def _ibans(db: Database, ctx: Context, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """IBANs of the tenant's accounts (the caller already may see the transfer naming them)."""
    wanted = list(ids)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows = await uow.session.execute(
            select(BankAccount.id, BankAccount.iban).where(
                BankAccount.tenant_id == ctx.tenant_id, BankAccount.id.in_(wanted)
            )
        )
        return {row[0]: row[1] for row in rows}


async def receipt_pdf(db: Database, ctx: Context, *, transfer_id: uuid.UUID) -> bytes:
    """A transfer's receipt: parties, amount, reference, time and status (the caller may
    see the transfer, else 404)."""
    transfer = await transfer_get(db, ctx, transfer_id=transfer_id)
    posted = await ledger_transfer_get(db=db, ctx=ctx, transfer_id=transfer_id)
    parties = [transfer.to_account_id]
    if transfer.from_account_id is not None:
        parties.append(transfer.from_account_id)
    ibans = await _ibans(db, ctx, parties)
    source = (
        ibans.get(transfer.from_account_id, "")
        if transfer.from_account_id is not None
        else "Cash deposit"
    )
    doc = PdfDocument(
        branding=await branding_of(db, ctx),
        title="Transfer receipt",
        subtitle=f"Transfer {transfer.id}",
    )
    doc.key_values(
        [
            ("Amount", f"{money_text(transfer.amount, transfer.currency)} {transfer.currency}"),
            ("From", source),
            ("To", ibans.get(transfer.to_account_id, "")),
            ("Reference", transfer.reference or ""),
            ("Kind", transfer.kind),
            ("Channel", transfer.channel),
            ("Status", posted.status),
            ("Recorded at", posted.recorded_at.isoformat(timespec="seconds")),
            ("Transfer id", str(transfer.id)),
        ],
        label_mm=35,
    )
    doc.paragraph("This receipt is generated from the bank's ledger.")
    return doc.to_bytes()


@dataclass(slots=True)
class _Year:
    interest: int = 0
    tax: int = 0
    fees: int = 0


def _classify(year: _Year, amount: int, purposes: set[str]) -> None:
    if INTEREST in purposes and amount > 0:
        year.interest += amount
    elif TAX in purposes and amount < 0:
        year.tax -= amount
    elif FEES in purposes:
        year.fees -= amount  # a charge is money out; a refund (money in) lowers the total
    elif INTEREST in purposes:
        year.interest += amount  # interest taken back
    elif TAX in purposes:
        year.tax -= amount  # withholding refunded


async def _general_ledger(db: Database, ctx: Context) -> dict[uuid.UUID, str]:
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows = await uow.session.execute(
            select(BankLedgerAccount.ledger_account_id, BankLedgerAccount.purpose).where(
                BankLedgerAccount.tenant_id == ctx.tenant_id,
                BankLedgerAccount.purpose.in_([INTEREST, TAX, FEES]),
            )
        )
        return {row[0]: row[1] for row in rows}


async def _account_year(
    db: Database, ctx: Context, ledger_account_id: uuid.UUID, year: int, gl: dict[uuid.UUID, str]
) -> _Year:
    start, end = period_bounds(date(year, 1, 1), date(year, 12, 31))
    summary = await period_summary(
        db=db, ctx=ctx, account_id=ledger_account_id, start=start, end=end
    )
    totals, after = _Year(), 0
    while True:
        entries = await period_entries(
            db=db,
            ctx=ctx,
            account_id=ledger_account_id,
            normal_side=summary.normal_side,
            start=start,
            end=end,
            after_version=after,
            through_version=summary.through_version,
            limit=MAX_PAGE,
        )
        for entry in entries:
            purposes = {gl[c] for c in entry.counterparts if c in gl}
            if purposes:
                _classify(totals, entry.amount, purposes)
        if len(entries) < MAX_PAGE:
            return totals
        after = entries[-1].account_version


async def tax_summary(
    db: Database, ctx: Context, *, customer_id: uuid.UUID, year: int
) -> TaxSummaryRead:
    """Interest earned, tax withheld and fees paid in `year`, per account of the customer
    (one the caller may see, else 404) and per currency."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValidationProblem(f"The year is between {FIRST_YEAR} and {LAST_YEAR}.", field="year")
    await customer_get(db, ctx, customer_id=customer_id)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        accounts = (
            await uow.session.execute(
                select(
                    BankAccount.id,
                    BankAccount.iban,
                    BankAccount.currency,
                    BankAccount.ledger_account_id,
                )
                .where(
                    BankAccount.tenant_id == ctx.tenant_id,
                    BankAccount.customer_id == customer_id,
                )
                .order_by(BankAccount.id)
                .limit(MAX_ACCOUNTS)
            )
        ).all()
    gl = await _general_ledger(db, ctx)
    lines: list[TaxSummaryAccount] = []
    totals: dict[str, list[int]] = {}
    for account_id, iban, currency, ledger_account_id in accounts:
        got = await _account_year(db, ctx, ledger_account_id, year, gl)
        lines.append(
            TaxSummaryAccount(
                account_id=account_id,
                iban=iban,
                interest_earned=MoneyModel(amount=got.interest, currency=currency),
                tax_withheld=MoneyModel(amount=got.tax, currency=currency),
                fees_paid=MoneyModel(amount=got.fees, currency=currency),
            )
        )
        total = totals.setdefault(currency, [0, 0, 0])
        total[0] += got.interest
        total[1] += got.tax
        total[2] += got.fees
    return TaxSummaryRead(
        customer_id=customer_id,
        year=year,
        accounts=lines,
        totals=[
            TaxSummaryTotal(currency=c, interest_earned=t[0], tax_withheld=t[1], fees_paid=t[2])
            for c, t in sorted(totals.items())
        ],
    )


async def tax_summary_pdf(
    db: Database, ctx: Context, keyring: KeyRing, *, summary: TaxSummaryRead
) -> bytes:
    """The summary as a branded PDF addressed to the customer."""
    customer = await customer_get(db, ctx, customer_id=summary.customer_id)
    holder = customer_read(customer, keyring)
    doc = PdfDocument(
        branding=await branding_of(db, ctx),
        title=f"Tax summary {summary.year}",
        subtitle="Interest earned, tax withheld and fees paid",
    )
    doc.key_values(
        [
            ("Customer", holder.name),
            ("Tax residence", holder.tax_residence or ""),
            ("Year", str(summary.year)),
        ]
    )
    doc.heading("By account")
    table = doc.table(
        [
            Column("IBAN", 56),
            Column("Currency", 18),
            Column("Interest earned", 36, align="R"),
            Column("Tax withheld", 36, align="R"),
            Column("Fees paid", 36, align="R"),
        ]
    )
    for line in summary.accounts:
        currency = line.interest_earned.currency
        table.row(
            [
                line.iban,
                currency,
                money_text(line.interest_earned.amount, currency),
                money_text(line.tax_withheld.amount, currency),
                money_text(line.fees_paid.amount, currency),
            ]
        )
    for total in summary.totals:
        table.row(
            [
                "Total",
                total.currency,
                money_text(total.interest_earned, total.currency),
                money_text(total.tax_withheld, total.currency),
                money_text(total.fees_paid, total.currency),
            ],
            bold=True,
        )
    return doc.to_bytes()
