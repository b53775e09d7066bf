"""Joint accounts: holders besides the primary one, the signing rule, and who signs.

Staff add, change and remove holders and set the signing rule; each change is audited and
emits an event in the same unit of work. A change of holders or of the rule closes the
account's pending approvals (rejected): they were asked of a set of signers that no
longer holds, and the asker can ask again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.banking._scope import PAY_ROLES, is_portal, scope_accounts
from fiscus.banking.errors import BankAccountNotFound, CustomerNotFound, CustomerNotVerified
from fiscus.banking.joint.errors import (
    AccountHolderConflict,
    AccountHolderLimitReached,
    AccountHolderNotFound,
    AccountHolderPrimary,
    SignaturesRequired,
)
from fiscus.banking.joint.models import SIGNING_ROLES, BankAccountHolder, BankApproval
from fiscus.banking.joint.schemas import HolderCreate, HolderUpdate
from fiscus.banking.models import BankAccount, BankCustomer, BankCustomerUser
from fiscus.banking.service._accounts_part import account_for_update
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.events import emit

HOLDER_ADDED = "banking.account.holder_added"
HOLDER_CHANGED = "banking.account.holder_changed"
HOLDER_REMOVED = "banking.account.holder_removed"
SIGNING_RULE_SET = "banking.account.signing_rule_set"
# The events of this part by verb (`emit` takes them from one module-level table).
ACCOUNT_EVENTS = {
    "holder_added": HOLDER_ADDED,
    "holder_changed": HOLDER_CHANGED,
    "holder_removed": HOLDER_REMOVED,
    "signing_rule_set": SIGNING_RULE_SET,
}
MAX_HOLDERS = 10  # per account, besides the primary holder


@dataclass(frozen=True, slots=True)
class Holder:
    """A holder as the API shows it; the primary one is the account's customer."""

    customer_id: uuid.UUID
    role: str
    nickname: str | None
    primary: bool
    added_at: datetime


@dataclass(frozen=True, slots=True)
class Signers:
    """The signing holders of an account as one portal user sees them: `mine` are those
    it signs for (as an owner of the customer), `others` the rest."""

    mine: list[uuid.UUID]
    others: list[uuid.UUID]


async def signers_of(uow: UnitOfWork, ctx: Context, account: BankAccount) -> Signers:
    """Split the account's signing holders into the caller's and the others."""
    rows = await uow.session.execute(
        select(BankAccountHolder.customer_id).where(
            BankAccountHolder.tenant_id == ctx.tenant_id,
            BankAccountHolder.account_id == account.id,
            BankAccountHolder.role.in_(SIGNING_ROLES),
        )
    )
    signing = [account.customer_id, *rows.scalars()]
    owned = set(
        (
            await uow.session.execute(
                select(BankCustomerUser.customer_id).where(
                    BankCustomerUser.tenant_id == ctx.tenant_id,
                    BankCustomerUser.user_id == ctx.actor_id,
                    BankCustomerUser.role.in_(PAY_ROLES),
                    BankCustomerUser.customer_id.in_(signing),
                )
            )
        ).scalars()
    )
    return Signers(
        mine=[c for c in signing if c in owned], others=[c for c in signing if c not in owned]
    )


async def cosigners_needed(uow: UnitOfWork, ctx: Context, account_id: uuid.UUID) -> Signers | None:
    """The signers when money a portal user sends from an all-sign account needs the
    others' approval; None when it can move at once (staff, `any`, or no other signer)."""
    if not is_portal(ctx):
        return None
    account = await uow.session.get(BankAccount, (ctx.tenant_id, account_id))
    if account is None or account.signing_rule != "all":
        return None
    signers = await signers_of(uow, ctx, account)
    return signers if signers.mine and signers.others else None


