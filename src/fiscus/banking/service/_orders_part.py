"""The business date, standing orders and scheduled transfers, and the job that pays them.

A scheduled (future-dated) transfer is a standing order with `count` 1. An order keeps its
first unsettled occurrence in `next_due_date`; the job pays each occurrence on or before
the tenant's business date (catching up the days it missed) through the internal transfer
use case, in one transaction that also locks the order row, writes the occurrence's
execution row (unique per order and due date) and moves `next_due_date` on. The ledger
posting carries the key `standing-order:<order>:<due date>` too. So a second run, a
concurrent run, or a run after a crash finds the occurrence settled and never pays twice.

A refused payment (short of funds, frozen, over a limit...) rolls back and is recorded in
its own transaction as a failed attempt: retried by a later run `retry.every_minutes`
later, up to `retry.attempts` times, then marked failed (`banking.standing_order.failed`)
and the order moves on to its next due date.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select

from fiscus.access.context import Context
from fiscus.access.queries import tenant_ids_active
from fiscus.audit.service import audit_record
from fiscus.banking._scope import is_portal, scope_accounts
from fiscus.banking.errors import (
    BusinessDateBackwards,
    StandingOrderNotFound,
    StandingOrderStartPast,
    StandingOrderStatusConflict,
    TransferSameAccount,
)
from fiscus.banking.models import (
    BankBusinessDate,
    BankCustomerUser,
    BankStandingOrder,
    BankStandingOrderExecution,
)
from fiscus.banking.schedule import Recurrence, ScheduleInvalid, occurrences, recurrence
from fiscus.banking.schemas import StandingOrderCreate, StandingOrderUpdate, TransferCreate
from fiscus.banking.service._holders_part import signatures_check
from fiscus.banking.service._transfers_part import (
    _pick,
    check_receiving,
    check_sending,
    iban_normal,
    key_race,
    sides_locked,
    transfer_in,
)
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import DomainError, PermissionDenied, ValidationProblem
from fiscus.core.events import emit
from fiscus.core.ids import new_id

ORDER_EVENTS = {
    verb: f"banking.standing_order.{verb}"
    for verb in (
        "created",
        "updated",
        "paused",
        "resumed",
        "cancelled",
        "executed",
        "failed",
        "completed",
    )
}
BUSINESS_DATE_ADVANCED = "banking.business_date.advanced"
# Limits (STYLE rule 14): orders per tenant per run, occurrences caught up per order per run.
MAX_ORDERS_PER_RUN = 1_000
MAX_OCCURRENCES_PER_ORDER = 400

Outcome = Literal["paid", "retrying", "failed", "waiting", "none"]


# --- Business date ----------------------------------------------------------------------


async def business_date_in(uow: UnitOfWork, *, tenant_id: uuid.UUID) -> date:
    """The tenant's business date: its stored one, or today in UTC."""
    row = await uow.session.get(BankBusinessDate, tenant_id)
    return row.business_date if row is not None else clock.now().date()


async def business_date_get(db: Database, ctx: Context) -> date:
    """The tenant's business date."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        return await business_date_in(uow, tenant_id=ctx.tenant_id)


async def business_date_set(db: Database, ctx: Context, *, business_date: date) -> date:
    """Move the tenant's business date forward (audited, `banking.business_date.advanced`)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        row = await uow.session.get(BankBusinessDate, ctx.tenant_id, with_for_update=True)
        before = row.business_date if row is not None else clock.now().date()
        if business_date < before:
            raise BusinessDateBackwards(
                f"The business date is {before}; it cannot move back to {business_date}."
            )
        if row is None:
            row = BankBusinessDate(tenant_id=ctx.tenant_id)
            uow.session.add(row)
        row.business_date, row.updated_by, row.updated_at = business_date, ctx.actor_id, clock.now()
        await uow.session.flush()
        change = {"business_date": business_date.isoformat()}
        await audit_record(
            uow,
            ctx=ctx,
            action=BUSINESS_DATE_ADVANCED,
            object_type="business_date",
            object_id=ctx.tenant_id,
            before={"business_date": before.isoformat()},
            after=change,
        )
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=BUSINESS_DATE_ADVANCED,
            subject=f"business_date/{ctx.tenant_id}",
            payload={**change, "previous": before.isoformat()},
        )
    return business_date


