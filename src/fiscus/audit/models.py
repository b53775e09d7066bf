"""The audit trail table: append-only, hash-chained per tenant."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, LargeBinary, Text
from sqlalchemy.orm import Mapped, mapped_column

from fiscus.core.models import Base
from fiscus.core.tenancy import TenantScoped


class AuditEvent(TenantScoped, Base):
    """Who did what to which object, when and from where.

    Rows are inserted unsealed (`chain_seq`, `prev_hash`, `hash` null) so writers never
    wait on each other; the sealer appends them to the tenant's chain in id order.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("uq_audit_events_tenant_id_chain_seq", "tenant_id", "chain_seq", unique=True),
        Index(
            "ix_audit_events_unsealed",
            "tenant_id",
            "id",
            postgresql_where="hash IS NULL",
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime]
    actor_type: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[uuid.UUID | None]
    api_key_id: Mapped[uuid.UUID | None]
    action: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text)  # success | denied | failure
    object_type: Mapped[str | None] = mapped_column(Text)
    object_id: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[dict[str, Any]]
    ip: Mapped[str | None] = mapped_column(Text)
    user_agent: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    chain_seq: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    hash: Mapped[bytes | None] = mapped_column(LargeBinary)
