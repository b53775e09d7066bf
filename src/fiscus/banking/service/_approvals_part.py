"""Approvals: money from an all-sign joint account waits for every signing holder.

A portal user who signs for a holder of an account with the signing rule `all` asks for a
transfer or payment: nothing moves yet. An approval records the request (its body and
Idempotency-Key), who asked, and every signing holder with its decision (the asker's own
customers approved at once). Each other signing holder's portal user approves in its own
unit of work; the last approval replays the request there through the same core as a
direct one (`transfer_in`, `payment_in`), so funds, limits, the account's status and the
approver's rights are checked at that moment. A refusal then (insufficient funds, a
frozen account) rolls the approval back with it: it stays pending, and nothing moved.

The asker cannot approve; approving twice changes nothing; a rejected or expired approval
moves nothing. An approval expires `approval_expiry_days` after it was asked (a tenant
setting; DEFAULT_EXPIRY_DAYS without one): reads show it expired from then on, and the
first decision after it records the expiry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.banking._scope import PAY_ROLES, is_portal, scope_accounts
from fiscus.banking.errors import BankAccountNotFound, TransferKeyReused
from fiscus.banking.joint.errors import (
    ApprovalByRequester,
    ApprovalExpired,
    ApprovalNotFound,
    ApprovalSignerRequired,
    ApprovalStatusConflict,
)
from fiscus.banking.joint.models import BankApproval, BankApprovalSigner
from fiscus.banking.models import BankAccount, BankCustomerUser, BankSettings
from fiscus.banking.schemas import PaymentCreate, TransferCreate
from fiscus.banking.service._holders_part import Signers, cosigners_needed
from fiscus.banking.service._payments_part import PaymentMade, payment_date_check, payment_in
from fiscus.banking.service._transfers_part import (
    Moved,
    check_receiving,
    check_sending,
    key_race,
    replay_of,
    sides_locked,
    transfer_in,
    transfer_values,
)
from fiscus.banking.service._transfers_part import _pick as pick_sides
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.core.keyring import KeyRing
from fiscus.core.pagination import keyset_page

APPROVAL_REQUESTED = "banking.approval.requested"
APPROVAL_SIGNED = "banking.approval.signed"
APPROVAL_APPROVED = "banking.approval.approved"
APPROVAL_REJECTED = "banking.approval.rejected"
APPROVAL_EXPIRED = "banking.approval.expired"
# The events of an approval by verb (`emit` takes them from one module-level table).
APPROVAL_EVENTS = {
    "requested": APPROVAL_REQUESTED,
    "signed": APPROVAL_SIGNED,
    "approved": APPROVAL_APPROVED,
    "rejected": APPROVAL_REJECTED,
    "expired": APPROVAL_EXPIRED,
}
DEFAULT_EXPIRY_DAYS = 7


@dataclass(frozen=True, slots=True)
class Approval:
    """An approval with its signers; `replayed` when a retry of the request found it."""

    approval: BankApproval
    signers: list[BankApprovalSigner]
    replayed: bool = False

    @property
    def status(self) -> str:
        """`expired` once its time passed while pending, even before that is recorded."""
        pending = self.approval.status == "pending"
        return (
            "expired"
            if pending and self.approval.expires_at <= clock.now()
            else self.approval.status
        )


@dataclass(frozen=True, slots=True)
class PaymentRules:
    """What making a payment needs besides its request: the key ring that seals the
    creditor's name, the sanctions threshold and the step-up window."""

    keyring: KeyRing
    threshold: float
    step_up_window_s: int


async def _signers(
    uow: UnitOfWork, ctx: Context, approval_id: uuid.UUID
) -> list[BankApprovalSigner]:
    rows = await uow.session.execute(
        select(BankApprovalSigner)
        .where(
            BankApprovalSigner.tenant_id == ctx.tenant_id,
            BankApprovalSigner.approval_id == approval_id,
        )
        .order_by(BankApprovalSigner.decided_at.nulls_last(), BankApprovalSigner.customer_id)
    )
    return list(rows.scalars())


async def _existing(
    uow: UnitOfWork, ctx: Context, kind: str, key: str, body: dict[str, Any]
) -> Approval | None:
    found = (
        await uow.session.execute(
            select(BankApproval).where(
                BankApproval.tenant_id == ctx.tenant_id,
                BankApproval.kind == kind,
                BankApproval.idempotency_key == key,
            )
        )
    ).scalar_one_or_none()
    if found is None:
        return None
    if found.request != body:
        raise TransferKeyReused(f"This Idempotency-Key was used for a different {kind}.")
    return Approval(found, await _signers(uow, ctx, found.id), replayed=True)


