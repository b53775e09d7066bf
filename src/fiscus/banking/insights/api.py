"""Spending insights: /v1/spending (categories, rules), /v1/budgets, and per account
/v1/accounts/{id}/insights and a transaction's category."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.banking.insights import service
from fiscus.banking.insights.schemas import (
    BudgetCreate,
    BudgetPage,
    BudgetRead,
    BudgetUpdate,
    CategorisedRead,
    CategoryCreate,
    CategoryList,
    CategoryRead,
    CategorySet,
    InsightsRead,
    RuleCreate,
    RulePage,
    RuleRead,
)
from fiscus.core.clock import CalendarDate
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import idempotent, model_response
from fiscus.core.pagination import Cursor, Limit
from fiscus.deps import DatabaseDep, IdempotencyDep

router = APIRouter(tags=["banking"])
Reader = Annotated[Context, authorized("bank_insights:read")]
Categoriser = Annotated[Context, authorized("bank_insights:categorise")]
CategoryManager = Annotated[Context, authorized("bank_spending_categories:manage")]
RuleReader = Annotated[Context, authorized("bank_spending_rules:read")]
RuleManager = Annotated[Context, authorized("bank_spending_rules:manage")]
BudgetReader = Annotated[Context, authorized("bank_budgets:read")]
BudgetManager = Annotated[Context, authorized("bank_budgets:manage")]


def _budget(state: service.BudgetState) -> BudgetRead:
    b = state.budget
    return BudgetRead(
        id=b.id,
        customer_id=b.customer_id,
        category=b.category,
        amount=b.amount,
        currency=b.currency,
        spent_this_month=state.spent_this_month,
        created_at=b.created_at,
    )


@router.get(
    "/v1/spending/categories",
    summary="List spending categories",
    response_model=CategoryList,
    responses=problem_responses(401, 403),
)
async def list_categories(ctx: Reader, db: DatabaseDep) -> CategoryList:
    """The built-in categories every tenant has, then the tenant's own."""
    rows = await service.category_list(db, ctx)
    return CategoryList(data=[CategoryRead.model_validate(c) for c in rows])


@router.post(
    "/v1/spending/categories",
    status_code=201,
    summary="Add a spending category to the tenant",
    response_model=CategoryRead,
    responses=problem_responses(400, 401, 403, 409, 422),
)
async def create_category(
    body: CategoryCreate, request: Request, ctx: CategoryManager, db: DatabaseDep,
    store: IdempotencyDep,
) -> Response:  # fmt: skip
    """A slug already used (built in or added) is `spending-category-exists`."""

    async def handler() -> Response:
        category = await service.category_create(db, ctx, request=body)
        return model_response(CategoryRead.model_validate(category), status_code=201)

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=False, handler=handler
    )


