"""API contract of interest: a product's interest terms and rates, APY, account interest.

Rates are decimal strings holding a fraction per year (`"0.035"` is 3.5 % a year). Amounts
are integers in minor units, except accrued-but-unposted interest, which is also given
exactly as a decimal string of minor units (`accrued_exact`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from fiscus.banking.fees.schemas import FeeSchedule
from fiscus.banking.interest.calc import DayCount, Frequency, Posting
from fiscus.core.money import MAX_MINOR

_ID = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00001"
_WHEN = "2026-12-01T17:00:00Z"
RateText = Annotated[
    str,
    Field(
        pattern=r"^(0(\.\d{1,12})?|1(\.0{1,12})?)$",
        description="A fraction per year between 0 and 1, as a decimal string: `0.035`.",
        examples=["0.035"],
    ),
]
_ORDER = {"daily": 0, "monthly": 1, "quarterly": 2, "annually": 3}


class InterestTerms(BaseModel):
    """How a product's accounts earn (and, overdrawn, pay) interest; the rates themselves
    are a history (`POST /v1/products/{id}/interest-rates`)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "day_count": "ACT/365F",
                    "balance_basis": "end_of_day",
                    "compounding": "monthly",
                    "posting": "monthly",
                    "minimum_balance": 0,
                    "withholding_tax_rate": "0.25",
                }
            ]
        },
    )

    day_count: DayCount = "ACT/365F"
    balance_basis: Literal["end_of_day", "average_daily"] = Field(
        "end_of_day",
        description="`end_of_day`: each day earns on its closing balance; `average_daily`:"
        " the period earns on its average daily balance (trued up daily).",
    )
    compounding: Frequency = Field(
        "monthly",
        description="How often accrued interest starts earning interest itself; at least as"
        " often as it is posted.",
    )
    posting: Posting = Field("monthly", description="Interest is posted on the period's last day.")
    minimum_balance: Annotated[StrictInt, Field(ge=0, le=MAX_MINOR)] = Field(
        0, description="Credit interest is earned only on balances of at least this."
    )
    withholding_tax_rate: RateText = Field(
        "0", description="Withheld from credit interest (half-even) and booked to tax payable."
    )

    @model_validator(mode="after")
    def _compounds_at_least_as_often_as_posted(self) -> Self:
        if _ORDER[self.compounding] > _ORDER[self.posting]:
            raise ValueError("compounding must be at least as frequent as posting")
        return self


class ProductTerms(BaseModel):
    """A product's interest terms and fee schedule (absent: the product has none)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "interest": {
                        "day_count": "ACT/365F",
                        "compounding": "monthly",
                        "posting": "monthly",
                        "withholding_tax_rate": "0.25",
                    },
                    "fees": {"monthly_maintenance": 500, "maintenance_waived_from": 100000},
                }
            ]
        },
    )

    interest: InterestTerms | None = None
    fees: FeeSchedule | None = None


class TierIn(BaseModel):
    """A balance band: balances of at least `from` minor units earn `rate` (whole balance)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_minor: Annotated[StrictInt, Field(ge=0, le=MAX_MINOR, alias="from")]
    rate: RateText


class RateCreate(BaseModel):
    """A product's rate from a date on: a flat `rate` or `tiers`, and the overdraft rate."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"effective_from": "2026-12-01", "rate": "0.035", "overdraft_rate": "0.12"},
                {
                    "effective_from": "2027-01-01",
                    "tiers": [{"from": 0, "rate": "0.01"}, {"from": 1000000, "rate": "0.03"}],
                },
            ]
        },
    )

    effective_from: date
    rate: RateText | None = None
    tiers: Annotated[list[TierIn], Field(min_length=1, max_length=20)] | None = None
    overdraft_rate: RateText = "0"

    @model_validator(mode="after")
    def _rate_or_tiers(self) -> Self:
        if (self.rate is None) == (self.tiers is None):
            raise ValueError("give either `rate` or `tiers`")
        if self.tiers is not None:
            bounds = [tier.from_minor for tier in self.tiers]
            if len(set(bounds)) != len(bounds) or 0 not in bounds:
                raise ValueError("tiers need distinct lower bounds, one of them 0")
        return self


class TierRead(BaseModel):
    """A balance band and its rate."""

    model_config = ConfigDict(populate_by_name=True)

    from_minor: int = Field(serialization_alias="from")
    rate: str


class RateRead(BaseModel):
    """A stored rate of a product."""

    id: uuid.UUID
    product_id: uuid.UUID
    effective_from: date
    rate: str | None
    tiers: list[TierRead] | None
    overdraft_rate: str
    created_at: datetime


class RateList(BaseModel):
    """A product's rates, oldest first (at most 500)."""

    data: list[RateRead]


class ApyBand(BaseModel):
    """The yield of one balance band."""

    from_minor: int = Field(serialization_alias="from")
    rate: str
    apy: str


class ApyRead(BaseModel):
    """A product's annual percentage yield (AER) on a date.

    `apy = (1 + rate / n) ** n - 1`, n the compounding periods in a year (365 daily, 12
    monthly, 4 quarterly, 1 annually); a fraction to 8 places, half-even."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "product_id": _ID,
                    "as_of": "2026-12-01",
                    "compounding": "monthly",
                    "formula": "(1 + r/n)^n - 1",
                    "bands": [{"from": 0, "rate": "0.035", "apy": "0.03556611"}],
                }
            ]
        }
    )

    product_id: uuid.UUID
    as_of: date
    compounding: str
    formula: str
    bands: list[ApyBand]


class PostingRead(BaseModel):
    """One posting of interest to an account."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    period_end: date
    credit_gross: int
    tax: int
    overdraft_amount: int
    transfer_id: uuid.UUID | None
    created_at: datetime


class ProjectedMonth(BaseModel):
    """The interest one coming month is expected to post (at today's balance and rates)."""

    month: str
    interest: int


class AccountInterestRead(BaseModel):
    """An account's interest: accrued and not yet posted, its last posting, and what the
    next 12 months would post at its current balance and rates (minor units)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_id": _ID,
                    "currency": "EUR",
                    "accrued": 1234,
                    "accrued_exact": "1234.27",
                    "accrued_through": "2026-11-30",
                    "last_posting": None,
                    "projection": [{"month": "2026-12", "interest": 2973}],
                    "projected_total": 35660,
                }
            ]
        }
    )

    account_id: uuid.UUID
    currency: str
    accrued: int
    accrued_exact: str
    accrued_through: date | None
    last_posting: PostingRead | None
    projection: list[ProjectedMonth]
    projected_total: int


def rate_text(value: Decimal) -> str:
    """A stored rate as the API writes it: no trailing zeros, never exponent notation."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"
