"""Monthly budgets per category: a customer's (its portal owners) or set by staff."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.banking._scope import PAY_ROLES, READ_ROLES, scope_customers
from fiscus.banking.insights.errors import BudgetExists, BudgetNotFound
from fiscus.banking.insights.models import Budget
from fiscus.banking.insights.schemas import BudgetCreate
from fiscus.banking.insights.service._categorise_part import budgets_check, spent_in_month
from fiscus.banking.insights.service._rules_part import category_check, customer_check
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.ids import new_id
from fiscus.core.pagination import keyset_page


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A budget and what was spent in it this month (minor units)."""

    budget: Budget
    spent_this_month: int


async def budget_create(db: Database, ctx: Context, *, request: BudgetCreate) -> BudgetState:
    """Set a customer's monthly budget for a category (audited); what is spent already
    this month counts, and a threshold it has reached is told at once."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        await customer_check(uow, ctx, request.customer_id)
        await category_check(uow, ctx, request.category)
        exists = (
            await uow.session.execute(
                select(Budget.id).where(
                    Budget.tenant_id == ctx.tenant_id,
                    Budget.customer_id == request.customer_id,
                    Budget.category == request.category,
                    Budget.currency == request.currency,
                )
            )
        ).scalar_one_or_none()
        if exists is not None:
            raise BudgetExists(
                f"Budget {exists} covers {request.category} in {request.currency} already;"
                " change its amount instead."
            )
        budget = Budget(
            tenant_id=ctx.tenant_id,
            id=new_id(),
            created_by=ctx.actor_id,
            created_at=clock.now(),
            **request.model_dump(),
        )
        uow.session.add(budget)
        await uow.session.flush()
        await audit_record(
            uow,
            ctx=ctx,
            action="banking.budget.created",
            object_type="bank_budget",
            object_id=budget.id,
            after=request.model_dump(mode="json"),
        )
        key = (budget.customer_id, budget.category, budget.currency)
        await budgets_check(uow, ctx, keys={key}, day=clock.now().date())
        return (await _spent_of(uow, [budget]))[0]


def _visible(ctx: Context, roles: tuple[str, ...] = READ_ROLES) -> Any:
    stmt = select(Budget).where(Budget.tenant_id == ctx.tenant_id)
    return scope_customers(stmt, Budget.customer_id, ctx, roles)


async def _spent_of(uow: UnitOfWork, budgets: list[Budget]) -> list[BudgetState]:
    if not budgets:
        return []
    rows = await uow.session.execute(
        select(Budget.id, spent_in_month(clock.now().date())).where(
            Budget.tenant_id == budgets[0].tenant_id, Budget.id.in_([b.id for b in budgets])
        )
    )
    spent: dict[uuid.UUID, int] = {row[0]: row[1] for row in rows.all()}
    return [BudgetState(b, spent.get(b.id, 0)) for b in budgets]


async def budget_list(
    db: Database, ctx: Context, *, customer_id: uuid.UUID | None, cursor: str | None, limit: int
) -> tuple[list[BudgetState], str | None]:
    """The budgets the caller may see with this month's spending, oldest first."""
    stmt = _visible(ctx)
    if customer_id is not None:
        stmt = stmt.where(Budget.customer_id == customer_id)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        budgets: list[Budget]
        budgets, next_cursor = await keyset_page(
            uow.session,
            stmt,
            keys=[Budget.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda b: [str(b.id)],
        )
        return await _spent_of(uow, budgets), next_cursor


async def budget_get(db: Database, ctx: Context, *, budget_id: uuid.UUID) -> BudgetState:
    """One budget the caller may see, or BudgetNotFound."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        found = (
            await uow.session.execute(_visible(ctx).where(Budget.id == budget_id))
        ).scalar_one_or_none()
        if found is None:
            raise BudgetNotFound(f"Budget {budget_id} was not found.")
        return (await _spent_of(uow, [found]))[0]


async def budget_update(
    db: Database, ctx: Context, *, budget_id: uuid.UUID, amount: int
) -> BudgetState:
    """Change a budget's monthly amount (audited); a threshold now reached is told."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        budget = (
            await uow.session.execute(
                _visible(ctx, PAY_ROLES).where(Budget.id == budget_id).with_for_update()
            )
        ).scalar_one_or_none()
        if budget is None:
            raise BudgetNotFound(f"Budget {budget_id} was not found.")
        before = budget.amount
        budget.amount = amount
        await uow.session.flush()
        await audit_record(
            uow,
            ctx=ctx,
            action="banking.budget.updated",
            object_type="bank_budget",
            object_id=budget.id,
            before={"amount": before},
            after={"amount": amount},
        )
        key = (budget.customer_id, budget.category, budget.currency)
        await budgets_check(uow, ctx, keys={key}, day=clock.now().date())
        return (await _spent_of(uow, [budget]))[0]


async def budget_delete(db: Database, ctx: Context, *, budget_id: uuid.UUID) -> None:
    """Delete a budget (a portal user: of a customer it owns; audited)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        found = (
            await uow.session.execute(_visible(ctx, PAY_ROLES).where(Budget.id == budget_id))
        ).scalar_one_or_none()
        if found is None:
            raise BudgetNotFound(f"Budget {budget_id} was not found.")
        await uow.session.execute(
            delete(Budget).where(Budget.tenant_id == ctx.tenant_id, Budget.id == budget_id)
        )
        await audit_record(
            uow,
            ctx=ctx,
            action="banking.budget.deleted",
            object_type="bank_budget",
            object_id=budget_id,
            before={"category": found.category, "amount": found.amount},
        )
