"""`/v1/ledger/...`: accounts, balances, history, transfers, batches, trial balance."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.core.clock import Timestamp
from fiscus.core.db import Database
from fiscus.core.errors import IdempotencyKeyRequired
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import (
    HEADER,
    REPLAYED_HEADER,
    IdempotencyStore,
    check_key,
    idempotent,
    model_response,
)
from fiscus.core.pagination import Cursor, Limit, Page
from fiscus.deps import DatabaseDep, IdempotencyDep
from fiscus.ledger import queries, service
from fiscus.ledger.schemas import (
    AccountCreate,
    AccountLimitUpdate,
    AccountRead,
    BalanceRead,
    BatchCreate,
    BatchItemResult,
    BatchRead,
    EntryRead,
    LegRead,
    PendingPost,
    TransferAction,
    TransferCreate,
    TransferRead,
    TrialBalanceRead,
)
from fiscus.ledger.service import TransferOutcome

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])
READ_ERRORS = problem_responses(401, 403, 404)
MOVE_ERRORS = problem_responses(400, 401, 403, 404, 409, 422)


def _key(request: Request) -> str | None:
    return request.headers.get(HEADER)


@router.post(
    "/accounts",
    status_code=201,
    response_model=AccountRead,
    summary="Open a ledger account",
    responses=problem_responses(400, 401, 403, 409),
)
async def create_account(
    request: Request,
    body: AccountCreate,
    ctx: Annotated[Context, authorized("ledger_accounts:create")],
    db: DatabaseDep,
    store: IdempotencyDep,
) -> Response:
    """Open an account with zero balances; `code` is unique per tenant."""

    async def handler() -> Response:
        account = await service.account_create(db=db, ctx=ctx, request=body)
        return model_response(queries.account_read(account), status_code=201)

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=False, handler=handler
    )


@router.get(
    "/accounts",
    response_model=Page[AccountRead],
    summary="List ledger accounts",
    responses=READ_ERRORS,
)
async def list_accounts(
    ctx: Annotated[Context, authorized("ledger_accounts:read")],
    db: DatabaseDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AccountRead]:
    """The tenant's accounts in id order, cursor-paginated."""
    rows, next_cursor = await queries.account_list(db=db, ctx=ctx, limit=limit, cursor=cursor)
    return Page(data=rows, next_cursor=next_cursor)


@router.get(
    "/accounts/{account_id:uuid}",
    response_model=AccountRead,
    summary="Get a ledger account",
    responses=READ_ERRORS,
)
async def get_account(
    account_id: uuid.UUID,
    ctx: Annotated[Context, authorized("ledger_accounts:read")],
    db: DatabaseDep,
) -> AccountRead:
    """One account with its balances."""
    return await queries.account_get(db=db, ctx=ctx, account_id=account_id)


@router.post(
    "/accounts/{account_id:uuid}/close",
    response_model=AccountRead,
    summary="Close a ledger account",
    responses=READ_ERRORS,
)
async def close_account(
    account_id: uuid.UUID,
    ctx: Annotated[Context, authorized("ledger_accounts:manage")],
    db: DatabaseDep,
) -> AccountRead:
    """New transfers touching a closed account are refused with `account_closed`."""
    return queries.account_read(await service.account_close(db=db, ctx=ctx, account_id=account_id))


