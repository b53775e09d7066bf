"""/v1/standing-orders and /v1/banking/business-date: scheduled payments and the day
they run for."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.banking import queries, service
from fiscus.banking.models import BankStandingOrder
from fiscus.banking.schemas import (
    BusinessDateRead,
    BusinessDateWrite,
    ExecutionList,
    ExecutionRead,
    OrderStatus,
    RetryPolicy,
    StandingOrderCreate,
    StandingOrderPage,
    StandingOrderRead,
    StandingOrderUpdate,
)
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import idempotent, model_response
from fiscus.core.pagination import Cursor, Limit
from fiscus.deps import DatabaseDep, IdempotencyDep

router = APIRouter(tags=["banking"])
Reader = Annotated[Context, authorized("bank_standing_orders:read")]
Manager = Annotated[Context, authorized("bank_standing_orders:manage")]
ORDERS = "/v1/standing-orders"
BUSINESS_DATE = "/v1/banking/business-date"


def order_read(order: BankStandingOrder) -> StandingOrderRead:
    """The API view of an order."""
    day = order.day_of_month
    return StandingOrderRead(
        id=order.id,
        customer_id=order.customer_id,
        from_account_id=order.from_account_id,
        to_account_id=order.to_account_id,
        amount=order.amount,
        currency=order.currency,
        reference=order.reference,
        frequency=order.frequency,
        day=int(day) if day is not None and day.isdigit() else day,
        weekday=order.weekday,
        start_date=order.start_date,
        end_date=order.end_date,
        count=order.count,
        retry=RetryPolicy(attempts=order.retry_attempts, every_minutes=order.retry_every_minutes),
        status=order.status,
        next_due_date=order.next_due_date,
        executed_count=order.executed_count,
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


@router.get(
    BUSINESS_DATE,
    summary="The tenant's banking business date",
    response_model=BusinessDateRead,
    responses=problem_responses(401, 403),
)
async def get_business_date(
    ctx: Annotated[Context, authorized("bank_business_date:read")], db: DatabaseDep
) -> BusinessDateRead:
    """The day scheduled work (standing orders) runs for; today in UTC until staff set it."""
    return BusinessDateRead(business_date=await service.business_date_get(db, ctx))


@router.post(
    BUSINESS_DATE,
    summary="Advance the business date",
    response_model=BusinessDateRead,
    responses=problem_responses(400, 401, 403, 409),
)
async def set_business_date(
    body: BusinessDateWrite,
    ctx: Annotated[Context, authorized("bank_business_date:manage")],
    db: DatabaseDep,
) -> BusinessDateRead:
    """Moves it forward (never back: `business-date-backwards`); audited. The next run of
    the standing-order job pays everything due up to it."""
    done = await service.business_date_set(db, ctx, business_date=body.business_date)
    return BusinessDateRead(business_date=done)


@router.post(
    ORDERS,
    status_code=201,
    summary="Set up a standing order or a scheduled transfer",
    response_model=StandingOrderRead,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def create_standing_order(
    body: StandingOrderCreate,
    request: Request,
    ctx: Manager,
    db: DatabaseDep,
    store: IdempotencyDep,
) -> Response:
    """Pays from `from_account_id` on each due date; a scheduled transfer is `count: 1`.
    Refusals: `schedule-invalid`, `standing-order-start-in-past`, `iban-invalid`,
    `transfer-same-account`, `bank-account-not-found`, `account-frozen`, `account-dormant`,
    `account-not-active`, `account-closed`, `account-currency-mismatch`,
    `operation-not-allowed`. A portal user sets up orders only from accounts they own."""

    async def handler() -> Response:
        order = await service.standing_order_create(db, ctx, request=body)
        return model_response(order_read(order), status_code=201)

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=False, handler=handler
    )


@router.get(
    ORDERS,
    summary="List standing orders",
    response_model=StandingOrderPage,
    responses=problem_responses(400, 401, 403),
)
async def list_standing_orders(
    ctx: Reader,
    db: DatabaseDep,
    account_id: uuid.UUID | None = None,
    status: Annotated[OrderStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> StandingOrderPage:
    """Oldest first; a portal user sees only their customers' orders."""
    rows, next_cursor = await queries.standing_order_list(
        db, ctx, account_id=account_id, status=status, cursor=cursor, limit=limit
    )
    return StandingOrderPage(data=[order_read(o) for o in rows], next_cursor=next_cursor)


@router.get(
    ORDERS + "/{order_id}",
    summary="One standing order",
    response_model=StandingOrderRead,
    responses=problem_responses(401, 403, 404),
)
async def get_standing_order(
    order_id: uuid.UUID, ctx: Reader, db: DatabaseDep
) -> StandingOrderRead:
    """A standing order the caller may see."""
    return order_read(await queries.standing_order_get(db, ctx, order_id=order_id))


@router.get(
    ORDERS + "/{order_id}/executions",
    summary="A standing order's occurrences",
    response_model=ExecutionList,
    responses=problem_responses(401, 403, 404),
)
async def list_executions(order_id: uuid.UUID, ctx: Reader, db: DatabaseDep) -> ExecutionList:
    """Paid, retrying and failed occurrences, newest first (the last 100)."""
    rows = await queries.standing_order_executions(db, ctx, order_id=order_id)
    return ExecutionList(data=[ExecutionRead.model_validate(r) for r in rows])


@router.patch(
    ORDERS + "/{order_id}",
    summary="Change a standing order's amount, reference or end",
    response_model=StandingOrderRead,
    responses=problem_responses(400, 401, 403, 404, 409),
)
async def update_standing_order(
    order_id: uuid.UUID, body: StandingOrderUpdate, ctx: Manager, db: DatabaseDep
) -> StandingOrderRead:
    """Audited. `end_date` and `count` replace the order's end together (`schedule-invalid`
    if both are given); an end before the next due date completes the order. Only an active
    or paused order changes (`standing-order-status-conflict`)."""
    order = await service.standing_order_update(db, ctx, order_id=order_id, request=body)
    return order_read(order)


def _action_route(action: str, summary: str, doc: str) -> None:
    async def act(order_id: uuid.UUID, ctx: Manager, db: DatabaseDep) -> StandingOrderRead:
        order = await service.standing_order_change_status(
            db, ctx, order_id=order_id, action=action
        )
        return order_read(order)

    act.__doc__ = doc
    router.add_api_route(
        ORDERS + "/{order_id}/" + action,
        act,
        methods=["POST"],
        name=f"{action}_standing_order",
        summary=summary,
        response_model=StandingOrderRead,
        responses=problem_responses(401, 403, 404, 409),
    )


_action_route(
    "pause",
    "Pause a standing order",
    "An active order stops paying until resumed (`standing-order-status-conflict` if not"
    " active); audited.",
)
_action_route(
    "resume",
    "Resume a paused standing order",
    "Pays again from the first due date on or after today's business date: the dates that"
    " passed while paused are skipped, not caught up. Audited.",
)
_action_route(
    "cancel",
    "Cancel a standing order",
    "For good: an active or paused order pays nothing more. Audited.",
)
