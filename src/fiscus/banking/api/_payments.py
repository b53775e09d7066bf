"""/v1/payments: outgoing payments to other banks, and their settlement or return."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import ValidationError as PydanticValidationError
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.banking import service
from fiscus.banking.api._money import money_key
from fiscus.banking.iso20022 import camt054_parse
from fiscus.banking.joint.api import approval_response
from fiscus.banking.joint.schemas import ApprovalRead
from fiscus.banking.schemas import (
    IncomingCredit,
    IncomingCreditPage,
    IncomingCreditRead,
    IncomingImportRead,
    PaymentCreate,
    PaymentPage,
    PaymentRead,
    PaymentReturn,
    PaymentStatus,
    SuspenseResolve,
)
from fiscus.core.errors import FieldError, ValidationProblem
from fiscus.core.http import problem_responses, unsupported_media_type
from fiscus.core.idempotency import REPLAYED_HEADER, model_response
from fiscus.core.pagination import Cursor, Limit
from fiscus.deps import DatabaseDep, KeyRingDep, SettingsDep

router = APIRouter(prefix="/v1/payments", tags=["banking"])
# Its own path: under /v1/payments, "incoming" would also match GET /v1/payments/{id}.
incoming_router = APIRouter(prefix="/v1/incoming-payments", tags=["banking"])
Reader = Annotated[Context, authorized("bank_payments:read")]
Manager = Annotated[Context, authorized("bank_payments:manage")]


@router.post(
    "",
    status_code=201,
    summary="Pay money to an account at another bank",
    response_model=PaymentRead,
    responses={
        202: {
            "model": ApprovalRead,
            "description": "From an all-sign joint account: the approval the other holders"
            " must sign",
        },
        **problem_responses(400, 401, 403, 404, 409, 422),
    },
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
    `transfer-limit-exceeded`, ...; a bad creditor IBAN is `iban-invalid`. A portal user
    with MFA on pays a payee for the first time only within a few minutes of proving
    password and MFA (`step-up-required` otherwise: POST /v1/me/reauthenticate). From a
    joint account whose signing rule is `all`, a portal user's payment waits for the other
    signing holders: 202 with the approval (`/v1/approvals`)."""
    rules = service.PaymentRules(
        keyring=keyring,
        threshold=settings.sanctions_match_threshold,
        step_up_window_s=request.app.state.identity.config.reauth_window_s,
    )
    made = await service.payment_submit(db, ctx, request=body, key=money_key(request), rules=rules)
    if isinstance(made, service.Approval):
        return approval_response(made)
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


_INCOMING_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/xml": {"schema": {"type": "string", "description": "A camt.054 file"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "application/json": {"schema": IncomingCredit.model_json_schema()},
        },
    }
}


INCOMING_MEDIA = frozenset(
    {"application/json", "application/xml", "text/xml", "multipart/form-data"}
)


async def _incoming_of(request: Request) -> tuple[list[service.Incoming], int, str]:
    """The credits a request carries: a camt.054 file (XML body or multipart `file`), or
    one credit as JSON."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        if media == "multipart/form-data":
            upload = (await request.form()).get("file")
            if upload is None or isinstance(upload, str):
                raise ValidationProblem("Send the camt.054 file as the `file` part.", field="file")
            data = await upload.read()
        else:
            data = await request.body()
        credits, skipped = service.incoming_of_camt(camt054_parse(data))
        return credits, skipped, "camt.054"
    try:
        body = IncomingCredit.model_validate_json(await request.body())
    except PydanticValidationError as error:
        raise ValidationProblem(
            "The credit is not valid.",
            errors=[
                FieldError(".".join(["body", *map(str, e["loc"])]), e["msg"])
                for e in error.errors()
            ],
        ) from None
    credit = service.Incoming(
        bank_reference=body.bank_reference,
        end_to_end_id=body.end_to_end_id,
        creditor_iban=service.iban_normal(body.creditor_iban, field="creditor_iban"),
        amount=body.amount,
        currency=body.currency,
        remittance=body.remittance,
    )
    return [credit], 0, "api"


@incoming_router.post(
    "",
    summary="Book incoming credit transfers (a camt.054 file, or one credit as JSON)",
    response_model=IncomingImportRead,
    responses=problem_responses(400, 401, 403, 413, 415, 422),
    openapi_extra=_INCOMING_BODY,
)
async def book_incoming(
    request: Request, ctx: Manager, db: DatabaseDep
) -> IncomingImportRead | Response:
    """Each credit to one of the tenant's IBANs moves from the settlement account to that
    account; a credit to an unknown IBAN goes to the suspense account and is listed under
    `suspense`. Each bank reference is booked once: importing the same file again books
    nothing (`duplicates`). A bad file is `camt-document-invalid`."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in INCOMING_MEDIA:
        return unsupported_media_type(
            request, "Send a camt.054 file as application/xml or multipart/form-data, or JSON."
        )
    credits, skipped, source = await _incoming_of(request)
    result = await service.incoming_book(db, ctx, credits=credits, skipped=skipped, source=source)
    reads = [IncomingCreditRead.model_validate(row) for row in result.booked]
    return IncomingImportRead(
        booked=[r for r in reads if r.booked_to == "account"],
        suspense=[r for r in reads if r.booked_to == "suspense"],
        duplicates=result.duplicates,
        skipped=result.skipped,
    )


@incoming_router.get(
    "/suspense",
    summary="List incoming credits waiting on suspense",
    response_model=IncomingCreditPage,
    responses=problem_responses(400, 401, 403),
)
async def list_suspense(
    ctx: Manager, db: DatabaseDep, cursor: Cursor = None, limit: Limit = 50
) -> IncomingCreditPage:
    """Credits no account took (unknown IBAN, closed account, other currency) that staff
    have not resolved yet, oldest first."""
    rows, next_cursor = await service.suspense_list(db, ctx, cursor=cursor, limit=limit)
    return IncomingCreditPage(
        data=[IncomingCreditRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@incoming_router.post(
    "/{credit_id}/resolve",
    summary="Resolve a credit on suspense: book it on to an account, or return it",
    response_model=IncomingCreditRead,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def resolve_suspense(
    credit_id: uuid.UUID, body: SuspenseResolve, ctx: Manager, db: DatabaseDep
) -> IncomingCreditRead:
    """`book`: a ledger transfer from suspense to the account (refused like any credit to
    a closed account or another currency); `return`: the booking is reversed (suspense →
    settlement) with an ISO 20022 reason. Audited; once per credit
    (`incoming-credit-status-conflict` after)."""
    credit = await service.suspense_resolve(db, ctx, credit_id=credit_id, request=body)
    return IncomingCreditRead.model_validate(credit)


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
    "/{payment_id}/reject",
    summary="Reject a payment",
    response_model=PaymentRead,
    responses=_STEP,
)
async def reject_payment(
    payment_id: uuid.UUID, ctx: Manager, db: DatabaseDep, keyring: KeyRingDep
) -> PaymentRead:
    """A `held` or `pending_settlement` payment is refused; the reserved money is freed."""
    return service.payment_read(
        await service.payment_reject(db, ctx, payment_id=payment_id), keyring
    )


@router.post(
    "/{payment_id}/settle",
    summary="Settle a payment",
    response_model=PaymentRead,
    responses=_STEP,
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
