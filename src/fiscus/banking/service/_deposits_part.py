"""Deposits: cash paid in at the bank, from the currency's settlement account."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.banking.alerts.service import Movement, alerts_check
from fiscus.banking.errors import BankAccountNotFound
from fiscus.banking.insights.service import movements_categorise
from fiscus.banking.models import BankAccount, BankLedgerAccount
from fiscus.banking.schemas import DepositCreate
from fiscus.banking.service._transfers_part import (
    Moved,
    Side,
    check_receiving,
    key_race,
    new_transfer,
    post_transfer,
    record_transfer,
    replay_of,
    sides_locked,
    transfer_by_id,
)
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.events import emit
from fiscus.ledger.queries import balance_in

DEPOSIT_COMPLETED = "banking.deposit.completed"
ACCOUNT_ACTIVATED = "banking.account.activated"


async def deposit_create(
    db: Database, ctx: Context, *, account_id: uuid.UUID, request: DepositCreate, key: str
) -> Moved:
    """Pay cash into an account from the settlement account; a pending account becomes
    active once it holds its product's minimum opening balance."""
    values = {
        "kind": "deposit",
        "from_account_id": None,
        "to_account_id": account_id,
        "amount": request.amount,
        "currency": request.currency,
        "reference": request.reference,
    }

    async def operation(uow: UnitOfWork) -> Moved:
        if (first := await replay_of(uow, ctx, key, values)) is not None:
            return Moved(first, True)
        sides = await sides_locked(uow, ctx, ids=[account_id], iban=None)
        if not sides:
            raise BankAccountNotFound(f"Account {account_id} was not found.")
        [side] = sides
        check_receiving(side, request.currency, "deposit")
        settlement = (
            await uow.session.execute(
                select(BankLedgerAccount.ledger_account_id).where(
                    BankLedgerAccount.tenant_id == ctx.tenant_id,
                    BankLedgerAccount.currency == side.currency,
                    BankLedgerAccount.purpose == "settlement",
                )
            )
        ).scalar_one()
        transfer_id, replayed = await post_transfer(
            uow,
            ctx,
            debit=settlement,
            credit=side.ledger_account_id,
            amount=request.amount,
            currency=request.currency,
            reference=request.reference,
            key=key,
            sender=None,
        )
        if replayed:
            return Moved(await transfer_by_id(uow, ctx, transfer_id), True)
        transfer = new_transfer(ctx, transfer_id, key, values, side.customer_id)
        payload = await record_transfer(uow, ctx, transfer, DEPOSIT_COMPLETED)
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=DEPOSIT_COMPLETED,
            subject=f"bank_transfer/{transfer.id}",
            payload=payload,
        )
        movements = [
            Movement(side.id, side.ledger_account_id, request.amount, request.currency,
                     transfer.id, reference=request.reference)
        ]  # fmt: skip
        await alerts_check(uow, ctx, movements)
        await movements_categorise(uow, ctx, movements)
        if side.status == "pending":
            await _activate_when_funded(uow, ctx, side)
        return Moved(transfer, False)

    return await db.run(operation, tenant_id=ctx.tenant_id, retry_when=key_race)


async def _activate_when_funded(uow: UnitOfWork, ctx: Context, side: Side) -> None:
    balance = await balance_in(uow, tenant_id=ctx.tenant_id, account_id=side.ledger_account_id)
    if balance.balance < side.minimum_opening_balance:
        return
    # The share lock this use case holds keeps the row as read; the update upgrades it.
    await uow.session.execute(
        update(BankAccount)
        .where(BankAccount.tenant_id == ctx.tenant_id, BankAccount.id == side.id)
        .values(status="active", updated_at=clock.now())
    )
    await audit_record(
        uow,
        ctx=ctx,
        action=ACCOUNT_ACTIVATED,
        object_type="bank_account",
        object_id=side.id,
        before={"status": "pending"},
        after={"status": "active"},
    )
    await emit(
        uow,
        tenant_id=ctx.tenant_id,
        type=ACCOUNT_ACTIVATED,
        subject=f"bank_account/{side.id}",
        payload={
            "account_id": str(side.id),
            "customer_id": str(side.customer_id),
            "ledger_account_id": str(side.ledger_account_id),
            "currency": side.currency,
            "status": "active",
            "previous_status": "pending",
        },
    )
