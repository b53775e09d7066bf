"""Writes of the rate table: staff-entered rates and provider loads."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

import httpx
from sqlalchemy.dialects.postgresql import insert as pg_insert

from fiscus.access.context import Context
from fiscus.access.queries import tenant_ids_active
from fiscus.audit.service import audit_record
from fiscus.banking.fx.convert import rate_text
from fiscus.banking.fx.errors import ProviderUnavailable, SameCurrency
from fiscus.banking.fx.models import FxRate
from fiscus.core import clock
from fiscus.core.config import Settings
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import ValidationProblem
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.integrations.fx_rates import ProviderDocumentError, ProviderRate, ecb_fetch

MAX_SPREAD = Decimal("0.2")
# How far ahead a staff member may date a rate: a typo of a year would otherwise sit
# unnoticed until it took effect.
MAX_FUTURE_DAYS = 31


def _check(base: str, quote: str, mid: Decimal, spread: Decimal) -> None:
    if base == quote:
        raise SameCurrency(f"A rate needs two currencies; both are {base}.")
    if mid <= 0:
        raise ValidationProblem("A rate is a positive decimal.", field="rate")
    if mid != mid.quantize(Decimal("1e-12")) or mid >= Decimal("1e12"):
        raise ValidationProblem(
            "A rate has at most 12 digits before and 12 after the point.", field="rate"
        )
    if not Decimal(0) <= spread < MAX_SPREAD or spread != spread.quantize(Decimal("1e-6")):
        raise ValidationProblem(
            "The spread is a fraction of the rate from 0 up to 0.2, with at most 6 decimals.",
            field="spread",
        )


async def rate_set(
    db: Database,
    ctx: Context,
    *,
    base: str,
    quote: str,
    mid: Decimal,
    spread: Decimal,
    effective_at: datetime | None,
) -> FxRate:
    """Enter a rate for a pair (audited, `banking.fx_rate.set` event)."""
    _check(base, quote, mid, spread)
    now = clock.now()
    if effective_at is not None and (effective_at - now).days > MAX_FUTURE_DAYS:
        raise ValidationProblem(
            f"A rate takes effect at most {MAX_FUTURE_DAYS} days ahead.", field="effective_at"
        )
    rate = FxRate(
        tenant_id=ctx.tenant_id,
        id=new_id(),
        base=base,
        quote=quote,
        mid=mid,
        spread=spread,
        source="manual",
        effective_at=effective_at or now,
        created_at=now,
        created_by=ctx.actor_id,
    )
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        uow.session.add(rate)
        await uow.session.flush()
        after = {"base": base, "quote": quote, "rate": rate_text(mid), "spread": rate_text(spread)}
        await audit_record(
            uow,
            ctx=ctx,
            action="fx_rate.set",
            object_type="fx_rate",
            object_id=rate.id,
            after=after,
        )
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type="banking.fx_rate.set",
            subject=f"fx_rate/{rate.id}",
            payload={**after, "id": str(rate.id), "effective_at": rate.effective_at.isoformat()},
        )
    return rate


async def rates_load_in(
    uow: UnitOfWork,
    *,
    tenant_id: uuid.UUID,
    rates: Sequence[ProviderRate],
    provider: str,
    spread: Decimal,
) -> int:
    """Store a provider's rates for one tenant; a rate already stored (same pair, provider
    and moment) is kept. Returns how many were new."""
    if not rates:
        return 0
    now = clock.now()
    stmt = (
        pg_insert(FxRate)
        .values(
            [
                {
                    "tenant_id": tenant_id,
                    "id": new_id(),
                    "base": r.base,
                    "quote": r.quote,
                    "mid": r.mid,
                    "spread": spread,
                    "source": f"provider:{provider}",
                    "effective_at": r.effective_at,
                    "created_at": now,
                    "created_by": None,
                }
                for r in rates
            ]
        )
        .on_conflict_do_nothing()
        .returning(FxRate.id)
    )
    inserted = len((await uow.session.execute(stmt)).all())
    if inserted:
        await emit(
            uow,
            tenant_id=tenant_id,
            type="banking.fx_rates.loaded",
            subject=f"fx_provider/{provider}",
            payload={"provider": provider, "rates": inserted},
        )
    return inserted


async def rates_load(
    db: Database,
    *,
    rates: Sequence[ProviderRate],
    provider: str,
    spread: Decimal,
    on_tenant: Callable[[uuid.UUID, int], None] | None = None,
) -> int:
    """Store a provider's rates for every active tenant, one unit of work per tenant;
    `on_tenant(tenant_id, new)` reports progress. Returns the new rates stored."""
    async with db.uow() as uow:
        tenant_ids = await tenant_ids_active(uow)
    total = 0
    for tenant_id in tenant_ids:
        async with db.uow(tenant_id=tenant_id) as uow:
            new = await rates_load_in(
                uow, tenant_id=tenant_id, rates=rates, provider=provider, spread=spread
            )
        total += new
        if on_tenant is not None:
            on_tenant(tenant_id, new)
    return total


ECB_PROVIDER = "ecb"


async def provider_load(
    db: Database,
    *,
    settings: Settings,
    url: str | None = None,
    on_tenant: Callable[[uuid.UUID, int], None] | None = None,
) -> int:
    """Fetch the provider's rates (from `url`, default the configured one) and store them
    in every active tenant; ProviderUnavailable when the provider cannot be used."""
    source = url or settings.fx_rates_url
    if source is None:
        raise ValidationProblem("No provider is configured (FISCUS_FX_RATES_URL).", field="url")
    try:
        rates = await ecb_fetch(source)
    except (ProviderDocumentError, httpx.HTTPError) as error:
        raise ProviderUnavailable(f"The rate provider could not be used: {error}") from None
    return await rates_load(
        db,
        rates=rates,
        provider=ECB_PROVIDER,
        spread=settings.fx_rates_spread,
        on_tenant=on_tenant,
    )
