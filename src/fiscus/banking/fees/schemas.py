"""API contract of fees: the fee schedule of a product, charged fees, reversals."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from fiscus.core.money import MAX_MINOR

_ID = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00001"
_WHEN = "2026-12-01T17:00:00Z"
FeeAmount = Annotated[StrictInt, Field(ge=0, le=MAX_MINOR, description="Minor units; 0: none")]
TransactionType = Literal["deposit", "transfer_in", "transfer_out", "payment_out"]


class FeeSchedule(BaseModel):
    """A product's fees, in its currency's minor units (0 or absent: no such fee).

    Monthly fees (maintenance, overdraft, dormancy) are charged by the close of business of
    a month's last day; per-transaction fees by the close of the day the transaction was
    made. Each is one ledger transfer from the account to fee income."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "monthly_maintenance": 500,
                    "maintenance_waived_from": 100000,
                    "per_transaction": {"transfer_out": 25},
                    "overdraft_monthly": 1000,
                    "dormancy_monthly": 200,
                }
            ]
        },
    )

    monthly_maintenance: FeeAmount = 0
    maintenance_waived_from: Annotated[
        StrictInt | None,
        Field(
            ge=0,
            le=MAX_MINOR,
            description="No maintenance fee when the month-end balance is at least this.",
        ),
    ] = None
    per_transaction: Annotated[dict[TransactionType, FeeAmount], Field(max_length=4)] = {}
    overdraft_monthly: Annotated[
        StrictInt,
        Field(ge=0, le=MAX_MINOR, description="Charged when the balance was negative at a"
              " close of business in the month."),
    ] = 0  # fmt: skip
    dormancy_monthly: Annotated[
        StrictInt,
        Field(ge=0, le=MAX_MINOR, description="Charged each month the account is dormant."),
    ] = 0


class FeeRead(BaseModel):
    """A fee charged to an account (and its reversal, if reversed)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "account_id": _ID,
                    "customer_id": _ID,
                    "kind": "maintenance",
                    "occasion": "2026-11",
                    "amount": 500,
                    "currency": "EUR",
                    "description": "Monthly maintenance fee 2026-11",
                    "status": "charged",
                    "transfer_id": _ID,
                    "reversal_transfer_id": None,
                    "reversed_at": None,
                    "created_at": _WHEN,
                }
            ]
        },
    )

    id: uuid.UUID
    account_id: uuid.UUID
    customer_id: uuid.UUID
    kind: str
    occasion: str
    amount: int
    currency: str
    description: str
    status: Literal["charged", "reversed"]
    transfer_id: uuid.UUID
    reversal_transfer_id: uuid.UUID | None
    reversed_at: datetime | None
    created_at: datetime


class FeePage(BaseModel):
    """One page of fees, newest first."""

    data: list[FeeRead]
    next_cursor: str | None


class FeeReverse(BaseModel):
    """Why a fee is given back (kept in the audit trail and the ledger transfer)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "Goodwill: first month"}]}
    )

    reason: Annotated[str, Field(min_length=1, max_length=500)]
