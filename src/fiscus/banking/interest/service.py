"""Interest use cases: a product's terms and rate history, its APY, an account's interest."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import func, select

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.banking._scope import scope_customers
from fiscus.banking.errors import BankAccountNotFound, ProductNotFound
from fiscus.banking.interest.accrual import (
    RateSet,
    interest_terms_of,
    last_posting,
    rate_set,
)
from fiscus.banking.interest.calc import (
    add_months,
    apy,
    is_period_end,
    rate_for,
    round_carry,
    year_fraction,
)
from fiscus.banking.interest.errors import (
    InterestRateExists,
    InterestRateInPast,
    InterestTermsMissing,
)
from fiscus.banking.interest.models import BankInterestAccrual, BankInterestRate
from fiscus.banking.interest.schemas import (
    AccountInterestRead,
    ApyBand,
    ApyRead,
    InterestTerms,
    PostingRead,
    ProductTerms,
    ProjectedMonth,
    RateCreate,
    RateRead,
    TierRead,
    rate_text,
)
from fiscus.banking.models import BankAccount, BankProduct
from fiscus.banking.service import business_date_get, business_date_in
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.ids import new_id
from fiscus.ledger.queries import balance_in

PRODUCT_TERMS_CHANGED = "banking.product.terms_changed"
INTEREST_RATE_ADDED = "banking.interest_rate.added"
MAX_RATES = 500
PROJECTION_MONTHS = 12


async def _product_locked(uow: UnitOfWork, ctx: Context, product_id: uuid.UUID) -> BankProduct:
    product = await uow.session.get(BankProduct, (ctx.tenant_id, product_id), with_for_update=True)
    if product is None:
        raise ProductNotFound(f"Product {product_id} was not found.")
    return product


async def product_terms_get(db: Database, ctx: Context, *, product_id: uuid.UUID) -> ProductTerms:
    """A product's interest terms and fee schedule."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        product = await uow.session.get(BankProduct, (ctx.tenant_id, product_id))
    if product is None:
        raise ProductNotFound(f"Product {product_id} was not found.")
    return ProductTerms.model_validate(product.terms or {})


async def product_terms_set(
    db: Database, ctx: Context, *, product_id: uuid.UUID, terms: ProductTerms
) -> ProductTerms:
    """Replace a product's interest terms and fee schedule (audited); they apply from the
    next close of business."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        product = await _product_locked(uow, ctx, product_id)
        before = dict(product.terms or {})
        product.terms = terms.model_dump(mode="json", exclude_none=True, by_alias=True)
        await uow.session.flush()
        await audit_record(
            uow,
            ctx=ctx,
            action=PRODUCT_TERMS_CHANGED,
            object_type="bank_product",
            object_id=product_id,
            before=before,
            after=product.terms,
        )
    return terms


def rate_read(row: BankInterestRate) -> RateRead:
    """The API view of a stored rate."""
    return RateRead(
        id=row.id,
        product_id=row.product_id,
        effective_from=row.effective_from,
        rate=rate_text(row.rate) if row.rate is not None else None,
        tiers=[TierRead(from_minor=int(t["from"]), rate=str(t["rate"])) for t in row.tiers]
        if row.tiers is not None
        else None,
        overdraft_rate=rate_text(row.overdraft_rate),
        created_at=row.created_at,
    )


async def interest_rate_add(
    db: Database, ctx: Context, *, product_id: uuid.UUID, request: RateCreate
) -> RateRead:
    """Add a product rate from `effective_from` (not before the business date: days
    already accrued stay as they were), audited."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        product = await _product_locked(uow, ctx, product_id)
        if interest_terms_of(product) is None:
            raise InterestTermsMissing(f"Product {product_id} has no interest terms.")
        today = await business_date_in(uow, tenant_id=ctx.tenant_id)
        if request.effective_from < today:
            raise InterestRateInPast(
                f"The business date is {today}; a rate can start on it or later, not"
                f" {request.effective_from}."
            )
        clash = await uow.session.execute(
            select(BankInterestRate.id).where(
                BankInterestRate.tenant_id == ctx.tenant_id,
                BankInterestRate.product_id == product_id,
                BankInterestRate.effective_from == request.effective_from,
            )
        )
        if clash.first() is not None:
            raise InterestRateExists(
                f"Product {product_id} already has a rate from {request.effective_from}."
            )
        row = BankInterestRate(
            tenant_id=ctx.tenant_id,
            id=new_id(),
            product_id=product_id,
            effective_from=request.effective_from,
            rate=Decimal(request.rate) if request.rate is not None else None,
            tiers=[{"from": t.from_minor, "rate": t.rate} for t in request.tiers]
            if request.tiers is not None
            else None,
            overdraft_rate=Decimal(request.overdraft_rate),
            created_by=ctx.actor_id,
            created_at=clock.now(),
        )
        uow.session.add(row)
        await uow.session.flush()
        await audit_record(
            uow,
            ctx=ctx,
            action=INTEREST_RATE_ADDED,
            object_type="bank_product",
            object_id=product_id,
            after=request.model_dump(mode="json", by_alias=True),
        )
        return rate_read(row)


