"""Ledger accounts: open, close, and change the limit at runtime, each audited."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import ValidationProblem
from fiscus.core.ids import new_id
from fiscus.ledger.errors import (
    LedgerAccountCodeTaken,
    LedgerAccountLimitInvalid,
    LedgerAccountNotFound,
)
from fiscus.ledger.models import LedgerAccount
from fiscus.ledger.schemas import AccountCreate


def _audited(account: LedgerAccount) -> dict[str, Any]:
    # The name and metadata stay out of the audit trail: they may name a person.
    return {
        "code": account.code,
        "currency": account.currency,
        "type": account.type,
        "normal_side": account.normal_side,
        "debits_must_not_exceed_credits": account.debits_must_not_exceed_credits,
        "credits_must_not_exceed_debits": account.credits_must_not_exceed_debits,
        "overdraft_limit": account.overdraft_limit,
    }


async def account_create_in(
    uow: UnitOfWork, *, ctx: Context, request: AccountCreate
) -> LedgerAccount:
    """Open a ledger account with zero balances and audit it, in the caller's unit of
    work; never commits."""
    assert uow.active, "the ledger writes inside the use case's unit of work"
    if {"debits_must_not_exceed_credits", "credits_must_not_exceed_debits"} <= set(request.flags):
        raise ValidationProblem("An account limits one direction at most.", field="flags")
    account = LedgerAccount(
        tenant_id=ctx.tenant_id,
        id=new_id(),
        code=request.code,
        name=request.name,
        currency=request.currency,
        type=request.type,
        normal_side=request.normal_side,
        debits_must_not_exceed_credits="debits_must_not_exceed_credits" in request.flags,
        credits_must_not_exceed_debits="credits_must_not_exceed_debits" in request.flags,
        overdraft_limit=request.overdraft_limit,
        metadata_=request.metadata,
        debits_pending=0,
        debits_posted=0,
        credits_pending=0,
        credits_posted=0,
        version=0,
        created_at=clock.now(),
    )
    uow.session.add(account)
    try:
        # Flushed here, not at the caller's commit, so a taken code is this use case's
        # refusal (the caller's transaction then rolls back as a whole).
        await uow.session.flush()
    except IntegrityError as error:
        if "uq_ledger_accounts_tenant_id_code" in str(error.orig):
            raise LedgerAccountCodeTaken(f"Account code {request.code!r} is taken.") from None
        raise
    await audit_record(
        uow,
        ctx=ctx,
        action="ledger_account.created",
        object_type="ledger_account",
        object_id=account.id,
        after=_audited(account),
    )
    return account


async def account_create(*, db: Database, ctx: Context, request: AccountCreate) -> LedgerAccount:
    """Open a ledger account with zero balances."""
    ctx.require("ledger_accounts:create")
    return await db.run(
        lambda uow: account_create_in(uow, ctx=ctx, request=request), tenant_id=ctx.tenant_id
    )


async def _locked(uow: UnitOfWork, tenant_id: uuid.UUID, account_id: uuid.UUID) -> LedgerAccount:
    assert uow.active, "the ledger writes inside the use case's unit of work"
    account = (
        await uow.session.execute(
            select(LedgerAccount)
            .where(LedgerAccount.tenant_id == tenant_id, LedgerAccount.id == account_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if account is None:
        raise LedgerAccountNotFound(f"No ledger account {account_id}.")
    return account


async def account_close_in(
    uow: UnitOfWork, *, ctx: Context, account_id: uuid.UUID
) -> LedgerAccount:
    """Close an account and audit it, in the caller's unit of work; never commits."""
    account = await _locked(uow, ctx.tenant_id, account_id)
    if account.closed_at is None:
        account.closed_at = clock.now()
        # Written now: the caller's next ledger call runs on the driver connection, which
        # sees only what the session has flushed.
        await uow.session.flush()
        await audit_record(
            uow,
            ctx=ctx,
            action="ledger_account.closed",
            object_type="ledger_account",
            object_id=account.id,
        )
    return account


async def account_close(*, db: Database, ctx: Context, account_id: uuid.UUID) -> LedgerAccount:
    """Close an account: new transfers touching it are refused with `account_closed`;
    its pending transfers may still be voided."""
    ctx.require("ledger_accounts:manage")
    return await db.run(
        lambda uow: account_close_in(uow, ctx=ctx, account_id=account_id),
        tenant_id=ctx.tenant_id,
    )


async def account_set_limit_in(
    uow: UnitOfWork, *, ctx: Context, account_id: uuid.UUID, overdraft_limit: int | None
) -> LedgerAccount:
    """Change the overdraft (or credit) limit and audit it, in the caller's unit of work;
    refused if the account is already past it; never commits."""
    account = await _locked(uow, ctx.tenant_id, account_id)
    room = overdraft_limit or 0
    if account.debits_must_not_exceed_credits:
        used = account.debits_pending + account.debits_posted - account.credits_posted
    elif account.credits_must_not_exceed_debits:
        used = account.credits_pending + account.credits_posted - account.debits_posted
    else:
        used = 0
    if used > room:
        raise LedgerAccountLimitInvalid(
            f"The account already uses {used} minor units past its balance; "
            f"the limit cannot go below that."
        )
    before = account.overdraft_limit
    account.overdraft_limit = overdraft_limit
    await uow.session.flush()  # visible to the caller's next posting (see account_close_in)
    await audit_record(
        uow,
        ctx=ctx,
        action="ledger_account.limit_changed",
        object_type="ledger_account",
        object_id=account.id,
        before={"overdraft_limit": before},
        after={"overdraft_limit": overdraft_limit},
    )
    return account


async def account_set_limit(
    *, db: Database, ctx: Context, account_id: uuid.UUID, overdraft_limit: int | None
) -> LedgerAccount:
    """Change the overdraft (or credit) limit; refused if the account is already past it."""
    ctx.require("ledger_accounts:manage")
    return await db.run(
        lambda uow: account_set_limit_in(
            uow, ctx=ctx, account_id=account_id, overdraft_limit=overdraft_limit
        ),
        tenant_id=ctx.tenant_id,
    )
