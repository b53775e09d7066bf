"""Messaging tables: templates, profiles, preferences, messages, status history.

Personal data is sealed with the key ring (`_sealing.py`): phone numbers, recipient
addresses, message subjects and bodies, and the errors and history notes that can quote
an address. Nothing looks these values up, so they need no blind index.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime, time
from typing import Any

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Text,
    Time,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from fiscus.core.keyring import SealedColumn, context_of, register_sealed_column
from fiscus.core.models import Base


class MessageTemplate(Base):
    """A tenant's override of the built-in template for one event type and channel."""

    __tablename__ = "message_templates"
    __table_args__ = (CheckConstraint("channel IN ('email', 'sms', 'in_app')", name="channel"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(Text, primary_key=True)
    channel: Mapped[str] = mapped_column(Text, primary_key=True)
    subject: Mapped[str | None] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class MessageProfile(Base):
    """A user's messaging details in a tenant: SMS number, time zone, quiet hours."""

    __tablename__ = "message_profiles"
    __table_args__ = (
        CheckConstraint("(quiet_start IS NULL) = (quiet_end IS NULL)", name="quiet_pair"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    timezone: Mapped[str] = mapped_column(Text)
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    updated_at: Mapped[datetime]


class MessagePreference(Base):
    """The channels a user chose for a category (security has no row: it cannot be changed)."""

    __tablename__ = "message_preferences"
    __table_args__ = (
        CheckConstraint("category IN ('transactions', 'marketing')", name="category"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(Text, primary_key=True)
    channels: Mapped[list[str]] = mapped_column(ARRAY(Text))
    updated_at: Mapped[datetime]


class Message(Base):
    """One message to one user on one channel, rendered when the event was relayed."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'sms', 'in_app')", name="channel"),
        CheckConstraint(
            "status IN ('queued', 'sent', 'delivered', 'failed', 'read')", name="status"
        ),
        CheckConstraint(
            "(status = 'queued') = (next_attempt_at IS NOT NULL)", name="queued_has_next_attempt"
        ),
        Index(
            "uq_messages_event_user_channel",
            "tenant_id",
            "event_id",
            "user_id",
            "channel",
            unique=True,
            postgresql_where=text("event_id IS NOT NULL"),
        ),
        Index("ix_messages_tenant_id_user_id_channel_id", "tenant_id", "user_id", "channel", "id"),
        Index("ix_messages_due", "next_attempt_at", postgresql_where=text("status = 'queued'")),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID]
    event_id: Mapped[uuid.UUID | None]
    event_type: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    # Subject, text and HTML body, sealed together (JSON); see `_sealing.content_seal`.
    content_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # The e-mail address or phone number it goes to; filled in for email when it is sent.
    address_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    provider_id: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    attempt_count: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None]
    last_error_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]


class MessageStatusChange(Base):
    """One step of a message's history: queued, sent, delivered, failed, read."""

    __tablename__ = "message_status_changes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "message_id"],
            ["messages.tenant_id", "messages.id"],
            name="fk_message_status_changes_message",
            ondelete="CASCADE",
        ),
        Index("ix_message_status_changes_tenant_id_message_id", "tenant_id", "message_id", "at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    message_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(Text)
    detail_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    at: Mapped[datetime]


# Each sealed column (`table.column`) and the columns that identify its row; a value's
# associated data is `context_of(name, *those values)`, so it opens only in its own row.
SEALED_COLUMNS: dict[str, tuple[str, str]] = {
    "messages.content_sealed": ("tenant_id", "id"),
    "messages.address_sealed": ("tenant_id", "id"),
    "messages.last_error_sealed": ("tenant_id", "id"),
    "message_status_changes.detail_sealed": ("tenant_id", "id"),
    "message_profiles.phone_sealed": ("tenant_id", "user_id"),
}


def sealed_context(name: str, values: Sequence[Any]) -> bytes:
    """The associated data of a value of sealed column `name` in the row `values` names."""
    return context_of(name, *values)


for _name, _key in SEALED_COLUMNS.items():
    _table, _column = _name.split(".")
    register_sealed_column(
        SealedColumn(
            table=_table,
            column=_column,
            key=_key,
            context=functools.partial(sealed_context, _name),
        )
    )
