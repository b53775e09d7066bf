"""/v1/fees: fees charged to accounts, and their reversal by staff."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.banking.fees import service
from fiscus.banking.fees.schemas import FeePage, FeeRead, FeeReverse
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import idempotent, model_response
from fiscus.core.pagination import Cursor, Limit
from fiscus.deps import DatabaseDep, IdempotencyDep

router = APIRouter(prefix="/v1/fees", tags=["banking"])
Reader = Annotated[Context, authorized("bank_fees:read")]
Reverser = Annotated[Context, authorized("bank_fees:reverse")]


@router.get(
    "",
    summary="List fees charged",
    response_model=FeePage,
    responses=problem_responses(400, 401, 403),
)
async def list_fees(
    ctx: Reader,
    db: DatabaseDep,
    account_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> FeePage:
    """Newest first, optionally of one account; a portal user sees their own accounts'."""
    rows, next_cursor = await service.fee_list(
        db, ctx, account_id=account_id, cursor=cursor, limit=limit
    )
    return FeePage(data=[FeeRead.model_validate(f) for f in rows], next_cursor=next_cursor)


@router.post(
    "/{fee_id}/reverse",
    summary="Give a fee back",
    response_model=FeeRead,
    responses=problem_responses(400, 401, 403, 404, 409),
)
async def reverse_fee(
    fee_id: uuid.UUID,
    body: FeeReverse,
    request: Request,
    ctx: Reverser,
    db: DatabaseDep,
    store: IdempotencyDep,
) -> Response:
    """Staff only: the fee's ledger transfer is reversed (fee income back to the account),
    audited with the reason; a fee is reversed at most once (409 the second time)."""

    async def handler() -> Response:
        fee = await service.fee_reverse(db, ctx, fee_id=fee_id, reason=body.reason)
        return model_response(FeeRead.model_validate(fee))

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=True, handler=handler
    )
