"""Categorising movements as they post, and the budgets they may cross.

`movements_categorise` runs in the unit of work of every banking use case that moves a
customer's money, beside `alerts_check`: one statement matches every movement against the
rules in PostgreSQL (customer rules first, then the tenant's, by priority; first match
wins) and stores the category. Only when a movement is spending in a category the customer
keeps a budget for does a second statement sum the month, and a threshold newly reached
(80 %, 100 %) is recorded once per budget and month, then told as an event.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import BigInteger, cast, func, select, text
from sqlalchemy.dialects.postgresql import insert

from fiscus.access.context import Context
from fiscus.banking.alerts.service import Movement, portal_users_of
from fiscus.banking.insights.models import Budget, BudgetNotice, CategorisedMovement
from fiscus.core import clock
from fiscus.core.db import UnitOfWork
from fiscus.core.events import emit

BUDGET_THRESHOLD_CROSSED = "banking.budget.threshold_crossed"
THRESHOLDS_PERCENT = (80, 100)

# Every tenant has these; a tenant adds its own (`banking_spending_categories`).
DEFAULT_CATEGORIES: dict[str, tuple[str, str]] = {
    "groceries": ("Groceries", "spending"),
    "transport": ("Transport", "spending"),
    "housing": ("Housing", "spending"),
    "utilities": ("Utilities", "spending"),
    "eating_out": ("Eating out", "spending"),
    "shopping": ("Shopping", "spending"),
    "health": ("Health", "spending"),
    "entertainment": ("Entertainment", "spending"),
    "travel": ("Travel", "spending"),
    "education": ("Education", "spending"),
    "cash": ("Cash", "spending"),
    "fees": ("Fees and charges", "spending"),
    "savings": ("Savings", "transfer"),
    "transfers": ("Transfers between own accounts", "transfer"),
    "income": ("Income", "income"),
    "other": ("Other", "spending"),
}

# The rule match, in PostgreSQL, for a batch of movements given as parallel arrays. Text
# conditions are case-insensitive substring tests (strpos): linear time whatever the rule.
_CATEGORISE = text("""
WITH v AS (
    SELECT * FROM unnest(
        CAST(:account_ids AS uuid[]), CAST(:transfer_ids AS uuid[]), CAST(:amounts AS bigint[]),
        CAST(:currencies AS text[]), CAST(:booked_on AS date[]), CAST(:references AS text[]),
        CAST(:ibans AS text[]), CAST(:names AS text[]), CAST(:others AS uuid[]),
        CAST(:codes AS text[])
    ) AS v(account_id, transfer_id, amount, currency, booked_on, reference,
           counterparty_iban, counterparty_name, counterparty_account_id, merchant_code)
)
INSERT INTO banking_categorised_movements AS m (
    tenant_id, account_id, transfer_id, customer_id, amount, currency, booked_on, category,
    source, rule_id, reference, counterparty_iban, counterparty_account_id, merchant_code,
    categorised_by, updated_at)
SELECT :tenant_id, v.account_id, v.transfer_id, a.customer_id, v.amount, v.currency,
       v.booked_on,
       COALESCE(r.category, CASE WHEN own.id IS NOT NULL THEN 'transfers'
                                 WHEN v.amount > 0 THEN 'income' ELSE 'other' END),
       CASE WHEN r.id IS NULL THEN 'default' ELSE 'rule' END, r.id, v.reference,
       v.counterparty_iban, v.counterparty_account_id, v.merchant_code, NULL, :now
FROM v
JOIN banking_accounts a ON a.tenant_id = :tenant_id AND a.id = v.account_id
LEFT JOIN banking_accounts own
    ON own.tenant_id = :tenant_id AND own.id = v.counterparty_account_id
   AND own.customer_id = a.customer_id
