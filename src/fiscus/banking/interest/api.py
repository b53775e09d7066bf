"""Interest and fee terms of products, their rates and APY; an account's interest."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.banking.interest import service
from fiscus.banking.interest.schemas import (
    AccountInterestRead,
    ApyRead,
    ProductTerms,
    RateCreate,
    RateList,
    RateRead,
)
from fiscus.core.clock import CalendarDate
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import model_response
from fiscus.deps import DatabaseDep

router = APIRouter(tags=["banking"])
ProductReader = Annotated[Context, authorized("bank_products:read")]
ProductManager = Annotated[Context, authorized("bank_products:manage")]
AccountReader = Annotated[Context, authorized("bank_accounts:read")]


@router.get(
    "/v1/products/{product_id}/terms",
    summary="A product's interest terms and fee schedule",
    response_model=ProductTerms,
    responses=problem_responses(401, 403, 404),
)
async def get_product_terms(
    product_id: uuid.UUID, ctx: ProductReader, db: DatabaseDep
) -> ProductTerms:
    """Absent `interest` or `fees`: the product earns no interest or charges no fees."""
    return await service.product_terms_get(db, ctx, product_id=product_id)


@router.put(
    "/v1/products/{product_id}/terms",
    summary="Set a product's interest terms and fee schedule",
    response_model=ProductTerms,
    responses=problem_responses(400, 401, 403, 404),
)
async def put_product_terms(
    product_id: uuid.UUID, body: ProductTerms, ctx: ProductManager, db: DatabaseDep
) -> ProductTerms:
    """Replaces both (audited); they apply from the next close of business. Rates are a
    history of their own (`/interest-rates`)."""
    return await service.product_terms_set(db, ctx, product_id=product_id, terms=body)


@router.post(
    "/v1/products/{product_id}/interest-rates",
    status_code=201,
    summary="Add a product interest rate from a date on",
    response_model=RateRead,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def add_interest_rate(
    product_id: uuid.UUID, body: RateCreate, ctx: ProductManager, db: DatabaseDep
) -> Response:
    """A flat rate or balance tiers (the whole balance earns its band's rate), and the
    overdraft rate, applied from `effective_from` (on or after the business date) to every
    account of the product. Audited."""
    rate = await service.interest_rate_add(db, ctx, product_id=product_id, request=body)
    return model_response(rate, status_code=201)


@router.get(
    "/v1/products/{product_id}/interest-rates",
    summary="A product's interest rate history",
    response_model=RateList,
    responses=problem_responses(401, 403, 404),
)
async def list_interest_rates(
    product_id: uuid.UUID, ctx: ProductReader, db: DatabaseDep
) -> RateList:
    """Oldest first; each applies from its date until the next one's."""
    return RateList(data=await service.interest_rate_list(db, ctx, product_id=product_id))


@router.get(
    "/v1/products/{product_id}/apy",
    summary="A product's annual percentage yield (AER)",
    response_model=ApyRead,
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def get_product_apy(
    product_id: uuid.UUID, ctx: ProductReader, db: DatabaseDep, as_of: CalendarDate | None = None
) -> ApyRead:
    """`(1 + r/n)^n - 1` per balance band, n the compounding periods in a year, at the
    rate in force on `as_of` (default: the business date)."""
    return await service.product_apy(db, ctx, product_id=product_id, as_of=as_of)


@router.get(
    "/v1/accounts/{account_id}/interest",
    summary="An account's accrued interest, last posting and 12-month projection",
    response_model=AccountInterestRead,
    responses=problem_responses(401, 403, 404),
)
async def get_account_interest(
    account_id: uuid.UUID, ctx: AccountReader, db: DatabaseDep
) -> AccountInterestRead:
    """Accrued and not yet posted (rounded, and exact in minor units), the last posting,
    and what each of the next 12 months would earn at today's balance and rates. A portal
    user sees only their own accounts."""
    return await service.account_interest_get(db, ctx, account_id=account_id)
