"""/v1/fx: the tenant's exchange rates and conversion quotes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.banking.api._money import money_key
from fiscus.banking.fx import queries, service
from fiscus.banking.fx.conversions import Converted, conversion_create, conversion_get
from fiscus.banking.fx.convert import rate_text
from fiscus.banking.fx.models import FxConversion, FxRate
from fiscus.banking.fx.schemas import (
    ConversionCreate,
    ConversionRead,
    FxQuote,
    FxRateCreate,
    FxRatePage,
    FxRateRead,
)
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import REPLAYED_HEADER, idempotent, model_response
from fiscus.core.money import Currency, MoneyModel, parse_rate
from fiscus.core.pagination import Cursor, Limit
from fiscus.deps import DatabaseDep, IdempotencyDep

router = APIRouter(prefix="/v1/fx", tags=["fx"])
Reader = Annotated[Context, authorized("fx_rates:read")]
Converter = Annotated[Context, authorized("bank_transfers:create")]
ConversionReader = Annotated[Context, authorized("bank_transfers:read")]
Manager = Annotated[Context, authorized("fx_rates:manage")]


def _rate(rate: FxRate) -> FxRateRead:
    return FxRateRead(
        id=rate.id,
        base=rate.base,
        quote=rate.quote,
        rate=rate_text(rate.mid),
        spread=rate_text(rate.spread),
        source=rate.source,
        effective_at=rate.effective_at,
        created_at=rate.created_at,
    )


@router.post(
    "/rates",
    status_code=201,
    summary="Enter an exchange rate for a currency pair",
    response_model=FxRateRead,
    responses=problem_responses(400, 401, 403, 409, 422),
)
async def create_rate(
    body: FxRateCreate, request: Request, ctx: Manager, db: DatabaseDep, store: IdempotencyDep
) -> Response:
    """The rate is in force from `effective_at` until a newer one for the pair; a pair
    entered here is also used for its inverse and for crosses through a common currency."""

    async def handler() -> Response:
        rate = await service.rate_set(
            db,
            ctx,
            base=body.base,
            quote=body.quote,
            mid=parse_rate(body.rate),
            spread=parse_rate(body.spread, field="spread"),
            effective_at=body.effective_at,
        )
        return model_response(_rate(rate), status_code=201)

    return await idempotent(
        request, store=store, tenant_id=ctx.tenant_id, required=False, handler=handler
    )


@router.get(
    "/rates",
    summary="List stored exchange rates, newest first",
    response_model=FxRatePage,
    responses=problem_responses(400, 401, 403),
)
async def list_rates(
    ctx: Reader,
    db: DatabaseDep,
    base: Currency | None = None,
    quote: Currency | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> FxRatePage:
    """Every stored rate (staff-entered and loaded from the provider), newest first."""
    rates, next_cursor = await queries.rates_list(
        db, ctx, base=base, quote=quote, cursor=cursor, limit=limit
    )
    return FxRatePage(data=[_rate(r) for r in rates], next_cursor=next_cursor)


@router.get(
    "/quote",
    summary="Quote a conversion at the rate in force",
    response_model=FxQuote,
    responses=problem_responses(400, 401, 403, 422),
)
async def quote(
    ctx: Reader,
    db: DatabaseDep,
    sell_currency: Currency,
    buy_currency: Currency,
    amount: Annotated[int, Query(ge=1, le=10**15, description="Minor units to sell")],
) -> FxQuote:
    """What selling `amount` minor units of `sell_currency` buys now: the customer's rate
    is the mid rate less the spread; amounts are rounded half-even to the minor unit."""
    figures, rate = await queries.quote_get(
        db, ctx, sell_currency=sell_currency, buy_currency=buy_currency, amount=amount
    )
    return FxQuote(
        sell=MoneyModel(amount=figures.amount, currency=sell_currency),
        buy=MoneyModel(amount=figures.delivered, currency=buy_currency),
        rate=rate_text(figures.rate),
        mid_rate=rate_text(figures.mid),
        spread=rate_text(figures.spread),
        fee=MoneyModel(amount=figures.income, currency=buy_currency),
        rate_ids=list(rate.rate_ids),
    )


def _conversion(row: FxConversion) -> ConversionRead:
    return ConversionRead(
        id=row.id,
        customer_id=row.customer_id,
        from_account_id=row.from_account_id,
        to_account_id=row.to_account_id,
        sell=MoneyModel(amount=row.sell_amount, currency=row.sell_currency),
        buy=MoneyModel(amount=row.buy_amount, currency=row.buy_currency),
        rate=rate_text(row.rate),
        mid_rate=rate_text(row.mid),
        spread=rate_text(row.spread),
        fee=MoneyModel(amount=row.fee, currency=row.buy_currency),
        channel=row.channel,
        created_at=row.created_at,
    )


def _converted_response(converted: Converted) -> Response:
    response = model_response(_conversion(converted.conversion), status_code=201)
    if converted.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response


@router.post(
    "/conversions",
    status_code=201,
    summary="Convert money between two accounts of one customer",
    response_model=ConversionRead,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)
async def create_conversion(
    body: ConversionCreate, request: Request, ctx: Converter, db: DatabaseDep
) -> Response:
    """Moves money: the `Idempotency-Key` is required. The rate is the one in force (see
    `GET /v1/fx/quote`) less the tenant's spread, which goes to FX income; amounts are
    rounded half-even. Refusals: `fx-rate-unavailable`, `fx-conversion-not-allowed`
    (another customer's account, or one currency), `insufficient-funds`, `account-frozen`,
    `account-closed`. A portal user converts only for customers they own."""
    converted = await conversion_create(
        db,
        ctx,
        from_account_id=body.from_account_id,
        to_account_id=body.to_account_id,
        amount=body.amount,
        currency=body.currency,
        key=money_key(request),
    )
    return _converted_response(converted)


@router.get(
    "/conversions/{conversion_id}",
    summary="One conversion",
    response_model=ConversionRead,
    responses=problem_responses(401, 403, 404),
)
async def get_conversion(
    conversion_id: uuid.UUID, ctx: ConversionReader, db: DatabaseDep
) -> ConversionRead:
    """A conversion (a portal user: of the customers they act for)."""
    return _conversion(await conversion_get(db, ctx, conversion_id=conversion_id))
