"""Banking transfers (deposits, internal transfers) and per-customer outgoing limits.

Revision ID: 0402
Revises: 0401
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0402"
down_revision: str | Sequence[str] | None = "0401"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("banking_limit_usage", "banking_limits", "banking_transfers")
CHANNELS = "channel IN ('online', 'api', 'branch')"


def upgrade() -> None:
    op.create_table(
        "banking_transfers",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("from_account_id", sa.Uuid(), nullable=True),
        sa.Column("to_account_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("initiated_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_transfers"),
        sa.CheckConstraint("kind IN ('deposit', 'internal')", name="ck_banking_transfers_kind"),
        sa.CheckConstraint("amount > 0", name="ck_banking_transfers_amount_positive"),
        sa.CheckConstraint(CHANNELS, name="ck_banking_transfers_channel"),
        sa.CheckConstraint(
            "(kind = 'deposit') = (from_account_id IS NULL)",
            name="ck_banking_transfers_deposit_source",
        ),
    )
    op.create_index(
        "uq_banking_transfers_tenant_id_idempotency_key",
        "banking_transfers",
        ["tenant_id", "idempotency_key"],
        unique=True,
    )
    for column in ("from_account_id", "to_account_id"):
        op.create_index(
            f"ix_banking_transfers_tenant_id_{column}", "banking_transfers", ["tenant_id", column]
        )
    op.create_table(
        "banking_limits",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("daily_limit", sa.BigInteger(), nullable=False),
        sa.Column("monthly_limit", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "customer_id", "channel", "currency", name="pk_banking_limits"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["banking_customers.tenant_id", "banking_customers.id"],
            name="fk_banking_limits_customer",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(CHANNELS, name="ck_banking_limits_channel"),
        sa.CheckConstraint(
            "daily_limit >= 0 AND monthly_limit >= 0", name="ck_banking_limits_limits_not_negative"
        ),
    )
    op.create_table(
        "banking_limit_usage",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "customer_id",
            "channel",
            "currency",
            "period",
            "period_start",
            name="pk_banking_limit_usage",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["banking_customers.tenant_id", "banking_customers.id"],
            name="fk_banking_limit_usage_customer",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("period IN ('day', 'month')", name="ck_banking_limit_usage_period"),
        sa.CheckConstraint("used >= 0", name="ck_banking_limit_usage_used_not_negative"),
    )
    for table in TABLES:
        op.execute(f"SELECT fiscus_enable_tenant_rls('{table}')")


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
