"""Fees: charged by the close of business from each product's schedule; reversed by staff.

A fee is one ledger transfer from the customer's account to the currency's fee income, in
the same transaction as its `banking_fees` row, whose (account, kind, occasion) is unique
and whose ledger key is `banking:fee:<account>:<kind>:<occasion>`: a COB rerun charges
nothing twice. A fee the account cannot pay (the ledger refuses: no funds or overdraft
room) is not charged and is counted as refused. A reversal is the ledger reversal of the
fee's transfer, under the fee row's lock, so a fee is given back at most once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.banking._scope import scope_customers
from fiscus.banking.fees.errors import FeeAlreadyReversed, FeeNotFound
from fiscus.banking.fees.models import BankFee
from fiscus.banking.fees.schemas import FeeSchedule
from fiscus.banking.interest.calc import is_period_end
from fiscus.banking.models import BankAccount, BankProduct
from fiscus.banking.service import general_ledger_ensure
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.core.pagination import keyset_page
from fiscus.ledger.errors import TransferRefused
from fiscus.ledger.queries import MAX_BALANCES_AS_OF, balances_as_of_in
from fiscus.ledger.schemas import TransferAction
from fiscus.ledger.schemas import TransferCreate as LedgerTransfer
from fiscus.ledger.service import transfer_create_in, transfer_reverse_in

FEE_CHARGED = "banking.fee.charged"
FEE_REVERSED = "banking.fee.reversed"
MAX_CHARGES_PER_RUN = 100_000
_LABELS = {
    "deposit": "deposit",
    "transfer_in": "incoming transfer",
    "transfer_out": "outgoing transfer",
    "payment_out": "outgoing payment",
}


@dataclass(frozen=True, slots=True)
class Charge:
    """A fee to charge: which account, what for, how much."""

    account_id: uuid.UUID
    kind: str
    occasion: str
    amount: int
    description: str


def fee_schedule_of(product: BankProduct) -> FeeSchedule | None:
    """The product's fee schedule, or None when it charges no fees."""
    found = (product.terms or {}).get("fees")
    return FeeSchedule.model_validate(found) if found is not None else None


# The day's customer transactions per account and type, made in (since, cutoff]: deposits
# and transfers (both sides), and outgoing payments that were not rejected.
_TRANSACTIONS_SQL = text(
    "SELECT t.to_account_id, CASE t.kind WHEN 'deposit' THEN 'deposit' ELSE 'transfer_in' END,"
    " t.id FROM banking_transfers t WHERE t.tenant_id = :tenant"
    " AND t.created_at > :since AND t.created_at <= :cutoff"
    " UNION ALL SELECT t.from_account_id, 'transfer_out', t.id FROM banking_transfers t"
    " WHERE t.tenant_id = :tenant AND t.kind = 'internal'"
    " AND t.created_at > :since AND t.created_at <= :cutoff"
    " UNION ALL SELECT p.from_account_id, 'payment_out', p.id FROM banking_payments p"
    " WHERE p.tenant_id = :tenant AND p.status <> 'rejected'"
    " AND p.created_at > :since AND p.created_at <= :cutoff"
    " LIMIT :limit"
)


async def _transaction_charges(
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    schedules: dict[uuid.UUID, tuple[FeeSchedule, BankAccount]],
    since: datetime,
    cutoff: datetime,
) -> list[Charge]:
    rows = await uow.session.execute(
        _TRANSACTIONS_SQL,
        {"tenant": tenant_id, "since": since, "cutoff": cutoff, "limit": MAX_CHARGES_PER_RUN},
    )
    charges: list[Charge] = []
    for account_id, kind, source_id in rows.all():
        if account_id not in schedules:
            continue
        amount = schedules[account_id][0].per_transaction.get(kind, 0)
        if amount > 0:
            charges.append(
                Charge(
                    account_id,
                    "transaction",
                    str(source_id),
                    amount,
                    f"Fee: {_LABELS[kind]} {source_id}",
                )
            )
    return charges


