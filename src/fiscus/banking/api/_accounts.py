"""/v1/accounts: open, read, freeze, unfreeze, close; deposits, balance and history."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.banking import queries, service
from fiscus.banking.api._money import money_key, moved_response
from fiscus.banking.schemas import (
    AccountCreate,
    AccountPage,
    AccountRead,
    AccountStatus,
    BalanceRead,
    DepositCreate,
    TransactionPage,
    TransferRead,
)
from fiscus.core.clock import Timestamp
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import idempotent, model_response
from fiscus.core.pagination import Cursor, Limit
from fiscus.deps import DatabaseDep, IdempotencyDep

router = APIRouter(prefix="/v1/accounts", tags=["banking"])
Reader = Annotated[Context, authorized("bank_accounts:read")]
Opener = Annotated[Context, authorized("bank_accounts:open")]
Manager = Annotated[Context, authorized("bank_accounts:manage")]
Depositor = Annotated[Context, authorized("bank_deposits:create")]
STATE_ERRORS = problem_responses(401, 403, 404, 409, 422)


def _read(account: object) -> AccountRead:
    return AccountRead.model_validate(account)


@router.post(
    "",
    status_code=201,
    summary="Open an account for a customer",
    response_model=AccountRead,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def open_account(
    body: AccountCreate, request: Request, ctx: Opener, db: DatabaseDep, store: IdempotencyDep
) -> Response:
    """A new IBAN and ledger account; `pending` until funded if the product asks for a
    minimum opening balance. A portal user opens accounts only for customers they own."""

    async def handler() -> Response:
        account = await service.account_open(db, ctx, request=body)
        return model_response(_read(account), status_code=201)

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=False, handler=handler
    )


@router.get(
    "",
    summary="List accounts",
    response_model=AccountPage,
    responses=problem_responses(400, 401, 403),
)
async def list_accounts(
    ctx: Reader,
    db: DatabaseDep,
    customer_id: uuid.UUID | None = None,
    status: Annotated[AccountStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> AccountPage:
    """Oldest first; a portal user sees only their customers' accounts."""
    rows, next_cursor = await queries.account_list(
        db, ctx, customer_id=customer_id, status=status, cursor=cursor, limit=limit
    )
    return AccountPage(data=[_read(a) for a in rows], next_cursor=next_cursor)


@router.get(
    "/{account_id}",
    summary="One account",
    response_model=AccountRead,
    responses=problem_responses(401, 403, 404),
)
async def get_account(account_id: uuid.UUID, ctx: Reader, db: DatabaseDep) -> AccountRead:
    """The account with its IBAN, status and ledger account."""
    return _read(await queries.account_get(db, ctx, account_id=account_id))


@router.post(
    "/{account_id}/freeze",
    summary="Freeze an account (it receives money but sends none)",
    response_model=AccountRead,
    responses=STATE_ERRORS,
)
async def freeze_account(account_id: uuid.UUID, ctx: Manager, db: DatabaseDep) -> AccountRead:
    """From pending, active or dormant."""
    return _read(await service.account_freeze(db, ctx, account_id=account_id))


@router.post(
    "/{account_id}/unfreeze",
    summary="Make a frozen or dormant account active again",
    response_model=AccountRead,
    responses=STATE_ERRORS,
)
async def unfreeze_account(account_id: uuid.UUID, ctx: Manager, db: DatabaseDep) -> AccountRead:
    """From frozen or dormant."""
    return _read(await service.account_unfreeze(db, ctx, account_id=account_id))


@router.post(
    "/{account_id}/close",
    summary="Close an account at a zero balance",
    response_model=AccountRead,
    responses=STATE_ERRORS,
)
async def close_account(account_id: uuid.UUID, ctx: Manager, db: DatabaseDep) -> AccountRead:
    """Refused (`account-balance-not-zero`) while it holds money; its ledger account closes."""
    return _read(await service.account_close(db, ctx, account_id=account_id))


@router.post(
    "/{account_id}/deposits",
    status_code=201,
    summary="Pay cash into an account (from the settlement account)",
    response_model=TransferRead,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def create_deposit(
    account_id: uuid.UUID, body: DepositCreate, request: Request, ctx: Depositor, db: DatabaseDep
) -> Response:
    """Moves money: the `Idempotency-Key` is required; a retry returns the first deposit
    (`Idempotent-Replayed: true`), the same key with another body is a 409."""
    moved = await service.deposit_create(
        db, ctx, account_id=account_id, request=body, key=money_key(request)
    )
    return moved_response(moved)


@router.get(
    "/{account_id}/balance",
    summary="An account's balance and available amount (from the ledger)",
    response_model=BalanceRead,
    responses=problem_responses(401, 403, 404),
)
async def get_balance(account_id: uuid.UUID, ctx: Reader, db: DatabaseDep) -> BalanceRead:
    """Minor units; `available` counts the overdraft and is 0 while the account cannot send."""
    return await service.account_balance(db, ctx, account_id=account_id)


@router.get(
    "/{account_id}/transactions",
    summary="An account's history (from the ledger), newest first",
    response_model=TransactionPage,
    responses=problem_responses(400, 401, 403, 404),
)
async def list_transactions(
    account_id: uuid.UUID,
    ctx: Reader,
    db: DatabaseDep,
    cursor: Cursor = None,
    limit: Limit = 50,
    from_: Annotated[Timestamp | None, Query(alias="from")] = None,
    to: Annotated[Timestamp | None, Query()] = None,
) -> TransactionPage:
    """Entries recorded at or after `from` and before `to` (RFC 3339)."""
    rows, next_cursor = await service.account_transactions(
        db,
        ctx,
        account_id=account_id,
        limit=limit,
        cursor=cursor,
        recorded_from=from_,
        recorded_before=to,
    )
    return TransactionPage(data=rows, next_cursor=next_cursor)
