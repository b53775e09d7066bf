"""Errors of FX rates and conversions, each with a stable problem type."""

from __future__ import annotations

from fiscus.core.errors import (
    BusinessRuleViolation,
    NotFound,
    ServiceUnavailable,
    ValidationProblem,
)


class RateUnavailable(BusinessRuleViolation):
    """No rate in force converts between the two currencies."""

    type_slug = "fx-rate-unavailable"
    title = "No exchange rate for these currencies"


class SameCurrency(ValidationProblem):
    """A rate or conversion names one currency twice."""

    type_slug = "fx-same-currency"
    title = "The two currencies are the same"

    def __init__(self, detail: str, *, field: str = "quote") -> None:
        super().__init__(detail, field=field)


class ProviderUnavailable(ServiceUnavailable):
    """The rate provider did not answer with a usable document."""

    type_slug = "fx-provider-unavailable"
    title = "Exchange-rate provider unavailable"


class ConversionNotAllowed(BusinessRuleViolation):
    """The accounts cannot convert into each other (another customer's, or one currency)."""

    type_slug = "fx-conversion-not-allowed"
    title = "Conversion not allowed between these accounts"


class ConversionTooSmall(BusinessRuleViolation):
    """The amount converts to less than one minor unit of the bought currency."""

    type_slug = "fx-conversion-too-small"
    title = "Amount too small to convert"


class ConversionNotFound(NotFound):
    """No conversion with this id that the caller may see."""

    type_slug = "fx-conversion-not-found"
    title = "Conversion not found"