def _payload(approval: BankApproval, previous: str | None) -> dict[str, Any]:
    return {
        "approval_id": str(approval.id),
        "account_id": str(approval.account_id),
        "kind": approval.kind,
        "status": approval.status,
        "previous_status": previous,
        "amount": approval.amount,
        "currency": approval.currency,
        "requested_by": str(approval.requested_by),
        "result_id": str(approval.result_id) if approval.result_id else None,
    }


async def _announce(
    uow: UnitOfWork, ctx: Context, approval: BankApproval, verb: str, previous: str | None
) -> None:
    payload = _payload(approval, previous)
    await audit_record(
        uow,
        ctx=ctx,
        action=APPROVAL_EVENTS[verb],
        object_type="bank_approval",
        object_id=approval.id,
        before={"status": previous} if previous else None,
        after={k: v for k, v in payload.items() if k not in ("approval_id", "previous_status")},
    )
    await emit(
        uow,
        tenant_id=ctx.tenant_id,
        type=APPROVAL_EVENTS[verb],
        subject=f"bank_approval/{approval.id}",
        payload=payload,
    )


async def _expiry_days(uow: UnitOfWork, ctx: Context) -> int:
    settings = await uow.session.get(BankSettings, ctx.tenant_id)
    days = settings.approval_expiry_days if settings is not None else None
    return days or DEFAULT_EXPIRY_DAYS


