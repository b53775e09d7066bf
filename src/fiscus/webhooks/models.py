"""Webhook tables: endpoints, signing secrets, deliveries and attempts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from fiscus.core.keyring import SealedColumn, context_of, register_sealed_column
from fiscus.core.models import Base


class WebhookEndpoint(Base):
    """A tenant's receiver URL and the event types it wants."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint("length(url) <= 2048", name="url_length"),
        CheckConstraint("cardinality(event_types) BETWEEN 1 AND 20", name="event_types"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(ARRAY(Text))
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # Start of the current run of failures; cleared by any success (5 days -> disabled).
    failing_since: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookSecret(Base):
    """A signing secret, sealed with the key ring; `expires_at` set once rotated."""

    __tablename__ = "webhook_secrets"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"],
            ["webhook_endpoints.tenant_id", "webhook_endpoints.id"],
            name="fk_webhook_secrets_endpoint",
            ondelete="CASCADE",
        ),
        Index("ix_webhook_secrets_tenant_id_endpoint_id", "tenant_id", "endpoint_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    endpoint_id: Mapped[uuid.UUID]
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]


def secret_context(tenant_id: uuid.UUID, endpoint_id: uuid.UUID, secret_id: uuid.UUID) -> bytes:
    """Associated data of a sealed signing secret: its tenant, endpoint and row."""
    return context_of("webhook_secrets.sealed_secret", tenant_id, endpoint_id, secret_id)


register_sealed_column(
    SealedColumn(
        table="webhook_secrets",
        column="sealed_secret",
        key=("tenant_id", "endpoint_id", "id"),
        context=lambda values: secret_context(values[0], values[1], values[2]),
    )
)


class WebhookDelivery(Base):
    """One message to one endpoint; its id is the `webhook-id` every attempt carries."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"],
            ["webhook_endpoints.tenant_id", "webhook_endpoints.id"],
            name="fk_webhook_deliveries_endpoint",
            ondelete="CASCADE",
        ),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
        CheckConstraint("origin IN ('event', 'replay', 'test')", name="origin"),
        CheckConstraint(
            "(status = 'pending') = (next_attempt_at IS NOT NULL)",
            name="pending_has_next_attempt",
        ),
        Index(
            "uq_webhook_deliveries_event",
            "tenant_id",
            "endpoint_id",
            "event_id",
            unique=True,
            postgresql_where=text("origin = 'event'"),
        ),
        Index("ix_webhook_deliveries_tenant_id_endpoint_id_id", "tenant_id", "endpoint_id", "id"),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    endpoint_id: Mapped[uuid.UUID]
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    attempt_count: Mapped[int] = mapped_column(Integer)
    schedule_step: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One HTTP request of a delivery and what came back (the delivery log)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "delivery_id"],
            ["webhook_deliveries.tenant_id", "webhook_deliveries.id"],
            name="fk_webhook_attempts_delivery",
            ondelete="CASCADE",
        ),
        Index(
            "ix_webhook_attempts_tenant_id_delivery_id",
            "tenant_id",
            "delivery_id",
            "attempt_number",
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    delivery_id: Mapped[uuid.UUID]
    attempt_number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    latency_ms: Mapped[int] = mapped_column(Integer)
    request_url: Mapped[str] = mapped_column(Text)
    request_headers: Mapped[dict[str, Any]]
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
