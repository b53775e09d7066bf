"""Daily accrual and periodic posting of interest: the close-of-business steps.

Accrual reads the ledger's posted balances as of the step's cutoff (kept in the COB step,
so a resumed step reads the same balances) and inserts one row per (account, day); the
primary key and `ON CONFLICT DO NOTHING` make a second run of the same day accrue nothing.
Accounts are taken 1,000 at a time, each batch its own transaction.

Posting takes each account's unposted accruals in its own transaction, rounds them
half-even with the residue of the previous posting carried in, and books ONE ledger
transfer: interest expense pays the gross credit interest, the account receives it less
withholding tax (to tax payable), and overdraft interest goes from the account to interest
income. The posting row is unique per (account, period end) and the ledger key is
`banking:interest:<account>:<date>`, so a rerun or a crash never posts twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert

from fiscus.access.context import Context
from fiscus.banking.interest.calc import (
    Frequency,
    Tier,
    accrual_of,
    day_fraction,
    is_period_end,
    last_period_end,
    rate_for,
    round_carry,
    withholding_of,
)
from fiscus.banking.interest.models import (
    BankInterestAccrual,
    BankInterestPosting,
    BankInterestRate,
)
from fiscus.banking.interest.schemas import InterestTerms
from fiscus.banking.models import BankAccount, BankProduct
from fiscus.banking.service import general_ledger_ensure
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.ledger.errors import TransferRefused
from fiscus.ledger.queries import balances_as_of_in
from fiscus.ledger.schemas import Direction, LegIn
from fiscus.ledger.schemas import TransferCreate as LedgerTransfer
from fiscus.ledger.service import transfer_create_in

INTEREST_POSTED = "banking.interest.posted"
ACCRUAL_BATCH = 1_000
MAX_BATCHES = 1_000  # 1,000,000 accounts per tenant per day at most (STYLE rule 14)
EARNING_STATUSES = ("active", "frozen", "dormant")


@dataclass(frozen=True, slots=True)
class RateSet:
    """The rates a product applies on a day."""

    rate: Decimal | None
    tiers: tuple[Tier, ...]
    overdraft_rate: Decimal


def rate_set(row: BankInterestRate) -> RateSet:
    """A stored rate row as the calculator takes it."""
    tiers = tuple(
        Tier(from_minor=int(t["from"]), rate=Decimal(str(t["rate"]))) for t in row.tiers or []
    )
    return RateSet(rate=row.rate, tiers=tiers, overdraft_rate=row.overdraft_rate)


def interest_terms_of(product: BankProduct) -> InterestTerms | None:
    """The product's interest terms, or None when it earns no interest."""
    found = (product.terms or {}).get("interest")
    return InterestTerms.model_validate(found) if found is not None else None


async def earning_products(
    uow: UnitOfWork, tenant_id: uuid.UUID, on_date: date
) -> dict[uuid.UUID, tuple[InterestTerms, RateSet]]:
    """The tenant's products with interest terms and a rate in force on `on_date`."""
    # A tenant has a handful of products: their terms are read and parsed here.
    products = (
        await uow.session.execute(select(BankProduct).where(BankProduct.tenant_id == tenant_id))
    ).scalars()
    terms = {p.id: t for p in products if (t := interest_terms_of(p)) is not None}
    if not terms:
        return {}
    rows = (
        await uow.session.execute(
            select(BankInterestRate)
            .where(
                BankInterestRate.tenant_id == tenant_id,
                BankInterestRate.product_id.in_(list(terms)),
                BankInterestRate.effective_from <= on_date,
            )
            .order_by(BankInterestRate.product_id, BankInterestRate.effective_from.desc())
        )
    ).scalars()
    found: dict[uuid.UUID, tuple[InterestTerms, RateSet]] = {}
    for row in rows:
        if row.product_id not in found:
            found[row.product_id] = (terms[row.product_id], rate_set(row))
    return found


# Per account: the unposted accruals before the day (the posting period so far), and the
# part of them that has compounded by each possible compounding boundary.
_UNPOSTED_SQL = text(
    "SELECT account_id, SUM(balance), COUNT(*), SUM(amount), SUM(rate * fraction),"
    " COALESCE(SUM(amount) FILTER (WHERE accrual_date <= :daily), 0),"
    " COALESCE(SUM(amount) FILTER (WHERE accrual_date <= :monthly), 0),"
    " COALESCE(SUM(amount) FILTER (WHERE accrual_date <= :quarterly), 0),"
    " COALESCE(SUM(amount) FILTER (WHERE accrual_date <= :annually), 0)"
    " FROM banking_interest_accruals"
    " WHERE tenant_id = :tenant AND account_id = ANY(:ids) AND posting_id IS NULL"
    " AND accrual_date < :day GROUP BY account_id"
)
_COMPOUNDING: tuple[Frequency, ...] = ("daily", "monthly", "quarterly", "annually")


