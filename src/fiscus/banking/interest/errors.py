"""Errors of interest."""

from __future__ import annotations

from fiscus.core.errors import BusinessRuleViolation, Conflict


class InterestRateExists(Conflict):
    """The product already has a rate effective from that date."""

    type_slug = "interest-rate-exists"
    title = "A rate already starts on that date"


class InterestRateInPast(BusinessRuleViolation):
    """A rate may not start before the business date (accrued days are final)."""

    type_slug = "interest-rate-in-past"
    title = "Rate effective date already accrued"


class InterestTermsMissing(BusinessRuleViolation):
    """The product has no interest terms (set them first with PUT /v1/products/{id}/terms)."""

    type_slug = "interest-terms-missing"
    title = "The product earns no interest"
