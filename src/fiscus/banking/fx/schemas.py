"""API contract of /v1/fx: rates and quotes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from fiscus.core.clock import Timestamp
from fiscus.core.money import Currency, MoneyModel
from fiscus.core.pagination import Page

RATE_PATTERN = r"^\d{1,12}(\.\d{1,12})?$"
SPREAD_PATTERN = r"^0(\.\d{1,6})?$"
RateText = Annotated[str, Field(pattern=RATE_PATTERN, examples=["1.0842"])]
SpreadText = Annotated[str, Field(pattern=SPREAD_PATTERN, examples=["0.005"])]


class FxRateCreate(BaseModel):
    """A rate for a pair: one unit of `base` costs `rate` units of `quote` (mid-market),
    and customers converting pay `spread` (a fraction of the rate, 0.005 = 0.5 %)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"base": "EUR", "quote": "USD", "rate": "1.0842", "spread": "0.005"}]
        },
    )

    base: Currency
    quote: Currency
    rate: RateText
    spread: SpreadText = "0"
    effective_at: Timestamp | None = Field(
        None, description="When the rate takes effect (default: now; at most 31 days ahead)."
    )


class FxRateRead(BaseModel):
    """A stored rate."""

    id: uuid.UUID
    base: str
    quote: str
    rate: str
    spread: str
    source: str = Field(description="`manual` (entered by staff) or `provider:<name>`.")
    effective_at: datetime
    created_at: datetime


FxRatePage = Page[FxRateRead]


class FxQuote(BaseModel):
    """What converting `sell` would deliver now, at the rate in force."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sell": {"amount": 10000, "currency": "EUR"},
                    "buy": {"amount": 10788, "currency": "USD"},
                    "rate": "1.078779",
                    "mid_rate": "1.0842",
                    "spread": "0.005",
                    "fee": {"amount": 54, "currency": "USD"},
                    "rate_ids": ["01937b6e-8f7a-7c3e-9c1a-2b3c4d5e6f70"],
                }
            ]
        }
    )

    sell: MoneyModel
    buy: MoneyModel
    rate: str = Field(description="The customer's rate: mid less the spread.")
    mid_rate: str
    spread: str
    fee: MoneyModel = Field(description="The spread and rounding, in the bought currency.")
    rate_ids: list[uuid.UUID] = Field(description="The stored rates used (two for a cross).")


class ConversionCreate(BaseModel):
    """Sell `amount` minor units of `currency` from one account into another account of
    the same customer that holds another currency, at the rate in force less the spread."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "from_account_id": "01937b6e-8f7a-7c3e-9c1a-2b3c4d5e6f70",
                    "to_account_id": "01937b6e-8f7a-7c3e-9c1a-2b3c4d5e6f71",
                    "amount": 10000,
                    "currency": "EUR",
                }
            ]
        },
    )

    from_account_id: uuid.UUID
    to_account_id: uuid.UUID
    amount: Annotated[int, Field(ge=1, le=10**15, strict=True)]
    currency: Currency = Field(description="The currency sold: the source account's.")


class ConversionRead(BaseModel):
    """A completed conversion; `id` is the ledger transfer's."""

    id: uuid.UUID
    customer_id: uuid.UUID
    from_account_id: uuid.UUID
    to_account_id: uuid.UUID
    sell: MoneyModel
    buy: MoneyModel
    rate: str = Field(description="The customer's rate: mid less the spread.")
    mid_rate: str
    spread: str
    fee: MoneyModel = Field(description="FX income: the spread and rounding, bought currency.")
    channel: str
    created_at: datetime
