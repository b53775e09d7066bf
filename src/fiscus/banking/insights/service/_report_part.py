"""The insights report of an account, and re-categorising one of its transactions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import select, text

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.banking._scope import PAY_ROLES, is_portal, scope_customers
from fiscus.banking.errors import BankAccountNotFound
from fiscus.banking.insights.errors import InsightsPeriodInvalid, MovementNotFound, RuleEmpty
from fiscus.banking.insights.models import CategorisedMovement
from fiscus.banking.insights.schemas import (
    CategoryTrend,
    InsightsRead,
    MonthCategory,
    RuleCreate,
)
from fiscus.banking.insights.service._categorise_part import (
    DEFAULT_CATEGORIES,
    budgets_check,
    month_of,
)
from fiscus.banking.insights.service._rules_part import category_check, rule_add
from fiscus.core import clock
from fiscus.core.db import Database

MAX_PERIOD_DAYS = 366
# The previous period of a period starting on 1 January of year 1 would not exist.
EARLIEST = date(1900, 1, 1)
_CENT = Decimal("0.01")

# One round trip: the account (as the caller may see it) and its movements of both
# periods summed by category, month and period; a tenant category's kind comes along.
_REPORT = text("""
SELECT a.currency, g.category, g.month, g.current, g.money_in, g.money_out, c.kind
FROM banking_accounts a
LEFT JOIN LATERAL (
    SELECT m.category, date_trunc('month', m.booked_on::timestamp)::date AS month,
           m.booked_on >= :period_from AS current,
           coalesce(sum(m.amount) FILTER (WHERE m.amount > 0), 0)::bigint AS money_in,
           coalesce(-sum(m.amount) FILTER (WHERE m.amount < 0), 0)::bigint AS money_out
    FROM banking_categorised_movements m
    WHERE m.tenant_id = a.tenant_id AND m.account_id = a.id
      AND m.booked_on >= :previous_from AND m.booked_on <= :period_to
    GROUP BY 1, 2, 3
) g ON true
LEFT JOIN banking_spending_categories c ON c.tenant_id = a.tenant_id AND c.slug = g.category
WHERE a.tenant_id = :tenant_id AND a.id = :account_id
  AND (NOT :portal OR EXISTS (
      SELECT 1 FROM banking_customer_users u
      WHERE u.tenant_id = a.tenant_id AND u.customer_id = a.customer_id AND u.user_id = :actor))
ORDER BY g.month, g.category
""")


def change_percent(amount: int, previous: int) -> str | None:
    """(amount - previous) / |previous| in percent, two places half-even; None from 0."""
    if previous == 0:
        return None
    change = Decimal(amount - previous) * 100 / Decimal(abs(previous))
    return str(change.quantize(_CENT, rounding=ROUND_HALF_EVEN))


def _period(period_from: date | None, period_to: date | None) -> tuple[date, date]:
    to = period_to or clock.now().date()
    start = period_from or to.replace(day=1)
    if start > to:
        raise InsightsPeriodInvalid("`from` is after `to`.")
    if (to - start).days + 1 > MAX_PERIOD_DAYS:
        raise InsightsPeriodInvalid(f"The period is longer than {MAX_PERIOD_DAYS} days.")
    if start < EARLIEST:
        raise InsightsPeriodInvalid(f"`from` is before {EARLIEST.isoformat()}.")
    return start, to


async def account_insights(
    db: Database,
    ctx: Context,
    *,
    account_id: uuid.UUID,
    period_from: date | None,
    period_to: date | None,
) -> InsightsRead:
    """Spending by category and month, income against spending, and each category's
    trend against the previous period of equal length (default: this month so far)."""
    start, end = _period(period_from, period_to)
    days = (end - start).days + 1
    previous_from, previous_to = start - timedelta(days=days), start - timedelta(days=1)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows = (
            await uow.session.execute(
                _REPORT,
                {
                    "tenant_id": ctx.tenant_id,
                    "account_id": account_id,
                    "portal": is_portal(ctx),
                    "actor": ctx.actor_id,
                    "period_from": start,
                    "period_to": end,
                    "previous_from": previous_from,
                },
            )
        ).all()
    if not rows:
        raise BankAccountNotFound(f"Account {account_id} was not found.")
    by_month: list[MonthCategory] = []
    now: dict[str, int] = {}
    before: dict[str, int] = {}
    income = spending = 0
    for row in rows:
        if row.category is None:
            continue
        net = row.money_out - row.money_in
        kind = row.kind or DEFAULT_CATEGORIES.get(row.category, ("", "spending"))[1]
        if not row.current:
            before[row.category] = before.get(row.category, 0) + net
            continue
        now[row.category] = now.get(row.category, 0) + net
        by_month.append(MonthCategory(month=row.month.strftime("%Y-%m"), category=row.category,
                                      amount=net))  # fmt: skip
        if kind == "income":
            income -= net
        elif kind == "spending":
            spending += net
    trends = [
        CategoryTrend(
            category=category,
            amount=now.get(category, 0),
            previous=before.get(category, 0),
            change_percent=change_percent(now.get(category, 0), before.get(category, 0)),
        )
        for category in sorted(now.keys() | before.keys())
    ]
    return InsightsRead(
        account_id=account_id,
        currency=rows[0].currency,
        period_from=start,
        period_to=end,
        previous_from=previous_from,
        previous_to=previous_to,
        income=income,
        spending=spending,
        net=income - spending,
        by_month=by_month,
        categories=trends,
    )


@dataclass(frozen=True, slots=True)
class Recategorised:
    """The transaction with its new category, and the rule made from it, if asked."""

    movement: CategorisedMovement
    rule_id: uuid.UUID | None


async def movement_get(
    db: Database, ctx: Context, *, account_id: uuid.UUID, transfer_id: uuid.UUID
) -> CategorisedMovement:
    """One categorised transaction of an account the caller may see."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        found: CategorisedMovement | None = (
            await uow.session.execute(_movement(ctx, account_id, transfer_id, None))
        ).scalar_one_or_none()
    if found is None:
        raise MovementNotFound(f"Transaction {transfer_id} of account {account_id} was not found.")
    return found


