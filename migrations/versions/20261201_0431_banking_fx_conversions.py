"""Banking: customers' currency conversions (`banking_fx_conversions`).

Revision ID: 0431
Revises: 0430
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0431"
down_revision: str | Sequence[str] | None = "0430"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "banking_fx_conversions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("from_account_id", sa.Uuid(), nullable=False),
        sa.Column("to_account_id", sa.Uuid(), nullable=False),
        sa.Column("sell_amount", sa.BigInteger(), nullable=False),
        sa.Column("sell_currency", sa.String(3), nullable=False),
        sa.Column("buy_amount", sa.BigInteger(), nullable=False),
        sa.Column("buy_currency", sa.String(3), nullable=False),
        sa.Column("rate", sa.Numeric(24, 12), nullable=False),
        sa.Column("mid", sa.Numeric(24, 12), nullable=False),
        sa.Column("spread", sa.Numeric(8, 6), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("initiated_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_fx_conversions"),
        sa.CheckConstraint(
            "sell_currency <> buy_currency", name="ck_banking_fx_conversions_distinct_currencies"
        ),
        sa.CheckConstraint(
            "sell_amount > 0 AND buy_amount > 0 AND fee >= 0",
            name="ck_banking_fx_conversions_amounts",
        ),
        sa.CheckConstraint(
            "channel IN ('online', 'api', 'branch')", name="ck_banking_fx_conversions_channel"
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "idempotency_key",
            name="uq_banking_fx_conversions_tenant_id_idempotency_key",
        ),
    )
    op.create_index(
        "ix_banking_fx_conversions_customer",
        "banking_fx_conversions",
        ["tenant_id", "customer_id", "id"],
    )
    op.execute("SELECT fiscus_enable_tenant_rls('banking_fx_conversions')")


def downgrade() -> None:
    op.drop_table("banking_fx_conversions")
