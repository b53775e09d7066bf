"""Single transfers: post (immediately or pending), post or void a pending one, reverse."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.ids import new_id
from fiscus.ledger.codes import ResultCode
from fiscus.ledger.errors import transfer_refused
from fiscus.ledger.schemas import FxIn, PendingPost, TransferAction, TransferCreate
from fiscus.ledger.service._sql_part import (
    POST_SQL,
    RESOLVE_SQL,
    REVERSE_SQL,
    Row,
    call_one,
    ledger_run,
)

# How far in the past `effective_at` may lie, and how far ahead of our clock a client's
# clock may run before we call its `effective_at` "in the future".
DEFAULT_BACKDATE_WINDOW = timedelta(days=31)
CLOCK_SKEW = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class TransferOutcome:
    """An accepted transfer (new, or the original one when `replayed`)."""

    transfer_id: uuid.UUID
    status: str
    recorded_at: datetime
    replayed: bool
    # The service's clock reading for this posting (effective_at defaults to it and a
    # pending timeout counts from it); replayed outcomes carry the retry's reading.
    now: datetime


def static_refusal(
    request: TransferCreate, *, now: datetime, backdate_window: timedelta
) -> ResultCode | None:
    """The first request-shape rule the transfer breaks (no database needed), if any."""
    legs = request.leg_list()
    if len({leg.account_id for leg in legs}) != len(legs):
        return ResultCode.ACCOUNTS_MUST_BE_DIFFERENT
    sums: dict[str, int] = defaultdict(int)
    for leg in legs:
        sums[leg.currency or request.currency] += (
            leg.amount if leg.direction == "debit" else -leg.amount
        )
    if any(total != 0 for total in sums.values()):
        return ResultCode.TRANSFER_MUST_BALANCE
    if request.fx is not None and (refusal := _fx_refusal(request.fx, set(sums))):
        return refusal
    if request.timeout_s is not None and not request.pending:
        return ResultCode.TIMEOUT_REQUIRES_PENDING
    return _effective_at_refusal(request.effective_at, now, backdate_window)


def _effective_at_refusal(
    effective_at: datetime | None, now: datetime, backdate_window: timedelta
) -> ResultCode | None:
    if effective_at is not None and effective_at > now + CLOCK_SKEW:
        return ResultCode.EFFECTIVE_AT_IN_FUTURE
    if effective_at is not None and effective_at < now - backdate_window:
        return ResultCode.EFFECTIVE_AT_TOO_OLD
    return None


def _fx_refusal(fx: FxIn, currencies: set[str]) -> ResultCode | None:
    """The rule an exchange rate breaks (as `ledger_post_new` v2 decides it), if any."""
    if Decimal(fx.rate) <= 0:
        return ResultCode.FX_RATE_MUST_BE_POSITIVE
    if len(currencies) < 2:
        return ResultCode.FX_ON_SINGLE_CURRENCY_TRANSFER
    if fx.from_currency == fx.to_currency or not {fx.from_currency, fx.to_currency} <= currencies:
        return ResultCode.FX_CURRENCIES_NOT_IN_TRANSFER
    return None


def post_params(
    tenant_id: uuid.UUID, request: TransferCreate, *, key: str | None, now: datetime
) -> tuple[Any, ...]:
    """Arguments of `ledger_post` for one transfer."""
    legs = request.leg_list()
    return (
        tenant_id,
        request.id or new_id(),
        request.id is not None,
        key,
        request.currency,
        [leg.account_id for leg in legs],
        [leg.direction for leg in legs],
        [leg.amount for leg in legs],
        [leg.currency or request.currency for leg in legs],
        request.pending,
        request.timeout_s,
        now,
        request.effective_at,
        request.description,
        Jsonb(request.metadata),
        Jsonb(request.fx.model_dump()) if request.fx is not None else None,
        new_id(),
    )


def _outcome(row: Row, now: datetime) -> TransferOutcome:
    if row.code not in ("ok", ResultCode.EXISTS):
        raise transfer_refused(ResultCode(row.code))
    assert row.transfer_id and row.status and row.recorded_at
    return TransferOutcome(row.transfer_id, row.status, row.recorded_at, row.replayed, now)


async def _audit_correction(
    uow: UnitOfWork,
    ctx: Context,
    outcome: TransferOutcome,
    action: str,
    transfer_id: uuid.UUID,
    link: str,
) -> None:
    """Audit a void or reversal (administration of the ledger); a replay was audited once."""
    if not outcome.replayed:
        await audit_record(
            uow,
            ctx=ctx,
            action=action,
            object_type="transfer",
            object_id=transfer_id,
            details={link: str(outcome.transfer_id)},
        )


async def transfer_create_in(
    uow: UnitOfWork,
    *,
    ctx: Context,
    request: TransferCreate,
    idempotency_key: str | None = None,
    backdate_window: timedelta = DEFAULT_BACKDATE_WINDOW,
) -> TransferOutcome:
    """Post one transfer inside the caller's unit of work; never commits.

    The posting function also writes the `transfer.posted`/`transfer.pending` event into
    the outbox, in this same transaction.
    """
    now = clock.now()
    refusal = static_refusal(request, now=now, backdate_window=backdate_window)
    if refusal is not None:
        raise transfer_refused(refusal)
    params = post_params(ctx.tenant_id, request, key=idempotency_key, now=now)
    return _outcome(await call_one(uow, POST_SQL, params), now)


async def transfer_create(
    *,
    db: Database,
    ctx: Context,
    request: TransferCreate,
    idempotency_key: str | None = None,
    backdate_window: timedelta = DEFAULT_BACKDATE_WINDOW,
) -> TransferOutcome:
    """Post one transfer (immediately, or pending with an optional timeout) as its own
    use case: a single-statement unit of work, one round trip."""
    ctx.require("transfers:create")
    return await ledger_run(
        db,
        lambda uow: transfer_create_in(
            uow,
            ctx=ctx,
            request=request,
            idempotency_key=idempotency_key,
            backdate_window=backdate_window,
        ),
        tenant_id=ctx.tenant_id,
        single_statement=True,
    )


async def transfer_post_pending_in(
    uow: UnitOfWork,
    *,
    ctx: Context,
    pending_id: uuid.UUID,
    request: PendingPost,
    idempotency_key: str | None = None,
) -> TransferOutcome:
    """Post a pending transfer, in full or in part, exactly once, in the caller's unit of
    work; never commits."""
    return await _resolve_pending_in(
        uow, ctx=ctx, pending_id=pending_id, request=request, key=idempotency_key, void=False
    )


async def transfer_post_pending(
    *,
    db: Database,
    ctx: Context,
    pending_id: uuid.UUID,
    request: PendingPost,
    idempotency_key: str | None = None,
) -> TransferOutcome:
    """Post a pending transfer, in full or in part, exactly once (one round trip)."""
    ctx.require("transfers:manage")
    return await ledger_run(
        db,
        lambda uow: transfer_post_pending_in(
            uow, ctx=ctx, pending_id=pending_id, request=request, idempotency_key=idempotency_key
        ),
        tenant_id=ctx.tenant_id,
        single_statement=True,
    )


async def transfer_void_pending_in(
    uow: UnitOfWork,
    *,
    ctx: Context,
    pending_id: uuid.UUID,
    request: TransferAction,
    idempotency_key: str | None = None,
) -> TransferOutcome:
    """Void a pending transfer exactly once, releasing its pending amounts, and audit it,
    in the caller's unit of work; never commits."""
    outcome = await _resolve_pending_in(
        uow, ctx=ctx, pending_id=pending_id, request=request, key=idempotency_key, void=True
    )
    await _audit_correction(uow, ctx, outcome, "transfer.voided", pending_id, "void_transfer_id")
    return outcome


