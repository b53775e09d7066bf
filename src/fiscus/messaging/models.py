"""Messaging tables: templates, profiles, preferences, messages, status history."""

from __future__ import annotations

import uuid
from datetime import datetime, time

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    Text,
    Time,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

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
    phone: Mapped[str | None] = mapped_column(Text)
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
    subject: Mapped[str | None] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    attempt_count: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
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
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
