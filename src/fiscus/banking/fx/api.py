"""/v1/fx: the tenant's exchange rates and conversion quotes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from fiscus.access.context import Context
from fiscus.access.deps import authorized
from fiscus.banking.fx import queries, service
from fiscus.banking.fx.convert import rate_text
from fiscus.banking.fx.models import FxRate
from fiscus.banking.fx.schemas import FxQuote, FxRateCreate, FxRatePage, FxRateRead
from fiscus.core.http import problem_responses
from fiscus.core.idempotency import idempotent, model_response
from fiscus.core.money import Currency, MoneyModel, parse_rate
from fiscus.core.pagination import Cursor, Limit
from fiscus.deps import DatabaseDep, IdempotencyDep

router = APIRouter(prefix="/v1/fx", tags=["fx"])
Reader = Annotated[Context, authorized("fx_rates:read")]
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