@dataclass(frozen=True, slots=True)
class Unposted:
    balance_sum: Decimal
    days: int
    amount_sum: Decimal
    weight_sum: Decimal
    compounded: dict[str, Decimal]


NO_ACCRUALS = Unposted(
    Decimal(0), 0, Decimal(0), Decimal(0), dict.fromkeys(_COMPOUNDING, Decimal(0))
)


async def _unposted(
    uow: UnitOfWork, tenant_id: uuid.UUID, ids: list[uuid.UUID], day: date
) -> dict[uuid.UUID, Unposted]:
    params: dict[str, Any] = {"tenant": tenant_id, "ids": ids, "day": day}
    params.update({name: last_period_end(name, day) for name in _COMPOUNDING})
    rows = await uow.session.execute(_UNPOSTED_SQL, params)
    return {
        row[0]: Unposted(
            row[1], row[2], row[3], row[4], dict(zip(_COMPOUNDING, row[5:9], strict=True))
        )
        for row in rows.all()
    }


def accrue_one(
    terms: InterestTerms,
    rates: RateSet,
    *,
    ledger_balance: int,
    before: Unposted,
    day: date,
) -> tuple[Decimal, Decimal, Decimal, Decimal, Decimal]:
    """(balance, basis, rate, fraction, amount) of one account's accrual for `day`."""
    balance = Decimal(ledger_balance) + before.compounded[terms.compounding]
    if terms.balance_basis == "average_daily":
        basis = (before.balance_sum + balance) / Decimal(before.days + 1)
    else:
        basis = balance
    if basis < 0:
        rate = rates.overdraft_rate
    elif basis < terms.minimum_balance:
        rate = Decimal(0)
    else:
        rate = rate_for(basis, rates.rate, rates.tiers)
    fraction = day_fraction(terms.day_count, day)
    if terms.balance_basis == "average_daily":
        # Trued up: the period's accruals so far equal its average balance times the
        # rate-weighted fraction of the year it has run.
        owed = accrual_of(basis, Decimal(1), before.weight_sum + rate * fraction)
        amount = owed - before.amount_sum
    else:
        amount = accrual_of(basis, rate, fraction)
    return balance, basis, rate, fraction, amount


async def _accrue_batch(
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    products: dict[uuid.UUID, tuple[InterestTerms, RateSet]],
    day: date,
    cutoff: datetime,
) -> tuple[int, bool]:
    """Accrue `day` for the next batch of accounts without an accrual; (accrued, more)."""
    done = select(BankInterestAccrual.account_id).where(
        BankInterestAccrual.tenant_id == tenant_id,
        BankInterestAccrual.account_id == BankAccount.id,
        BankInterestAccrual.accrual_date == day,
    )
    accounts = (
        await uow.session.execute(
            select(BankAccount.id, BankAccount.product_id, BankAccount.ledger_account_id)
            .where(
                BankAccount.tenant_id == tenant_id,
                BankAccount.product_id.in_(list(products)),
                BankAccount.status.in_(EARNING_STATUSES),
                ~done.exists(),
            )
            .order_by(BankAccount.id)
            .limit(ACCRUAL_BATCH)
        )
    ).all()
    if not accounts:
        return 0, False
    balances = await balances_as_of_in(
        uow,
        tenant_id=tenant_id,
        account_ids=[a.ledger_account_id for a in accounts],
        as_of=cutoff,
    )
    before = await _unposted(uow, tenant_id, [a.id for a in accounts], day)
    now = clock.now()
    rows: list[dict[str, Any]] = []
    for account in accounts:
        terms, rates = products[account.product_id]
        balance, basis, rate, fraction, amount = accrue_one(
            terms,
            rates,
            ledger_balance=balances.get(account.ledger_account_id, 0),
            before=before.get(account.id, NO_ACCRUALS),
            day=day,
        )
        rows.append(
            {
                "tenant_id": tenant_id,
                "account_id": account.id,
                "accrual_date": day,
                "balance": balance,
                "basis": basis,
                "rate": rate,
                "fraction": fraction,
                "amount": amount,
                "posting_id": None,
                "created_at": now,
            }
        )
    await uow.session.execute(insert(BankInterestAccrual).values(rows).on_conflict_do_nothing())
    return len(rows), len(accounts) == ACCRUAL_BATCH


