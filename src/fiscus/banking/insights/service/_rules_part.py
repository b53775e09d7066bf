"""Categories and categorisation rules: the tenant's (staff) and a customer's own."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.banking._scope import PAY_ROLES, is_portal, scope_customers
from fiscus.banking.errors import CustomerNotFound
from fiscus.banking.insights.errors import (
    CategoryExists,
    CategoryLimitReached,
    CategoryUnknown,
    RuleEmpty,
    RuleLimitReached,
    RuleNotFound,
)
from fiscus.banking.insights.models import SpendingCategory, SpendingRule
from fiscus.banking.insights.schemas import CategoryCreate, RuleCreate
from fiscus.banking.insights.service._categorise_part import DEFAULT_CATEGORIES
from fiscus.banking.models import BankCustomer
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import ValidationProblem
from fiscus.core.ids import new_id
from fiscus.core.pagination import keyset_page

MAX_TENANT_CATEGORIES = 100
MAX_TENANT_RULES = 500
MAX_CUSTOMER_RULES = 100


@dataclass(frozen=True, slots=True)
class Category:
    """A category as the API shows it."""

    slug: str
    name: str
    kind: str
    built_in: bool


async def category_list(db: Database, ctx: Context) -> list[Category]:
    """The built-in categories, then the tenant's own by slug."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        added = (
            await uow.session.execute(
                select(SpendingCategory)
                .where(SpendingCategory.tenant_id == ctx.tenant_id)
                .order_by(SpendingCategory.slug)
                .limit(MAX_TENANT_CATEGORIES)
            )
        ).scalars()
        return [Category(s, n, k, True) for s, (n, k) in DEFAULT_CATEGORIES.items()] + [
            Category(c.slug, c.name, c.kind, False) for c in added
        ]


async def category_create(db: Database, ctx: Context, *, request: CategoryCreate) -> Category:
    """Add a category to the tenant (audited); a slug in use is `spending-category-exists`."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        if request.slug in DEFAULT_CATEGORIES or await _added_kind(uow, ctx, request.slug):
            raise CategoryExists(f"The category {request.slug!r} exists already.")
        count = (
            await uow.session.execute(
                select(func.count()).where(SpendingCategory.tenant_id == ctx.tenant_id)
            )
        ).scalar_one()
        if count >= MAX_TENANT_CATEGORIES:
            raise CategoryLimitReached(f"The tenant has {MAX_TENANT_CATEGORIES} categories.")
        uow.session.add(
            SpendingCategory(
                tenant_id=ctx.tenant_id,
                slug=request.slug,
                name=request.name,
                kind=request.kind,
                created_by=ctx.actor_id,
                created_at=clock.now(),
            )
        )
        await uow.session.flush()
        await audit_record(
            uow,
            ctx=ctx,
            action="banking.spending_category.created",
            object_type="spending_category",
            object_id=request.slug,
            after={"name": request.name, "kind": request.kind},
        )
    return Category(request.slug, request.name, request.kind, False)


async def _added_kind(uow: UnitOfWork, ctx: Context, slug: str) -> str | None:
    return (
        await uow.session.execute(
            select(SpendingCategory.kind).where(
                SpendingCategory.tenant_id == ctx.tenant_id, SpendingCategory.slug == slug
            )
        )
    ).scalar_one_or_none()


async def category_check(uow: UnitOfWork, ctx: Context, slug: str) -> None:
    """CategoryUnknown unless `slug` is built in or the tenant's."""
    if slug not in DEFAULT_CATEGORIES and await _added_kind(uow, ctx, slug) is None:
        raise CategoryUnknown(f"There is no category {slug!r}: see GET /v1/spending/categories.")


async def customer_check(uow: UnitOfWork, ctx: Context, customer_id: uuid.UUID) -> None:
    """CustomerNotFound unless the caller may act for the customer (a portal user: owns it)."""
    stmt = select(BankCustomer.id).where(
        BankCustomer.tenant_id == ctx.tenant_id, BankCustomer.id == customer_id
    )
    if (
        await uow.session.execute(scope_customers(stmt, BankCustomer.id, ctx, PAY_ROLES))
    ).scalar_one_or_none() is None:
        raise CustomerNotFound(f"Customer {customer_id} was not found.")


