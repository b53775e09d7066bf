"""The fees table: every fee charged to an account, and its reversal."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fiscus.core.models import Base
from fiscus.core.tenancy import TenantScoped

KINDS = ("maintenance", "transaction", "overdraft", "dormancy")


class BankFee(TenantScoped, Base):
    """A fee: one ledger transfer from the account to fee income (`transfer_id`).

    `occasion` names what it was charged for (`2026-12` for a monthly fee, the transfer id
    for a per-transaction fee) and is unique per account and kind, so that COB run twice
    charges once. A staff reversal is a second ledger transfer (`reversal_transfer_id`)."""

    __tablename__ = "banking_fees"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('maintenance', 'transaction', 'overdraft', 'dormancy')", name="kind"
        ),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('charged', 'reversed')", name="status"),
        CheckConstraint(
            "(status = 'reversed') = (reversal_transfer_id IS NOT NULL)", name="reversal"
        ),
        UniqueConstraint("tenant_id", "account_id", "kind", "occasion"),
        Index("ix_banking_fees_tenant_id_customer_id", "tenant_id", "customer_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(Text)
    occasion: Mapped[str] = mapped_column(Text)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    transfer_id: Mapped[uuid.UUID]
    reversal_transfer_id: Mapped[uuid.UUID | None]
    reversed_by: Mapped[uuid.UUID | None]
    reversed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
