"""Deposits and internal transfers: one unit of work each, with the ledger posting in it.

A use case reads and share-locks its accounts in one statement (a freeze or close waits
for it, and it for them), posts through the ledger in the same transaction, consumes the
customer's outgoing limits with a conditional upsert (so concurrent transfers can never
pass a limit together), then records the banking transfer, its event and audit record.

Idempotency: the key is kept on the banking transfer (unique per tenant) and handed to
the ledger (`banking:<key>`), inside the same transaction. A retry finds the first
transfer and returns it; two racing requests with one key meet at the unique indexes,
and the loser's retry finds the winner's transfer.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from psycopg import errors as pg_errors
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import select

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.banking._scope import PAY_ROLES, account_portal_role, is_portal
from fiscus.banking.alerts.service import Movement, alerts_check
from fiscus.banking.errors import (
    AccountClosed,
    AccountCurrencyMismatch,
    AccountDormant,
    AccountFrozen,
    AccountNotActive,
    BankAccountNotFound,
    IbanInvalid,
    InsufficientFunds,
    OperationNotAllowed,
    TransferKeyReused,
    TransferSameAccount,
)
from fiscus.banking.insights.service import movements_categorise
from fiscus.banking.models import (
    BankAccount,
    BankProduct,
    BankTransfer,
)
from fiscus.banking.schemas import TransferCreate
from fiscus.banking.service._holders_part import signatures_check
from fiscus.banking.service._limits_part import limits_consume
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork, database_cause
from fiscus.core.errors import DomainError, PermissionDenied
from fiscus.core.events import emit
from fiscus.ledger.codes import ResultCode
from fiscus.ledger.errors import TransferRefused
from fiscus.ledger.queries import balance_in
from fiscus.ledger.schemas import TransferCreate as LedgerTransfer
from fiscus.ledger.service import transfer_create_in

TRANSFER_COMPLETED = "banking.transfer.completed"
LEDGER_KEY_PREFIX = "banking:"
_SENDING_REFUSED: dict[str, type[DomainError]] = {
    "closed": AccountClosed,
    "frozen": AccountFrozen,
    "dormant": AccountDormant,
    "pending": AccountNotActive,
}


@dataclass(frozen=True, slots=True)
class Moved:
    """A completed banking transfer; `replayed` when a retry found the first one."""

    transfer: BankTransfer
    replayed: bool


@dataclass(frozen=True, slots=True)
class Side:
    """One account of a transfer as the locking read saw it, with its product's rules."""

    id: uuid.UUID
    customer_id: uuid.UUID
    ledger_account_id: uuid.UUID
    currency: str
    status: str
    operations: list[str]
    minimum_opening_balance: int
    minimum_balance: int
    # "owner": the portal user may move its money; "viewer": only read it (any holder).
    portal_role: str | None
    signing_rule: str


def channel_of(ctx: Context) -> str:
    """Which limits apply: API keys are `api`, portal users `online`, staff `branch`."""
    if ctx.actor_type == "api_key":
        return "api"
    return "online" if is_portal(ctx) else "branch"


def key_race(error: BaseException) -> bool:
    """Two requests with one key met at a unique index: the retry finds the winner."""
    cause = database_cause(error)
    return isinstance(cause, pg_errors.UniqueViolation) and any(
        table in str(cause)
        for table in ("ledger_transfers", "banking_transfers", "banking_approvals")
    )


def iban_normal(value: str, field: str = "to_iban") -> str:
    """The IBAN in its electronic form, after checking its check digits (schwifty)."""
    try:
        return str(IBAN(value))
    except (SchwiftyException, ValueError) as error:
        raise IbanInvalid(f"Not a valid IBAN: {error}", field=field) from None


async def sides_locked(
    uow: UnitOfWork, ctx: Context, *, ids: list[uuid.UUID], iban: str | None
) -> list[Side]:
    """The accounts (by id, or by IBAN), share-locked in id order, with their products'
    rules and the caller's portal role for them (through any of their holders)."""
    where: Any = BankAccount.id.in_(ids)
    if iban is not None:
        where = where | (BankAccount.iban == iban)
    stmt = (
        select(
            BankAccount.id,
            BankAccount.customer_id,
            BankAccount.ledger_account_id,
            BankAccount.currency,
            BankAccount.status,
            BankProduct.allowed_operations,
            BankProduct.minimum_opening_balance,
            BankProduct.minimum_balance,
            account_portal_role(ctx),
            BankAccount.signing_rule,
        )
        .join(
            BankProduct,
            (BankProduct.tenant_id == BankAccount.tenant_id)
            & (BankProduct.id == BankAccount.product_id),
        )
        .where(BankAccount.tenant_id == ctx.tenant_id, where)
        .order_by(BankAccount.id)
        .with_for_update(read=True, of=BankAccount)
    )
    return [Side(*row) for row in (await uow.session.execute(stmt)).all()]