LEFT JOIN LATERAL (
    SELECT r.id, r.category FROM banking_spending_rules r
    WHERE r.tenant_id = :tenant_id
      AND (r.customer_id IS NULL OR r.customer_id = a.customer_id)
      AND (r.direction = 'any' OR (r.direction = 'in') = (v.amount > 0))
      AND (r.amount_min IS NULL OR abs(v.amount) >= r.amount_min)
      AND (r.amount_max IS NULL OR abs(v.amount) <= r.amount_max)
      AND (r.reference_contains IS NULL
           OR strpos(lower(coalesce(v.reference, '')), lower(r.reference_contains)) > 0)
      AND (r.counterparty_iban IS NULL OR r.counterparty_iban = v.counterparty_iban)
      AND (r.counterparty_name_contains IS NULL
           OR strpos(lower(coalesce(v.counterparty_name, '')),
                     lower(r.counterparty_name_contains)) > 0)
      AND (r.counterparty_account_id IS NULL
           OR r.counterparty_account_id = v.counterparty_account_id)
      AND (r.merchant_codes IS NULL OR v.merchant_code = ANY (r.merchant_codes))
    ORDER BY r.customer_id IS NULL, r.priority, r.id
    LIMIT 1
) r ON true
WHERE v.amount <> 0
ON CONFLICT (tenant_id, account_id, transfer_id) DO NOTHING
RETURNING m.customer_id, m.category, m.currency, m.amount,
    EXISTS (SELECT 1 FROM banking_budgets b
            WHERE b.tenant_id = m.tenant_id AND b.customer_id = m.customer_id
              AND b.category = m.category AND b.currency = m.currency) AS budgeted