async def interest_rate_list(
    db: Database, ctx: Context, *, product_id: uuid.UUID
) -> list[RateRead]:
    """A product's rates, oldest first."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        if await uow.session.get(BankProduct, (ctx.tenant_id, product_id)) is None:
            raise ProductNotFound(f"Product {product_id} was not found.")
        rows = (
            await uow.session.execute(
                select(BankInterestRate)
                .where(
                    BankInterestRate.tenant_id == ctx.tenant_id,
                    BankInterestRate.product_id == product_id,
                )
                .order_by(BankInterestRate.effective_from)
                .limit(MAX_RATES)
            )
        ).scalars()
        return [rate_read(row) for row in rows]


async def _rate_on(
    uow: UnitOfWork, ctx: Context, product_id: uuid.UUID, on: date
) -> RateSet | None:
    row = (
        await uow.session.execute(
            select(BankInterestRate)
            .where(
                BankInterestRate.tenant_id == ctx.tenant_id,
                BankInterestRate.product_id == product_id,
                BankInterestRate.effective_from <= on,
            )
            .order_by(BankInterestRate.effective_from.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return rate_set(row) if row is not None else None


async def product_apy(
    db: Database, ctx: Context, *, product_id: uuid.UUID, as_of: date | None
) -> ApyRead:
    """The product's APY/AER per balance band on `as_of` (default the business date)."""
    on = as_of or await business_date_get(db, ctx)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        product = await uow.session.get(BankProduct, (ctx.tenant_id, product_id))
        if product is None:
            raise ProductNotFound(f"Product {product_id} was not found.")
        terms = interest_terms_of(product)
        rates = await _rate_on(uow, ctx, product_id, on) if terms is not None else None
    if terms is None:
        raise InterestTermsMissing(f"Product {product_id} has no interest terms.")
    bands: list[tuple[int, Decimal]] = []
    if rates is not None:
        bands = [(t.from_minor, t.rate) for t in sorted(rates.tiers, key=lambda t: t.from_minor)]
        bands = bands or [(0, rates.rate or Decimal(0))]
    return ApyRead(
        product_id=product_id,
        as_of=on,
        compounding=terms.compounding,
        formula="(1 + r/n)^n - 1",
        bands=[
            ApyBand(
                from_minor=bound,
                rate=rate_text(rate),
                apy=rate_text(apy(rate, terms.compounding)),
            )
            for bound, rate in bands
        ],
    )


def project(
    terms: InterestTerms, rates: RateSet, *, balance: int, start: date
) -> list[ProjectedMonth]:
    """What the next 12 calendar months (from `start`'s month) would each earn at today's
    rates on `balance`, interest compounding into it as the terms say (minor units,
    half-even, residue carried; before withholding)."""
    months: list[ProjectedMonth] = []
    principal, pending, residue = Decimal(balance), Decimal(0), Decimal(0)
    first = start.replace(day=1)
    for index in range(PROJECTION_MONTHS):
        begin, end = add_months(first, index), add_months(first, index + 1)
        if principal >= 0:
            earns = principal >= terms.minimum_balance
            rate = rate_for(principal, rates.rate, rates.tiers) if earns else Decimal(0)
        else:
            rate = rates.overdraft_rate
        exact = principal * rate * year_fraction(terms.day_count, begin, end)
        amount, residue = round_carry(exact, residue)
        months.append(ProjectedMonth(month=begin.strftime("%Y-%m"), interest=amount))
        pending += Decimal(amount)
        if is_period_end(terms.compounding, end - timedelta(days=1)):
            principal, pending = principal + pending, Decimal(0)
    return months


async def _visible_account(uow: UnitOfWork, ctx: Context, account_id: uuid.UUID) -> BankAccount:
    stmt = select(BankAccount).where(
        BankAccount.tenant_id == ctx.tenant_id, BankAccount.id == account_id
    )
    account: BankAccount | None = (
        await uow.session.execute(scope_customers(stmt, BankAccount.customer_id, ctx))
    ).scalar_one_or_none()
    if account is None:
        raise BankAccountNotFound(f"Account {account_id} was not found.")
    return account


async def account_interest_get(
    db: Database, ctx: Context, *, account_id: uuid.UUID
) -> AccountInterestRead:
    """An account's accrued-not-posted interest, its last posting and a 12-month projection
    (a portal user: only their own accounts)."""
    today = await business_date_get(db, ctx)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        account = await _visible_account(uow, ctx, account_id)
        accrued, through = (
            await uow.session.execute(
                select(
                    func.coalesce(func.sum(BankInterestAccrual.amount), 0),
                    func.max(BankInterestAccrual.accrual_date),
                ).where(
                    BankInterestAccrual.tenant_id == ctx.tenant_id,
                    BankInterestAccrual.account_id == account_id,
                    BankInterestAccrual.posting_id.is_(None),
                )
            )
        ).one()
        last = await last_posting(uow, ctx.tenant_id, account_id)
        product = await uow.session.get(BankProduct, (ctx.tenant_id, account.product_id))
        assert product is not None
        terms = interest_terms_of(product)
        rates = await _rate_on(uow, ctx, product.id, today) if terms is not None else None
        balance = await balance_in(
            uow, tenant_id=ctx.tenant_id, account_id=account.ledger_account_id
        )
    exact = Decimal(accrued)
    projection = (
        project(terms, rates, balance=balance.balance, start=add_months(today, 1))
        if terms is not None and rates is not None
        else []
    )
    return AccountInterestRead(
        account_id=account_id,
        currency=account.currency,
        accrued=int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN)),
        accrued_exact=_plain(exact),
        accrued_through=through,
        last_posting=PostingRead.model_validate(last) if last is not None else None,
        projection=projection,
        projected_total=sum(month.interest for month in projection),
    )


def _plain(value: Decimal) -> str:
    text = format(value.quantize(Decimal("1e-6"), rounding=ROUND_HALF_EVEN), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