async def interest_accrue(
    db: Database, *, tenant_id: uuid.UUID, day: date, cutoff: datetime
) -> int:
    """Accrue one day of interest for every earning account of the tenant, from posted
    balances as of `cutoff`; how many accounts accrued. Rerunning the day adds nothing."""
    total = 0
    for _ in range(MAX_BATCHES):
        async with db.uow(tenant_id=tenant_id) as uow:
            products = await earning_products(uow, tenant_id, day)
            if not products:
                return total
            accrued, more = await _accrue_batch(uow, tenant_id, products, day, cutoff)
        total += accrued
        if not more:
            break
    return total


# --- Posting ----------------------------------------------------------------------------


async def _due_accounts(
    uow: UnitOfWork, tenant_id: uuid.UUID, day: date
) -> list[tuple[uuid.UUID, str, InterestTerms]]:
    """Accounts whose product's posting period ends on `day` and that have accruals."""
    products = await earning_products(uow, tenant_id, day)
    due = {pid: t for pid, (t, _) in products.items() if is_period_end(t.posting, day)}
    if not due:
        return []
    pending = select(BankInterestAccrual.account_id).where(
        BankInterestAccrual.tenant_id == tenant_id,
        BankInterestAccrual.account_id == BankAccount.id,
        BankInterestAccrual.posting_id.is_(None),
        BankInterestAccrual.accrual_date <= day,
    )
    rows = await uow.session.execute(
        select(BankAccount.id, BankAccount.currency, BankAccount.product_id)
        .where(
            BankAccount.tenant_id == tenant_id,
            BankAccount.product_id.in_(list(due)),
            BankAccount.status != "closed",
            pending.exists(),
        )
        .order_by(BankAccount.id)
    )
    return [(row.id, row.currency, due[row.product_id]) for row in rows.all()]


@dataclass(frozen=True, slots=True)
class Posted:
    """The amounts of one posting (minor units)."""

    credit_gross: int
    tax: int
    overdraft_amount: int


def posting_legs(
    posted: Posted, *, account: uuid.UUID, ledger: dict[str, uuid.UUID]
) -> list[LegIn]:
    """The legs of a posting's one transfer; balanced by construction."""
    net = posted.credit_gross - posted.tax - posted.overdraft_amount
    pairs: list[tuple[uuid.UUID, Direction, int]] = [
        (ledger["interest_expense"], "debit", posted.credit_gross),
        (ledger["tax_payable"], "credit", posted.tax),
        (ledger["interest_income"], "credit", posted.overdraft_amount),
        (account, "credit" if net > 0 else "debit", abs(net)),
    ]
    return [
        LegIn(account_id=account_id, direction=direction, amount=amount)
        for account_id, direction, amount in pairs
        if amount > 0
    ]