""")


@dataclass(frozen=True, slots=True)
class Dated:
    """A movement and the day it was booked (the backfill's are in the past)."""

    movement: Movement
    booked_on: date


def month_of(day: date) -> tuple[date, date]:
    """The first day of `day`'s month and of the next."""
    first = day.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following


def spent_in_month(day: date) -> Any:
    """What a budget's customer spent in its category and currency in `day`'s month: money
    out less money in (refunds), a subquery correlated to the budget row."""
    first, following = month_of(day)
    return (
        select(cast(func.coalesce(-func.sum(CategorisedMovement.amount), 0), BigInteger))
        .where(
            CategorisedMovement.tenant_id == Budget.tenant_id,
            CategorisedMovement.customer_id == Budget.customer_id,
            CategorisedMovement.category == Budget.category,
            CategorisedMovement.currency == Budget.currency,
            CategorisedMovement.booked_on >= first,
            CategorisedMovement.booked_on < following,
        )
        .scalar_subquery()
    )


async def categorise_dated(
    uow: UnitOfWork, ctx: Context, dated: Sequence[Dated]
) -> list[tuple[uuid.UUID, str, str, int, bool]]:
    """Store the category of each movement not categorised before (one statement);
    the rows stored: customer, category, currency, amount, and whether budgeted."""
    if not dated:
        return []
    moves = [d.movement for d in dated]
    rows = await uow.session.execute(
        _CATEGORISE,
        {
            "tenant_id": ctx.tenant_id,
            "now": clock.now(),
            "account_ids": [m.account_id for m in moves],
            "transfer_ids": [m.transfer_id for m in moves],
            "amounts": [m.amount for m in moves],
            "currencies": [m.currency for m in moves],
            "booked_on": [d.booked_on for d in dated],
            "references": [m.reference for m in moves],
            "ibans": [m.counterparty_iban for m in moves],
            "names": [m.counterparty_name for m in moves],
            "others": [m.counterparty_account_id for m in moves],
            "codes": [m.merchant_code for m in moves],
        },
    )
    return [(r.customer_id, r.category, r.currency, r.amount, r.budgeted) for r in rows.all()]


async def movements_categorise(
    uow: UnitOfWork, ctx: Context, movements: Sequence[Movement]
) -> None:
    """Categorise movements that just posted, in the caller's unit of work, and tell the
    budget thresholds their spending crosses (each once per budget and month)."""
    today = clock.now().date()
    stored = await categorise_dated(uow, ctx, [Dated(m, today) for m in movements])
    spending = {
        (c, cat, cur) for c, cat, cur, amount, budgeted in stored if budgeted and amount < 0
    }
    if spending:
        await budgets_check(uow, ctx, keys=spending, day=today)


async def budgets_check(
    uow: UnitOfWork, ctx: Context, *, keys: set[tuple[uuid.UUID, str, str]], day: date
) -> int:
    """Record and announce the thresholds the budgets of `keys` (customer, category,
    currency) have reached in `day`'s month and not told yet; how many were told."""
    first, _ = month_of(day)
    rows = (
        await uow.session.execute(
            select(Budget, spent_in_month(day).label("spent")).where(
                Budget.tenant_id == ctx.tenant_id,
                Budget.customer_id.in_(sorted({k[0] for k in keys})),
                Budget.category.in_(sorted({k[1] for k in keys})),
            )
        )
    ).all()
    reached = [
        (budget, used, percent)
        for budget, used in rows
        if (budget.customer_id, budget.category, budget.currency) in keys
        for percent in THRESHOLDS_PERCENT
        if used * 100 >= budget.amount * percent
    ]
    if not reached:
        return 0
    notices = [
        {"tenant_id": ctx.tenant_id, "budget_id": b.id, "month": first, "threshold_percent": p,
         "created_at": clock.now()}
        for b, _, p in reached
    ]  # fmt: skip
    told = (
        await uow.session.execute(
            insert(BudgetNotice)
            .values(notices)
            .on_conflict_do_nothing()
            .returning(BudgetNotice.budget_id, BudgetNotice.threshold_percent)
        )
    ).all()
    new = {(r.budget_id, r.threshold_percent) for r in told}
    fresh = [(b, used, p) for b, used, p in reached if (b.id, p) in new]
    if fresh:
        await _announce(uow, ctx, fresh, first)
    return len(fresh)


async def _announce(
    uow: UnitOfWork, ctx: Context, fresh: list[tuple[Budget, int, int]], month: date
) -> None:
    users = await portal_users_of(uow, ctx, {b.customer_id for b, _, _ in fresh})
    for budget, used, percent in fresh:
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=BUDGET_THRESHOLD_CROSSED,
            subject=f"bank_budget/{budget.id}",
            payload={
                "budget_id": str(budget.id),
                "customer_id": str(budget.customer_id),
                "category": budget.category,
                "month": month.strftime("%Y-%m"),
                "threshold_percent": percent,
                "budget": budget.amount,
                "spent": used,
                "currency": budget.currency,
                "user_ids": sorted(users.get(budget.customer_id, [])),
            },
        )


_REVERSE = text("""
INSERT INTO banking_categorised_movements (
    tenant_id, account_id, transfer_id, customer_id, amount, currency, booked_on, category,
    source, rule_id, reference, counterparty_iban, counterparty_account_id, merchant_code,
    categorised_by, updated_at)
SELECT tenant_id, account_id, :reversal_id, customer_id, -amount, currency, :booked_on,
       category, source, rule_id, reference, counterparty_iban, counterparty_account_id,
       merchant_code, categorised_by, :now
FROM banking_categorised_movements
WHERE tenant_id = :tenant_id AND account_id = :account_id AND transfer_id = :transfer_id
ON CONFLICT (tenant_id, account_id, transfer_id) DO NOTHING
""")


async def movement_reverse(
    uow: UnitOfWork,
    ctx: Context,
    *,
    account_id: uuid.UUID,
    transfer_id: uuid.UUID,
    reversal_id: uuid.UUID,
) -> None:
    """The money of a movement came back (a payment rejected or returned): the reversal
    takes the movement's category with the opposite sign, so the category nets to zero."""
    await uow.session.execute(
        _REVERSE,
        {
            "tenant_id": ctx.tenant_id,
            "account_id": account_id,
            "transfer_id": transfer_id,
            "reversal_id": reversal_id,
            "booked_on": clock.now().date(),
            "now": clock.now(),
        },
    )
