"""Outgoing payments to other banks: reserve, screen, then settle or return.

Creating a payment reserves the money: a pending ledger transfer from the customer's
account to the currency's clearing account, made after the same checks as an internal
transfer (the account's status, product and currency, the portal owner's right to pay,
the available balance through the ledger's own limit, the customer's outgoing limits). The
creditor's name is screened against the sanctions lists: a hit holds the payment for a
staff review (`release` or `reject`) instead of queueing it for settlement.

Settling posts the pending transfer; a return before settlement voids it, after
settlement reverses it; a rejection voids it. Each step locks the payment row, checks its
status, moves the ledger with a key derived from the payment (so a step never posts
twice), and records an event and an audit record, all in one unit of work.
The product's minimum balance applies to payments as to transfers (the reservation
counts). Outgoing limits consumed by a payment are released, in the same unit of work,
when it is rejected or returned: the money did not leave.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.banking._personal import row_text_open, row_text_seal
from fiscus.banking._scope import is_portal, scope_accounts
from fiscus.banking.alerts.service import Movement
from fiscus.banking.errors import (
    BankAccountNotFound,
    ExecutionDateInvalid,
    PayeeNotFound,
    PaymentNotFound,
    PaymentStatusConflict,
    StepUpRequired,
    TransferKeyReused,
)
from fiscus.banking.insights.service import movement_reverse, movements_categorise
from fiscus.banking.models import PAYEE_NAME, PAYMENT_CREDITOR, BankPayee, BankPayment
from fiscus.banking.schemas import Creditor, PaymentCreate, PaymentRead
from fiscus.banking.service._accounts_part import general_ledger_ensure
from fiscus.banking.service._holders_part import signatures_check
from fiscus.banking.service._limits_part import limits_consume, limits_release
from fiscus.banking.service._payees_part import bic_normal, payee_find
from fiscus.banking.service._transfers_part import (
    Side,
    channel_of,
    check_sending,
    iban_normal,
    key_race,
    minimum_balance_check,
    post_transfer,
    sides_locked,
)
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.core.keyring import KeyRing
from fiscus.core.pagination import keyset_page
from fiscus.identity.queries import step_up_needed
from fiscus.ledger.schemas import PendingPost, TransferAction
from fiscus.ledger.service import (
    transfer_post_pending_in,
    transfer_reverse_in,
    transfer_void_pending_in,
)
from fiscus.risk.queries import screen_name

PAYMENT_CREATED = "banking.payment.created"
PAYMENT_HELD = "banking.payment.held"
PAYMENT_RELEASED = "banking.payment.released"
PAYMENT_REJECTED = "banking.payment.rejected"
PAYMENT_SETTLED = "banking.payment.settled"
PAYMENT_RETURNED = "banking.payment.returned"
LEDGER_KEY = "payment:"
# The fields a retry with the same Idempotency-Key must repeat.
_REPLAY_FIELDS = (
    "from_account_id",
    "payee_id",
    "amount",
    "currency",
    "reference",
    "purpose",
    "charges",
    "execute_on",
)


@dataclass(frozen=True, slots=True)
class PaymentMade:
    """A new payment, or the first one when `replayed` (a retry with the same key)."""

    payment: BankPayment
    replayed: bool


@dataclass(frozen=True, slots=True)
class _Party:
    name: str
    iban: str
    bic: str | None
    payee: BankPayee | None


def creditor_name(keyring: KeyRing, payment: BankPayment) -> str:
    """The creditor's name sealed in the payment."""
    return row_text_open(
        keyring,
        PAYMENT_CREDITOR,
        payment.creditor_name_sealed,
        tenant_id=payment.tenant_id,
        row_id=payment.id,
    )


