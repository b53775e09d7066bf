"""API contract of the close of business."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

_ID = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00001"
_WHEN = "2026-12-01T17:00:00Z"


class CobRunCreate(BaseModel):
    """Close a business date: the tenant's current one (default), or resume a date's run."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{}, {"date": "2026-12-01"}]}
    )

    date: dt.date | None = None


class CobStepRead(BaseModel):
    """One step of a run; `count` is how many things it did (holds voided, orders paid,
    accounts accrued or posted, fees charged, accounts marked dormant, dates rolled)."""

    model_config = ConfigDict(from_attributes=True)

    step: str
    position: int
    status: Literal["pending", "running", "completed", "failed"]
    count: int
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None


class CobRunRead(BaseModel):
    """A close-of-business run and its steps in order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "business_date": "2026-12-01",
                    "status": "completed",
                    "started_at": _WHEN,
                    "finished_at": _WHEN,
                    "error": None,
                    "steps": [
                        {
                            "step": "accrue_interest",
                            "position": 3,
                            "status": "completed",
                            "count": 80,
                            "started_at": _WHEN,
                            "finished_at": _WHEN,
                            "error": None,
                        }
                    ],
                }
            ]
        }
    )

    id: uuid.UUID
    business_date: dt.date
    status: Literal["running", "completed", "failed"]
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    steps: list[CobStepRead]


class CobSettings(BaseModel):
    """A tenant's close-of-business settings."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"dormancy_days": 365}]}
    )

    dormancy_days: Annotated[
        StrictInt,
        Field(
            ge=30,
            le=3650,
            description="An active account with no customer transaction for this many days"
            " is marked dormant by the close of business.",
        ),
    ] = 365


def run_read(run: Any, steps: Sequence[Any]) -> CobRunRead:
    """The API view of a stored run and its steps."""
    return CobRunRead(
        id=run.id,
        business_date=run.business_date,
        status=run.status,
        started_at=run.started_at,
        finished_at=run.finished_at,
        error=run.error,
        steps=[CobStepRead.model_validate(step) for step in steps],
    )
