"""Errors of alerts."""

from __future__ import annotations

from fiscus.core.errors import BusinessRuleViolation, NotFound


class AlertNotFound(NotFound):
    """No alert with this id that the caller may see."""

    type_slug = "alert-not-found"
    title = "Alert not found"


class AlertLimitReached(BusinessRuleViolation):
    """The account already has as many alerts as allowed."""

    type_slug = "alert-limit-reached"
    title = "Too many alerts on this account"