def payment_read(payment: BankPayment, keyring: KeyRing) -> PaymentRead:
    """The API view of a payment, the creditor's name opened for this response."""
    name = creditor_name(keyring, payment)
    return PaymentRead(
        id=payment.id,
        status=payment.status,
        customer_id=payment.customer_id,
        from_account_id=payment.from_account_id,
        payee_id=payment.payee_id,
        creditor=Creditor(name=name, iban=payment.creditor_iban, bic=payment.creditor_bic),
        amount=payment.amount,
        currency=payment.currency,
        reference=payment.reference,
        purpose=payment.purpose,
        charges=payment.charges,
        execute_on=payment.execute_on,
        screening_hits=payment.screening_hits,
        return_reason_code=payment.return_reason_code,
        ledger_transfer_id=payment.ledger_transfer_id,
        channel=payment.channel,
        created_at=payment.created_at,
        updated_at=payment.updated_at,
    )


def _payload(payment: BankPayment, previous: str | None) -> dict[str, Any]:
    return {
        "payment_id": str(payment.id),
        "status": payment.status,
        "previous_status": previous,
        "customer_id": str(payment.customer_id),
        "from_account_id": str(payment.from_account_id),
        "amount": payment.amount,
        "currency": payment.currency,
        "charges": payment.charges,
        "return_reason_code": payment.return_reason_code,
    }


async def _replay(
    uow: UnitOfWork, ctx: Context, key: str, request: PaymentCreate
) -> BankPayment | None:
    found = (
        await uow.session.execute(
            select(BankPayment).where(
                BankPayment.tenant_id == ctx.tenant_id, BankPayment.idempotency_key == key
            )
        )
    ).scalar_one_or_none()
    if found is None:
        return None
    if any(getattr(found, name) != getattr(request, name) for name in _REPLAY_FIELDS):
        raise TransferKeyReused("This Idempotency-Key was used for a different payment.")
    return found


async def _creditor(
    uow: UnitOfWork, ctx: Context, keyring: KeyRing, request: PaymentCreate, sender: Side
) -> _Party:
    if request.payee_id is not None:
        payee = await payee_find(uow, ctx, request.payee_id)
        if payee.customer_id != sender.customer_id:
            raise PayeeNotFound(f"Payee {request.payee_id} is not a payee of this customer.")
        name = row_text_open(
            keyring,
            PAYEE_NAME,
            payee.name_sealed,
            tenant_id=ctx.tenant_id,
            row_id=payee.id,
        )
        return _Party(name, payee.iban, payee.bic, payee)
    assert request.creditor is not None
    creditor = request.creditor
    bic = bic_normal(creditor.bic, field="creditor.bic") if creditor.bic is not None else None
    return _Party(creditor.name, iban_normal(creditor.iban, field="creditor.iban"), bic, None)


async def _sender(
    uow: UnitOfWork, ctx: Context, request: PaymentCreate, *, cosigned: bool = False
) -> Side:
    sides = await sides_locked(uow, ctx, ids=[request.from_account_id], iban=None)
    sender = next(iter(sides), None)
    if sender is None or (is_portal(ctx) and sender.portal_role is None):
        raise BankAccountNotFound(f"Account {request.from_account_id} was not found.")
    check_sending(ctx, sender, request.currency)
    if sender.signing_rule == "all" and not cosigned:
        await signatures_check(uow, ctx, sender.id)
    return sender


async def payment_create(
    db: Database,
    ctx: Context,
    *,
    keyring: KeyRing,
    request: PaymentCreate,
    key: str,
    threshold: float,
    step_up_window_s: int,
) -> PaymentMade:
    """Reserve the money of an outgoing payment and queue it (or hold it on a sanctions
    hit at `threshold`)."""
    payment_date_check(request)

    async def operation(uow: UnitOfWork) -> PaymentMade:
        return await payment_in(
            uow,
            ctx,
            keyring=keyring,
            request=request,
            key=key,
            threshold=threshold,
            step_up_window_s=step_up_window_s,
        )

    return await db.run(operation, tenant_id=ctx.tenant_id, retry_when=key_race)