async def rule_add(uow: UnitOfWork, ctx: Context, request: RuleCreate) -> SpendingRule:
    """Store a rule in the caller's unit of work (checks, limit and audit included)."""
    if is_portal(ctx) and request.customer_id is None:
        raise CustomerNotFound("A portal user sets rules for a customer: give `customer_id`.")
    if request.customer_id is not None:
        await customer_check(uow, ctx, request.customer_id)
    await category_check(uow, ctx, request.category)
    fields = request.model_dump(exclude={"category", "customer_id", "priority", "direction"})
    if request.counterparty_iban is not None:
        fields["counterparty_iban"] = request.counterparty_iban.replace(" ", "").upper()
    low, high = request.amount_min, request.amount_max
    if low is not None and high is not None and low > high:
        raise ValidationProblem("`amount_min` is above `amount_max`.", field="amount_max")
    if request.direction == "any" and all(v is None for v in fields.values()):
        raise RuleEmpty("Give at least one condition (or a direction).", field="direction")
    count = (
        await uow.session.execute(
            select(func.count()).where(
                SpendingRule.tenant_id == ctx.tenant_id,
                SpendingRule.customer_id.is_(None)
                if request.customer_id is None
                else SpendingRule.customer_id == request.customer_id,
            )
        )
    ).scalar_one()
    allowed = MAX_TENANT_RULES if request.customer_id is None else MAX_CUSTOMER_RULES
    if count >= allowed:
        raise RuleLimitReached(f"There are {allowed} rules already; delete one first.")
    rule = SpendingRule(
        tenant_id=ctx.tenant_id,
        id=new_id(),
        customer_id=request.customer_id,
        category=request.category,
        priority=request.priority,
        direction=request.direction,
        created_by=ctx.actor_id,
        created_at=clock.now(),
        **fields,
    )
    uow.session.add(rule)
    await uow.session.flush()
    await audit_record(
        uow,
        ctx=ctx,
        action="banking.spending_rule.created",
        object_type="spending_rule",
        object_id=rule.id,
        after=request.model_dump(mode="json", exclude_none=True),
    )
    return rule


async def rule_create(db: Database, ctx: Context, *, request: RuleCreate) -> SpendingRule:
    """Add a tenant rule (staff) or a customer's rule (audited)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        return await rule_add(uow, ctx, request)


def _visible(ctx: Context) -> Any:
    stmt = select(SpendingRule).where(SpendingRule.tenant_id == ctx.tenant_id)
    if is_portal(ctx):
        # A portal user sees its customers' rules, not the tenant's.
        return scope_customers(stmt, SpendingRule.customer_id, ctx)
    return stmt


async def rule_list(
    db: Database, ctx: Context, *, customer_id: uuid.UUID | None, cursor: str | None, limit: int
) -> tuple[list[SpendingRule], str | None]:
    """The rules the caller may see, oldest first, optionally of one customer."""
    stmt = _visible(ctx)
    if customer_id is not None:
        stmt = stmt.where(SpendingRule.customer_id == customer_id)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows: list[SpendingRule]
        rows, next_cursor = await keyset_page(
            uow.session,
            stmt,
            keys=[SpendingRule.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda r: [str(r.id)],
        )
    return rows, next_cursor


async def rule_delete(db: Database, ctx: Context, *, rule_id: uuid.UUID) -> None:
    """Delete a rule the caller may change (a portal user: of a customer it owns; audited)."""
    stmt = select(SpendingRule).where(
        SpendingRule.tenant_id == ctx.tenant_id, SpendingRule.id == rule_id
    )
    if is_portal(ctx):
        stmt = scope_customers(stmt, SpendingRule.customer_id, ctx, PAY_ROLES)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        found = (await uow.session.execute(stmt)).scalar_one_or_none()
        if found is None:
            raise RuleNotFound(f"Rule {rule_id} was not found.")
        await uow.session.execute(
            delete(SpendingRule).where(
                SpendingRule.tenant_id == ctx.tenant_id, SpendingRule.id == rule_id
            )
        )
        await audit_record(
            uow,
            ctx=ctx,
            action="banking.spending_rule.deleted",
            object_type="spending_rule",
            object_id=rule_id,
            before={"category": found.category, "customer_id": str(found.customer_id or "")},
        )
