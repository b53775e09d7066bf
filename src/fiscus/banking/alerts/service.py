"""Alert writes, and the check every money-moving banking use case runs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.banking._scope import scope_accounts
from fiscus.banking.alerts.errors import AlertLimitReached, AlertNotFound
from fiscus.banking.alerts.models import BankAlert
from fiscus.banking.errors import BankAccountNotFound
from fiscus.banking.models import BankAccount, BankCustomerUser
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.ledger.queries import balance_in

ALERT_TRIGGERED = "banking.alert.triggered"
MAX_ALERTS_PER_ACCOUNT = 10


@dataclass(frozen=True, slots=True)
class Movement:
    """Money that just moved on a bank account in the caller's unit of work: `amount`
    minor units, positive in, negative out. The optional fields describe it for spending
    insights' categorisation rules (`banking.insights`); alerts do not read them."""

    account_id: uuid.UUID
    ledger_account_id: uuid.UUID
    amount: int
    currency: str
    transfer_id: uuid.UUID
    reference: str | None = None
    counterparty_iban: str | None = None
    counterparty_name: str | None = None
    counterparty_account_id: uuid.UUID | None = None
    # A card merchant category code (ISO 18245), for the cards module to pass.
    merchant_code: str | None = None


async def alert_create(
    db: Database,
    ctx: Context,
    *,
    account_id: uuid.UUID,
    kind: str,
    threshold: int,
) -> BankAlert:
    """Set an alert on an account the caller may see (audited)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        stmt = select(BankAccount.customer_id, BankAccount.currency).where(
            BankAccount.tenant_id == ctx.tenant_id, BankAccount.id == account_id
        )
        found = (
            await uow.session.execute(
                scope_accounts(stmt, BankAccount.id, BankAccount.customer_id, ctx)
            )
        ).first()
        if found is None:
            raise BankAccountNotFound(f"Account {account_id} was not found.")
        count = (
            await uow.session.execute(
                select(func.count()).where(
                    BankAlert.tenant_id == ctx.tenant_id, BankAlert.account_id == account_id
                )
            )
        ).scalar_one()
        if count >= MAX_ALERTS_PER_ACCOUNT:
            raise AlertLimitReached(
                f"Account {account_id} has {MAX_ALERTS_PER_ACCOUNT} alerts; delete one first."
            )
        alert = BankAlert(
            tenant_id=ctx.tenant_id,
            id=new_id(),
            account_id=account_id,
            customer_id=found.customer_id,
            kind=kind,
            threshold=threshold,
            currency=found.currency,
            created_by=ctx.actor_id,
            created_at=clock.now(),
            last_triggered_at=None,
        )
        uow.session.add(alert)
        await uow.session.flush()
        await audit_record(
            uow,
            ctx=ctx,
            action="banking.alert.created",
            object_type="bank_alert",
            object_id=alert.id,
            after={"account_id": str(account_id), "kind": kind, "threshold": threshold},
        )
    return alert


def _visible(ctx: Context) -> Any:
    stmt = select(BankAlert).where(BankAlert.tenant_id == ctx.tenant_id)
    return scope_accounts(stmt, BankAlert.account_id, BankAlert.customer_id, ctx)


async def alert_list(
    db: Database, ctx: Context, *, account_id: uuid.UUID | None
) -> list[BankAlert]:
    """The alerts the caller may see, oldest first (at most 10 per account)."""
    stmt = _visible(ctx)
    if account_id is not None:
        stmt = stmt.where(BankAlert.account_id == account_id)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        return list((await uow.session.execute(stmt.order_by(BankAlert.id).limit(500))).scalars())


async def alert_delete(db: Database, ctx: Context, *, alert_id: uuid.UUID) -> None:
    """Delete an alert the caller may see (audited)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        found = (
            await uow.session.execute(_visible(ctx).where(BankAlert.id == alert_id))
        ).scalar_one_or_none()
        if found is None:
            raise AlertNotFound(f"Alert {alert_id} was not found.")
        await uow.session.execute(
            delete(BankAlert).where(BankAlert.tenant_id == ctx.tenant_id, BankAlert.id == alert_id)
        )
        await audit_record(
            uow,
            ctx=ctx,
            action="banking.alert.deleted",
            object_type="bank_alert",
            object_id=alert_id,
            before={"account_id": str(found.account_id), "kind": found.kind},
        )


async def alerts_check(uow: UnitOfWork, ctx: Context, movements: Sequence[Movement]) -> int:
    """Fire the alerts these movements trip, in the caller's unit of work; how many fired.

    One look-up when no alert is set on the accounts; the balance is read only for
    accounts with a low-balance alert, the recipients only when something fires."""
    by_account = {m.account_id: m for m in movements}
    alerts = (
        (
            await uow.session.execute(
                select(BankAlert)
                .where(
                    BankAlert.tenant_id == ctx.tenant_id,
                    BankAlert.account_id.in_(list(by_account)),
                )
                .order_by(BankAlert.id)
            )
        )
        .scalars()
        .all()
    )
    if not alerts:
        return 0
    fired: list[tuple[BankAlert, Movement, int | None]] = []
    balances: dict[uuid.UUID, int] = {}
    for alert in alerts:
        movement = by_account[alert.account_id]
        if alert.kind == "large_transaction":
            if abs(movement.amount) >= alert.threshold:
                fired.append((alert, movement, None))
            continue
        if movement.account_id not in balances:
            read = await balance_in(
                uow, tenant_id=ctx.tenant_id, account_id=movement.ledger_account_id
            )
            balances[movement.account_id] = read.balance
        after = balances[movement.account_id]
        before = after - movement.amount
        if after < alert.threshold <= before:
            fired.append((alert, movement, after))
    if fired:
        await _announce(uow, ctx, fired)
    return len(fired)


async def portal_users_of(
    uow: UnitOfWork, ctx: Context, customer_ids: set[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """The portal users linked to each customer (the `user_ids` messaging tells)."""
    rows = await uow.session.execute(
        select(BankCustomerUser.customer_id, BankCustomerUser.user_id).where(
            BankCustomerUser.tenant_id == ctx.tenant_id,
            BankCustomerUser.customer_id.in_(customer_ids),
        )
    )
    users: dict[uuid.UUID, list[str]] = {}
    for customer_id, user_id in rows.all():
        users.setdefault(customer_id, []).append(str(user_id))
    return users


async def _announce(
    uow: UnitOfWork, ctx: Context, fired: list[tuple[BankAlert, Movement, int | None]]
) -> None:
    users = await portal_users_of(uow, ctx, {alert.customer_id for alert, _, _ in fired})
    now = clock.now()
    for alert, movement, balance in fired:
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=ALERT_TRIGGERED,
            subject=f"bank_account/{alert.account_id}",
            payload={
                "alert_id": str(alert.id),
                "account_id": str(alert.account_id),
                "customer_id": str(alert.customer_id),
                "kind": alert.kind,
                "threshold": alert.threshold,
                "amount": movement.amount,
                "balance": balance,
                "currency": alert.currency,
                "transfer_id": str(movement.transfer_id),
                "user_ids": sorted(users.get(alert.customer_id, [])),
            },
        )
    await uow.session.execute(
        update(BankAlert)
        .where(
            BankAlert.tenant_id == ctx.tenant_id,
            BankAlert.id.in_([alert.id for alert, _, _ in fired]),
        )
        .values(last_triggered_at=now)
    )
