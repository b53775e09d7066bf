"""The tables of spending insights: categories, rules, categorised movements, budgets."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from fiscus.core.models import Base
from fiscus.core.tenancy import TenantScoped


class SpendingCategory(TenantScoped, Base):
    """A category a tenant added to the built-in ones (`DEFAULT_CATEGORIES`)."""

    __tablename__ = "banking_spending_categories"
    __table_args__ = (
        CheckConstraint("slug ~ '^[a-z][a-z0-9_]{0,39}$'", name="slug"),
        CheckConstraint("kind IN ('spending', 'income', 'transfer')", name="kind"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]


class SpendingRule(TenantScoped, Base):
    """A categorisation rule: the tenant's (no customer) or one customer's; every condition
    set must hold; customer rules come first, then by priority and id."""

    __tablename__ = "banking_spending_rules"
    __table_args__ = (
        CheckConstraint("direction IN ('in', 'out', 'any')", name="direction"),
        CheckConstraint("priority BETWEEN 0 AND 1000000", name="priority"),
        CheckConstraint(
            "(amount_min IS NULL OR amount_min >= 0) AND (amount_max IS NULL OR amount_max >= 0)"
            " AND (amount_min IS NULL OR amount_max IS NULL OR amount_min <= amount_max)",
            name="amount_range",
        ),
        CheckConstraint(
            "num_nonnulls(reference_contains, counterparty_iban, counterparty_name_contains,"
            " counterparty_account_id, amount_min, amount_max, merchant_codes) > 0"
            " OR direction <> 'any'",
            name="has_condition",
        ),
        Index("ix_banking_spending_rules_order", "tenant_id", "customer_id", "priority", "id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID | None]
    category: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(Text)
    reference_contains: Mapped[str | None] = mapped_column(Text)
    counterparty_iban: Mapped[str | None] = mapped_column(Text)
    counterparty_name_contains: Mapped[str | None] = mapped_column(Text)
    counterparty_account_id: Mapped[uuid.UUID | None]
    amount_min: Mapped[int | None]
    amount_max: Mapped[int | None]
    merchant_codes: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]


class CategorisedMovement(TenantScoped, Base):
    """One movement on a customer account (one account's side of a transfer) and its
    category; `amount` is signed: positive in, negative out."""

    __tablename__ = "banking_categorised_movements"
    __table_args__ = (
        CheckConstraint("source IN ('rule', 'default', 'manual')", name="source"),
        CheckConstraint("amount <> 0", name="amount"),
        Index(
            "ix_banking_categorised_movements_account",
            "tenant_id",
            "account_id",
            "booked_on",
            postgresql_include=["category", "amount"],
        ),
        Index(
            "ix_banking_categorised_movements_budget",
            "tenant_id",
            "customer_id",
            "category",
            "booked_on",
            postgresql_include=["currency", "amount"],
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    transfer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID]
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(Text)
    booked_on: Mapped[date] = mapped_column(Date)
    category: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    rule_id: Mapped[uuid.UUID | None]
    reference: Mapped[str | None] = mapped_column(Text)
    counterparty_iban: Mapped[str | None] = mapped_column(Text)
    counterparty_account_id: Mapped[uuid.UUID | None]
    merchant_code: Mapped[str | None] = mapped_column(Text)
    categorised_by: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime]


class Budget(TenantScoped, Base):
    """A customer's monthly budget for one category, in one currency (minor units)."""

    __tablename__ = "banking_budgets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "customer_id", "category", "currency"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID]
    category: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]


class BudgetNotice(TenantScoped, Base):
    """A threshold (80 or 100 percent) of a budget already told for a month."""

    __tablename__ = "banking_budget_notices"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "budget_id"],
            ["banking_budgets.tenant_id", "banking_budgets.id"],
            name="fk_banking_budget_notices_budget",
            ondelete="CASCADE",
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    budget_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    threshold_percent: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime]