@router.patch(
    "/accounts/{account_id:uuid}",
    response_model=AccountRead,
    summary="Change an account's limit",
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def update_account_limit(
    account_id: uuid.UUID,
    body: AccountLimitUpdate,
    ctx: Annotated[Context, authorized("ledger_accounts:manage")],
    db: DatabaseDep,
) -> AccountRead:
    """Set or remove the overdraft (or credit) limit; refused below what is already used.
    A body without `overdraft_limit` changes nothing and returns the account."""
    if "overdraft_limit" not in body.model_fields_set:
        return await queries.account_get(db=db, ctx=ctx, account_id=account_id)
    account = await service.account_set_limit(
        db=db, ctx=ctx, account_id=account_id, overdraft_limit=body.overdraft_limit
    )
    return queries.account_read(account)


@router.get(
    "/accounts/{account_id:uuid}/balance",
    response_model=BalanceRead,
    summary="Balance now or at a point in time",
    responses=READ_ERRORS,
)
async def get_balance(
    account_id: uuid.UUID,
    ctx: Annotated[Context, authorized("ledger_accounts:read")],
    db: DatabaseDep,
    as_of: Annotated[Timestamp | None, Query(description="RFC 3339 time; default now")] = None,
) -> BalanceRead:
    """Posted and pending balances; `balance` is signed by the normal side."""
    return await queries.balance_get(db=db, ctx=ctx, account_id=account_id, as_of=as_of)


@router.get(
    "/accounts/{account_id:uuid}/entries",
    response_model=Page[EntryRead],
    summary="An account's entries with running balances",
    responses=READ_ERRORS,
)
async def list_entries(
    account_id: uuid.UUID,
    ctx: Annotated[Context, authorized("ledger_accounts:read")],
    db: DatabaseDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[EntryRead]:
    """Newest first; each entry carries the account's balances right after it."""
    rows, next_cursor = await queries.entries_page(
        db=db, ctx=ctx, account_id=account_id, limit=limit, cursor=cursor
    )
    return Page(data=rows, next_cursor=next_cursor)


def _created(body: TransferCreate, outcome: TransferOutcome) -> TransferRead:
    """The response for a new posting, from the request and the outcome (no extra read)."""
    legs = [
        LegRead(
            account_id=leg.account_id,
            direction=leg.direction,
            amount=leg.amount,
            currency=leg.currency or body.currency,
        )
        for leg in body.leg_list()
    ]
    timeout_at = outcome.now + timedelta(seconds=body.timeout_s) if body.timeout_s else None
    return TransferRead(
        id=outcome.transfer_id,
        kind="transfer",
        status=outcome.status,
        currency=body.currency,
        amount=sum(
            leg.amount for leg in legs if leg.direction == "debit" and leg.currency == body.currency
        ),
        legs=legs,
        pending=body.pending,
        parent_id=None,
        timeout_at=timeout_at,
        effective_at=body.effective_at or outcome.now,
        recorded_at=outcome.recorded_at,
        description=body.description,
        metadata=body.metadata,
        fx=body.fx.model_dump() if body.fx else None,
    )


@router.post(
    "/transfers",
    status_code=201,
    response_model=TransferRead,
    summary="Post a transfer",
    responses=MOVE_ERRORS,
)
async def create_transfer(
    request: Request,
    body: TransferCreate,
    ctx: Annotated[Context, authorized("transfers:create")],
    db: DatabaseDep,
) -> Response:
    """Post N legs (or the two-account form), immediately or pending. A refusal is a 422
    problem whose `type` ends with the result code.

    The `Idempotency-Key` (required) is kept by the ledger itself, on the transfer, inside
    the posting's own transaction and without expiry: a retry with the same key and body
    returns the original transfer (201, `Idempotent-Replayed: true`), never a second
    posting; the same key with another body is a 409 `exists_with_different_<field>`. A
    refused transfer stores nothing, so its retry is decided afresh.
    """
    raw_key = request.headers.get(HEADER)
    if raw_key is None:
        raise IdempotencyKeyRequired(
            f"This operation moves money: send an {HEADER} header (a UUID works well).",
            field=HEADER,
        )
    outcome = await service.transfer_create(
        db=db, ctx=ctx, request=body, idempotency_key=check_key(raw_key)
    )
    if outcome.replayed:
        stored = await queries.transfer_get(db=db, ctx=ctx, transfer_id=outcome.transfer_id)
        response = model_response(stored, status_code=201)
        response.headers[REPLAYED_HEADER] = "true"
        return response
    return model_response(_created(body, outcome), status_code=201)


@router.post(
    "/transfers/batch",
    response_model=BatchRead,
    summary="Post up to 8,000 transfers",
    responses=MOVE_ERRORS,
)
async def create_batch(
    request: Request,
    body: BatchCreate,
    ctx: Annotated[Context, authorized("transfers:create")],
    db: DatabaseDep,
    store: IdempotencyDep,
) -> Response:
    """Atomic (all or none: a refusal is a 422 naming the item) or independent (a result
    per item in order). `linked: true` chains an item with the next: a chain succeeds or
    fails as a unit."""

    async def handler() -> Response:
        items = await service.transfer_batch(
            db=db, ctx=ctx, transfers=body.transfers, mode=body.mode
        )
        results = [
            BatchItemResult(index=i.index, code=i.code, transfer_id=i.transfer_id, status=i.status)
            for i in items
        ]
        return model_response(BatchRead(mode=body.mode, results=results))

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=True, handler=handler
    )


@router.get(
    "/transfers/{transfer_id:uuid}",
    response_model=TransferRead,
    summary="Get a transfer",
    responses=READ_ERRORS,
)
async def get_transfer(
    transfer_id: uuid.UUID,
    ctx: Annotated[Context, authorized("transfers:read")],
    db: DatabaseDep,
) -> TransferRead:
    """One transfer with its legs."""
    return await queries.transfer_get(db=db, ctx=ctx, transfer_id=transfer_id)


async def _transfer_action(
    request: Request,
    *,
    db: Database,
    ctx: Context,
    store: IdempotencyStore,
    action: Callable[[str | None], Awaitable[TransferOutcome]],
) -> Response:
    """Run a post/void/reverse once per Idempotency-Key and answer the stored transfer."""

    async def handler() -> Response:
        outcome = await action(_key(request))
        stored = await queries.transfer_get(db=db, ctx=ctx, transfer_id=outcome.transfer_id)
        return model_response(stored, status_code=201)

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=True, handler=handler
    )


