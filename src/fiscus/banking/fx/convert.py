"""Conversion arithmetic: customer rates, cross rates and the legs of a conversion.

Rounding (API conventions: half-even unless documented otherwise): the amount the FX desk
books in the target currency is `amount * mid`, and the amount the customer receives is
`amount * mid * (1 - spread)`, each rounded half-even to the target currency's minor unit.
The customer's amount is never more than the desk's (both are the same rounding of two
ordered numbers), and their difference, the spread plus at most one minor unit of
rounding, is credited to FX income. Each currency's legs sum to zero on their own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from fiscus.core.money import currency_exponent
from fiscus.ledger.schemas import FxIn, LegIn

# A ledger transfer stores its rate with at most 12 decimals.
RATE_QUANTUM = Decimal("1e-12")


def quantize_rate(value: Decimal) -> Decimal:
    """`value` rounded half-even to the 12 decimals a stored rate holds (never to zero)."""
    rounded = value.quantize(RATE_QUANTUM, rounding=ROUND_HALF_EVEN)
    if rounded <= 0:
        raise ValueError(f"rate {value} is too small to store")
    return rounded


def rate_text(rate: Decimal) -> str:
    """A rate as the API and the ledger write it: plain digits, no trailing zeros."""
    text = f"{rate:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def inverse(mid: Decimal) -> Decimal:
    """The rate of the opposite direction."""
    with localcontext() as ctx:
        ctx.prec = 34
        return quantize_rate(Decimal(1) / mid)


def cross(first: Decimal, second: Decimal) -> Decimal:
    """The rate of A->C from A->B (`first`) and B->C (`second`)."""
    with localcontext() as ctx:
        ctx.prec = 34
        return quantize_rate(first * second)


def customer_rate(mid: Decimal, spread: Decimal) -> Decimal:
    """What one unit of the source currency buys a customer: `mid * (1 - spread)`."""
    with localcontext() as ctx:
        ctx.prec = 34
        return quantize_rate(mid * (Decimal(1) - spread))


def _minor(amount: int, rate: Decimal, from_currency: str, to_currency: str) -> int:
    scale = Decimal(10) ** (currency_exponent(to_currency) - currency_exponent(from_currency))
    with localcontext() as ctx:
        ctx.prec = 50
        exact = Decimal(amount) * rate * scale
        return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class Conversion:
    """The figures of one conversion, in minor units."""

    from_currency: str
    to_currency: str
    amount: int  # debited, in from_currency
    mid: Decimal
    spread: Decimal
    rate: Decimal  # the customer's rate
    booked: int  # what the desk books at mid, in to_currency
    delivered: int  # what the customer receives, in to_currency

    @property
    def income(self) -> int:
        """FX income: the spread and the rounding, in to_currency."""
        return self.booked - self.delivered


def conversion(
    *, amount: int, mid: Decimal, spread: Decimal, from_currency: str, to_currency: str
) -> Conversion:
    """Figures of converting `amount` minor units of from_currency at mid less the spread."""
    assert amount > 0 and mid > 0 and 0 <= spread < 1
    rate = customer_rate(mid, spread)
    return Conversion(
        from_currency=from_currency,
        to_currency=to_currency,
        amount=amount,
        mid=mid,
        spread=spread,
        rate=rate,
        booked=_minor(amount, mid, from_currency, to_currency),
        delivered=_minor(amount, rate, from_currency, to_currency),
    )


@dataclass(frozen=True, slots=True)
class ConversionAccounts:
    """The ledger accounts a conversion moves money through."""

    source: uuid.UUID  # the customer's account in from_currency
    target: uuid.UUID  # the customer's account in to_currency
    position_from: uuid.UUID  # the FX position account in from_currency
    position_to: uuid.UUID  # the FX position account in to_currency
    income: uuid.UUID  # FX income, in to_currency


def conversion_legs(figures: Conversion, accounts: ConversionAccounts) -> tuple[list[LegIn], FxIn]:
    """Legs of one ledger transfer: the customer's debit against the FX position in the
    source currency; the position's debit at mid against the customer's credit and FX
    income in the target currency."""
    src, dst = figures.from_currency, figures.to_currency
    legs = [
        LegIn(account_id=accounts.source, direction="debit", amount=figures.amount, currency=src),
        LegIn(
            account_id=accounts.position_from,
            direction="credit",
            amount=figures.amount,
            currency=src,
        ),
        LegIn(
            account_id=accounts.position_to, direction="debit", amount=figures.booked, currency=dst
        ),
    ]
    if figures.delivered > 0:
        legs.append(
            LegIn(
                account_id=accounts.target,
                direction="credit",
                amount=figures.delivered,
                currency=dst,
            )
        )
    if figures.income > 0:
        legs.append(
            LegIn(
                account_id=accounts.income, direction="credit", amount=figures.income, currency=dst
            )
        )
    return legs, FxIn(rate=rate_text(figures.rate), from_currency=src, to_currency=dst)