# --- Orders -----------------------------------------------------------------------------


def rule_of(order: BankStandingOrder) -> Recurrence:
    """The order's recurrence rule."""
    day = order.day_of_month
    return recurrence(
        frequency=order.frequency,
        start=order.start_date,
        weekday=order.weekday,
        day_of_month=int(day) if day is not None and day.isdigit() else day,
        end=order.end_date,
        count=order.count,
    )


def _payload(order: BankStandingOrder, **more: Any) -> dict[str, Any]:
    return {
        "standing_order_id": str(order.id),
        "customer_id": str(order.customer_id),
        "from_account_id": str(order.from_account_id),
        "to_account_id": str(order.to_account_id),
        "amount": order.amount,
        "currency": order.currency,
        "status": order.status,
        "next_due_date": order.next_due_date.isoformat() if order.next_due_date else None,
        **more,
    }


async def _record(
    uow: UnitOfWork,
    ctx: Context,
    order: BankStandingOrder,
    verb: str,
    before: dict[str, Any] | None = None,
    **more: Any,
) -> None:
    """Audit and emit `banking.standing_order.<verb>` for the order as it is now."""
    event_type = ORDER_EVENTS[verb]
    payload = _payload(order, **more)
    after = {k: v for k, v in payload.items() if k != "standing_order_id"}
    await audit_record(
        uow,
        ctx=ctx,
        action=event_type,
        object_type="standing_order",
        object_id=order.id,
        before=before,
        after=after,
    )
    await emit(
        uow,
        tenant_id=ctx.tenant_id,
        type=ORDER_EVENTS[verb],
        subject=f"standing_order/{order.id}",
        payload=payload,
    )


def _first_due(rule: Recurrence, since: date) -> date | None:
    return next(occurrences(rule, since=since), None)


async def standing_order_create(
    db: Database, ctx: Context, *, request: StandingOrderCreate
) -> BankStandingOrder:
    """Set up a standing order (or a scheduled transfer) from an account the caller may pay
    from, to an account of the tenant (by id or IBAN); audited, `...standing_order.created`."""
    rule = recurrence(
        frequency=request.frequency,
        start=request.start_date,
        weekday=request.weekday,
        day_of_month=request.day,
        end=request.end_date,
        count=request.count,
    )
    iban = iban_normal(request.to_iban) if request.to_iban is not None else None
    if request.from_account_id == request.to_account_id:
        raise TransferSameAccount("The accounts must differ.", field="to_account_id")
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        today = await business_date_in(uow, tenant_id=ctx.tenant_id)
        if request.start_date < today:
            raise StandingOrderStartPast(
                f"The order starts on {request.start_date}, before the business date {today}."
            )
        ids = [request.from_account_id, *filter(None, [request.to_account_id])]
        sender, receiver = _pick(
            ctx, await sides_locked(uow, ctx, ids=ids, iban=iban), request, iban
        )
        if sender.id == receiver.id:
            raise TransferSameAccount("The accounts must differ.", field="to_iban")
        check_sending(ctx, sender, request.currency)
        check_receiving(receiver, request.currency, "transfer_in")
        if sender.signing_rule == "all":
            await signatures_check(uow, ctx, sender.id)
        first = _first_due(rule, request.start_date)
        if first is None:
            raise ScheduleInvalid("The schedule has no due date.", field="end_date")
        now = clock.now()
        order = BankStandingOrder(
            tenant_id=ctx.tenant_id,
            id=new_id(),
            customer_id=sender.customer_id,
            from_account_id=sender.id,
            to_account_id=receiver.id,
            amount=request.amount,
            currency=request.currency,
            reference=request.reference,
            frequency=request.frequency,
            day_of_month=None if request.day is None else str(request.day),
            weekday=request.weekday,
            start_date=request.start_date,
            end_date=request.end_date,
            count=request.count,
            retry_attempts=request.retry.attempts,
            retry_every_minutes=request.retry.every_minutes,
            status="active",
            next_due_date=first,
            executed_count=0,
            created_by=ctx.actor_id,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(order)
        await uow.session.flush()
        await _record(uow, ctx, order, "created")
    return order


async def order_locked(uow: UnitOfWork, ctx: Context, order_id: uuid.UUID) -> BankStandingOrder:
    """The order, locked for update, if the caller may change it; else 404 (or 403 for a
    portal user who may only read it)."""
    stmt = select(BankStandingOrder).where(
        BankStandingOrder.tenant_id == ctx.tenant_id, BankStandingOrder.id == order_id
    )
    account, customer = BankStandingOrder.from_account_id, BankStandingOrder.customer_id
    visible = scope_accounts(stmt, account, customer, ctx)
    order: BankStandingOrder | None = (
        await uow.session.execute(visible.with_for_update())
    ).scalar_one_or_none()
    if order is None:
        raise StandingOrderNotFound(f"Standing order {order_id} was not found.")
    if is_portal(ctx):
        payable = scope_accounts(stmt, account, customer, ctx, signing=True)
        if (await uow.session.execute(payable)).first() is None:
            raise PermissionDenied("Only an owner of the order's customer may change it.")
    return order


def _snapshot(order: BankStandingOrder) -> dict[str, Any]:
    return {k: v for k, v in _payload(order).items() if k != "standing_order_id"}


def _settle_rest(order: BankStandingOrder, since: date | None) -> None:
    """Point the order at its first due date on or after `since`, or complete it."""
    following = _first_due(rule_of(order), since) if since is not None else None
    order.next_due_date = following
    if following is None:
        order.status = "completed"


_MOVES: dict[str, tuple[tuple[str, ...], str]] = {
    "pause": (("active",), "paused"),
    "resume": (("paused",), "active"),
    "cancel": (("active", "paused"), "cancelled"),
}
_VERBS = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}


