"""/v1/transfers: internal transfers between the tenant's accounts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.banking import queries, service
from fiscus.banking.api._money import money_key, moved_response
from fiscus.banking.api._orders import order_read
from fiscus.banking.joint.api import approval_response
from fiscus.banking.joint.schemas import ApprovalRead
from fiscus.banking.schemas import StandingOrderRead, TransferRead, TransferRequest
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import idempotent, model_response
from fiscus.deps import DatabaseDep, IdempotencyDep

router = APIRouter(prefix="/v1/transfers", tags=["banking"])


@router.post(
    "",
    status_code=201,
    summary="Transfer money to another account of this bank (by id or IBAN), now or later",
    response_model=TransferRead,
    responses={
        202: {
            "model": StandingOrderRead | ApprovalRead,
            "description": "Scheduled (`execute_on`): the standing order that will pay once;"
            " or, from an all-sign joint account, the approval the other holders must sign",
        },
        **problem_responses(400, 401, 403, 404, 409, 422),
    },
)
async def create_transfer(
    body: TransferRequest,
    request: Request,
    ctx: Annotated[Context, authorized("bank_transfers:create")],
    db: DatabaseDep,
    store: IdempotencyDep,
) -> Response:
    """Moves money: the `Idempotency-Key` is required. Refusals are precise problem types:
    `insufficient-funds`, `account-frozen`, `account-dormant`, `account-not-active`,
    `account-closed`, `account-currency-mismatch`, `transfer-limit-exceeded`,
    `operation-not-allowed`. A portal user sends only from accounts of customers they own.
    With `execute_on` (a business date, today or later) the transfer is scheduled: 202 with
    the standing order (`count` 1) that the standing-order job pays on that date
    (`standing-order-start-in-past` for an earlier date). From a joint account whose
    signing rule is `all`, a portal user's transfer waits for the other signing holders:
    202 with the approval (`/v1/approvals`); the same key finds it again."""
    key = money_key(request)
    on = body.execute_on
    if on is None:
        done = await service.transfer_submit(db, ctx, request=body, key=key)
        if isinstance(done, service.Approval):
            return approval_response(done)
        return moved_response(done)

    async def handler() -> Response:
        order = await service.transfer_schedule(db, ctx, request=body, on=on)
        return model_response(order_read(order), status_code=202)

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=True, handler=handler
    )


@router.get(
    "/{transfer_id}",
    summary="One transfer",
    response_model=TransferRead,
    responses=problem_responses(401, 403, 404),
)
async def get_transfer(
    transfer_id: uuid.UUID,
    ctx: Annotated[Context, authorized("bank_transfers:read")],
    db: DatabaseDep,
) -> TransferRead:
    """A deposit or internal transfer (a portal user: to or from their accounts)."""
    return TransferRead.model_validate(await queries.transfer_get(db, ctx, transfer_id=transfer_id))