async def _ask(
    uow: UnitOfWork,
    ctx: Context,
    *,
    kind: str,
    request: TransferCreate | PaymentCreate,
    body: dict[str, Any],
    key: str,
    signers: Signers,
) -> Approval:
    """Check what can be checked now (the accounts, the asker's right to send), then open
    the approval: the asker's customers signed, the others to sign."""
    if isinstance(request, TransferCreate):
        iban, _ = transfer_values(request)
        ids = [request.from_account_id, *filter(None, [request.to_account_id])]
        sides = await sides_locked(uow, ctx, ids=ids, iban=iban)
        sender, receiver = pick_sides(ctx, sides, request, iban)
        check_receiving(receiver, request.currency, "transfer_in")
    else:
        sides = await sides_locked(uow, ctx, ids=[request.from_account_id], iban=None)
        if not sides or sides[0].portal_role is None:
            raise BankAccountNotFound(f"Account {request.from_account_id} was not found.")
        sender = sides[0]
    check_sending(ctx, sender, request.currency)
    now = clock.now()
    approval = BankApproval(
        tenant_id=ctx.tenant_id,
        id=new_id(),
        account_id=request.from_account_id,
        kind=kind,
        idempotency_key=key,
        request=body,
        amount=request.amount,
        currency=request.currency,
        status="pending",
        requested_by=ctx.actor_id,
        expires_at=now + timedelta(days=await _expiry_days(uow, ctx)),
        result_id=None,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(approval)
    await uow.session.flush()
    rows = [
        BankApprovalSigner(
            tenant_id=ctx.tenant_id,
            approval_id=approval.id,
            customer_id=customer,
            decision="approved" if customer in signers.mine else None,
            decided_by=ctx.actor_id if customer in signers.mine else None,
            decided_at=now if customer in signers.mine else None,
        )
        for customer in [*signers.mine, *signers.others]
    ]
    uow.session.add_all(rows)
    await uow.session.flush()
    await _announce(uow, ctx, approval, "requested", None)
    return Approval(approval, rows)


async def transfer_submit(
    db: Database, ctx: Context, *, request: TransferCreate, key: str
) -> Moved | Approval:
    """A transfer now (`transfer_create`), or, from an all-sign account with other
    signers, the approval that waits for them."""
    iban, values = transfer_values(request)
    body = request.model_dump(mode="json", exclude_none=True)

    async def operation(uow: UnitOfWork) -> Moved | Approval:
        if (first := await replay_of(uow, ctx, key, values)) is not None:
            return Moved(first, True)
        if (asked := await _existing(uow, ctx, "transfer", key, body)) is not None:
            return asked
        signers = await cosigners_needed(uow, ctx, request.from_account_id)
        if signers is None:
            return await transfer_in(uow, ctx, request=request, key=key, iban=iban, values=values)
        return await _ask(
            uow, ctx, kind="transfer", request=request, body=body, key=key, signers=signers
        )

    return await db.run(operation, tenant_id=ctx.tenant_id, retry_when=key_race)


async def payment_submit(
    db: Database, ctx: Context, *, request: PaymentCreate, key: str, rules: PaymentRules
) -> PaymentMade | Approval:
    """A payment now (`payment_create`), or, from an all-sign account with other signers,
    the approval that waits for them."""
    payment_date_check(request)
    body = request.model_dump(mode="json", exclude_none=True)

    async def operation(uow: UnitOfWork) -> PaymentMade | Approval:
        if (asked := await _existing(uow, ctx, "payment", key, body)) is not None:
            if asked.approval.status != "approved":
                return asked
        else:
            signers = await cosigners_needed(uow, ctx, request.from_account_id)
            if signers is not None:
                return await _ask(
                    uow, ctx, kind="payment", request=request, body=body, key=key, signers=signers
                )
        return await payment_in(
            uow,
            ctx,
            keyring=rules.keyring,
            request=request,
            key=key,
            threshold=rules.threshold,
            step_up_window_s=rules.step_up_window_s,
        )

    return await db.run(operation, tenant_id=ctx.tenant_id, retry_when=key_race)


def _visible(ctx: Context) -> Any:
    stmt = select(BankApproval).where(BankApproval.tenant_id == ctx.tenant_id)
    if not is_portal(ctx):
        return stmt
    accounts = scope_accounts(
        select(BankAccount.id).where(BankAccount.tenant_id == ctx.tenant_id),
        BankAccount.id,
        BankAccount.customer_id,
        ctx,
    )
    return stmt.where(BankApproval.account_id.in_(accounts))


async def _locked(uow: UnitOfWork, ctx: Context, approval_id: uuid.UUID) -> BankApproval:
    found: BankApproval | None = (
        await uow.session.execute(
            _visible(ctx).where(BankApproval.id == approval_id).with_for_update(of=BankApproval)
        )
    ).scalar_one_or_none()
    if found is None:
        raise ApprovalNotFound(f"Approval {approval_id} was not found.")
    return found


async def _owned(uow: UnitOfWork, ctx: Context, rows: list[BankApprovalSigner]) -> set[uuid.UUID]:
    """The signers' customers the caller acts for as an owner (portal users only sign)."""
    if not is_portal(ctx):
        return set()
    found = await uow.session.execute(
        select(BankCustomerUser.customer_id).where(
            BankCustomerUser.tenant_id == ctx.tenant_id,
            BankCustomerUser.user_id == ctx.actor_id,
            BankCustomerUser.role.in_(PAY_ROLES),
            BankCustomerUser.customer_id.in_([r.customer_id for r in rows]),
        )
    )
    return set(found.scalars())


async def _expire(uow: UnitOfWork, ctx: Context, approval: BankApproval) -> None:
    approval.status = "expired"
    approval.updated_at = clock.now()
    await uow.session.flush()
    await _announce(uow, ctx, approval, "expired", "pending")


async def _execute(
    uow: UnitOfWork, ctx: Context, approval: BankApproval, rules: PaymentRules
) -> uuid.UUID:
    """Make the approved transfer or payment in this unit of work; its id."""
    if approval.kind == "transfer":
        transfer = TransferCreate.model_validate(approval.request)
        iban, values = transfer_values(transfer)
        moved = await transfer_in(
            uow,
            ctx,
            request=transfer,
            key=approval.idempotency_key,
            iban=iban,
            values=values,
            cosigned=True,
        )
        return moved.transfer.id
    made = await payment_in(
        uow,
        ctx,
        keyring=rules.keyring,
        request=PaymentCreate.model_validate(approval.request),
        key=approval.idempotency_key,
        threshold=rules.threshold,
        step_up_window_s=rules.step_up_window_s,
        cosigned=True,
    )
    return made.payment.id


async def _open_for_decision(
    uow: UnitOfWork, ctx: Context, approval_id: uuid.UUID, done: str
) -> tuple[BankApproval, list[BankApprovalSigner], bool]:
    """The approval locked and its signers; True when it is already `done` (a repeat)."""
    approval = await _locked(uow, ctx, approval_id)
    rows = await _signers(uow, ctx, approval.id)
    if approval.status == done:
        return approval, rows, True
    if approval.status != "pending":
        raise ApprovalStatusConflict(f"The approval is {approval.status}: nothing more to decide.")
    return approval, rows, False


async def approval_approve(
    db: Database, ctx: Context, *, approval_id: uuid.UUID, rules: PaymentRules
) -> Approval:
    """Sign an approval for the holders the caller acts for; the last signature makes the
    transfer or payment, in this unit of work. Repeating it changes nothing."""

    async def operation(uow: UnitOfWork) -> Approval:
        approval, rows, repeat = await _open_for_decision(uow, ctx, approval_id, "approved")
        if repeat:
            return Approval(approval, rows)
        if approval.expires_at <= clock.now():
            await _expire(uow, ctx, approval)
            return Approval(approval, rows)
        if approval.requested_by == ctx.actor_id:
            raise ApprovalByRequester("You asked for this payment: another holder approves it.")
        mine = await _owned(uow, ctx, rows)
        if not mine:
            raise ApprovalSignerRequired("Only an owner of a signing holder may approve this.")
        now = clock.now()
        signing = [row for row in rows if row.customer_id in mine and row.decision is None]
        if not signing:
            return Approval(approval, rows)  # signed before: approving again changes nothing
        for row in signing:
            row.decision, row.decided_by, row.decided_at = "approved", ctx.actor_id, now
        await uow.session.flush()
        if any(row.decision is None for row in rows):
            await _announce(uow, ctx, approval, "signed", "pending")
            return Approval(approval, rows)
        approval.result_id = await _execute(uow, ctx, approval, rules)
        approval.status = "approved"
        approval.updated_at = now
        await uow.session.flush()
        await _announce(uow, ctx, approval, "approved", "pending")
        return Approval(approval, rows)

    decided = await db.run(operation, tenant_id=ctx.tenant_id, retry_when=key_race)
    _refuse_expired(decided)
    return decided


def _refuse_expired(decided: Approval) -> None:
    if decided.approval.status == "expired":
        raise ApprovalExpired(
            f"The approval expired at {decided.approval.expires_at.isoformat()}: nothing moved."
        )


async def approval_reject(db: Database, ctx: Context, *, approval_id: uuid.UUID) -> Approval:
    """Refuse an approval (a signer, or the asker withdrawing it): nothing moves."""

    async def operation(uow: UnitOfWork) -> Approval:
        approval, rows, repeat = await _open_for_decision(uow, ctx, approval_id, "rejected")
        if repeat:
            return Approval(approval, rows)
        if approval.expires_at <= clock.now():
            await _expire(uow, ctx, approval)
            return Approval(approval, rows)
        mine = await _owned(uow, ctx, rows)
        if not mine and approval.requested_by != ctx.actor_id:
            raise ApprovalSignerRequired("Only an owner of a signing holder may reject this.")
        now = clock.now()
        for row in rows:
            if row.customer_id in mine and row.decision is None:
                row.decision, row.decided_by, row.decided_at = "rejected", ctx.actor_id, now
        approval.status = "rejected"
        approval.updated_at = now
        await uow.session.flush()
        await _announce(uow, ctx, approval, "rejected", "pending")
        return Approval(approval, rows)

    decided = await db.run(operation, tenant_id=ctx.tenant_id)
    _refuse_expired(decided)
    return decided


async def approval_get(db: Database, ctx: Context, *, approval_id: uuid.UUID) -> Approval:
    """One approval the caller may see (a portal user: on accounts it sees)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        found: BankApproval | None = (
            await uow.session.execute(_visible(ctx).where(BankApproval.id == approval_id))
        ).scalar_one_or_none()
        if found is None:
            raise ApprovalNotFound(f"Approval {approval_id} was not found.")
        return Approval(found, await _signers(uow, ctx, found.id))


async def approval_list(
    db: Database,
    ctx: Context,
    *,
    account_id: uuid.UUID | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Approval], str | None]:
    """The approvals the caller may see, oldest first; `status` as stored (`pending`
    includes those whose time ran out before anyone decided: their `status` reads
    `expired`)."""
    stmt = _visible(ctx)
    if account_id is not None:
        stmt = stmt.where(BankApproval.account_id == account_id)
    if status is not None:
        stmt = stmt.where(BankApproval.status == status)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows: list[BankApproval]
        rows, next_cursor = await keyset_page(
            uow.session,
            stmt,
            keys=[BankApproval.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda a: [str(a.id)],
        )
        signers = await uow.session.execute(
            select(BankApprovalSigner)
            .where(
                BankApprovalSigner.tenant_id == ctx.tenant_id,
                BankApprovalSigner.approval_id.in_([a.id for a in rows]),
            )
            .order_by(BankApprovalSigner.customer_id)
        )
        by_approval: dict[uuid.UUID, list[BankApprovalSigner]] = {}
        for signer in signers.scalars():
            by_approval.setdefault(signer.approval_id, []).append(signer)
    return [Approval(a, by_approval.get(a.id, [])) for a in rows], next_cursor