async def standing_order_change_status(
    db: Database, ctx: Context, *, order_id: uuid.UUID, action: str
) -> BankStandingOrder:
    """Pause, resume or cancel an order (audited and evented). A resumed order skips the
    due dates that passed while it was paused."""
    allowed, status = _MOVES[action]
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        order = await order_locked(uow, ctx, order_id)
        if order.status not in allowed:
            raise StandingOrderStatusConflict(f"A {order.status} standing order cannot {action}.")
        before = _snapshot(order)
        order.status, order.updated_at = status, clock.now()
        if status == "cancelled":
            order.next_due_date = None
        elif status == "active":
            today = await business_date_in(uow, tenant_id=ctx.tenant_id)
            assert order.next_due_date is not None
            _settle_rest(order, max(order.next_due_date, today))
        await uow.session.flush()
        await _record(uow, ctx, order, _VERBS[action], before)
    return order


async def standing_order_update(
    db: Database, ctx: Context, *, order_id: uuid.UUID, request: StandingOrderUpdate
) -> BankStandingOrder:
    """Change an order's amount, reference or end (`end_date` or `count`, replaced together);
    an end that leaves no further due date completes it."""
    changes = request.model_fields_set
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        order = await order_locked(uow, ctx, order_id)
        if order.status not in ("active", "paused"):
            raise StandingOrderStatusConflict(f"A {order.status} standing order cannot change.")
        before = _snapshot(order)
        if "amount" in changes:
            assert request.amount is not None, "the schema refuses an explicit null"
            order.amount = request.amount
        if "reference" in changes:
            order.reference = request.reference
        if changes & {"end_date", "count"}:
            order.end_date, order.count = request.end_date, request.count
            rule_of(order)  # ScheduleInvalid (400) when the new end does not fit
            _settle_rest(order, order.next_due_date)
        order.updated_at = clock.now()
        await uow.session.flush()
        await _record(uow, ctx, order, "updated", before, fields=sorted(changes))
    return order


# --- Execution --------------------------------------------------------------------------


@dataclass(slots=True)
class RunReport:
    """What a run of the standing-order job did."""

    orders: int = 0
    paid: int = 0
    retrying: int = 0
    failed: int = 0
    tenants: list[uuid.UUID] = field(default_factory=list)

    def count(self, outcome: Outcome) -> None:
        if outcome in ("paid", "retrying", "failed"):
            setattr(self, outcome, getattr(self, outcome) + 1)


