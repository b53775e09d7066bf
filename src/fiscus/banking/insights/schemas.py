"""API contract of spending insights: categories, rules, re-categorising, budgets, report."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from fiscus.core.money import MAX_MINOR, Currency

_ID = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00001"
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Minor = Annotated[StrictInt, Field(ge=0, le=MAX_MINOR)]
Needle = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)]
MerchantCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]


class CategoryCreate(BaseModel):
    """A category the tenant adds to the built-in ones."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"slug": "pets", "name": "Pets", "kind": "spending"}]},
    )

    slug: Slug
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    kind: Literal["spending", "income", "transfer"] = "spending"


class CategoryRead(BaseModel):
    """A category: built in (every tenant has it) or added by the tenant."""

    model_config = ConfigDict(from_attributes=True)

    slug: str
    name: str
    kind: str
    built_in: bool


class CategoryList(BaseModel):
    """Every category of the tenant, built-in ones first (at most 100 added ones)."""

    data: list[CategoryRead]


class RuleCreate(BaseModel):
    """A categorisation rule: every condition given must hold. Without `customer_id` a
    tenant rule (staff); with it, that customer's rule, applied before the tenant's."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"category": "groceries", "priority": 10, "direction": "out",
                 "reference_contains": "supermarket"},
            ]
        },
    )  # fmt: skip

    category: Slug
    customer_id: uuid.UUID | None = None
    priority: Annotated[StrictInt, Field(ge=0, le=1_000_000)] = Field(
        100, description="Lower runs first; ties in creation order. First match wins."
    )
    direction: Literal["in", "out", "any"] = "any"
    reference_contains: Needle | None = Field(
        None,
        description="Case-insensitive substring of the reference. Plain text, never a"
        " regular expression: matching costs time linear in the reference.",
    )
    counterparty_iban: Annotated[str, StringConstraints(max_length=42)] | None = None
    counterparty_name_contains: Needle | None = None
    counterparty_account_id: uuid.UUID | None = None
    amount_min: Minor | None = Field(None, description="Absolute amount, minor units.")
    amount_max: Minor | None = None
    merchant_codes: Annotated[list[MerchantCode], Field(min_length=1, max_length=50)] | None = (
        Field(None, description="Card merchant category codes (ISO 18245), for card movements.")
    )


class RuleRead(BaseModel):
    """A stored rule."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID | None
    category: str
    priority: int
    direction: str
    reference_contains: str | None
    counterparty_iban: str | None
    counterparty_name_contains: str | None
    counterparty_account_id: uuid.UUID | None
    amount_min: int | None
    amount_max: int | None
    merchant_codes: list[str] | None
    created_at: datetime


class RulePage(BaseModel):
    """One page of rules, in the order they apply."""

    data: list[RuleRead]
    next_cursor: str | None


class CategorySet(BaseModel):
    """The category of one transaction; `make_rule` also adds a rule for the customer
    (same counterparty, else same reference) so later ones get it too."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"category": "eating_out"}]}
    )

    category: Slug
    make_rule: StrictBool = False


class CategorisedRead(BaseModel):
    """One transaction of an account (its side of a transfer) with its category."""

    model_config = ConfigDict(from_attributes=True)

    account_id: uuid.UUID
    transfer_id: uuid.UUID
    amount: int = Field(description="Minor units: positive in, negative out.")
    currency: str
    booked_on: date
    category: str
    source: str = Field(description="`rule`, `default` (no rule matched) or `manual`.")
    rule_id: uuid.UUID | None


class BudgetCreate(BaseModel):
    """A monthly budget for a category, in minor units of `currency`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"customer_id": _ID, "category": "groceries", "amount": 40000, "currency": "EUR"}
            ]
        },
    )

    customer_id: uuid.UUID
    category: Slug
    amount: Annotated[StrictInt, Field(gt=0, le=MAX_MINOR)]
    currency: Currency


class BudgetUpdate(BaseModel):
    """A new monthly amount."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"amount": 50000}]})

    amount: Annotated[StrictInt, Field(gt=0, le=MAX_MINOR)]


class BudgetRead(BaseModel):
    """A budget and what was spent in it this month (money out less refunds, minor units)."""

    id: uuid.UUID
    customer_id: uuid.UUID
    category: str
    amount: int
    currency: str
    spent_this_month: int
    created_at: datetime


class BudgetPage(BaseModel):
    """One page of budgets, oldest first."""

    data: list[BudgetRead]
    next_cursor: str | None


class MonthCategory(BaseModel):
    """Spending in one category and calendar month (money out less money in)."""

    month: str = Field(description="YYYY-MM")
    category: str
    amount: int


class CategoryTrend(BaseModel):
    """A category's spending this period against the previous period of equal length."""

    category: str
    amount: int
    previous: int
    change_percent: str | None = Field(
        description="(amount - previous) / previous * 100 as a decimal string, two places,"
        " rounded half-even; null when nothing was spent before."
    )


class InsightsRead(BaseModel):
    """Spending by category and month, income against spending, and the trend. Amounts are
    integer minor units of `currency` (API conventions); percentages decimal strings.
    `income` is money in less money out in income categories, `spending` money out less
    money in (refunds) in spending categories; transfer categories count in neither."""

    account_id: uuid.UUID
    currency: str
    period_from: date = Field(serialization_alias="from")
    period_to: date = Field(serialization_alias="to")
    previous_from: date
    previous_to: date
    income: int
    spending: int
    net: int
    by_month: list[MonthCategory]
    categories: list[CategoryTrend]
