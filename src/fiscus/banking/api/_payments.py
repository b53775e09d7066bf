"""/v1/payments: outgoing payments to other banks, and their settlement or return."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.banking import service
from fiscus.banking.api._money import money_key
from fiscus.banking.schemas import (
    PaymentCreate,
    PaymentPage,
    PaymentRead,
    PaymentReturn,
    PaymentStatus,
)
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import REPLAYED_HEADER, model_response
from fiscus.core.pagination import Cursor, Limit
from fiscus.deps import DatabaseDep, KeyRingDep, SettingsDep

router = APIRouter(prefix="/v1/payments", tags=["banking"])
Reader = Annotated[Context, authorized("bank_payments:read")]
Manager = Annotated[Context, authorized("bank_payments:manage")]


@router.post(
    "",
    status_code=201,
    summary="Pay money to an account at another bank",
    response_model=PaymentRead,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def create_payment(
    body: PaymentCreate,
    request: Request,
    ctx: Annotated[Context, authorized("bank_payments:create")],
    db: DatabaseDep,
    keyring: KeyRingDep,
    settings: SettingsDep,
) -> Response:
    """Reserves the amount (a pending ledger transfer to the clearing account): the
    `Idempotency-Key` is required. The creditor's name is screened against the sanctions
    lists: a match makes the payment `held` for review instead of `pending_settlement`.
    Refusals are the transfer's: `insufficient-funds`, `account-frozen`, `account-closed`,
    `transfer-limit-exceeded`, ...; a bad creditor IBAN is `iban-invalid`."""
    made = await service.payment_create(
        db,
        ctx,
        keyring=keyring,
        request=body,
        key=money_key(request),
        threshold=settings.sanctions_match_threshold,
    )
    response = model_response(service.payment_read(made.payment, keyring), status_code=201)
    if made.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response


@router.get(
    "",
    summary="List outgoing payments",
    response_model=PaymentPage,
    responses=problem_responses(400, 401, 403),
)
async def list_payments(
    ctx: Reader,
    db: DatabaseDep,
    keyring: KeyRingDep,
    status: Annotated[PaymentStatus | None, Query()] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> PaymentPage:
    """Oldest first; a portal user sees its customers' payments."""
    rows, next_cursor = await service.payment_list(
        db,
        ctx,
        status=status,
        customer_id=customer_id,
        created_after=None,
        cursor=cursor,
        limit=limit,
    )
    return PaymentPage(
        data=[service.payment_read(p, keyring) for p in rows], next_cursor=next_cursor
    )


PAIN001 = "application/xml"


def _file(export: service.ExportFile) -> Response:
    return Response(
        export.document,
        media_type=PAIN001,
        headers={
            "Content-Disposition": f'attachment; filename="pain001-{export.id}.xml"',
            "X-Export-Id": str(export.id),
        },
    )


_FILE: dict[int | str, dict[str, Any]] = {
    200: {"content": {PAIN001: {}}, "description": "The pain.001.001.09 document"}
}


@router.get(
    "/export.pain001",
    summary="Export the payments pending settlement as a pain.001 file",
    response_class=Response,
    responses={**_FILE, **problem_responses(400, 401, 403, 422)},
)
async def export_payments(
    ctx: Manager,
    db: DatabaseDep,
    keyring: KeyRingDep,
    status: Annotated[Literal["pending_settlement"], Query()] = "pending_settlement",
) -> Response:
    """Every payment pending settlement goes into one new export batch and becomes
    `exported`; the `X-Export-Id` header names the batch, which
    `GET /v1/payments/exports/{export_id}.pain001` downloads again. With nothing pending:
    `payment-export-empty`."""
    return _file(await service.payments_export(db, ctx, keyring=keyring))


@router.get(
    "/exports/{export_id}.pain001",
    summary="Download a pain.001 export again",
    response_class=Response,
    responses={**_FILE, **problem_responses(401, 403, 404)},
)
async def get_export(
    export_id: uuid.UUID, ctx: Manager, db: DatabaseDep, keyring: KeyRingDep
) -> Response:
    """The same document as when the batch was made."""
    return _file(await service.payment_export_get(db, ctx, keyring=keyring, export_id=export_id))


@router.get(
    "/{payment_id}",
    summary="One outgoing payment",
    response_model=PaymentRead,
    responses=problem_responses(401, 403, 404),
)
async def get_payment(
    payment_id: uuid.UUID, ctx: Reader, db: DatabaseDep, keyring: KeyRingDep
) -> PaymentRead:
    """The payment and where it stands."""
    return service.payment_read(await service.payment_get(db, ctx, payment_id=payment_id), keyring)


_STEP = problem_responses(401, 403, 404, 409, 422)


@router.post(
    "/{payment_id}/release",
    summary="Release a held payment",
    response_model=PaymentRead,
    responses=_STEP,
)
async def release_payment(
    payment_id: uuid.UUID, ctx: Manager, db: DatabaseDep, keyring: KeyRingDep
) -> PaymentRead:
    """After review, a `held` payment (sanctions match) goes on to `pending_settlement`."""
    return service.payment_read(
        await service.payment_release(db, ctx, payment_id=payment_id), keyring
    )


@router.post(
    "/{payment_id}/reject", summary="Reject a payment", response_model=PaymentRead, responses=_STEP
)
async def reject_payment(
    payment_id: uuid.UUID, ctx: Manager, db: DatabaseDep, keyring: KeyRingDep
) -> PaymentRead:
    """A `held` or `pending_settlement` payment is refused; the reserved money is freed."""
    return service.payment_read(
        await service.payment_reject(db, ctx, payment_id=payment_id), keyring
    )


@router.post(
    "/{payment_id}/settle", summary="Settle a payment", response_model=PaymentRead, responses=_STEP
)
async def settle_payment(
    payment_id: uuid.UUID, ctx: Manager, db: DatabaseDep, keyring: KeyRingDep
) -> PaymentRead:
    """The rail confirmed it: the pending transfer is posted. A second call is
    `payment-status-conflict`."""
    return service.payment_read(
        await service.payment_settle(db, ctx, payment_id=payment_id), keyring
    )


@router.post(
    "/{payment_id}/return",
    summary="Record a returned payment",
    response_model=PaymentRead,
    responses=_STEP,
)
async def return_payment(
    payment_id: uuid.UUID, body: PaymentReturn, ctx: Manager, db: DatabaseDep, keyring: KeyRingDep
) -> PaymentRead:
    """The payment came back with an ISO 20022 reason code (see the body's schema): the
    reservation is voided, or the settled transfer reversed."""
    payment = await service.payment_return(
        db, ctx, payment_id=payment_id, reason_code=body.reason_code
    )
    return service.payment_read(payment, keyring)