@router.get(
    "/v1/spending/rules",
    summary="List categorisation rules",
    response_model=RulePage,
    responses=problem_responses(400, 401, 403),
)
async def list_rules(
    ctx: RuleReader,
    db: DatabaseDep,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> RulePage:
    """Oldest first. Staff see the tenant's rules and every customer's; a portal user
    only the rules of the customers it acts for."""
    rows, next_cursor = await service.rule_list(
        db, ctx, customer_id=customer_id, cursor=cursor, limit=limit
    )
    return RulePage(data=[RuleRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/v1/spending/rules",
    status_code=201,
    summary="Add a categorisation rule (the tenant's, or a customer's)",
    response_model=RuleRead,
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def create_rule(
    body: RuleCreate, request: Request, ctx: RuleManager, db: DatabaseDep, store: IdempotencyDep
) -> Response:
    """Every condition given must hold; customer rules apply before the tenant's, then
    the lowest `priority`; the first rule that matches gives the category. Text
    conditions are case-insensitive substrings, never regular expressions. A portal user
    adds rules only for customers it owns."""

    async def handler() -> Response:
        rule = await service.rule_create(db, ctx, request=body)
        return model_response(RuleRead.model_validate(rule), status_code=201)

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=False, handler=handler
    )


@router.delete(
    "/v1/spending/rules/{rule_id}",
    status_code=204,
    summary="Delete a categorisation rule",
    responses=problem_responses(401, 403, 404),
)
async def delete_rule(rule_id: uuid.UUID, ctx: RuleManager, db: DatabaseDep) -> Response:
    """Transactions categorised by it keep their category."""
    await service.rule_delete(db, ctx, rule_id=rule_id)
    return Response(status_code=204)


@router.get(
    "/v1/accounts/{account_id}/transactions/{entry_id}/category",
    summary="A transaction's category",
    response_model=CategorisedRead,
    responses=problem_responses(401, 403, 404),
)
async def get_category(
    account_id: uuid.UUID, entry_id: uuid.UUID, ctx: Reader, db: DatabaseDep
) -> CategorisedRead:
    """`entry_id` is the transaction's `transfer_id` in the account's history."""
    found = await service.movement_get(db, ctx, account_id=account_id, transfer_id=entry_id)
    return CategorisedRead.model_validate(found)


@router.patch(
    "/v1/accounts/{account_id}/transactions/{entry_id}/category",
    summary="Re-categorise a transaction (optionally as a rule for the customer)",
    response_model=CategorisedRead,
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def set_category(
    account_id: uuid.UUID, entry_id: uuid.UUID, body: CategorySet, ctx: Categoriser,
    db: DatabaseDep,
) -> CategorisedRead:  # fmt: skip
    """A portal user re-categorises transactions of accounts it owns. With `make_rule`,
    a customer rule (same counterparty, else same reference) gives later ones the same
    category; a transaction with neither is `spending-rule-empty`."""
    done = await service.movement_recategorise(
        db, ctx, account_id=account_id, transfer_id=entry_id, category=body.category,
        make_rule=body.make_rule,
    )  # fmt: skip
    return CategorisedRead.model_validate(done.movement)


@router.get(
    "/v1/accounts/{account_id}/insights",
    summary="Spending by category and month, income and spending, and the trend",
    response_model=InsightsRead,
    responses=problem_responses(400, 401, 403, 404),
)
async def get_insights(
    account_id: uuid.UUID,
    ctx: Reader,
    db: DatabaseDep,
    from_: Annotated[CalendarDate | None, Query(alias="from")] = None,
    to: Annotated[CalendarDate | None, Query()] = None,
) -> InsightsRead:
    """Days `from`..`to` inclusive (YYYY-MM-DD; default this month so far, at most 366
    days) against the same number of days before. Amounts are minor units: a category's
    is money out less money in (refunds lower it); income and spending leave out
    transfers between the customer's own accounts."""
    return await service.account_insights(
        db, ctx, account_id=account_id, period_from=from_, period_to=to
    )


@router.get(
    "/v1/budgets",
    summary="List budgets",
    response_model=BudgetPage,
    responses=problem_responses(400, 401, 403),
)
async def list_budgets(
    ctx: BudgetReader,
    db: DatabaseDep,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> BudgetPage:
    """Oldest first, with what was spent this month; a portal user sees its customers'."""
    rows, next_cursor = await service.budget_list(
        db, ctx, customer_id=customer_id, cursor=cursor, limit=limit
    )
    return BudgetPage(data=[_budget(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/v1/budgets",
    status_code=201,
    summary="Set a monthly budget for a category",
    response_model=BudgetRead,
    responses=problem_responses(400, 401, 403, 404, 409),
)
async def create_budget(
    body: BudgetCreate, request: Request, ctx: BudgetManager, db: DatabaseDep,
    store: IdempotencyDep,
) -> Response:  # fmt: skip
    """The customer's portal users are told (by their message preferences) once per month
    when spending in the category reaches 80 % and again at 100 % of the amount."""

    async def handler() -> Response:
        state = await service.budget_create(db, ctx, request=body)
        return model_response(_budget(state), status_code=201)

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=False, handler=handler
    )


@router.get(
    "/v1/budgets/{budget_id}",
    summary="One budget",
    response_model=BudgetRead,
    responses=problem_responses(401, 403, 404),
)
async def get_budget(budget_id: uuid.UUID, ctx: BudgetReader, db: DatabaseDep) -> BudgetRead:
    """With what was spent this month."""
    return _budget(await service.budget_get(db, ctx, budget_id=budget_id))


@router.patch(
    "/v1/budgets/{budget_id}",
    summary="Change a budget's monthly amount",
    response_model=BudgetRead,
    responses=problem_responses(400, 401, 403, 404),
)
async def update_budget(
    budget_id: uuid.UUID, body: BudgetUpdate, ctx: BudgetManager, db: DatabaseDep
) -> BudgetRead:
    """A threshold the new amount puts spending over is told (once per month)."""
    return _budget(await service.budget_update(db, ctx, budget_id=budget_id, amount=body.amount))


@router.delete(
    "/v1/budgets/{budget_id}",
    status_code=204,
    summary="Delete a budget",
    responses=problem_responses(401, 403, 404),
)
async def delete_budget(budget_id: uuid.UUID, ctx: BudgetManager, db: DatabaseDep) -> Response:
    """Stop the budget and its alerts."""
    await service.budget_delete(db, ctx, budget_id=budget_id)
    return Response(status_code=204)
