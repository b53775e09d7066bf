"""Ledger tables. The schema itself (constraints, triggers, posting functions) is in the
migrations 0200-0202; these mappings serve reads and account administration."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, SmallInteger, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from fiscus.core.models import Base


class LedgerAccount(Base):
    """One account with its four balances and a version bumped by every entry."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code", name="uq_ledger_accounts_tenant_id_code"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(Text)
    normal_side: Mapped[str] = mapped_column(Text)
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(Boolean, default=False)
    credits_must_not_exceed_debits: Mapped[bool] = mapped_column(Boolean, default=False)
    overdraft_limit: Mapped[int | None]
    closed_at: Mapped[datetime | None]
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    debits_pending: Mapped[int] = mapped_column(default=0)
    debits_posted: Mapped[int] = mapped_column(default=0)
    credits_pending: Mapped[int] = mapped_column(default=0)
    credits_posted: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]


class LedgerTransfer(Base):
    """A journal entry: N legs, a status, and an optional parent (post/void/reversal)."""

    __tablename__ = "ledger_transfers"
    __table_args__ = (
        Index(
            "uq_ledger_transfers_tenant_id_idempotency_key",
            "tenant_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        Index(
            "uq_ledger_transfers_one_resolution",
            "tenant_id",
            "parent_id",
            unique=True,
            postgresql_where=text("kind IN ('post_pending', 'void_pending')"),
        ),
        Index(
            "uq_ledger_transfers_one_reversal",
            "tenant_id",
            "parent_id",
            unique=True,
            postgresql_where=text("kind = 'reversal'"),
        ),
        Index(
            "ix_ledger_transfers_timeout_at",
            "timeout_at",
            postgresql_where=text("status = 'pending' AND timeout_at IS NOT NULL"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    pending: Mapped[bool] = mapped_column(Boolean)
    parent_id: Mapped[uuid.UUID | None]
    currency: Mapped[str] = mapped_column(Text)
    amount: Mapped[int]
    timeout_s: Mapped[int | None] = mapped_column(Integer)
    timeout_at: Mapped[datetime | None]
    effective_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    description: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    fx: Mapped[dict[str, Any] | None]


class LedgerEntry(Base):
    """One leg's effect on one account, with that account's balances right after it."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index(
            "uq_ledger_entries_account_version",
            "tenant_id",
            "account_id",
            "account_version",
            unique=True,
        ),
        Index("ix_ledger_entries_account_recorded_at", "tenant_id", "account_id", "recorded_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    transfer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    leg: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    account_id: Mapped[uuid.UUID]
    currency: Mapped[str] = mapped_column(Text)
    direction: Mapped[str] = mapped_column(Text)
    posted_amount: Mapped[int]
    pending_amount: Mapped[int]
    account_version: Mapped[int]
    debits_pending: Mapped[int]
    debits_posted: Mapped[int]
    credits_pending: Mapped[int]
    credits_posted: Mapped[int]
    recorded_at: Mapped[datetime]
