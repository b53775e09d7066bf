"""/v1/products and /v1/banking/settings: deposit products and how IBANs are built."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.banking import queries, service
from fiscus.banking.schemas import (
    ProductCreate,
    ProductPage,
    ProductRead,
    SettingsRead,
    SettingsWrite,
)
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import idempotent, model_response
from fiscus.core.pagination import Cursor, Limit
from fiscus.deps import DatabaseDep, IdempotencyDep

router = APIRouter(tags=["banking"])
Reader = Annotated[Context, authorized("bank_products:read")]
Manager = Annotated[Context, authorized("bank_products:manage")]
SettingsManager = Annotated[Context, authorized("banking_settings:manage")]


@router.post(
    "/v1/products",
    status_code=201,
    summary="Create a deposit product",
    response_model=ProductRead,
    responses=problem_responses(400, 401, 403, 409),
)
async def create_product(
    body: ProductCreate, request: Request, ctx: Manager, db: DatabaseDep, store: IdempotencyDep
) -> Response:
    """A current or savings product in one currency; the first product in a currency also
    opens the tenant's banking general ledger accounts for it."""

    async def handler() -> Response:
        product = await service.product_create(db, ctx, request=body)
        return model_response(ProductRead.model_validate(product), status_code=201)

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=False, handler=handler
    )


@router.get(
    "/v1/products",
    summary="List deposit products",
    response_model=ProductPage,
    responses=problem_responses(400, 401, 403),
)
async def list_products(
    ctx: Reader, db: DatabaseDep, cursor: Cursor = None, limit: Limit = 50
) -> ProductPage:
    """The tenant's products, oldest first."""
    rows, next_cursor = await queries.product_list(db, ctx, cursor=cursor, limit=limit)
    return ProductPage(data=[ProductRead.model_validate(p) for p in rows], next_cursor=next_cursor)


@router.get(
    "/v1/products/{product_id}",
    summary="One deposit product",
    response_model=ProductRead,
    responses=problem_responses(401, 403, 404),
)
async def get_product(product_id: uuid.UUID, ctx: Reader, db: DatabaseDep) -> ProductRead:
    """The product's terms."""
    return ProductRead.model_validate(await queries.product_get(db, ctx, product_id=product_id))


@router.get(
    "/v1/banking/settings",
    summary="How the tenant's IBANs are built",
    response_model=SettingsRead,
    responses=problem_responses(401, 403),
)
async def get_settings(ctx: SettingsManager, db: DatabaseDep) -> SettingsRead:
    """The IBAN country and bank code (a test default until set)."""
    country, bank_code, expiry_days = await queries.settings_get(db, ctx)
    return SettingsRead(iban_country=country, bank_code=bank_code, approval_expiry_days=expiry_days)


@router.put(
    "/v1/banking/settings",
    summary="Set how the tenant's IBANs are built",
    response_model=SettingsRead,
    responses=problem_responses(400, 401, 403),
)
async def put_settings(body: SettingsWrite, ctx: SettingsManager, db: DatabaseDep) -> SettingsRead:
    """Refused unless the country and bank code make valid IBANs; applies to new accounts."""
    saved = await service.settings_set(db, ctx, request=body)
    return SettingsRead.model_validate(saved.model_dump())