async def replay_of(
    uow: UnitOfWork, ctx: Context, key: str, expected: dict[str, Any]
) -> BankTransfer | None:
    """The transfer made with this key before, if any; TransferKeyReused if it differs."""
    found = (
        await uow.session.execute(
            select(BankTransfer).where(
                BankTransfer.tenant_id == ctx.tenant_id, BankTransfer.idempotency_key == key
            )
        )
    ).scalar_one_or_none()
    if found is None:
        return None
    if any(getattr(found, name) != value for name, value in expected.items()):
        raise TransferKeyReused("This Idempotency-Key was used for a different transfer.")
    return found


async def post_transfer(
    uow: UnitOfWork,
    ctx: Context,
    *,
    debit: uuid.UUID,
    credit: uuid.UUID,
    amount: int,
    currency: str,
    reference: str | None,
    key: str,
    sender: Side | None,
    pending: bool = False,
) -> tuple[uuid.UUID, bool]:
    """Post in the ledger (or only reserve, `pending`); its refusals as banking's problem
    types."""
    request = LedgerTransfer(
        debit_account_id=debit,
        credit_account_id=credit,
        amount=amount,
        currency=currency,
        description=reference,
        pending=pending,
    )
    try:
        outcome = await transfer_create_in(
            uow, ctx=ctx, request=request, idempotency_key=LEDGER_KEY_PREFIX + key
        )
    except TransferRefused as refused:
        if refused.code in (ResultCode.EXCEEDS_OVERDRAFT_LIMIT, ResultCode.EXCEEDS_CREDITS):
            assert sender is not None
            raise await insufficient(uow, ctx, sender, amount) from None
        if refused.code is ResultCode.ACCOUNT_CLOSED:
            raise AccountClosed("An account of the transfer is closed.") from None
        if refused.code is ResultCode.CURRENCY_MISMATCH:
            raise AccountCurrencyMismatch(f"The accounts do not hold {currency}.") from None
        raise
    return outcome.transfer_id, outcome.replayed


async def insufficient(
    uow: UnitOfWork, ctx: Context, sender: Side, amount: int
) -> InsufficientFunds:
    balance = await balance_in(uow, tenant_id=ctx.tenant_id, account_id=sender.ledger_account_id)
    return InsufficientFunds(
        f"Account {sender.id} has {balance.available} minor units {balance.currency}"
        f" available; {amount} requested.",
        extra={"available": balance.available, "requested": amount},
    )


async def transfer_by_id(uow: UnitOfWork, ctx: Context, transfer_id: uuid.UUID) -> BankTransfer:
    """The banking transfer the ledger just replayed (they commit together)."""
    found = await uow.session.get(BankTransfer, (ctx.tenant_id, transfer_id))
    assert found is not None, "the ledger's replay has its banking transfer"
    return found


async def record_transfer(
    uow: UnitOfWork, ctx: Context, transfer: BankTransfer, event_type: str
) -> dict[str, Any]:
    """Store the transfer and audit it; the event payload to emit."""
    uow.session.add(transfer)
    await uow.session.flush()
    payload = {
        "transfer_id": str(transfer.id),
        "kind": transfer.kind,
        "from_account_id": str(transfer.from_account_id) if transfer.from_account_id else None,
        "to_account_id": str(transfer.to_account_id),
        "amount": transfer.amount,
        "currency": transfer.currency,
        "channel": transfer.channel,
    }
    await audit_record(
        uow,
        ctx=ctx,
        action=event_type,
        object_type="bank_transfer",
        object_id=transfer.id,
        after={k: v for k, v in payload.items() if k != "transfer_id"},
    )
    return payload


def new_transfer(
    ctx: Context, transfer_id: uuid.UUID, key: str, values: dict[str, Any], customer: uuid.UUID
) -> BankTransfer:
    """The banking row of a posted transfer (its id is the ledger transfer's)."""
    return BankTransfer(
        tenant_id=ctx.tenant_id,
        id=transfer_id,
        idempotency_key=key,
        channel=channel_of(ctx),
        customer_id=customer,
        initiated_by=ctx.actor_id,
        created_at=clock.now(),
        **values,
    )


def check_receiving(side: Side, currency: str, operation: str) -> None:
    """Refuse money into a closed account, another currency, or a product without it."""
    if side.status == "closed":
        raise AccountClosed(f"Account {side.id} is closed.")
    if side.currency != currency:
        raise AccountCurrencyMismatch(f"Account {side.id} holds {side.currency}, not {currency}.")
    if operation not in side.operations:
        raise OperationNotAllowed(f"The product of account {side.id} does not allow {operation}.")


def check_sending(ctx: Context, side: Side, currency: str) -> None:
    if is_portal(ctx) and side.portal_role not in PAY_ROLES:
        raise PermissionDenied("Only an owner of the account's customer may send money from it.")
    refusal = _SENDING_REFUSED.get(side.status)
    if refusal is not None:
        raise refusal(f"Account {side.id} is {side.status}: it cannot send money.")
    if side.currency != currency:
        raise AccountCurrencyMismatch(f"Account {side.id} holds {side.currency}, not {currency}.")
    if "transfer_out" not in side.operations:
        raise OperationNotAllowed(f"The product of account {side.id} does not allow transfers out.")


