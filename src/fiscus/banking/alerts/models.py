"""The alerts table."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fiscus.core.models import Base
from fiscus.core.tenancy import TenantScoped

KINDS = ("low_balance", "large_transaction")


class BankAlert(TenantScoped, Base):
    """A threshold on one account; `last_triggered_at` when it last fired."""

    __tablename__ = "banking_alerts"
    __table_args__ = (
        CheckConstraint("kind IN ('low_balance', 'large_transaction')", name="kind"),
        CheckConstraint("threshold >= 0", name="threshold_not_negative"),
        Index("ix_banking_alerts_account", "tenant_id", "account_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(Text)
    threshold: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
    last_triggered_at: Mapped[datetime | None]
