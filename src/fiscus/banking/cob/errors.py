"""Errors of the close of business."""

from __future__ import annotations

from fiscus.core.errors import BusinessRuleViolation, NotFound


class CobRunNotFound(NotFound):
    """No close-of-business run with this id in the tenant."""

    type_slug = "cob-run-not-found"
    title = "COB run not found"


class CobDateInvalid(BusinessRuleViolation):
    """Only the current business date can be closed (or a date already run, to resume it)."""

    type_slug = "cob-date-invalid"
    title = "That business date cannot be closed now"