def _pick(
    ctx: Context, sides: list[Side], request: TransferCreate, iban: str | None
) -> tuple[Side, Side]:
    by_id = {side.id: side for side in sides}
    sender = by_id.get(request.from_account_id)
    if sender is None or (is_portal(ctx) and sender.portal_role is None):
        raise BankAccountNotFound(f"Account {request.from_account_id} was not found.")
    if request.to_account_id is not None:
        receiver = by_id.get(request.to_account_id)
    else:
        receiver = next((s for s in sides if s.id != sender.id), None) if iban else None
    if receiver is None:
        target = request.to_account_id or iban
        raise BankAccountNotFound(f"No account {target} in this bank.")
    return sender, receiver


def transfer_values(request: TransferCreate) -> tuple[str | None, dict[str, Any]]:
    """The target IBAN (normalised) and the transfer's columns a replay must repeat."""
    iban = iban_normal(request.to_iban) if request.to_iban is not None else None
    if request.from_account_id == request.to_account_id:
        raise TransferSameAccount("The accounts must differ.", field="to_account_id")
    values: dict[str, Any] = {
        "kind": "internal",
        "from_account_id": request.from_account_id,
        "amount": request.amount,
        "currency": request.currency,
        "reference": request.reference,
    }
    if request.to_account_id is not None:
        values["to_account_id"] = request.to_account_id
    return iban, values


async def transfer_create(
    db: Database, ctx: Context, *, request: TransferCreate, key: str
) -> Moved:
    """Move money between two accounts of the tenant (the target by id or IBAN)."""
    iban, values = transfer_values(request)

    async def operation(uow: UnitOfWork) -> Moved:
        return await transfer_in(uow, ctx, request=request, key=key, iban=iban, values=values)

    return await db.run(operation, tenant_id=ctx.tenant_id, retry_when=key_race)


async def transfer_in(
    uow: UnitOfWork,
    ctx: Context,
    *,
    request: TransferCreate,
    key: str,
    iban: str | None,
    values: dict[str, Any],
    cosigned: bool = False,
) -> Moved:
    """`transfer_create` inside the caller's unit of work (standing orders record their
    execution in the same transaction); `values` are the transfer's columns to compare a
    replay with. `cosigned`: every signing holder approved it (an approval's last one)."""
    if (first := await replay_of(uow, ctx, key, values)) is not None:
        return Moved(first, True)
    ids = [request.from_account_id, *filter(None, [request.to_account_id])]
    sender, receiver = _pick(ctx, await sides_locked(uow, ctx, ids=ids, iban=iban), request, iban)
    if sender.id == receiver.id:
        raise TransferSameAccount("The accounts must differ.", field="to_iban")
    check_sending(ctx, sender, request.currency)
    check_receiving(receiver, request.currency, "transfer_in")
    if sender.signing_rule == "all" and not cosigned:
        await signatures_check(uow, ctx, sender.id)
    transfer_id, replayed = await post_transfer(
        uow,
        ctx,
        debit=sender.ledger_account_id,
        credit=receiver.ledger_account_id,
        amount=request.amount,
        currency=request.currency,
        reference=request.reference,
        key=key,
        sender=sender,
    )
    if replayed:
        return Moved(await transfer_by_id(uow, ctx, transfer_id), True)
    await limits_consume(
        uow,
        ctx,
        channel=channel_of(ctx),
        customer_id=sender.customer_id,
        currency=sender.currency,
        amount=request.amount,
    )
    if sender.minimum_balance > 0:
        await minimum_balance_check(uow, ctx, sender)
    transfer = new_transfer(
        ctx, transfer_id, key, {**values, "to_account_id": receiver.id}, sender.customer_id
    )
    payload = await record_transfer(uow, ctx, transfer, TRANSFER_COMPLETED)
    await emit(
        uow,
        tenant_id=ctx.tenant_id,
        type=TRANSFER_COMPLETED,
        subject=f"bank_transfer/{transfer.id}",
        payload=payload,
    )
    movements = [
        Movement(sender.id, sender.ledger_account_id, -request.amount, request.currency,
                 transfer.id, reference=request.reference, counterparty_iban=iban,
                 counterparty_account_id=receiver.id),
        Movement(receiver.id, receiver.ledger_account_id, request.amount, request.currency,
                 transfer.id, reference=request.reference, counterparty_account_id=sender.id),
    ]  # fmt: skip
    await alerts_check(uow, ctx, movements)
    await movements_categorise(uow, ctx, movements)
    return Moved(transfer, False)


async def minimum_balance_check(uow: UnitOfWork, ctx: Context, sender: Side) -> None:
    """Refuse a transfer or payment (already posted or reserved in this unit of work) that
    takes the account below its product's minimum balance; money reserved by pending
    payments counts as gone (a deposit account's normal side is credit)."""
    balance = await balance_in(uow, tenant_id=ctx.tenant_id, account_id=sender.ledger_account_id)
    left = balance.balance - balance.debits_pending
    if left < sender.minimum_balance:
        raise InsufficientFunds(
            f"Account {sender.id} must keep {sender.minimum_balance} minor units"
            f" {sender.currency}; this would leave {left}.",
            extra={"minimum_balance": sender.minimum_balance},
        )
