"""The webhooks API contract."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

from fiscus.core.clock import rfc3339

Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]
EventTypes = Annotated[list[str], Field(min_length=1, max_length=20)]
_ID = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00001"
_WHEN = "2026-11-22T14:05:00.123Z"
_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 -- an OpenAPI example


class EndpointCreate(BaseModel):
    """A new webhook endpoint."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.com/fiscus",
                    "event_types": ["transfer.*", "announcement.published"],
                    "description": "Accounting sync",
                }
            ]
        },
    )

    url: str = Field(max_length=2048, description="http(s) URL on a public address")
    event_types: EventTypes = Field(description="Event types; `noun.*` and `*` are wildcards")
    description: str | None = Field(None, max_length=500)


class EndpointUpdate(BaseModel):
    """Changes to an endpoint; omitted fields stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"enabled": True, "event_types": ["transfer.*"]}]},
    )

    # Absent keeps the value; null is a value only for the description (it clears it).
    # The others are not nullable, so an explicit null is a 400, not a crash or a silent
    # "disabled" (their None defaults never escape: the route reads only the set fields).
    url: str = Field(None, max_length=2048)  # type: ignore[assignment]
    event_types: EventTypes = None  # type: ignore[assignment]
    description: str | None = Field(None, max_length=500)
    enabled: bool = None  # type: ignore[assignment]


class EndpointRead(BaseModel):
    """A webhook endpoint (its secret is never shown again after creation or rotation)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "url": "https://hooks.example.com/fiscus",
                    "event_types": ["transfer.*"],
                    "description": "Accounting sync",
                    "enabled": True,
                    "disabled_reason": None,
                    "created_at": _WHEN,
                    "updated_at": _WHEN,
                }
            ]
        },
    )

    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    created_at: Timestamp
    updated_at: Timestamp


class EndpointCreated(EndpointRead):
    """The new endpoint with its signing secret, shown this once."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "url": "https://hooks.example.com/fiscus",
                    "event_types": ["transfer.*"],
                    "description": None,
                    "enabled": True,
                    "disabled_reason": None,
                    "created_at": _WHEN,
                    "updated_at": _WHEN,
                    "secret": _SECRET,
                }
            ]
        }
    )

    secret: str = Field(description="`whsec_` + base64; store it now, it is not shown again")


class SecretRotate(BaseModel):
    """How long the current secret keeps signing next to the new one."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"overlap_s": 86400}]}
    )

    overlap_s: int | None = Field(None, ge=0, le=7 * 86400, description="Default: 24 hours")


class SecretRotated(BaseModel):
    """The new secret (shown once) and when the previous one stops signing."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"secret": _SECRET, "previous_secret_expires_at": _WHEN}]}
    )

    secret: str
    previous_secret_expires_at: Timestamp


class AttemptRead(BaseModel):
    """One HTTP attempt of a delivery."""

    model_config = ConfigDict(from_attributes=True)

    attempt_number: int
    started_at: Timestamp
    latency_ms: int
    request_url: str
    request_headers: dict[str, Any]
    response_status: int | None
    response_body: str | None = Field(description="First 2 KB of the response")
    error: str | None


class DeliveryRead(BaseModel):
    """A delivery of one message to one endpoint; `id` is the `webhook-id` header."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "endpoint_id": _ID,
                    "event_id": _ID,
                    "event_type": "transfer.posted",
                    "origin": "event",
                    "status": "pending",
                    "attempt_count": 1,
                    "next_attempt_at": _WHEN,
                    "last_status_code": 500,
                    "last_error": None,
                    "created_at": _WHEN,
                    "completed_at": None,
                    "request_body": '{"id":"...","type":"transfer.posted"}',
                    "attempts": [],
                }
            ]
        },
    )

    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    origin: Literal["event", "replay", "test"]
    status: Literal["pending", "succeeded", "failed"]
    attempt_count: int
    next_attempt_at: Timestamp | None
    last_status_code: int | None
    last_error: str | None
    created_at: Timestamp
    completed_at: Timestamp | None
    request_body: str = Field(description="The JSON body sent (first 2 KB)")
    attempts: list[AttemptRead] = []


class DeliveryPage(BaseModel):
    """A page of an endpoint's deliveries, newest first."""

    data: list[DeliveryRead]
    next_cursor: str | None


class EndpointPage(BaseModel):
    """A page of endpoints."""

    data: list[EndpointRead]
    next_cursor: str | None


class ReplayRequest(BaseModel):
    """Replay every matching event created at or after `since`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"since": _WHEN}]})

    since: AwareDatetime


class ReplayQueued(BaseModel):
    """How many deliveries the replay queued."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"deliveries_queued": 12}]})

    deliveries_queued: int