@router.post(
    "/transfers/{transfer_id:uuid}/post",
    status_code=201,
    response_model=TransferRead,
    summary="Post a pending transfer",
    responses=MOVE_ERRORS,
)
async def post_pending(
    request: Request,
    transfer_id: uuid.UUID,
    body: PendingPost,
    ctx: Annotated[Context, authorized("transfers:manage")],
    db: DatabaseDep,
    store: IdempotencyDep,
) -> Response:
    """Post in full, or with `amount` in part (two-leg transfers); exactly once."""

    return await _transfer_action(
        request,
        db=db,
        ctx=ctx,
        store=store,
        action=lambda key: service.transfer_post_pending(
            db=db, ctx=ctx, pending_id=transfer_id, request=body, idempotency_key=key
        ),
    )


@router.post(
    "/transfers/{transfer_id:uuid}/void",
    status_code=201,
    response_model=TransferRead,
    summary="Void a pending transfer",
    responses=MOVE_ERRORS,
)
async def void_pending(
    request: Request,
    transfer_id: uuid.UUID,
    body: TransferAction,
    ctx: Annotated[Context, authorized("transfers:manage")],
    db: DatabaseDep,
    store: IdempotencyDep,
) -> Response:
    """Release a pending transfer's amounts; exactly once."""

    return await _transfer_action(
        request,
        db=db,
        ctx=ctx,
        store=store,
        action=lambda key: service.transfer_void_pending(
            db=db, ctx=ctx, pending_id=transfer_id, request=body, idempotency_key=key
        ),
    )


@router.post(
    "/transfers/{transfer_id:uuid}/reverse",
    status_code=201,
    response_model=TransferRead,
    summary="Reverse a posted transfer",
    responses=MOVE_ERRORS,
)
async def reverse_transfer(
    request: Request,
    transfer_id: uuid.UUID,
    body: TransferAction,
    ctx: Annotated[Context, authorized("transfers:manage")],
    db: DatabaseDep,
    store: IdempotencyDep,
) -> Response:
    """A new transfer with the opposite legs, linked to the original; at most once."""

    return await _transfer_action(
        request,
        db=db,
        ctx=ctx,
        store=store,
        action=lambda key: service.transfer_reverse(
            db=db, ctx=ctx, transfer_id=transfer_id, request=body, idempotency_key=key
        ),
    )


@router.get(
    "/trial-balance",
    response_model=TrialBalanceRead,
    summary="The tenant's trial balance",
    responses=problem_responses(401, 403),
)
async def get_trial_balance(
    ctx: Annotated[Context, authorized("ledger_accounts:read")], db: DatabaseDep
) -> TrialBalanceRead:
    """Per currency, total debits and credits over every account (they must be equal)."""
    return await queries.trial_balance(db=db, ctx=ctx)
