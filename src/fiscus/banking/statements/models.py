"""The monthly statements table."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKeyConstraint, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from fiscus.core.models import Base
from fiscus.core.tenancy import TenantScoped


class BankStatement(TenantScoped, Base):
    """An account's statement for one calendar month: the period and its totals, fixed
    when the month was closed. The file is generated on demand from the ledger (whose
    entries for a past period never change), so it always shows these numbers."""

    __tablename__ = "banking_statements"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["banking_accounts.tenant_id", "banking_accounts.id"],
            name="fk_banking_statements_account",
        ),
        CheckConstraint("period_start <= period_end", name="period"),
        CheckConstraint("money_in >= 0 AND money_out >= 0 AND entry_count >= 0", name="totals"),
        CheckConstraint("closing = opening + money_in - money_out", name="closing"),
        Index(
            "uq_banking_statements_account_period",
            "tenant_id",
            "account_id",
            "period_start",
            unique=True,
        ),
        Index("ix_banking_statements_tenant_id_customer_id", "tenant_id", "customer_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID]
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(Text)
    opening: Mapped[int]
    money_in: Mapped[int]
    money_out: Mapped[int]
    closing: Mapped[int]
    entry_count: Mapped[int]
    created_at: Mapped[datetime]
