"""API contract of statements and documents."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from fiscus.core.money import MoneyModel

_ID = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00010"
_ACCOUNT = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00004"
_CUSTOMER = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00003"


class BankStatementRead(BaseModel):
    """A monthly statement: its period and totals (minor units); `download` fetches it."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "account_id": _ACCOUNT,
                    "period_start": "2026-11-01",
                    "period_end": "2026-11-30",
                    "currency": "EUR",
                    "opening": 100000,
                    "money_in": 250000,
                    "money_out": 80000,
                    "closing": 270000,
                    "entry_count": 14,
                    "created_at": "2026-12-01T02:00:00.000Z",
                    "download": f"/v1/accounts/{_ACCOUNT}/statement?from=2026-11-01"
                    "&to=2026-11-30&format=pdf",
                }
            ]
        },
    )

    id: uuid.UUID
    account_id: uuid.UUID
    period_start: date
    period_end: date
    currency: str
    opening: int
    money_in: int
    money_out: int
    closing: int
    entry_count: int
    created_at: datetime
    download: str = Field(description="The PDF; change `format` for another of the six.")


class BankStatementPage(BaseModel):
    """A page of monthly statements, newest first."""

    data: list[BankStatementRead]
    next_cursor: str | None


class TaxSummaryAccount(BaseModel):
    """One account's year: interest credited, tax withheld from it, fees charged (net of
    fee refunds)."""

    account_id: uuid.UUID
    iban: str
    interest_earned: MoneyModel
    tax_withheld: MoneyModel
    fees_paid: MoneyModel


class TaxSummaryRead(BaseModel):
    """A customer's year-end tax summary, by account and in total per currency."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": _CUSTOMER,
                    "year": 2026,
                    "accounts": [
                        {
                            "account_id": _ACCOUNT,
                            "iban": "DE89370400440532013000",
                            "interest_earned": {"amount": 35412, "currency": "EUR"},
                            "tax_withheld": {"amount": 9339, "currency": "EUR"},
                            "fees_paid": {"amount": 2400, "currency": "EUR"},
                        }
                    ],
                    "totals": [
                        {
                            "currency": "EUR",
                            "interest_earned": 35412,
                            "tax_withheld": 9339,
                            "fees_paid": 2400,
                        }
                    ],
                }
            ]
        }
    )

    customer_id: uuid.UUID
    year: int
    accounts: list[TaxSummaryAccount]
    totals: list[TaxSummaryTotal]


class TaxSummaryTotal(BaseModel):
    """The year's totals in one currency (minor units)."""

    currency: str
    interest_earned: int
    tax_withheld: int
    fees_paid: int


TaxSummaryRead.model_rebuild()
