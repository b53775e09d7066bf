"""/v1/payees: the outside accounts a customer pays."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.banking import service
from fiscus.banking.schemas import PayeeCreate, PayeePage, PayeeRead
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import idempotent, model_response
from fiscus.core.pagination import Cursor, Limit
from fiscus.deps import DatabaseDep, IdempotencyDep, KeyRingDep

router = APIRouter(prefix="/v1/payees", tags=["banking"])
Reader = Annotated[Context, authorized("bank_payees:read")]
Manager = Annotated[Context, authorized("bank_payees:manage")]


@router.post(
    "",
    status_code=201,
    summary="Add a payee to a customer (IBAN and BIC checked)",
    response_model=PayeeRead,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def create_payee(
    body: PayeeCreate,
    request: Request,
    ctx: Manager,
    db: DatabaseDep,
    keyring: KeyRingDep,
    store: IdempotencyDep,
) -> Response:
    """A bad IBAN is `iban-invalid` (field `iban`), a bad BIC `bic-invalid`. A portal user
    adds payees only to customers they own; the name is stored encrypted."""

    async def handler() -> Response:
        payee = await service.payee_create(db, ctx, keyring=keyring, request=body)
        return model_response(service.payee_read(payee, keyring), status_code=201)

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=False, handler=handler
    )


@router.get(
    "",
    summary="List payees",
    response_model=PayeePage,
    responses=problem_responses(400, 401, 403),
)
async def list_payees(
    ctx: Reader,
    db: DatabaseDep,
    keyring: KeyRingDep,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> PayeePage:
    """Oldest first, deleted ones left out; a portal user sees its customers' payees."""
    rows, next_cursor = await service.payee_list(
        db, ctx, customer_id=customer_id, cursor=cursor, limit=limit
    )
    return PayeePage(data=[service.payee_read(p, keyring) for p in rows], next_cursor=next_cursor)


@router.get(
    "/{payee_id}",
    summary="One payee",
    response_model=PayeeRead,
    responses=problem_responses(401, 403, 404),
)
async def get_payee(
    payee_id: uuid.UUID, ctx: Reader, db: DatabaseDep, keyring: KeyRingDep
) -> PayeeRead:
    """A live payee of a customer the caller acts for."""
    return service.payee_read(await service.payee_get(db, ctx, payee_id=payee_id), keyring)


@router.delete(
    "/{payee_id}",
    status_code=204,
    summary="Delete a payee",
    responses=problem_responses(401, 403, 404),
)
async def delete_payee(payee_id: uuid.UUID, ctx: Manager, db: DatabaseDep) -> Response:
    """Soft delete: payments already made keep naming it; it can no longer be paid."""
    await service.payee_delete(db, ctx, payee_id=payee_id)
    return Response(status_code=204)
