"""Banking fees (`banking_fees`): charges to accounts and their reversals.

Revision ID: 0471
Revises: 0470
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0471"
down_revision: str | Sequence[str] | None = "0470"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FEES = "banking_fees"


def upgrade() -> None:
    op.create_table(
        FEES,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("occasion", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("transfer_id", sa.Uuid(), nullable=False),
        sa.Column("reversal_transfer_id", sa.Uuid(), nullable=True),
        sa.Column("reversed_by", sa.Uuid(), nullable=True),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_fees"),
        sa.CheckConstraint(
            "kind IN ('maintenance', 'transaction', 'overdraft', 'dormancy')",
            name="ck_banking_fees_kind",
        ),
        sa.CheckConstraint("amount > 0", name="ck_banking_fees_amount_positive"),
        sa.CheckConstraint("status IN ('charged', 'reversed')", name="ck_banking_fees_status"),
        sa.CheckConstraint(
            "(status = 'reversed') = (reversal_transfer_id IS NOT NULL)",
            name="ck_banking_fees_reversal",
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "account_id",
            "kind",
            "occasion",
            name="uq_banking_fees_tenant_id_account_id_kind_occasion",
        ),
    )
    op.create_index("ix_banking_fees_tenant_id_customer_id", FEES, ["tenant_id", "customer_id"])
    op.execute(f"SELECT fiscus_enable_tenant_rls('{FEES}')")


def downgrade() -> None:
    op.drop_table(FEES)
