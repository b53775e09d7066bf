"""Errors of spending insights, each with a stable problem type."""

from __future__ import annotations

from fiscus.core.errors import BusinessRuleViolation, Conflict, NotFound, ValidationProblem


class CategoryUnknown(ValidationProblem):
    """The category is neither built in nor one the tenant added."""

    type_slug = "spending-category-unknown"
    title = "Unknown spending category"

    def __init__(self, detail: str, *, field: str = "category") -> None:
        super().__init__(detail, field=field)


class CategoryExists(Conflict):
    """A category with this slug exists already (built in or added)."""

    type_slug = "spending-category-exists"
    title = "Spending category exists"


class CategoryLimitReached(BusinessRuleViolation):
    """The tenant has added as many categories as allowed."""

    type_slug = "spending-category-limit-reached"
    title = "Too many spending categories"


class RuleNotFound(NotFound):
    """No categorisation rule with this id that the caller may see."""

    type_slug = "spending-rule-not-found"
    title = "Spending rule not found"


class RuleLimitReached(BusinessRuleViolation):
    """The tenant (or customer) has as many categorisation rules as allowed."""

    type_slug = "spending-rule-limit-reached"
    title = "Too many spending rules"


class RuleEmpty(ValidationProblem):
    """A rule must have at least one condition, or it would match every movement."""

    type_slug = "spending-rule-empty"
    title = "Spending rule without a condition"


class MovementNotFound(NotFound):
    """No categorised transaction with this id on an account the caller may see."""

    type_slug = "spending-transaction-not-found"
    title = "Transaction not found"


class BudgetNotFound(NotFound):
    """No budget with this id that the caller may see."""

    type_slug = "budget-not-found"
    title = "Budget not found"


class BudgetExists(Conflict):
    """The customer has a budget for this category and currency already."""

    type_slug = "budget-exists"
    title = "Budget exists"


class InsightsPeriodInvalid(ValidationProblem):
    """The period is empty, reversed or longer than allowed."""

    type_slug = "insights-period-invalid"
    title = "Invalid insights period"

    def __init__(self, detail: str, *, field: str = "from") -> None:
        super().__init__(detail, field=field)
