"""The messaging API contract."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from fiscus.core.clock import rfc3339

Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]


def _time_text(value: object) -> object:
    # pydantic's lax mode reads a number as seconds after midnight (0 is 00:00); a quiet
    # hour is written as text, "22:00".
    if not isinstance(value, str | time):
        raise ValueError("expected a time of day such as 22:00")
    return value


TimeOfDay = Annotated[time, BeforeValidator(_time_text)]
ChannelName = Literal["email", "sms", "in_app"]
_ID = "019a9f0e-3c1e-7f60-a1b2-6c0ffee00001"
_WHEN = "2026-11-22T14:05:00.123Z"


class InboxMessage(BaseModel):
    """An in-app message with its read receipt."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "event_type": "transfer.posted",
                    "category": "transactions",
                    "subject": "Transfer posted",
                    "body": "Credit of 12.50 EUR.",
                    "created_at": _WHEN,
                    "delivered_at": _WHEN,
                    "read_at": None,
                }
            ]
        },
    )

    id: uuid.UUID
    event_type: str
    category: str
    subject: str | None
    body: str
    created_at: Timestamp
    delivered_at: Timestamp | None
    read_at: Timestamp | None


class InboxPage(BaseModel):
    """A page of the caller's in-app messages, newest first."""

    data: list[InboxMessage]
    next_cursor: str | None


class Preferences(BaseModel):
    """Channels per category; security is always every channel."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "security": ["email", "sms", "in_app"],
                    "transactions": ["email", "in_app"],
                    "marketing": [],
                }
            ]
        }
    )

    security: list[ChannelName]
    transactions: list[ChannelName]
    marketing: list[ChannelName]


class PreferenceUpdate(BaseModel):
    """The channels for one category (security cannot be changed)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"category": "marketing", "channels": ["email"]}]},
    )

    category: Literal["transactions", "marketing"]
    channels: Annotated[list[ChannelName], Field(max_length=3)]


class ProfileUpdate(BaseModel):
    """SMS number, time zone and quiet hours (local times; may wrap midnight)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "phone": "+33612345678",
                    "timezone": "Europe/Paris",
                    "quiet_start": "22:00",
                    "quiet_end": "07:00",
                }
            ]
        },
    )

    phone: str | None = Field(None, pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164")
    timezone: str = Field("UTC", max_length=64)
    quiet_start: TimeOfDay | None = None
    quiet_end: TimeOfDay | None = None


class TemplateBody(BaseModel):
    """A template: Jinja2 (sandboxed); variables `event`, `data` and per-recipient ones."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "subject": "Transfer posted: {{ leg.amount | money(leg.currency) }}",
                    "text": "Reference {{ data.transfer_id }}",
                    "html": "<p>Reference {{ data.transfer_id }}</p>",
                }
            ]
        },
    )

    subject: str | None = Field(None, max_length=500)
    text: str = Field(max_length=20_000)
    html: str | None = Field(None, max_length=20_000)


class TemplatePreviewRequest(TemplateBody):
    """A template to render with sample data for an event type and channel."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "event_type": "transfer.posted",
                    "channel": "in_app",
                    "subject": "Transfer",
                    "text": "{{ leg.amount | money(leg.currency) }}",
                }
            ]
        },
    )

    event_type: str = Field(max_length=100)
    channel: ChannelName


class RenderedMessage(BaseModel):
    """A template rendered with sample data."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"subject": "Transfer", "text": "12.50 EUR", "html": None}]}
    )

    subject: str | None
    text: str
    html: str | None


class AnnouncementCreate(BaseModel):
    """An in-app announcement to every member of the tenant, or of some roles."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"title": "Maintenance", "body": "Saturday 02:00 UTC.", "roles": None}]
        },
    )

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=5000)
    roles: Annotated[list[str], Field(max_length=20)] | None = None


class AnnouncementQueued(BaseModel):
    """The announcement's event; messages appear once the relay has fanned it out."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"event_id": _ID}]})

    event_id: uuid.UUID


class StatusChangeRead(BaseModel):
    """One step of a message's history."""

    model_config = ConfigDict(from_attributes=True)

    status: str
    detail: str | None
    at: Timestamp


class MessageRead(BaseModel):
    """A message as administrators see it, with its status history."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "user_id": _ID,
                    "event_id": _ID,
                    "event_type": "transfer.posted",
                    "channel": "email",
                    "category": "transactions",
                    "subject": "Transfer posted",
                    "address": "ada@example.com",
                    "status": "sent",
                    "attempt_count": 1,
                    "last_error": None,
                    "created_at": "2026-11-22T14:05:00.123Z",
                    "sent_at": "2026-11-22T14:05:01.002Z",
                    "delivered_at": None,
                    "read_at": None,
                    "history": [
                        {"status": "queued", "detail": None, "at": "2026-11-22T14:05:00.123Z"},
                        {"status": "sent", "detail": None, "at": "2026-11-22T14:05:01.002Z"},
                    ],
                }
            ]
        },
    )

    id: uuid.UUID
    user_id: uuid.UUID
    event_id: uuid.UUID | None
    event_type: str
    channel: ChannelName
    category: str
    subject: str | None
    address: str | None
    status: str
    attempt_count: int
    last_error: str | None
    created_at: Timestamp
    sent_at: Timestamp | None
    delivered_at: Timestamp | None
    read_at: Timestamp | None
    history: list[StatusChangeRead] = []


class MessagePage(BaseModel):
    """A page of messages, newest first."""

    data: list[MessageRead]
    next_cursor: str | None
