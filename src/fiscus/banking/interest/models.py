"""Interest tables: product rate history, daily accruals, and postings."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, Date, Index, Numeric, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from fiscus.core.models import Base
from fiscus.core.tenancy import TenantScoped

RATE_TYPE = Numeric(20, 12)
# Accrued amounts are minor units kept to 20 decimal places (calc.ACCRUAL_QUANTUM).
EXACT_TYPE = Numeric(50, 20)
FRACTION_TYPE = Numeric(40, 30)


class BankInterestRate(TenantScoped, Base):
    """A product's rates from `effective_from` on: a flat `rate` or balance `tiers`
    (`[{"from": minor units, "rate": "0.035"}]`), and the overdraft rate."""

    __tablename__ = "banking_interest_rates"
    __table_args__ = (
        CheckConstraint("(rate IS NULL) <> (tiers IS NULL)", name="rate_or_tiers"),
        CheckConstraint("rate IS NULL OR (rate >= 0 AND rate <= 1)", name="rate_range"),
        CheckConstraint("overdraft_rate >= 0 AND overdraft_rate <= 1", name="overdraft_range"),
        UniqueConstraint("tenant_id", "product_id", "effective_from"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    product_id: Mapped[uuid.UUID]
    effective_from: Mapped[date] = mapped_column(Date)
    rate: Mapped[Decimal | None] = mapped_column(RATE_TYPE)
    tiers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB(none_as_null=True))
    overdraft_rate: Mapped[Decimal] = mapped_column(RATE_TYPE)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]


class BankInterestAccrual(TenantScoped, Base):
    """One account's interest for one day (signed minor units: positive is owed to the
    customer, negative is overdraft interest owed by them). The primary key makes a second
    accrual of the same day impossible; `posting_id` is set when a posting takes it."""

    __tablename__ = "banking_interest_accruals"
    __table_args__ = (
        Index(
            "ix_banking_interest_accruals_unposted",
            "tenant_id",
            "account_id",
            postgresql_where="posting_id IS NULL",
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    accrual_date: Mapped[date] = mapped_column(Date, primary_key=True)
    # The ledger's end-of-day balance plus interest already compounded but not yet posted.
    balance: Mapped[Decimal] = mapped_column(EXACT_TYPE)
    # What the rate applied to: `balance`, or the period's average daily balance.
    basis: Mapped[Decimal] = mapped_column(EXACT_TYPE)
    rate: Mapped[Decimal] = mapped_column(RATE_TYPE)
    fraction: Mapped[Decimal] = mapped_column(FRACTION_TYPE)
    amount: Mapped[Decimal] = mapped_column(EXACT_TYPE)
    posting_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]


class BankInterestPosting(TenantScoped, Base):
    """The interest of one period booked to one account: ONE ledger transfer (none when
    everything rounds to zero). `*_exact` are the accruals plus the residue carried in;
    `*_residue` is what carries on to the next period."""

    __tablename__ = "banking_interest_postings"
    __table_args__ = (
        CheckConstraint(
            "credit_gross >= 0 AND overdraft_amount >= 0 AND tax >= 0 AND tax <= credit_gross",
            name="amounts",
        ),
        UniqueConstraint("tenant_id", "account_id", "period_end"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID]
    period_end: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    credit_exact: Mapped[Decimal] = mapped_column(EXACT_TYPE)
    credit_gross: Mapped[int]
    credit_residue: Mapped[Decimal] = mapped_column(EXACT_TYPE)
    tax: Mapped[int]
    overdraft_exact: Mapped[Decimal] = mapped_column(EXACT_TYPE)
    overdraft_amount: Mapped[int]
    overdraft_residue: Mapped[Decimal] = mapped_column(EXACT_TYPE)
    transfer_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