def _monthly_charges(
    schedule: FeeSchedule, account: BankAccount, balance: int, month: str
) -> list[Charge]:
    """Month-end fees of one account, from its balance at the close of business."""
    charges: list[Charge] = []
    waived = (
        schedule.maintenance_waived_from is not None and balance >= schedule.maintenance_waived_from
    )
    if schedule.monthly_maintenance and not waived and account.status != "dormant":
        charges.append(
            Charge(account.id, "maintenance", month, schedule.monthly_maintenance,
                   f"Monthly maintenance fee {month}")
        )  # fmt: skip
    if schedule.overdraft_monthly and balance < 0:
        charges.append(
            Charge(account.id, "overdraft", month, schedule.overdraft_monthly,
                   f"Overdraft fee {month}")
        )  # fmt: skip
    if schedule.dormancy_monthly and account.status == "dormant":
        charges.append(
            Charge(account.id, "dormancy", month, schedule.dormancy_monthly,
                   f"Dormant account fee {month}")
        )  # fmt: skip
    return charges


async def fees_due(
    db: Database, ctx: Context, *, day: date, since: datetime, cutoff: datetime
) -> list[Charge]:
    """The fees the close of business of `day` charges: per-transaction fees of the
    transactions made in (since, cutoff], and on a month's last day its monthly fees."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        products = {
            p.id: s
            for p in (
                await uow.session.execute(
                    select(BankProduct).where(BankProduct.tenant_id == ctx.tenant_id)
                )
            ).scalars()
            if (s := fee_schedule_of(p)) is not None
        }
        if not products:
            return []
        accounts = (
            await uow.session.execute(
                select(BankAccount).where(
                    BankAccount.tenant_id == ctx.tenant_id,
                    BankAccount.product_id.in_(list(products)),
                    BankAccount.status.in_(("active", "frozen", "dormant")),
                )
            )
        ).scalars()
        schedules = {a.id: (products[a.product_id], a) for a in accounts}
        charges = await _transaction_charges(uow, ctx.tenant_id, schedules, since, cutoff)
        if is_period_end("monthly", day):
            ledger_ids = [a.ledger_account_id for _, a in schedules.values()]
            balances: dict[uuid.UUID, int] = {}
            for start in range(0, len(ledger_ids), MAX_BALANCES_AS_OF):
                balances |= await balances_as_of_in(
                    uow,
                    tenant_id=ctx.tenant_id,
                    account_ids=ledger_ids[start : start + MAX_BALANCES_AS_OF],
                    as_of=cutoff,
                )
            month = day.strftime("%Y-%m")
            for schedule, account in schedules.values():
                balance = balances.get(account.ledger_account_id, 0)
                charges.extend(_monthly_charges(schedule, account, balance, month))
    return charges


async def _charge_in(
    uow: UnitOfWork, ctx: Context, charge: Charge, fee_income: uuid.UUID
) -> BankFee | None:
    account = await uow.session.get(BankAccount, (ctx.tenant_id, charge.account_id))
    assert account is not None
    found = await uow.session.execute(
        select(BankFee.id).where(
            BankFee.tenant_id == ctx.tenant_id,
            BankFee.account_id == charge.account_id,
            BankFee.kind == charge.kind,
            BankFee.occasion == charge.occasion,
        )
    )
    if found.first() is not None:
        return None
    outcome = await transfer_create_in(
        uow,
        ctx=ctx,
        request=LedgerTransfer(
            debit_account_id=account.ledger_account_id,
            credit_account_id=fee_income,
            amount=charge.amount,
            currency=account.currency,
            description=charge.description,
            metadata={"bank_account_id": str(account.id), "kind": f"fee:{charge.kind}"},
        ),
        idempotency_key=f"banking:fee:{account.id}:{charge.kind}:{charge.occasion}",
    )
    fee = BankFee(
        tenant_id=ctx.tenant_id,
        id=new_id(),
        account_id=account.id,
        customer_id=account.customer_id,
        kind=charge.kind,
        occasion=charge.occasion,
        amount=charge.amount,
        currency=account.currency,
        description=charge.description,
        status="charged",
        transfer_id=outcome.transfer_id,
        reversal_transfer_id=None,
        reversed_by=None,
        reversed_at=None,
        created_at=clock.now(),
    )
    uow.session.add(fee)
    await uow.session.flush()
    await emit(
        uow,
        tenant_id=ctx.tenant_id,
        type=FEE_CHARGED,
        subject=f"bank_fee/{fee.id}",
        payload=fee_payload(fee),
    )
    return fee


def fee_payload(fee: BankFee, **more: Any) -> dict[str, Any]:
    """The event payload of a fee."""
    return {
        "fee_id": str(fee.id),
        "account_id": str(fee.account_id),
        "customer_id": str(fee.customer_id),
        "kind": fee.kind,
        "occasion": fee.occasion,
        "amount": fee.amount,
        "currency": fee.currency,
        "description": fee.description,
        "transfer_id": str(fee.transfer_id),
        **more,
    }


async def fees_charge(
    db: Database, ctx: Context, *, day: date, since: datetime, cutoff: datetime
) -> tuple[int, int]:
    """Charge the fees due at the close of `day`, one transaction each; (charged, refused)."""
    charges = await fees_due(db, ctx, day=day, since=since, cutoff=cutoff)
    if not charges:
        return 0, 0
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        currencies = (
            await uow.session.execute(
                select(BankAccount.id, BankAccount.currency).where(
                    BankAccount.tenant_id == ctx.tenant_id,
                    BankAccount.id.in_({c.account_id for c in charges}),
                )
            )
        ).all()
        currency_of = {row.id: row.currency for row in currencies}
        income = {
            currency: (await general_ledger_ensure(uow, ctx, currency=currency))["fee_income"]
            for currency in sorted(set(currency_of.values()))
        }
    charged = refused = 0
    for charge in charges:
        account_income = income[currency_of[charge.account_id]]

        async def run(uow: UnitOfWork, charge: Charge = charge,
                      account_income: uuid.UUID = account_income) -> BankFee | None:  # fmt: skip
            return await _charge_in(uow, ctx, charge, account_income)

        try:
            if await db.run(run, tenant_id=ctx.tenant_id) is not None:
                charged += 1
        except TransferRefused:
            refused += 1
    return charged, refused


def _visible(ctx: Context) -> Any:
    return scope_customers(
        select(BankFee).where(BankFee.tenant_id == ctx.tenant_id), BankFee.customer_id, ctx
    )


async def fee_list(
    db: Database,
    ctx: Context,
    *,
    account_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[BankFee], str | None]:
    """The fees the caller may see, newest first (optionally of one account)."""
    stmt = _visible(ctx)
    if account_id is not None:
        stmt = stmt.where(BankFee.account_id == account_id)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows: list[BankFee]
        rows, next_cursor = await keyset_page(
            uow.session,
            stmt,
            keys=[BankFee.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda fee: [str(fee.id)],
            descending=True,
        )
    return rows, next_cursor


async def fee_reverse(db: Database, ctx: Context, *, fee_id: uuid.UUID, reason: str) -> BankFee:
    """Give a fee back (staff): the ledger reversal of its transfer, exactly once, audited."""

    async def operation(uow: UnitOfWork) -> BankFee:
        fee: BankFee | None = (
            await uow.session.execute(_visible(ctx).where(BankFee.id == fee_id).with_for_update())
        ).scalar_one_or_none()
        if fee is None:
            raise FeeNotFound(f"Fee {fee_id} was not found.")
        if fee.status == "reversed":
            raise FeeAlreadyReversed(f"Fee {fee_id} was already reversed.")
        outcome = await transfer_reverse_in(
            uow,
            ctx=ctx,
            transfer_id=fee.transfer_id,
            request=TransferAction(
                description=f"Reversal of {fee.description}: {reason}",
                metadata={"bank_fee_id": str(fee.id)},
            ),
            idempotency_key=f"banking:fee-reversal:{fee.id}",
        )
        fee.status, fee.reversal_transfer_id = "reversed", outcome.transfer_id
        fee.reversed_by, fee.reversed_at = ctx.actor_id, clock.now()
        await uow.session.flush()
        await audit_record(
            uow,
            ctx=ctx,
            action=FEE_REVERSED,
            object_type="bank_fee",
            object_id=fee.id,
            before={"status": "charged"},
            after={"status": "reversed", "reason": reason,
                   "reversal_transfer_id": str(outcome.transfer_id)},
        )  # fmt: skip
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=FEE_REVERSED,
            subject=f"bank_fee/{fee.id}",
            payload=fee_payload(fee, reversal_transfer_id=str(outcome.transfer_id), reason=reason),
        )
        return fee

    return await db.run(operation, tenant_id=ctx.tenant_id)
