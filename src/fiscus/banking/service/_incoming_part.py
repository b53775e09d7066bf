"""Incoming credit transfers from other banks (camt.054 files or a rail's API call).

Each credit is booked once per bank reference (its idempotency key, unique per tenant and
handed to the ledger too): from the currency's settlement account to the account whose
IBAN is the creditor's, or to the suspense account when no open account in that currency
has it. A file is one unit of work: booked whole, or not at all; importing it again books
nothing twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.banking.alerts.service import Movement
from fiscus.banking.errors import (
    BankAccountNotFound,
    IncomingCreditNotFound,
    IncomingCreditStatusConflict,
)
from fiscus.banking.insights.service import movements_categorise
from fiscus.banking.iso20022 import CamtNotification
from fiscus.banking.models import BankAccount, BankIncomingCredit
from fiscus.banking.schemas import SuspenseResolve
from fiscus.banking.service._accounts_part import general_ledger_ensure
from fiscus.banking.service._transfers_part import (
    check_receiving,
    key_race,
    post_transfer,
    sides_locked,
)
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.core.pagination import keyset_page
from fiscus.ledger.schemas import TransferAction
from fiscus.ledger.service import transfer_reverse_in

PAYMENT_RECEIVED = "banking.payment.received"
SUSPENSE_RESOLVED = "banking.suspense.resolved"


@dataclass(frozen=True, slots=True)
class Incoming:
    """One credit to book (minor units)."""

    bank_reference: str
    end_to_end_id: str | None
    creditor_iban: str | None
    amount: int
    currency: str
    remittance: str | None


@dataclass(frozen=True, slots=True)
class IncomingResult:
    """The credits booked now, and how many were already booked or not credits."""

    booked: list[BankIncomingCredit]
    duplicates: int
    skipped: int


def incoming_of_camt(notification: CamtNotification) -> tuple[list[Incoming], int]:
    """The booked credits of a camt.054 notification, and how many entries were left out
    (debits, and entries the bank reports as pending or information only)."""
    credits = [
        Incoming(
            bank_reference=t.bank_reference,
            end_to_end_id=t.end_to_end_id,
            creditor_iban=t.creditor_iban.replace(" ", "").upper() if t.creditor_iban else None,
            amount=t.amount_minor,
            currency=t.currency,
            remittance=t.remittance[:140] if t.remittance else None,
        )
        for t in notification.transactions
        if t.credit and t.booked
    ]
    return credits, len(notification.transactions) - len(credits)


async def _accounts(uow: UnitOfWork, ctx: Context, ibans: set[str]) -> dict[str, Any]:
    rows = await uow.session.execute(
        select(
            BankAccount.iban,
            BankAccount.id,
            BankAccount.ledger_account_id,
            BankAccount.currency,
            BankAccount.status,
        )
        .where(BankAccount.tenant_id == ctx.tenant_id, BankAccount.iban.in_(ibans))
        .order_by(BankAccount.id)
        .with_for_update(read=True)
    )
    return {row.iban: row for row in rows.all()}


async def _book(
    uow: UnitOfWork, ctx: Context, credit: Incoming, account: Any, ledger: dict[str, Any]
) -> BankIncomingCredit:
    receiving = (
        account is not None and account.status != "closed" and account.currency == credit.currency
    )
    target = account.ledger_account_id if receiving else ledger["suspense"]
    transfer_id, _ = await post_transfer(
        uow,
        ctx,
        debit=ledger["settlement"],
        credit=target,
        amount=credit.amount,
        currency=credit.currency,
        reference=credit.remittance,
        key=f"incoming:{credit.bank_reference}",
        sender=None,
    )
    row = BankIncomingCredit(
        tenant_id=ctx.tenant_id,
        id=transfer_id,
        bank_reference=credit.bank_reference,
        end_to_end_id=credit.end_to_end_id,
        creditor_iban=credit.creditor_iban,
        account_id=account.id if receiving else None,
        booked_to="account" if receiving else "suspense",
        amount=credit.amount,
        currency=credit.currency,
        remittance=credit.remittance,
        created_at=clock.now(),
    )
    uow.session.add(row)
    return row


async def incoming_book(
    db: Database, ctx: Context, *, credits: list[Incoming], skipped: int, source: str
) -> IncomingResult:
    """Book each credit not booked before (one unit of work for all of them)."""

    async def operation(uow: UnitOfWork) -> IncomingResult:
        references = {c.bank_reference for c in credits}
        seen = set(
            (
                await uow.session.execute(
                    select(BankIncomingCredit.bank_reference).where(
                        BankIncomingCredit.tenant_id == ctx.tenant_id,
                        BankIncomingCredit.bank_reference.in_(references),
                    )
                )
            ).scalars()
        )
        accounts = await _accounts(uow, ctx, {c.creditor_iban for c in credits if c.creditor_iban})
        ledgers: dict[str, dict[str, Any]] = {}
        booked: list[BankIncomingCredit] = []
        for credit in credits:
            if credit.bank_reference in seen:
                continue
            seen.add(credit.bank_reference)
            if credit.currency not in ledgers:
                ledgers[credit.currency] = await general_ledger_ensure(
                    uow, ctx, currency=credit.currency
                )
            account = accounts.get(credit.creditor_iban or "")
            booked.append(await _book(uow, ctx, credit, account, ledgers[credit.currency]))
        await uow.session.flush()
        await movements_categorise(
            uow,
            ctx,
            [
                Movement(row.account_id, accounts[row.creditor_iban or ""].ledger_account_id,
                         row.amount, row.currency, row.id, reference=row.remittance)
                for row in booked
                if row.account_id is not None
            ],
        )  # fmt: skip
        for row in booked:
            await emit(
                uow,
                tenant_id=ctx.tenant_id,
                type=PAYMENT_RECEIVED,
                subject=f"bank_incoming_credit/{row.id}",
                payload={
                    "credit_id": str(row.id),
                    "account_id": str(row.account_id) if row.account_id else None,
                    "booked_to": row.booked_to,
                    "amount": row.amount,
                    "currency": row.currency,
                },
            )
        duplicates = len(credits) - len(booked)
        await audit_record(
            uow,
            ctx=ctx,
            action="banking.incoming.imported",
            object_type="bank_incoming_import",
            object_id=new_id(),
            details={
                "source": source,
                "booked": len(booked),
                "duplicates": duplicates,
                "skipped": skipped,
                "suspense": sum(r.booked_to == "suspense" for r in booked),
            },
        )
        return IncomingResult(booked, duplicates, skipped)

    return await db.run(operation, tenant_id=ctx.tenant_id, retry_when=key_race)


async def _suspense_item(uow: UnitOfWork, ctx: Context, credit_id: uuid.UUID) -> BankIncomingCredit:
    credit: BankIncomingCredit | None = (
        await uow.session.execute(
            select(BankIncomingCredit)
            .where(
                BankIncomingCredit.tenant_id == ctx.tenant_id, BankIncomingCredit.id == credit_id
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    if credit is None:
        raise IncomingCreditNotFound(f"Incoming credit {credit_id} was not found.")
    if credit.booked_to != "suspense" or credit.resolution is not None:
        raise IncomingCreditStatusConflict(
            f"Incoming credit {credit_id} is not an open suspense item."
        )
    return credit


async def _book_on(
    uow: UnitOfWork, ctx: Context, credit: BankIncomingCredit, account_id: uuid.UUID | None
) -> uuid.UUID:
    """Suspense → the account, with the checks of money arriving on it."""
    assert account_id is not None
    sides = await sides_locked(uow, ctx, ids=[account_id], iban=None)
    if not sides:
        raise BankAccountNotFound(f"Account {account_id} was not found.")
    check_receiving(sides[0], credit.currency, "transfer_in")
    ledger = await general_ledger_ensure(uow, ctx, currency=credit.currency)
    transfer_id, _ = await post_transfer(
        uow,
        ctx,
        debit=ledger["suspense"],
        credit=sides[0].ledger_account_id,
        amount=credit.amount,
        currency=credit.currency,
        reference=credit.remittance,
        key=f"suspense:{credit.id}:book",
        sender=None,
    )
    return transfer_id


async def suspense_resolve(
    db: Database, ctx: Context, *, credit_id: uuid.UUID, request: SuspenseResolve
) -> BankIncomingCredit:
    """Resolve a credit booked to suspense: book it on to an account (a ledger transfer
    suspense → account) or return it to the sender (the booking reversed: suspense →
    settlement); audited, `banking.suspense.resolved`. Once per credit."""

    async def operation(uow: UnitOfWork) -> BankIncomingCredit:
        credit = await _suspense_item(uow, ctx, credit_id)
        if request.action == "book":
            credit.resolution_transfer_id = await _book_on(uow, ctx, credit, request.account_id)
            credit.resolution, credit.resolved_account_id = "booked", request.account_id
        else:
            outcome = await transfer_reverse_in(
                uow,
                ctx=ctx,
                transfer_id=credit.id,
                request=TransferAction(description=f"Returned ({request.reason_code})"),
                idempotency_key=f"banking:suspense:{credit.id}:return",
            )
            credit.resolution_transfer_id = outcome.transfer_id
            credit.resolution, credit.return_reason_code = "returned", request.reason_code
        credit.resolved_by, credit.resolved_at = ctx.actor_id, clock.now()
        await uow.session.flush()
        payload = {
            "credit_id": str(credit.id),
            "resolution": credit.resolution,
            "account_id": str(request.account_id) if request.account_id else None,
            "return_reason_code": credit.return_reason_code,
            "transfer_id": str(credit.resolution_transfer_id),
            "amount": credit.amount,
            "currency": credit.currency,
        }
        await audit_record(
            uow,
            ctx=ctx,
            action=SUSPENSE_RESOLVED,
            object_type="bank_incoming_credit",
            object_id=credit.id,
            before={"booked_to": "suspense"},
            after={k: v for k, v in payload.items() if k != "credit_id"},
        )
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=SUSPENSE_RESOLVED,
            subject=f"bank_incoming_credit/{credit.id}",
            payload=payload,
        )
        return credit

    return await db.run(operation, tenant_id=ctx.tenant_id, retry_when=key_race)


async def suspense_list(
    db: Database, ctx: Context, *, cursor: str | None, limit: int
) -> tuple[list[BankIncomingCredit], str | None]:
    """The credits on suspense that staff have not resolved yet, oldest first."""
    stmt = select(BankIncomingCredit).where(
        BankIncomingCredit.tenant_id == ctx.tenant_id,
        BankIncomingCredit.booked_to == "suspense",
        BankIncomingCredit.resolution.is_(None),
    )
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows: list[BankIncomingCredit]
        rows, next_cursor = await keyset_page(
            uow.session,
            stmt,
            keys=[BankIncomingCredit.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda c: [str(c.id)],
        )
    return rows, next_cursor
