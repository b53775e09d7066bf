"""Reads of the rate table: the rate in force for a pair, and the rate history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, text

from fiscus.access.context import Context
from fiscus.banking.fx.convert import Conversion, conversion, cross, inverse
from fiscus.banking.fx.errors import RateUnavailable, SameCurrency
from fiscus.banking.fx.models import FxRate
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.pagination import keyset_page

# The newest rate of every pair touching either currency, as of a moment; a staff-entered
# rate wins over a provider's of the same moment. One statement.
_IN_FORCE_SQL = text(
    """
    SELECT DISTINCT ON (base, quote) id, base, quote, mid, spread
    FROM banking_fx_rates
    WHERE tenant_id = :tenant_id AND effective_at <= :at
      AND (base IN (:a, :b) OR quote IN (:a, :b))
    ORDER BY base, quote, effective_at DESC, (source = 'manual') DESC, id DESC
    """
)


@dataclass(frozen=True, slots=True)
class RateInForce:
    """The mid rate and spread converting `base` to `quote`, and the stored rates it
    comes from (one: direct or inverse; two: a cross through a common currency)."""

    base: str
    quote: str
    mid: Decimal
    spread: Decimal
    rate_ids: tuple[uuid.UUID, ...]


async def rate_in_force(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, base: str, quote: str, at: datetime
) -> RateInForce:
    """The rate converting `base` to `quote` at `at`: stored directly, as the inverse of a
    stored rate, or as a cross through one common currency (taking the larger spread of
    the two); RateUnavailable otherwise."""
    if base == quote:
        raise SameCurrency(f"A conversion needs two currencies; both are {base}.")
    rows = (
        await uow.session.execute(
            _IN_FORCE_SQL, {"tenant_id": tenant_id, "at": at, "a": base, "b": quote}
        )
    ).all()
    # pair -> (mid, spread, id), with inverses added where the direct pair is missing.
    table: dict[tuple[str, str], tuple[Decimal, Decimal, uuid.UUID]] = {}
    for row in rows:
        table[(row.base, row.quote)] = (row.mid, row.spread, row.id)
    for (b, q), (mid, spread, rate_id) in list(table.items()):
        table.setdefault((q, b), (inverse(mid), spread, rate_id))
    if (base, quote) in table:
        mid, spread, rate_id = table[(base, quote)]
        return RateInForce(base, quote, mid, spread, (rate_id,))
    via = sorted(
        c for (b, c) in table if b == base and (c, quote) in table and c not in (base, quote)
    )
    if via:
        first, second = table[(base, via[0])], table[(via[0], quote)]
        return RateInForce(
            base,
            quote,
            cross(first[0], second[0]),
            max(first[1], second[1]),
            (first[2], second[2]),
        )
    raise RateUnavailable(f"No exchange rate converts {base} to {quote}.")


async def rates_list(
    db: Database,
    ctx: Context,
    *,
    base: str | None,
    quote: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[FxRate], str | None]:
    """The tenant's stored rates, newest first, optionally for one base or quote."""
    stmt = select(FxRate).where(FxRate.tenant_id == ctx.tenant_id)
    if base is not None:
        stmt = stmt.where(FxRate.base == base)
    if quote is not None:
        stmt = stmt.where(FxRate.quote == quote)
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rates: list[FxRate]
        rates, next_cursor = await keyset_page(
            uow.session,
            stmt,
            keys=[FxRate.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda r: [str(r.id)],
            descending=True,
        )
    return rates, next_cursor


async def quote_get(
    db: Database, ctx: Context, *, sell_currency: str, buy_currency: str, amount: int
) -> tuple[Conversion, RateInForce]:
    """What converting `amount` minor units of sell_currency would deliver now."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rate = await rate_in_force(
            uow, tenant_id=ctx.tenant_id, base=sell_currency, quote=buy_currency, at=clock.now()
        )
    figures = conversion(
        amount=amount,
        mid=rate.mid,
        spread=rate.spread,
        from_currency=sell_currency,
        to_currency=buy_currency,
    )
    return figures, rate
