"""Cross-currency transfers as explicit legs through per-currency FX liquidity accounts."""

from __future__ import annotations

import uuid
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from fiscus.core.money import currency_exponent
from fiscus.ledger.schemas import FxIn, LegIn


def fx_legs(
    *,
    amount: int,
    rate: Decimal,
    from_currency: str,
    to_currency: str,
    source_account_id: uuid.UUID,
    source_liquidity_id: uuid.UUID,
    target_liquidity_id: uuid.UUID,
    target_account_id: uuid.UUID,
    rounding_account_id: uuid.UUID,
) -> tuple[list[LegIn], FxIn]:
    """Legs converting `amount` (minor units of from_currency) at `rate` into to_currency.

    The converted amount is rarely a whole number of minor units. The customer receives it
    rounded down (ROUND_FLOOR); the FX desk books it rounded up (ROUND_CEILING); the
    difference (zero or one minor unit) is credited to the named rounding account, so the
    residue is never lost. Each currency balances on its own.
    """
    assert amount > 0 and rate > 0, "amounts and rates are positive"
    scale = Decimal(10) ** (currency_exponent(to_currency) - currency_exponent(from_currency))
    exact = Decimal(amount) * rate * scale
    delivered = int(exact.to_integral_value(rounding=ROUND_FLOOR))
    booked = int(exact.to_integral_value(rounding=ROUND_CEILING))
    legs = [
        LegIn(
            account_id=source_account_id, direction="debit", amount=amount, currency=from_currency
        ),
        LegIn(
            account_id=source_liquidity_id,
            direction="credit",
            amount=amount,
            currency=from_currency,
        ),
        LegIn(
            account_id=target_liquidity_id, direction="debit", amount=booked, currency=to_currency
        ),
    ]
    if delivered > 0:
        legs.append(
            LegIn(
                account_id=target_account_id,
                direction="credit",
                amount=delivered,
                currency=to_currency,
            )
        )
    if booked > delivered:
        legs.append(
            LegIn(
                account_id=rounding_account_id,
                direction="credit",
                amount=booked - delivered,
                currency=to_currency,
            )
        )
    fx = FxIn(rate=str(rate), from_currency=from_currency, to_currency=to_currency)
    return legs, fx
