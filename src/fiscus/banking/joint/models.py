"""Joint-account tables: extra holders, pending approvals and their signers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from fiscus.core.models import Base
from fiscus.core.tenancy import TenantScoped

HOLDER_ROLES = ("owner", "co_owner", "viewer")
SIGNING_ROLES = ("owner", "co_owner")
APPROVAL_KINDS = ("transfer", "payment")


class BankAccountHolder(TenantScoped, Base):
    """A holder of an account besides its primary one (the account's `customer_id`)."""

    __tablename__ = "banking_account_holders"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["banking_accounts.tenant_id", "banking_accounts.id"],
            name="fk_banking_account_holders_account",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["banking_customers.tenant_id", "banking_customers.id"],
            name="fk_banking_account_holders_customer",
        ),
        CheckConstraint("role IN ('owner', 'co_owner', 'viewer')", name="role"),
        Index("ix_banking_account_holders_customer", "tenant_id", "customer_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(Text)
    nickname: Mapped[str | None] = mapped_column(Text)
    added_by: Mapped[uuid.UUID | None]
    added_at: Mapped[datetime]


class BankApproval(TenantScoped, Base):
    """A transfer or payment from an all-sign account, waiting for the other signers.

    `request` is the original request body; it is replayed, with its Idempotency-Key, in
    the unit of work of the approval that completes the signatures (`result_id` is then the
    banking transfer or payment it made)."""

    __tablename__ = "banking_approvals"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["banking_accounts.tenant_id", "banking_accounts.id"],
            name="fk_banking_approvals_account",
        ),
        CheckConstraint("kind IN ('transfer', 'payment')", name="kind"),
        CheckConstraint("status IN ('pending', 'approved', 'rejected', 'expired')", name="status"),
        CheckConstraint("(status = 'approved') = (result_id IS NOT NULL)", name="result"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index(
            "uq_banking_approvals_tenant_id_kind_idempotency_key",
            "tenant_id",
            "kind",
            "idempotency_key",
            unique=True,
        ),
        Index("ix_banking_approvals_tenant_id_account_id", "tenant_id", "account_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    account_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(Text)
    request: Mapped[dict[str, Any]]
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[uuid.UUID]
    expires_at: Mapped[datetime]
    result_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class BankApprovalSigner(TenantScoped, Base):
    """A signing holder of an approval: `decision` is null until it approved or rejected
    (the asker's own customers are recorded as approved when it asks)."""

    __tablename__ = "banking_approval_signers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "approval_id"],
            ["banking_approvals.tenant_id", "banking_approvals.id"],
            name="fk_banking_approval_signers_approval",
            ondelete="CASCADE",
        ),
        CheckConstraint("decision IN ('approved', 'rejected')", name="decision"),
        CheckConstraint("(decision IS NULL) = (decided_at IS NULL)", name="decided"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    approval_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    decision: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[uuid.UUID | None]
    decided_at: Mapped[datetime | None]