async def last_posting(
    uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID
) -> BankInterestPosting | None:
    """The account's latest interest posting (its residues carry into the next one)."""
    return (
        await uow.session.execute(
            select(BankInterestPosting)
            .where(
                BankInterestPosting.tenant_id == tenant_id,
                BankInterestPosting.account_id == account_id,
            )
            .order_by(BankInterestPosting.period_end.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


def _carry(exact: Decimal, carried: Decimal) -> tuple[int, Decimal]:
    posted, residue = round_carry(exact, carried)
    if posted < 0:  # an average-balance true-up may go below zero: nothing to post
        return 0, residue + Decimal(posted)
    return posted, residue


async def _post_account(
    uow: UnitOfWork,
    ctx: Context,
    account_id: uuid.UUID,
    terms: InterestTerms,
    day: date,
    ledger: dict[str, uuid.UUID],
) -> BankInterestPosting | None:
    account = await uow.session.get(BankAccount, (ctx.tenant_id, account_id))
    assert account is not None
    exists = await uow.session.execute(
        select(BankInterestPosting.id).where(
            BankInterestPosting.tenant_id == ctx.tenant_id,
            BankInterestPosting.account_id == account_id,
            BankInterestPosting.period_end == day,
        )
    )
    if exists.first() is not None:
        return None
    accruals = (
        await uow.session.execute(
            select(BankInterestAccrual.basis, BankInterestAccrual.amount)
            .where(
                BankInterestAccrual.tenant_id == ctx.tenant_id,
                BankInterestAccrual.account_id == account_id,
                BankInterestAccrual.posting_id.is_(None),
                BankInterestAccrual.accrual_date <= day,
            )
            .with_for_update()
        )
    ).all()
    if not accruals:
        return None
    previous = await last_posting(uow, ctx.tenant_id, account_id)
    credit = sum((a.amount for a in accruals if a.basis >= 0), Decimal(0))
    overdraft = -sum((a.amount for a in accruals if a.basis < 0), Decimal(0))
    gross, credit_residue = _carry(credit, previous.credit_residue if previous else Decimal(0))
    charged, overdraft_residue = _carry(
        overdraft, previous.overdraft_residue if previous else Decimal(0)
    )
    posted = Posted(gross, withholding_of(gross, Decimal(terms.withholding_tax_rate)), charged)
    posting = BankInterestPosting(
        tenant_id=ctx.tenant_id,
        id=new_id(),
        account_id=account_id,
        period_end=day,
        currency=account.currency,
        credit_exact=credit,
        credit_gross=posted.credit_gross,
        credit_residue=credit_residue,
        tax=posted.tax,
        overdraft_exact=overdraft,
        overdraft_amount=posted.overdraft_amount,
        overdraft_residue=overdraft_residue,
        transfer_id=None,
        created_at=clock.now(),
    )
    legs = posting_legs(posted, account=account.ledger_account_id, ledger=ledger)
    if len(legs) >= 2:
        outcome = await transfer_create_in(
            uow,
            ctx=ctx,
            request=LedgerTransfer(
                legs=legs,
                currency=account.currency,
                description=f"Interest to {day.isoformat()}",
                metadata={"bank_account_id": str(account_id), "kind": "interest"},
            ),
            idempotency_key=f"banking:interest:{account_id}:{day.isoformat()}",
        )
        posting.transfer_id = outcome.transfer_id
    uow.session.add(posting)
    await uow.session.flush()
    await uow.session.execute(
        update(BankInterestAccrual)
        .where(
            BankInterestAccrual.tenant_id == ctx.tenant_id,
            BankInterestAccrual.account_id == account_id,
            BankInterestAccrual.posting_id.is_(None),
            BankInterestAccrual.accrual_date <= day,
        )
        .values(posting_id=posting.id)
    )
    if posting.transfer_id is None:
        return posting  # everything rounded to zero: the accruals are settled, no event
    await emit(
        uow,
        tenant_id=ctx.tenant_id,
        type=INTEREST_POSTED,
        subject=f"bank_account/{account_id}",
        payload={
            "posting_id": str(posting.id),
            "account_id": str(account_id),
            "customer_id": str(account.customer_id),
            "period_end": day.isoformat(),
            "credit_gross": posted.credit_gross,
            "tax": posted.tax,
            "overdraft_amount": posted.overdraft_amount,
            "currency": account.currency,
            "transfer_id": str(posting.transfer_id),
        },
    )
    return posting


async def interest_post(db: Database, ctx: Context, *, day: date) -> tuple[int, int]:
    """Post the interest of every account whose posting period ends on `day`, one
    transaction each; (posted, refused). A refused posting (the ledger would take an
    overdrawn account past its limit) stays accrued and is retried next period."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        due = await _due_accounts(uow, ctx.tenant_id, day)
        ledgers = {
            currency: await general_ledger_ensure(uow, ctx, currency=currency)
            for currency in sorted({currency for _, currency, _ in due})
        }
    posted = refused = 0
    for account_id, currency, terms in due:

        async def post(
            uow: UnitOfWork,
            account_id: uuid.UUID = account_id,
            ledger: dict[str, uuid.UUID] = ledgers[currency],
            terms: InterestTerms = terms,
        ) -> BankInterestPosting | None:
            return await _post_account(uow, ctx, account_id, terms, day, ledger)

        try:
            if await db.run(post, tenant_id=ctx.tenant_id) is not None:
                posted += 1
        except TransferRefused:
            refused += 1
    return posted, refused


def unposted_total(rows: Sequence[tuple[Decimal, Decimal]]) -> Decimal:
    """Accrued (basis, amount) rows as one signed figure: credit less overdraft interest."""
    return sum((amount for _, amount in rows), Decimal(0))
