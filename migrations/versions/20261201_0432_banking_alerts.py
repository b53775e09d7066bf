"""Banking: account alerts (`banking_alerts`).

Revision ID: 0432
Revises: 0431
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0432"
down_revision: str | Sequence[str] | None = "0431"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "banking_alerts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("threshold", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_triggered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_alerts"),
        sa.CheckConstraint(
            "kind IN ('low_balance', 'large_transaction')", name="ck_banking_alerts_kind"
        ),
        sa.CheckConstraint("threshold >= 0", name="ck_banking_alerts_threshold_not_negative"),
    )
    op.create_index("ix_banking_alerts_account", "banking_alerts", ["tenant_id", "account_id"])
    op.execute("SELECT fiscus_enable_tenant_rls('banking_alerts')")


def downgrade() -> None:
    op.drop_table("banking_alerts")
