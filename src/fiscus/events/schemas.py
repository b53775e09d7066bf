"""The event stream's API contract."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from fiscus.core.clock import rfc3339

Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]

_EXAMPLE: dict[str, Any] = {
    "id": "019a9f0e-3c1e-7f60-a1b2-6c0ffee00001",
    "type": "transfer.posted",
    "created_at": "2026-11-22T14:05:00.123Z",
    "tenant_id": "019a9f0e-0000-7000-8000-000000000001",
    "subject": "transfer/019a9f0e-3c1e-7f60-a1b2-6c0ffee00002",
    "position": 42,
    "data": {"amount": {"amount": 1250, "currency": "EUR"}},
}


class EventRead(BaseModel):
    """One committed event; `position` is its place in the tenant's stream (null until relayed)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    id: uuid.UUID
    type: str
    created_at: Timestamp
    tenant_id: uuid.UUID
    subject: str
    position: int | None = Field(description="1, 2, 3, ... per tenant, without gaps")
    data: dict[str, Any]


class EventFeed(BaseModel):
    """A page of the change feed. Pass `next_cursor` as `after` to continue from here."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"data": [_EXAMPLE], "next_cursor": "42", "has_more": False}]
        }
    )

    data: list[EventRead]
    next_cursor: str | None = Field(
        description="Where to resume (`after`); unchanged when the page is empty"
    )
    has_more: bool = Field(description="True when more events are already available")
