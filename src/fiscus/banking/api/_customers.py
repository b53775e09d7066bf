"""/v1/customers: onboarding, personal data, KYC review, portal users, outgoing limits."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.banking import queries, service
from fiscus.banking.schemas import (
    CustomerCreate,
    CustomerPage,
    CustomerRead,
    CustomerUpdate,
    CustomerUserLink,
    CustomerUserList,
    CustomerUserRead,
    KycReview,
    LimitList,
    LimitRead,
    LimitWrite,
    phone_e164,
    tax_id_normal,
)
from fiscus.core.errors import ValidationProblem
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import idempotent, model_response
from fiscus.core.pagination import Cursor, Limit
from fiscus.deps import DatabaseDep, IdempotencyDep, KeyRingDep

router = APIRouter(prefix="/v1/customers", tags=["banking"])
Reader = Annotated[Context, authorized("customers:read")]
Manager = Annotated[Context, authorized("customers:manage")]
Search = Annotated[str | None, Query(max_length=320)]


@router.post(
    "",
    status_code=201,
    summary="Onboard a customer (KYC pending)",
    response_model=CustomerRead,
    responses=problem_responses(400, 401, 403, 409, 422),
)
async def create_customer(
    body: CustomerCreate,
    request: Request,
    ctx: Manager,
    db: DatabaseDep,
    keyring: KeyRingDep,
    store: IdempotencyDep,
) -> Response:
    """Create an individual or business customer; personal data is stored encrypted."""

    async def handler() -> Response:
        customer = await service.customer_create(db, ctx, keyring=keyring, request=body)
        return model_response(queries.customer_read(customer, keyring), status_code=201)

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=False, handler=handler
    )


@router.get(
    "",
    summary="List customers, or find them by exact email, phone or tax id",
    response_model=CustomerPage,
    responses=problem_responses(400, 401, 403),
)
async def list_customers(
    ctx: Reader,
    db: DatabaseDep,
    keyring: KeyRingDep,
    email: Search = None,
    phone: Search = None,
    tax_id: Search = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> CustomerPage:
    """Oldest first; a portal user sees only the customers they act for."""
    if phone is not None:
        try:
            phone = phone_e164(phone)
        except ValueError as error:
            raise ValidationProblem(str(error), field="phone") from None
    rows, next_cursor = await queries.customer_list(
        db,
        ctx,
        keyring=keyring,
        email=email,
        phone=phone,
        tax_id=tax_id_normal(tax_id) if tax_id is not None else None,
        cursor=cursor,
        limit=limit,
    )
    return CustomerPage(
        data=[queries.customer_read(c, keyring) for c in rows], next_cursor=next_cursor
    )


@router.get(
    "/{customer_id}",
    summary="One customer",
    response_model=CustomerRead,
    responses=problem_responses(401, 403, 404),
)
async def get_customer(
    customer_id: uuid.UUID, ctx: Reader, db: DatabaseDep, keyring: KeyRingDep
) -> CustomerRead:
    """The customer with their personal data and KYC review."""
    customer = await queries.customer_get(db, ctx, customer_id=customer_id)
    return queries.customer_read(customer, keyring)


@router.patch(
    "/{customer_id}",
    summary="Change a customer's details",
    response_model=CustomerRead,
    responses=problem_responses(400, 401, 403, 404),
)
async def update_customer(
    customer_id: uuid.UUID,
    body: CustomerUpdate,
    ctx: Manager,
    db: DatabaseDep,
    keyring: KeyRingDep,
) -> CustomerRead:
    """Apply the given changes; the audit trail records which fields changed, not values."""
    customer = await service.customer_update(
        db,
        ctx,
        keyring=keyring,
        customer_id=customer_id,
        changes=body.model_dump(exclude_unset=True),
    )
    return queries.customer_read(customer, keyring)


@router.post(
    "/{customer_id}/kyc-review",
    summary="Record a KYC review (verified or rejected)",
    response_model=CustomerRead,
    responses=problem_responses(400, 401, 403, 404),
)
async def review_customer(
    customer_id: uuid.UUID,
    body: KycReview,
    ctx: Manager,
    db: DatabaseDep,
    keyring: KeyRingDep,
) -> CustomerRead:
    """The caller is recorded as the reviewer; the notes are stored encrypted."""
    customer = await service.customer_kyc_review(
        db, ctx, keyring=keyring, customer_id=customer_id, status=body.status, notes=body.notes
    )
    return queries.customer_read(customer, keyring)


@router.get(
    "/{customer_id}/users",
    summary="The portal users of a customer",
    response_model=CustomerUserList,
    responses=problem_responses(401, 403, 404),
)
async def list_customer_users(
    customer_id: uuid.UUID, ctx: Manager, db: DatabaseDep
) -> CustomerUserList:
    """Each linked user with their role (owner or viewer)."""
    rows = await queries.customer_users_list(db, ctx, customer_id=customer_id)
    return CustomerUserList(data=[CustomerUserRead.model_validate(r) for r in rows])


@router.put(
    "/{customer_id}/users/{user_id}",
    summary="Link a portal user to a customer (or change their role)",
    response_model=CustomerUserRead,
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def link_customer_user(
    customer_id: uuid.UUID,
    user_id: uuid.UUID,
    body: CustomerUserLink,
    ctx: Manager,
    db: DatabaseDep,
) -> CustomerUserRead:
    """The user must be an active member of the tenant with the `customer` role."""
    link = await service.customer_user_link(
        db, ctx, customer_id=customer_id, user_id=user_id, role=body.role
    )
    return CustomerUserRead.model_validate(link)


@router.delete(
    "/{customer_id}/users/{user_id}",
    status_code=204,
    summary="Unlink a portal user from a customer",
    responses=problem_responses(401, 403, 404),
)
async def unlink_customer_user(
    customer_id: uuid.UUID, user_id: uuid.UUID, ctx: Manager, db: DatabaseDep
) -> Response:
    """The user no longer sees or acts for the customer."""
    await service.customer_user_unlink(db, ctx, customer_id=customer_id, user_id=user_id)
    return Response(status_code=204)


@router.get(
    "/{customer_id}/limits",
    summary="A customer's outgoing limits",
    response_model=LimitList,
    responses=problem_responses(401, 403, 404),
)
async def list_limits(customer_id: uuid.UUID, ctx: Reader, db: DatabaseDep) -> LimitList:
    """Daily and monthly outgoing limits per channel and currency."""
    rows = await queries.limits_list(db, ctx, customer_id=customer_id)
    return LimitList(data=[LimitRead.model_validate(r) for r in rows])


@router.put(
    "/{customer_id}/limits",
    summary="Set a customer's outgoing limits on one channel and currency",
    response_model=LimitRead,
    responses=problem_responses(400, 401, 403, 404),
)
async def set_limit(
    customer_id: uuid.UUID, body: LimitWrite, ctx: Manager, db: DatabaseDep
) -> LimitRead:
    """Transfers on that channel and currency beyond either limit are refused."""
    row = await service.limit_set(db, ctx, customer_id=customer_id, request=body)
    return LimitRead.model_validate(row)