async def transfer_void_pending(
    *,
    db: Database,
    ctx: Context,
    pending_id: uuid.UUID,
    request: TransferAction,
    idempotency_key: str | None = None,
) -> TransferOutcome:
    """Void a pending transfer exactly once, releasing its pending amounts."""
    ctx.require("transfers:manage")
    return await ledger_run(
        db,
        lambda uow: transfer_void_pending_in(
            uow, ctx=ctx, pending_id=pending_id, request=request, idempotency_key=idempotency_key
        ),
        tenant_id=ctx.tenant_id,
    )


async def _resolve_pending_in(
    uow: UnitOfWork,
    *,
    ctx: Context,
    pending_id: uuid.UUID,
    request: TransferAction | PendingPost,
    key: str | None,
    void: bool,
) -> TransferOutcome:
    # Posting and voiding are one database function: it resolves the pending transfer once.
    now = clock.now()
    params = (
        ctx.tenant_id,
        request.id or new_id(),
        request.id is not None,
        key,
        pending_id,
        void,
        None if void or not isinstance(request, PendingPost) else request.amount,
        now,
        request.description,
        Jsonb(request.metadata),
        new_id(),
    )
    return _outcome(await call_one(uow, RESOLVE_SQL, params), now)


async def transfer_reverse_in(
    uow: UnitOfWork,
    *,
    ctx: Context,
    transfer_id: uuid.UUID,
    request: TransferAction,
    idempotency_key: str | None = None,
) -> TransferOutcome:
    """Reverse a posted transfer with a new linked transfer of opposite legs, at most once,
    and audit it, in the caller's unit of work; never commits."""
    now = clock.now()
    params = (
        ctx.tenant_id,
        request.id or new_id(),
        request.id is not None,
        idempotency_key,
        transfer_id,
        now,
        request.description,
        Jsonb(request.metadata),
        new_id(),
    )
    outcome = _outcome(await call_one(uow, REVERSE_SQL, params), now)
    await _audit_correction(uow, ctx, outcome, "transfer.reversed", transfer_id, "reversal_id")
    return outcome


async def transfer_reverse(
    *,
    db: Database,
    ctx: Context,
    transfer_id: uuid.UUID,
    request: TransferAction,
    idempotency_key: str | None = None,
) -> TransferOutcome:
    """Reverse a posted transfer with a new linked transfer of opposite legs, at most once."""
    ctx.require("transfers:manage")
    return await ledger_run(
        db,
        lambda uow: transfer_reverse_in(
            uow,
            ctx=ctx,
            transfer_id=transfer_id,
            request=request,
            idempotency_key=idempotency_key,
        ),
        tenant_id=ctx.tenant_id,
    )