async def signatures_check(uow: UnitOfWork, ctx: Context, account_id: uuid.UUID) -> None:
    """Refuse money a portal user would move alone from an all-sign account (the guard of
    every path that moves money without an approval)."""
    if await cosigners_needed(uow, ctx, account_id) is not None:
        raise SignaturesRequired(
            f"Account {account_id} needs all its holders to sign: ask through POST"
            " /v1/transfers or /v1/payments (202 with an approval) instead."
        )


async def _account_seen(uow: UnitOfWork, ctx: Context, account_id: uuid.UUID) -> BankAccount:
    stmt = select(BankAccount).where(
        BankAccount.tenant_id == ctx.tenant_id, BankAccount.id == account_id
    )
    found: BankAccount | None = (
        await uow.session.execute(
            scope_accounts(stmt, BankAccount.id, BankAccount.customer_id, ctx)
        )
    ).scalar_one_or_none()
    if found is None:
        raise BankAccountNotFound(f"Account {account_id} was not found.")
    return found


async def holder_list(db: Database, ctx: Context, *, account_id: uuid.UUID) -> list[Holder]:
    """The account's holders, the primary first (a portal user: of accounts it sees)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        account = await _account_seen(uow, ctx, account_id)
        rows = (
            await uow.session.execute(
                select(BankAccountHolder)
                .where(
                    BankAccountHolder.tenant_id == ctx.tenant_id,
                    BankAccountHolder.account_id == account_id,
                )
                .order_by(BankAccountHolder.added_at)
                .limit(MAX_HOLDERS)
            )
        ).scalars()
        others = [Holder(h.customer_id, h.role, h.nickname, False, h.added_at) for h in rows]
    primary = Holder(account.customer_id, "owner", account.nickname, True, account.created_at)
    return [primary, *others]


def _payload(account_id: uuid.UUID, customer_id: uuid.UUID, role: str | None) -> dict[str, Any]:
    return {"account_id": str(account_id), "customer_id": str(customer_id), "role": role}


async def _announce(
    uow: UnitOfWork, ctx: Context, verb: str, payload: dict[str, Any], before: Any = None
) -> None:
    await audit_record(
        uow,
        ctx=ctx,
        action=ACCOUNT_EVENTS[verb],
        object_type="bank_account",
        object_id=payload["account_id"],
        before=before,
        after={k: v for k, v in payload.items() if k != "account_id"},
    )
    await emit(
        uow,
        tenant_id=ctx.tenant_id,
        type=ACCOUNT_EVENTS[verb],
        subject=f"bank_account/{payload['account_id']}",
        payload=payload,
    )


async def approvals_close(uow: UnitOfWork, ctx: Context, account_id: uuid.UUID) -> int:
    """Reject the account's pending approvals (its signers changed); how many."""
    closed = await uow.session.execute(
        update(BankApproval)
        .where(
            BankApproval.tenant_id == ctx.tenant_id,
            BankApproval.account_id == account_id,
            BankApproval.status == "pending",
        )
        .values(status="rejected", updated_at=clock.now())
        .returning(BankApproval.id)
    )
    return len(closed.all())


