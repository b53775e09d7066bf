"""API contract of /v1/alerts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from fiscus.core.money import MAX_MINOR

_ID = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00001"


class AlertCreate(BaseModel):
    """A threshold on an account, in the account's currency (minor units)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"account_id": _ID, "kind": "low_balance", "threshold": 10000}]
        },
    )

    account_id: uuid.UUID
    kind: Literal["low_balance", "large_transaction"] = Field(
        description="`low_balance`: the balance falls below the threshold; "
        "`large_transaction`: a movement in or out of at least the threshold."
    )
    threshold: Annotated[StrictInt, Field(ge=0, le=MAX_MINOR)]


class AlertRead(BaseModel):
    """A stored alert."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    account_id: uuid.UUID
    customer_id: uuid.UUID
    kind: str
    threshold: int
    currency: str
    created_at: datetime
    last_triggered_at: datetime | None


class AlertList(BaseModel):
    """The alerts of the accounts the caller may see (at most 10 per account)."""

    data: list[AlertRead]
