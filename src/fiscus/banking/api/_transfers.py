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
from fiscus.banking.schemas import TransferCreate, TransferRead
from fiscus.core.http import problem_responses
from fiscus.deps import DatabaseDep

router = APIRouter(prefix="/v1/transfers", tags=["banking"])


@router.post(
    "",
    status_code=201,
    summary="Transfer money to another account of this bank (by id or IBAN)",
    response_model=TransferRead,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def create_transfer(
    body: TransferCreate,
    request: Request,
    ctx: Annotated[Context, authorized("bank_transfers:create")],
    db: DatabaseDep,
) -> Response:
    """Moves money: the `Idempotency-Key` is required. Refusals are precise problem types:
    `insufficient-funds`, `account-frozen`, `account-dormant`, `account-not-active`,
    `account-closed`, `account-currency-mismatch`, `transfer-limit-exceeded`,
    `operation-not-allowed`. A portal user sends only from accounts of customers they own."""
    moved = await service.transfer_create(db, ctx, request=body, key=money_key(request))
    return moved_response(moved)


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