def _movement(
    ctx: Context, account_id: uuid.UUID, transfer_id: uuid.UUID, roles: tuple[str, ...] | None
) -> Any:
    stmt = select(CategorisedMovement).where(
        CategorisedMovement.tenant_id == ctx.tenant_id,
        CategorisedMovement.account_id == account_id,
        CategorisedMovement.transfer_id == transfer_id,
    )
    if roles is None:
        return scope_customers(stmt, CategorisedMovement.customer_id, ctx)
    return scope_customers(stmt, CategorisedMovement.customer_id, ctx, roles)


def _rule_from(movement: CategorisedMovement, category: str) -> RuleCreate:
    """A customer rule that gives later transactions like this one the same category."""
    direction = "in" if movement.amount > 0 else "out"
    if movement.counterparty_iban is not None:
        condition: dict[str, object] = {"counterparty_iban": movement.counterparty_iban}
    elif movement.counterparty_account_id is not None:
        condition = {"counterparty_account_id": movement.counterparty_account_id}
    elif movement.reference is not None and len(movement.reference.strip()) >= 2:
        condition = {"reference_contains": movement.reference.strip()[:100]}
    else:
        raise RuleEmpty(
            "This transaction has no counterparty or reference to make a rule of.",
            field="make_rule",
        )
    return RuleCreate.model_validate(
        {"category": category, "customer_id": movement.customer_id, "priority": 0,
         "direction": direction, **condition}
    )  # fmt: skip


async def movement_recategorise(
    db: Database,
    ctx: Context,
    *,
    account_id: uuid.UUID,
    transfer_id: uuid.UUID,
    category: str,
    make_rule: bool,
) -> Recategorised:
    """Set one transaction's category (a portal user: on accounts it owns; audited),
    optionally as a rule for the customer; a budget threshold this month now reaches is
    told."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        found = (
            await uow.session.execute(
                _movement(ctx, account_id, transfer_id, PAY_ROLES).with_for_update()
            )
        ).scalar_one_or_none()
        if found is None:
            raise MovementNotFound(
                f"Transaction {transfer_id} of account {account_id} was not found."
            )
        await category_check(uow, ctx, category)
        before = found.category
        found.category, found.source, found.rule_id = category, "manual", None
        found.categorised_by, found.updated_at = ctx.actor_id, clock.now()
        rule = await rule_add(uow, ctx, _rule_from(found, category)) if make_rule else None
        await uow.session.flush()
        await audit_record(
            uow,
            ctx=ctx,
            action="banking.transaction.recategorised",
            object_type="bank_transaction",
            object_id=transfer_id,
            before={"category": before},
            after={"category": category, "account_id": str(account_id),
                   "rule_id": str(rule.id) if rule else None},
        )  # fmt: skip
        if found.amount < 0 and month_of(found.booked_on) == month_of(clock.now().date()):
            key = (found.customer_id, category, found.currency)
            await budgets_check(uow, ctx, keys={key}, day=found.booked_on)
    return Recategorised(found, rule.id if rule else None)
