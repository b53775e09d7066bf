"""FX tables: the tenant's exchange rates, each effective from a moment."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fiscus.core.models import Base
from fiscus.core.tenancy import TenantScoped

# Rates and spreads are stored exactly: 12 decimals, the most a ledger transfer's rate holds.
RATE_TYPE = Numeric(24, 12)
SPREAD_TYPE = Numeric(8, 6)


class FxRate(TenantScoped, Base):
    """One unit of `base` costs `mid` units of `quote` from `effective_at` on; customers
    converting get `mid * (1 - spread)`."""

    __tablename__ = "banking_fx_rates"
    __table_args__ = (
        CheckConstraint("base <> quote", name="distinct_currencies"),
        CheckConstraint("base ~ '^[A-Z]{3}$' AND quote ~ '^[A-Z]{3}$'", name="currency_codes"),
        CheckConstraint("mid > 0", name="mid_positive"),
        CheckConstraint("spread >= 0 AND spread < 0.2", name="spread_range"),
        CheckConstraint("source = 'manual' OR source LIKE 'provider:%'", name="source_kind"),
        UniqueConstraint("tenant_id", "base", "quote", "source", "effective_at"),
        Index("ix_banking_fx_rates_pair", "tenant_id", "base", "quote", "effective_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    base: Mapped[str] = mapped_column(String(3))
    quote: Mapped[str] = mapped_column(String(3))
    mid: Mapped[Decimal] = mapped_column(RATE_TYPE)
    spread: Mapped[Decimal] = mapped_column(SPREAD_TYPE)
    source: Mapped[str] = mapped_column(Text)
    effective_at: Mapped[datetime]
    created_at: Mapped[datetime]
    created_by: Mapped[uuid.UUID | None]


class FxConversion(TenantScoped, Base):
    """A customer's conversion between two of their accounts: one ledger transfer (`id`)
    selling `sell_amount` at `rate` (mid less spread) and delivering `buy_amount`; `fee` is
    what FX income received, in the bought currency."""

    __tablename__ = "banking_fx_conversions"
    __table_args__ = (
        CheckConstraint("sell_currency <> buy_currency", name="distinct_currencies"),
        CheckConstraint("sell_amount > 0 AND buy_amount > 0 AND fee >= 0", name="amounts"),
        CheckConstraint("channel IN ('online', 'api', 'branch')", name="channel"),
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_banking_fx_conversions_customer", "tenant_id", "customer_id", "id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(Text)
    customer_id: Mapped[uuid.UUID]
    from_account_id: Mapped[uuid.UUID]
    to_account_id: Mapped[uuid.UUID]
    sell_amount: Mapped[int]
    sell_currency: Mapped[str] = mapped_column(String(3))
    buy_amount: Mapped[int]
    buy_currency: Mapped[str] = mapped_column(String(3))
    rate: Mapped[Decimal] = mapped_column(RATE_TYPE)
    mid: Mapped[Decimal] = mapped_column(RATE_TYPE)
    spread: Mapped[Decimal] = mapped_column(SPREAD_TYPE)
    fee: Mapped[int]
    channel: Mapped[str] = mapped_column(Text)
    initiated_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
