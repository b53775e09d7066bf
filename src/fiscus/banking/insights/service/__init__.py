"""Spending insights' use cases, in parts: categorising (the posting hook and the backfill),
categories and rules, budgets, and the report with re-categorising."""

from fiscus.banking.insights.service._backfill_part import (
    movements_backfill,
    movements_backfill_all,
)
from fiscus.banking.insights.service._budgets_part import (
    BudgetState,
    budget_create,
    budget_delete,
    budget_get,
    budget_list,
    budget_update,
)
from fiscus.banking.insights.service._categorise_part import (
    BUDGET_THRESHOLD_CROSSED,
    DEFAULT_CATEGORIES,
    budgets_check,
    movement_reverse,
    movements_categorise,
)
from fiscus.banking.insights.service._report_part import (
    Recategorised,
    account_insights,
    change_percent,
    movement_get,
    movement_recategorise,
)
from fiscus.banking.insights.service._rules_part import (
    Category,
    category_create,
    category_list,
    rule_create,
    rule_delete,
    rule_list,
)

__all__ = [
    "BUDGET_THRESHOLD_CROSSED",
    "DEFAULT_CATEGORIES",
    "BudgetState",
    "Category",
    "Recategorised",
    "account_insights",
    "budget_create",
    "budget_delete",
    "budget_get",
    "budget_list",
    "budget_update",
    "budgets_check",
    "category_create",
    "category_list",
    "change_percent",
    "movement_get",
    "movement_recategorise",
    "movement_reverse",
    "movements_backfill",
    "movements_backfill_all",
    "movements_categorise",
    "rule_create",
    "rule_delete",
    "rule_list",
]
