"""Banking insights: monthly budgets per category and the thresholds already told.

Revision ID: 0492
Revises: 0491
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0492"
down_revision: str | Sequence[str] | None = "0491"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "banking_budgets",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_budgets"),
        sa.UniqueConstraint(
            "tenant_id",
            "customer_id",
            "category",
            "currency",
            name="uq_banking_budgets_tenant_id_customer_id_category_currency",
        ),
        sa.CheckConstraint("amount > 0", name="ck_banking_budgets_amount_positive"),
    )
    op.execute("SELECT fiscus_enable_tenant_rls('banking_budgets')")
    # One row per budget, month and threshold told: the primary key makes each alert once.
    op.create_table(
        "banking_budget_notices",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("budget_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("threshold_percent", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "budget_id",
            "month",
            "threshold_percent",
            name="pk_banking_budget_notices",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "budget_id"],
            ["banking_budgets.tenant_id", "banking_budgets.id"],
            name="fk_banking_budget_notices_budget",
            ondelete="CASCADE",
        ),
    )
    op.execute("SELECT fiscus_enable_tenant_rls('banking_budget_notices')")


def downgrade() -> None:
    op.drop_table("banking_budget_notices")
    op.drop_table("banking_budgets")