def payment_date_check(request: PaymentCreate) -> None:
    """Refuse an execution date in the past."""
    if request.execute_on is not None and request.execute_on < clock.now().date():
        raise ExecutionDateInvalid("The execution date is in the past.", field="execute_on")


async def payment_in(
    uow: UnitOfWork,
    ctx: Context,
    *,
    keyring: KeyRing,
    request: PaymentCreate,
    key: str,
    threshold: float,
    step_up_window_s: int,
    cosigned: bool = False,
) -> PaymentMade:
    """`payment_create` inside the caller's unit of work (a joint account's approval makes
    the payment in the approver's); `cosigned`: every signing holder approved it."""
    if (first := await _replay(uow, ctx, key, request)) is not None:
        return PaymentMade(first, True)
    sender = await _sender(uow, ctx, request, cosigned=cosigned)
    party = await _creditor(uow, ctx, keyring, request, sender)
    first_to_payee = party.payee is not None and party.payee.first_paid_at is None
    if (
        first_to_payee
        and is_portal(ctx)
        and await step_up_needed(uow, ctx=ctx, window_s=step_up_window_s)
    ):
        raise StepUpRequired(
            "The first payment to a new payee needs a fresh sign-in proof: confirm"
            " your password (and MFA code) at POST /v1/me/reauthenticate, then retry."
        )
    clearing = (await general_ledger_ensure(uow, ctx, currency=request.currency))["clearing"]
    transfer_id, _ = await post_transfer(
        uow,
        ctx,
        debit=sender.ledger_account_id,
        credit=clearing,
        amount=request.amount,
        currency=request.currency,
        reference=request.reference,
        key=LEDGER_KEY + key,
        sender=sender,
        pending=True,
    )
    await limits_consume(
        uow,
        ctx,
        channel=channel_of(ctx),
        customer_id=sender.customer_id,
        currency=request.currency,
        amount=request.amount,
    )
    if sender.minimum_balance > 0:
        await minimum_balance_check(uow, ctx, sender)
    hits = await screen_name(uow, party.name, threshold=threshold)
    payment = _new_payment(ctx, key, request, sender, party, transfer_id, len(hits))
    if party.payee is not None and party.payee.first_paid_at is None:
        party.payee.first_paid_at = payment.created_at
    payment.creditor_name_sealed = row_text_seal(
        keyring, PAYMENT_CREDITOR, party.name, tenant_id=ctx.tenant_id, row_id=payment.id
    )
    uow.session.add(payment)
    await uow.session.flush()
    await _audit(uow, ctx, payment, PAYMENT_CREATED, None, {"hits": [h.entry_id for h in hits]})
    await movements_categorise(
        uow,
        ctx,
        [
            Movement(sender.id, sender.ledger_account_id, -request.amount, request.currency,
                     transfer_id, reference=request.reference, counterparty_iban=party.iban,
                     counterparty_name=party.name)
        ],
    )  # fmt: skip
    payload = _payload(payment, None)
    await emit(
        uow,
        tenant_id=ctx.tenant_id,
        type=PAYMENT_CREATED,
        subject=f"bank_payment/{payment.id}",
        payload=payload,
    )
    if hits:
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=PAYMENT_HELD,
            subject=f"bank_payment/{payment.id}",
            payload=payload,
        )
    return PaymentMade(payment, False)


def _new_payment(
    ctx: Context,
    key: str,
    request: PaymentCreate,
    sender: Side,
    party: _Party,
    transfer_id: uuid.UUID,
    hits: int,
) -> BankPayment:
    now = clock.now()
    return BankPayment(
        tenant_id=ctx.tenant_id,
        id=new_id(),
        idempotency_key=key,
        customer_id=sender.customer_id,
        from_account_id=sender.id,
        payee_id=request.payee_id,
        creditor_iban=party.iban,
        creditor_bic=party.bic,
        amount=request.amount,
        currency=request.currency,
        reference=request.reference,
        purpose=request.purpose,
        charges=request.charges,
        execute_on=request.execute_on,
        status="held" if hits else "pending_settlement",
        screening_hits=hits,
        ledger_transfer_id=transfer_id,
        channel=channel_of(ctx),
        initiated_by=ctx.actor_id,
        created_at=now,
        updated_at=now,
    )