def job_context(tenant_id: uuid.UUID) -> Context:
    """Who pays standing orders: the bank itself (the `branch` channel's limits apply)."""
    return Context.system(tenant_id, permissions=frozenset())


async def _execution(
    uow: UnitOfWork, order: BankStandingOrder, due: date
) -> BankStandingOrderExecution | None:
    return (
        await uow.session.execute(
            select(BankStandingOrderExecution).where(
                BankStandingOrderExecution.tenant_id == order.tenant_id,
                BankStandingOrderExecution.order_id == order.id,
                BankStandingOrderExecution.due_date == due,
            )
        )
    ).scalar_one_or_none()


async def _due_locked(
    uow: UnitOfWork, ctx: Context, order_id: uuid.UUID, through: date
) -> BankStandingOrder | None:
    """The order, locked, if it is active and has an occurrence due by `through`."""
    order = (
        await uow.session.execute(
            select(BankStandingOrder)
            .where(BankStandingOrder.tenant_id == ctx.tenant_id, BankStandingOrder.id == order_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if order is None or order.status != "active" or order.next_due_date is None:
        return None
    return order if order.next_due_date <= through else None


def _settled(
    uow: UnitOfWork, order: BankStandingOrder, found: BankStandingOrderExecution | None, due: date
) -> BankStandingOrderExecution:
    now = clock.now()
    if found is None:
        found = BankStandingOrderExecution(
            tenant_id=order.tenant_id,
            id=new_id(),
            order_id=order.id,
            due_date=due,
            attempts=0,
            created_at=now,
        )
        uow.session.add(found)
    found.attempts += 1
    found.updated_at = now
    return found


async def _pay_occurrence(
    uow: UnitOfWork, ctx: Context, order_id: uuid.UUID, through: date, now: datetime
) -> Outcome:
    order = await _due_locked(uow, ctx, order_id, through)
    if order is None:
        return "none"
    due = order.next_due_date
    assert due is not None
    found = await _execution(uow, order, due)
    if found is not None and found.retry_at is not None and found.retry_at > now:
        return "waiting"
    request = TransferCreate(
        from_account_id=order.from_account_id,
        to_account_id=order.to_account_id,
        amount=order.amount,
        currency=order.currency,
        reference=order.reference,
    )
    values = {"kind": "internal", **request.model_dump(exclude={"to_iban"})}
    moved = await transfer_in(
        uow,
        ctx,
        request=request,
        key=f"standing-order:{order.id}:{due.isoformat()}",
        iban=None,
        values=values,
    )
    execution = _settled(uow, order, found, due)
    execution.status, execution.transfer_id, execution.retry_at = "paid", moved.transfer.id, None
    order.executed_count += 1
    await _advance(uow, order, due)
    await _record(
        uow, ctx, order, "executed", due_date=due.isoformat(), transfer_id=str(moved.transfer.id)
    )
    await _completed_maybe(uow, ctx, order)
    return "paid"


async def _advance(uow: UnitOfWork, order: BankStandingOrder, due: date) -> None:
    _settle_rest(order, due + timedelta(days=1))
    order.updated_at = clock.now()
    await uow.session.flush()


async def _completed_maybe(uow: UnitOfWork, ctx: Context, order: BankStandingOrder) -> None:
    if order.status == "completed":
        await _record(uow, ctx, order, "completed")


async def _portal_users(uow: UnitOfWork, ctx: Context, customer_id: uuid.UUID) -> list[str]:
    """The customer's portal users (messaging tells them), sorted."""
    rows = await uow.session.execute(
        select(BankCustomerUser.user_id).where(
            BankCustomerUser.tenant_id == ctx.tenant_id,
            BankCustomerUser.customer_id == customer_id,
        )
    )
    return sorted(str(user) for user in rows.scalars())


async def _refused_occurrence(
    uow: UnitOfWork,
    ctx: Context,
    order_id: uuid.UUID,
    through: date,
    refusal: DomainError,
) -> Outcome:
    """Record a refused attempt: retry later, or (attempts used up) fail the occurrence."""
    order = await _due_locked(uow, ctx, order_id, through)
    if order is None:
        return "none"
    due = order.next_due_date
    assert due is not None
    execution = _settled(uow, order, await _execution(uow, order, due), due)
    execution.last_error = refusal.type_slug
    if execution.attempts <= order.retry_attempts:
        execution.status = "retrying"
        execution.retry_at = clock.now() + timedelta(minutes=order.retry_every_minutes)
        await uow.session.flush()
        return "retrying"
    execution.status, execution.retry_at = "failed", None
    await _advance(uow, order, due)
    await _record(
        uow,
        ctx,
        order,
        "failed",
        due_date=due.isoformat(),
        error=refusal.type_slug,
        detail=refusal.detail,
        attempts=execution.attempts,
        user_ids=await _portal_users(uow, ctx, order.customer_id),
    )
    await _completed_maybe(uow, ctx, order)
    return "failed"


async def standing_order_execute(
    db: Database, *, tenant_id: uuid.UUID, order_id: uuid.UUID, through: date
) -> Outcome:
    """Settle the order's next occurrence due by `through`: pay it, or record a refused
    attempt. 'none' when nothing is due, 'waiting' when a retry's time has not come."""
    ctx = job_context(tenant_id)
    now = clock.now()

    async def pay(uow: UnitOfWork) -> Outcome:
        return await _pay_occurrence(uow, ctx, order_id, through, now)

    try:
        return await db.run(pay, tenant_id=tenant_id, retry_when=key_race)
    except DomainError as error:
        refusal = error

    async def refuse(uow: UnitOfWork) -> Outcome:
        return await _refused_occurrence(uow, ctx, order_id, through, refusal)

    return await db.run(refuse, tenant_id=tenant_id)


async def standing_orders_run(
    db: Database,
    *,
    tenant_id: uuid.UUID,
    on_date: date | None = None,
    on_order: Callable[[uuid.UUID, Outcome], None] | None = None,
) -> RunReport:
    """Pay every occurrence due by `on_date` (default, and at most, the tenant's business
    date), oldest first per order; `on_order(order_id, last outcome)` after each order."""
    async with db.uow(tenant_id=tenant_id) as uow:
        today = await business_date_in(uow, tenant_id=tenant_id)
        through = on_date or today
        if through > today:
            raise ValidationProblem(
                f"{through} is after the business date {today}: advance the business date first.",
                field="date",
            )
        order_ids = list(
            (
                await uow.session.execute(
                    select(BankStandingOrder.id)
                    .where(
                        BankStandingOrder.tenant_id == tenant_id,
                        BankStandingOrder.status == "active",
                        BankStandingOrder.next_due_date <= through,
                    )
                    .order_by(BankStandingOrder.id)
                    .limit(MAX_ORDERS_PER_RUN)
                )
            ).scalars()
        )
    report = RunReport(tenants=[tenant_id])
    for order_id in order_ids:
        outcome: Outcome = "none"
        for _ in range(MAX_OCCURRENCES_PER_ORDER):
            outcome = await standing_order_execute(
                db, tenant_id=tenant_id, order_id=order_id, through=through
            )
            report.count(outcome)
            if outcome in ("none", "waiting", "retrying"):
                break
        report.orders += 1
        if on_order is not None:
            on_order(order_id, outcome)
    return report


async def standing_orders_run_all(
    db: Database, *, on_order: Callable[[uuid.UUID, Outcome], None] | None = None
) -> RunReport:
    """Run every active tenant's due standing orders for its own business date."""
    async with db.uow() as uow:
        tenant_ids = await tenant_ids_active(uow)
    total = RunReport()
    for tenant_id in tenant_ids:
        done = await standing_orders_run(db, tenant_id=tenant_id, on_order=on_order)
        total.orders += done.orders
        total.paid += done.paid
        total.retrying += done.retrying
        total.failed += done.failed
        total.tenants.append(tenant_id)
    return total


async def transfer_schedule(
    db: Database, ctx: Context, *, request: TransferCreate, on: date
) -> BankStandingOrder:
    """A scheduled transfer: a standing order that pays `request` once, on `on`."""
    order = StandingOrderCreate(
        **request.model_dump(include=set(TransferCreate.model_fields)),
        frequency="daily",
        start_date=on,
        count=1,
    )
    return await standing_order_create(db, ctx, request=order)
