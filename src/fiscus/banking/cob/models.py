"""Close-of-business tables: the runs, their steps, and the tenant's COB settings."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKeyConstraint, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fiscus.core.models import Base
from fiscus.core.tenancy import TenantScoped


class BankCobRun(TenantScoped, Base):
    """The close of one business date; unique per date, so a second run resumes it."""

    __tablename__ = "banking_cob_runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'completed', 'failed')", name="status"),
        UniqueConstraint("tenant_id", "business_date"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    business_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(Text)
    started_by: Mapped[uuid.UUID | None]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class BankCobStep(TenantScoped, Base):
    """One step of a run: its status, how many things it did, when it ran; `cutoff` is the
    moment its balances are read as of (kept, so a resumed step reads the same ones)."""

    __tablename__ = "banking_cob_steps"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "run_id"],
            ["banking_cob_runs.tenant_id", "banking_cob_runs.id"],
            name="fk_banking_cob_steps_run",
            ondelete="CASCADE",
        ),
        CheckConstraint("status IN ('pending', 'running', 'completed', 'failed')", name="status"),
        CheckConstraint("position BETWEEN 1 AND 20", name="position"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    step: Mapped[str] = mapped_column(Text, primary_key=True)
    position: Mapped[int]
    status: Mapped[str] = mapped_column(Text)
    count: Mapped[int]
    cutoff: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class BankCobSettings(TenantScoped, Base):
    """A tenant's close-of-business settings (defaults apply without a row)."""

    __tablename__ = "banking_cob_settings"
    __table_args__ = (CheckConstraint("dormancy_days BETWEEN 30 AND 3650", name="dormancy_days"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    dormancy_days: Mapped[int]
    updated_by: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime]
