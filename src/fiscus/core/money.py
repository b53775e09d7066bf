"""Money: integer minor units with an ISO 4217 currency; Decimal only at the edges.

Exponents follow ISO 4217 (the list published by SIX), not CLDR's display digits, which
differ for a few currencies (CLDR shows IQD with 0 digits; ISO 4217 defines 3).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import total_ordering
from typing import Annotated, Self

from babel import Locale
from babel.numbers import list_currencies
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from fiscus.core.errors import ValidationProblem

# ISO 4217 minor units for every currency whose exponent is not 2.
_ISO_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}
# Codes with no minor unit at all (precious metals, SDR, bond units, test and "no currency").
_NOT_MONEY = frozenset("XAG XAU XBA XBB XBC XBD XDR XPD XPT XSU XTS XUA XXX".split())
CURRENCIES: frozenset[str] = frozenset(
    code for code in list_currencies() if len(code) == 3 and code not in _NOT_MONEY
)
# Amounts are stored in PostgreSQL bigint; refuse anything that would not fit.
MAX_MINOR = 2**63 - 1


def currency_exponent(currency: str) -> int:
    """ISO 4217 exponent: EUR 2, JPY 0, BHD 3."""
    check_currency(currency)
    return _ISO_EXPONENTS.get(currency, 2)


def check_currency(currency: str) -> str:
    """Return the code if it is a known ISO 4217 currency, else raise ValidationProblem."""
    if not isinstance(currency, str) or currency not in CURRENCIES:
        raise ValidationProblem(
            f"Unknown currency {currency!r}; use an ISO 4217 code such as EUR.", field="currency"
        )
    return currency


class CurrencyMismatch(ValidationProblem):
    """Arithmetic or comparison between two different currencies."""

    type_slug = "currency-mismatch"
    title = "Currency mismatch"


@total_ordering
@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: integer minor units of one currency."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount_minor) is not int:
            raise ValidationProblem("Amounts are integers in minor units.", field="amount")
        if abs(self.amount_minor) > MAX_MINOR:
            raise ValidationProblem("Amount is out of range.", field="amount")
        check_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Self:
        """Zero in the given currency."""
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, amount: Decimal | str, currency: str, *, rounding: str) -> Self:
        """Convert a major-unit decimal ("12.345") with the named rounding mode."""
        try:
            value = Decimal(amount)
        except (InvalidOperation, TypeError, ValueError):
            raise ValidationProblem(f"{amount!r} is not a number.", field="amount") from None
        if not value.is_finite():
            raise ValidationProblem("Amount must be finite.", field="amount")
        scaled = value.scaleb(currency_exponent(currency))
        return cls(int(scaled.to_integral_value(rounding=rounding)), currency)

    def to_decimal(self) -> Decimal:
        """The amount in major units, exact (12345 EUR minor -> Decimal('123.45'))."""
        return Decimal(self.amount_minor).scaleb(-currency_exponent(self.currency))

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"Cannot combine {self.currency} with {other.currency}.")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount_minor + self._same(other).amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount_minor - self._same(other).amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount_minor), self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount_minor < self._same(other).amount_minor

    def __bool__(self) -> bool:
        return self.amount_minor != 0

    def multiply(self, factor: Decimal | int, *, rounding: str) -> Money:
        """Scale by a Decimal factor (an interest rate, a quantity) with the named rounding."""
        if isinstance(factor, float):
            raise TypeError("use Decimal, never float, for money factors")
        product = Decimal(self.amount_minor) * Decimal(factor)
        return Money(int(product.to_integral_value(rounding=rounding)), self.currency)

    def allocate(self, weights: Sequence[int | Decimal]) -> list[Money]:
        """Split into parts proportional to weights; parts always sum to the original.

        Largest-remainder method: each part is floored, then the leftover minor units go
        one each to the parts with the largest remainders (ties to the earliest part).
        """
        assert weights, "allocate needs at least one weight"
        total = sum(Decimal(weight) for weight in weights)
        assert total > 0 and all(Decimal(w) >= 0 for w in weights), "weights must be >= 0"
        sign = -1 if self.amount_minor < 0 else 1
        amount = abs(self.amount_minor)
        exact = [Decimal(amount) * Decimal(weight) / total for weight in weights]
        parts = [int(value) for value in exact]
        leftover = amount - sum(parts)
        order = sorted(range(len(parts)), key=lambda i: (-(exact[i] - parts[i]), i))
        for index in order[:leftover]:
            parts[index] += 1
        return [Money(sign * part, self.currency) for part in parts]

    def format(self, locale: str = "en_US") -> str:
        """Human-readable with the locale's symbol and separators ("€1,234.50")."""
        exponent = currency_exponent(self.currency)
        # The locale decides symbol placement and separators; ISO 4217 decides the digits.
        pattern = copy.copy(Locale.parse(locale).currency_formats["standard"])
        pattern.frac_prec = (exponent, exponent)
        return str(
            pattern.apply(self.to_decimal(), locale, currency=self.currency, currency_digits=False)
        )

    def __str__(self) -> str:
        return f"{self.to_decimal():f} {self.currency}"


def parse_rate(value: str | Decimal, *, field: str = "rate") -> Decimal:
    """Parse a decimal string (rates, unit prices); refuse NaN, infinities and floats."""
    if isinstance(value, float):
        raise ValidationProblem("Send decimals as strings, not floats.", field=field)
    try:
        result = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationProblem(f"{value!r} is not a decimal number.", field=field) from None
    if not result.is_finite():
        raise ValidationProblem("Must be a finite decimal.", field=field)
    return result


Rounding = ROUND_HALF_EVEN


def _known_currency(value: str) -> str:
    # A ValueError (not a ValidationProblem) so Pydantic reports it at the field's path.
    if value not in CURRENCIES:
        raise ValueError(f"unknown ISO 4217 currency {value!r}")
    return value


# The pattern documents the shape; the validator refuses well-shaped codes that are not
# money ("ZZZ", or "XXX", ISO's "no currency").
Currency = Annotated[
    str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"]), AfterValidator(_known_currency)
]
AmountMinor = Annotated[StrictInt, Field(ge=-MAX_MINOR, le=MAX_MINOR, examples=[1234])]


class MoneyModel(BaseModel):
    """The API shape of an amount: integer minor units and an ISO 4217 code."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"amount": 1234, "currency": "EUR"}]},
    )

    amount: AmountMinor
    currency: Currency

    def to_money(self) -> Money:
        """The domain value."""
        return Money(self.amount, self.currency)

    @classmethod
    def of(cls, money: Money) -> MoneyModel:
        """The API value."""
        return cls(amount=money.amount_minor, currency=money.currency)