async def _audit(
    uow: UnitOfWork,
    ctx: Context,
    payment: BankPayment,
    action: str,
    previous: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    # The creditor's name stays out of the audit trail: it is personal data.
    await audit_record(
        uow,
        ctx=ctx,
        action=action,
        object_type="bank_payment",
        object_id=payment.id,
        before={"status": previous} if previous else None,
        after={
            "status": payment.status,
            "amount": payment.amount,
            "currency": payment.currency,
            "creditor_iban": payment.creditor_iban,
            "return_reason_code": payment.return_reason_code,
        },
        details=details,
    )


async def _locked(
    uow: UnitOfWork, ctx: Context, payment_id: uuid.UUID, allowed: tuple[str, ...], verb: str
) -> BankPayment:
    payment = (
        await uow.session.execute(
            select(BankPayment)
            .where(BankPayment.tenant_id == ctx.tenant_id, BankPayment.id == payment_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if payment is None:
        raise PaymentNotFound(f"Payment {payment_id} was not found.")
    if payment.status not in allowed:
        raise PaymentStatusConflict(f"A {payment.status} payment cannot be {verb}.")
    return payment


async def _release(uow: UnitOfWork, ctx: Context, payment: BankPayment) -> None:
    """The payment's money did not leave: give back the limits it consumed."""
    await limits_release(
        uow,
        ctx,
        channel=payment.channel,
        customer_id=payment.customer_id,
        currency=payment.currency,
        amount=payment.amount,
        on=payment.created_at.astimezone(UTC).date(),
    )


async def _change(
    uow: UnitOfWork, ctx: Context, payment: BankPayment, status: str, action: str
) -> dict[str, Any]:
    """Move the payment to `status`, audited; the event payload to emit."""
    previous = payment.status
    payment.status = status
    payment.updated_at = clock.now()
    await uow.session.flush()
    await _audit(uow, ctx, payment, action, previous)
    return _payload(payment, previous)


def _ledger_key(payment: BankPayment, step: str) -> str:
    return f"banking:payment:{payment.id}:{step}"


async def _void(uow: UnitOfWork, ctx: Context, payment: BankPayment, why: str) -> None:
    outcome = await transfer_void_pending_in(
        uow,
        ctx=ctx,
        pending_id=payment.ledger_transfer_id,
        request=TransferAction(description=why),
        idempotency_key=_ledger_key(payment, "void"),
    )
    payment.closing_transfer_id = outcome.transfer_id
    await _money_back(uow, ctx, payment)


async def _money_back(uow: UnitOfWork, ctx: Context, payment: BankPayment) -> None:
    assert payment.closing_transfer_id is not None
    await movement_reverse(
        uow,
        ctx,
        account_id=payment.from_account_id,
        transfer_id=payment.ledger_transfer_id,
        reversal_id=payment.closing_transfer_id,
    )


async def payment_release(db: Database, ctx: Context, *, payment_id: uuid.UUID) -> BankPayment:
    """After a review found the sanctions hit a false match: queue the held payment."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        payment = await _locked(uow, ctx, payment_id, ("held",), "released")
        payload = await _change(uow, ctx, payment, "pending_settlement", PAYMENT_RELEASED)
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=PAYMENT_RELEASED,
            subject=f"bank_payment/{payment.id}",
            payload=payload,
        )
    return payment


async def payment_reject(db: Database, ctx: Context, *, payment_id: uuid.UUID) -> BankPayment:
    """Refuse a payment before it is sent: the reserved money goes back to the account."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        payment = await _locked(uow, ctx, payment_id, ("held", "pending_settlement"), "rejected")
        await _void(uow, ctx, payment, "Payment rejected")
        await _release(uow, ctx, payment)
        payload = await _change(uow, ctx, payment, "rejected", PAYMENT_REJECTED)
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=PAYMENT_REJECTED,
            subject=f"bank_payment/{payment.id}",
            payload=payload,
        )
    return payment


async def payment_settle(db: Database, ctx: Context, *, payment_id: uuid.UUID) -> BankPayment:
    """The rail confirmed the payment: post the pending transfer."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        payment = await _locked(uow, ctx, payment_id, ("pending_settlement", "exported"), "settled")
        outcome = await transfer_post_pending_in(
            uow,
            ctx=ctx,
            pending_id=payment.ledger_transfer_id,
            request=PendingPost(),
            idempotency_key=_ledger_key(payment, "post"),
        )
        payment.closing_transfer_id = outcome.transfer_id
        payload = await _change(uow, ctx, payment, "settled", PAYMENT_SETTLED)
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=PAYMENT_SETTLED,
            subject=f"bank_payment/{payment.id}",
            payload=payload,
        )
    return payment


async def payment_return(
    db: Database, ctx: Context, *, payment_id: uuid.UUID, reason_code: str
) -> BankPayment:
    """The payment came back with an ISO 20022 reason: void the reservation, or reverse the
    posted transfer if it had settled; the money is back on the customer's account."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        payment = await _locked(
            uow, ctx, payment_id, ("pending_settlement", "exported", "settled"), "returned"
        )
        why = f"Payment returned ({reason_code})"
        if payment.status == "settled":
            assert payment.closing_transfer_id is not None
            outcome = await transfer_reverse_in(
                uow,
                ctx=ctx,
                transfer_id=payment.closing_transfer_id,
                request=TransferAction(description=why),
                idempotency_key=_ledger_key(payment, "reverse"),
            )
            payment.closing_transfer_id = outcome.transfer_id
            await _money_back(uow, ctx, payment)
        else:
            await _void(uow, ctx, payment, why)
        await _release(uow, ctx, payment)
        payment.return_reason_code = reason_code
        payload = await _change(uow, ctx, payment, "returned", PAYMENT_RETURNED)
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=PAYMENT_RETURNED,
            subject=f"bank_payment/{payment.id}",
            payload=payload,
        )
    return payment


def _visible(ctx: Context) -> Any:
    stmt = select(BankPayment).where(BankPayment.tenant_id == ctx.tenant_id)
    return scope_accounts(stmt, BankPayment.from_account_id, BankPayment.customer_id, ctx)


async def payment_get(db: Database, ctx: Context, *, payment_id: uuid.UUID) -> BankPayment:
    """One payment the caller may see (a portal user: of its customers), or PaymentNotFound."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        found: BankPayment | None = (
            await uow.session.execute(_visible(ctx).where(BankPayment.id == payment_id))
        ).scalar_one_or_none()
    if found is None:
        raise PaymentNotFound(f"Payment {payment_id} was not found.")
    return found


async def payment_list(
    db: Database,
    ctx: Context,
    *,
    status: str | None,
    customer_id: uuid.UUID | None,
    created_after: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[BankPayment], str | None]:
    """The payments the caller may see, oldest first, optionally filtered."""
    stmt = _visible(ctx)
    if status is not None:
        stmt = stmt.where(BankPayment.status == status)
    if customer_id is not None:
        stmt = stmt.where(BankPayment.customer_id == customer_id)
    if created_after is not None:
        stmt = stmt.where(BankPayment.created_at > created_after)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows: list[BankPayment]
        rows, next_cursor = await keyset_page(
            uow.session,
            stmt,
            keys=[BankPayment.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda p: [str(p.id)],
        )
    return rows, next_cursor