async def holder_add(
    db: Database, ctx: Context, *, account_id: uuid.UUID, request: HolderCreate
) -> Holder:
    """Make another KYC-verified customer a holder of the account (audited)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        account = await account_for_update(uow, ctx, account_id)
        kyc = (
            await uow.session.execute(
                select(BankCustomer.kyc_status).where(
                    BankCustomer.tenant_id == ctx.tenant_id,
                    BankCustomer.id == request.customer_id,
                )
            )
        ).scalar()
        if kyc is None:
            raise CustomerNotFound(f"Customer {request.customer_id} was not found.")
        if kyc != "verified":
            raise CustomerNotVerified("Only KYC-verified customers hold accounts.")
        existing = await uow.session.get(
            BankAccountHolder, (ctx.tenant_id, account_id, request.customer_id)
        )
        if request.customer_id == account.customer_id or existing is not None:
            raise AccountHolderConflict(
                f"Customer {request.customer_id} already holds account {account_id}."
            )
        held = await uow.session.execute(
            select(func.count()).where(
                BankAccountHolder.tenant_id == ctx.tenant_id,
                BankAccountHolder.account_id == account_id,
            )
        )
        if held.scalar_one() >= MAX_HOLDERS:
            raise AccountHolderLimitReached(
                f"Account {account_id} has {MAX_HOLDERS} holders besides its primary one."
            )
        holder = BankAccountHolder(
            tenant_id=ctx.tenant_id,
            account_id=account_id,
            customer_id=request.customer_id,
            role=request.role,
            nickname=request.nickname,
            added_by=ctx.actor_id,
            added_at=clock.now(),
        )
        uow.session.add(holder)
        await uow.session.flush()
        await approvals_close(uow, ctx, account_id)
        await _announce(
            uow, ctx, "holder_added", _payload(account_id, holder.customer_id, holder.role)
        )
    return Holder(holder.customer_id, holder.role, holder.nickname, False, holder.added_at)


async def _holder_locked(
    uow: UnitOfWork, ctx: Context, account_id: uuid.UUID, customer_id: uuid.UUID
) -> BankAccountHolder:
    account = await account_for_update(uow, ctx, account_id)
    if customer_id == account.customer_id:
        raise AccountHolderPrimary("The primary holder is the account's customer: it stays.")
    holder = await uow.session.get(BankAccountHolder, (ctx.tenant_id, account_id, customer_id))
    if holder is None:
        raise AccountHolderNotFound(f"Customer {customer_id} does not hold account {account_id}.")
    return holder


async def holder_update(
    db: Database,
    ctx: Context,
    *,
    account_id: uuid.UUID,
    customer_id: uuid.UUID,
    request: HolderUpdate,
) -> Holder:
    """Change a holder's role or nickname (audited); a new role closes pending approvals."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        holder = await _holder_locked(uow, ctx, account_id, customer_id)
        before = {"role": holder.role}
        changes = request.model_dump(exclude_unset=True)
        if changes.get("role") is None:
            changes.pop("role", None)
        for name, value in changes.items():
            setattr(holder, name, value)
        await uow.session.flush()
        if holder.role != before["role"]:
            await approvals_close(uow, ctx, account_id)
        await _announce(
            uow, ctx, "holder_changed", _payload(account_id, customer_id, holder.role), before
        )
    return Holder(holder.customer_id, holder.role, holder.nickname, False, holder.added_at)


async def holder_remove(
    db: Database, ctx: Context, *, account_id: uuid.UUID, customer_id: uuid.UUID
) -> None:
    """A customer no longer holds the account: its portal users lose access at once."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        holder = await _holder_locked(uow, ctx, account_id, customer_id)
        role = holder.role
        await uow.session.execute(
            delete(BankAccountHolder).where(
                BankAccountHolder.tenant_id == ctx.tenant_id,
                BankAccountHolder.account_id == account_id,
                BankAccountHolder.customer_id == customer_id,
            )
        )
        await approvals_close(uow, ctx, account_id)
        await _announce(
            uow, ctx, "holder_removed", _payload(account_id, customer_id, None), {"role": role}
        )


async def account_signing_set(
    db: Database, ctx: Context, *, account_id: uuid.UUID, signing_rule: str
) -> BankAccount:
    """Set who signs money out of the account (audited); closes pending approvals."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        account = await account_for_update(uow, ctx, account_id)
        previous = account.signing_rule
        if previous != signing_rule:
            account.signing_rule = signing_rule
            account.updated_at = clock.now()
            await uow.session.flush()
            await approvals_close(uow, ctx, account_id)
            await _announce(
                uow,
                ctx,
                "signing_rule_set",
                {"account_id": str(account_id), "signing_rule": signing_rule},
                {"signing_rule": previous},
            )
    return account
