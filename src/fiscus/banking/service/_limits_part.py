"""Per-customer outgoing limits, consumed atomically inside the transfer's transaction."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import text

from fiscus.access.context import Context
from fiscus.banking.errors import TransferLimitExceeded
from fiscus.core import clock
from fiscus.core.db import UnitOfWork

# The customer's limits and both period counters in one statement. Each counter is an
# upsert that adds the amount only while the sum stays within the limit; a counter that
# would pass it returns no row, and the caller refuses the transfer (rolling back both).
_LIMITS_SQL = text(
    "WITH l AS (SELECT daily_limit, monthly_limit FROM banking_limits"
    "  WHERE tenant_id = :tenant AND customer_id = :customer AND channel = :channel"
    "  AND currency = :currency),"
    " d AS (INSERT INTO banking_limit_usage AS u (tenant_id, customer_id, channel, currency,"
    "  period, period_start, used) SELECT :tenant, :customer, :channel, :currency, 'day', :day,"
    "  :amount FROM l WHERE :amount <= l.daily_limit"
    "  ON CONFLICT (tenant_id, customer_id, channel, currency, period, period_start)"
    "  DO UPDATE SET used = u.used + EXCLUDED.used"
    "  WHERE u.used + EXCLUDED.used <= (SELECT daily_limit FROM l) RETURNING 1),"
    " m AS (INSERT INTO banking_limit_usage AS u (tenant_id, customer_id, channel, currency,"
    "  period, period_start, used) SELECT :tenant, :customer, :channel, :currency, 'month',"
    "  :month, :amount FROM l WHERE :amount <= l.monthly_limit"
    "  ON CONFLICT (tenant_id, customer_id, channel, currency, period, period_start)"
    "  DO UPDATE SET used = u.used + EXCLUDED.used"
    "  WHERE u.used + EXCLUDED.used <= (SELECT monthly_limit FROM l) RETURNING 1)"
    " SELECT (SELECT count(*) FROM l), (SELECT count(*) FROM d), (SELECT count(*) FROM m)"
)


async def limits_consume(
    uow: UnitOfWork,
    ctx: Context,
    *,
    channel: str,
    customer_id: uuid.UUID,
    currency: str,
    amount: int,
) -> None:
    """Add `amount` to the customer's day and month on the channel, or refuse the transfer
    (TransferLimitExceeded) if either would pass its limit; no limit set, no check. Days
    and months are UTC."""
    today = clock.now().date()
    has_limit, day_ok, month_ok = (
        await uow.session.execute(
            _LIMITS_SQL,
            {
                "tenant": ctx.tenant_id,
                "customer": customer_id,
                "channel": channel,
                "currency": currency,
                "day": today,
                "month": date(today.year, today.month, 1),
                "amount": amount,
            },
        )
    ).one()
    if has_limit and not (day_ok and month_ok):
        period = "daily" if not day_ok else "monthly"
        raise TransferLimitExceeded(
            f"The transfer would pass the customer's {period} {channel} limit in {currency}.",
            extra={"period": period, "channel": channel},
        )


_RELEASE_SQL = text(
    "UPDATE banking_limit_usage SET used = GREATEST(used - :amount, 0)"
    " WHERE tenant_id = :tenant AND customer_id = :customer AND channel = :channel"
    " AND currency = :currency AND ((period = 'day' AND period_start = :day)"
    " OR (period = 'month' AND period_start = :month))"
)


async def limits_release(
    uow: UnitOfWork,
    ctx: Context,
    *,
    channel: str,
    customer_id: uuid.UUID,
    currency: str,
    amount: int,
    on: date,
) -> None:
    """Give back `amount` consumed on day `on` (and its month): a payment rejected or
    returned did not use the customer's limits. Row locks as `limits_consume`."""
    await uow.session.execute(
        _RELEASE_SQL,
        {
            "tenant": ctx.tenant_id,
            "customer": customer_id,
            "channel": channel,
            "currency": currency,
            "day": on,
            "month": date(on.year, on.month, 1),
            "amount": amount,
        },
    )
